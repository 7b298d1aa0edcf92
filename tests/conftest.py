"""Fixtures: a real SQLite file per test, and a fresh schema on the real PostgreSQL server.

PostgreSQL tests run when the server answers at INCUBATOR_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test). Under CI (CI=true) a missing server fails them;
elsewhere they are skipped with a message that says how to enable them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from commands.bootstrap import Incubator, bootstrap
from commands.service import Who
from schedules.clock import FixedClock

if TYPE_CHECKING:
    from tests.test_reminder_mail import SmtpServer

POSTGRES_URL = os.environ.get(
    "INCUBATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Noon in Shanghai on 2026-11-22: "today" for every test that does not move the clock.
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def who(on: str, actor: str = "王芳", reason: str | None = None) -> Who:
    return Who(actor=actor, on=date.fromisoformat(on), reason=reason)


def postgres_available() -> str | None:
    """None if the server answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(
            POSTGRES_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ):
            return None
    except psycopg.Error as e:
        return str(e).strip()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'incubator.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a schema of its own on the PostgreSQL server, dropped afterwards."""
    problem = postgres_available()
    if problem is not None:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({problem}); start it or set "
            f"INCUBATOR_TEST_POSTGRES_URL to run these tests"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: the same test on a SQLite file and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def incubator(sqlite_url: str, clock: FixedClock) -> Iterator[Incubator]:
    system = bootstrap(sqlite_url, clock=clock)
    yield system
    system.close_all()


@pytest.fixture
def any_incubator(database_url: str, clock: FixedClock) -> Iterator[Incubator]:
    system = bootstrap(database_url, clock=clock)
    yield system
    system.close_all()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a local port (aiosmtpd) that keeps what it accepts and refuses."""
    from tests.test_reminder_mail import SmtpServer

    server = SmtpServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()
