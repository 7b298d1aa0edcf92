"""The schema's fingerprint (store/schema.py): a database whose tables and triggers are current
is opened without installing anything; any change to what is installed installs again."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, text

from commands import bootstrap as composition
from commands.bootstrap import bootstrap, schema_fingerprint
from schedules.clock import FixedClock
from store import schema


def _installs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each bootstrap from now on installed the schema (the code that installs is
    left as it is: a spy on it would change the fingerprint)."""
    ran: list[bool] = []
    real = composition._open

    def spy(database: Any, engine: Any, park: Any, signer: Any, install: bool = False) -> Any:
        ran.append(install)
        return real(database, engine, park, signer, install=install)

    monkeypatch.setattr(composition, "_open", spy)
    return ran


def _open(url: str, clock: FixedClock) -> str:
    system = bootstrap(url, clock=clock)
    try:
        return schema_fingerprint(system.database, system.park)
    finally:
        system.close_all()


def test_a_current_schema_is_not_installed_again(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _open(database_url, clock)  # a new database: everything installed, then recorded
    system = bootstrap(database_url, clock=clock)
    assert schema.current(system.read_models.engine, first)
    system.close_all()
    ran = _installs(monkeypatch)
    _open(database_url, clock)
    assert ran == [False]


def test_a_changed_fingerprint_installs_again_and_records_the_new_one(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = _open(database_url, clock)
    system = bootstrap(database_url, clock=clock)
    engine = system.read_models.engine
    assert schema.record(engine, "0" * 64)  # as the code before a change to a table left it
    system.close_all()
    ran = _installs(monkeypatch)
    _open(database_url, clock)
    assert ran == [True]
    system = bootstrap(database_url, clock=clock)
    assert schema.current(system.read_models.engine, current)
    system.close_all()


def test_a_dropped_trigger_is_installed_again(
    sqlite_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _open(sqlite_url, clock)
    system = bootstrap(sqlite_url, clock=clock)
    with system.read_models.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER event_chain_no_delete"))
    system.close_all()
    ran = _installs(monkeypatch)
    _open(sqlite_url, clock)
    assert ran == [True]
    system = bootstrap(sqlite_url, clock=clock)
    with system.read_models.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        assert "event_chain_no_delete" in {row.name for row in names}
    system.close_all()


def test_opening_a_current_database_writes_nothing(sqlite_url: str, clock: FixedClock) -> None:
    _open(sqlite_url, clock)
    _open(sqlite_url, clock)  # the library's first-use settings, if any, are in the file now
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    _open(sqlite_url, clock)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def _table(*columns: Column[Any]) -> Table:
    return Table("things", MetaData(), Column("id", Integer, primary_key=True), *columns)


def _install_v1() -> None:
    text("CREATE TRIGGER t BEFORE DELETE ON things BEGIN SELECT RAISE(ABORT, 'no'); END")


def _install_v2() -> None:
    text("CREATE TRIGGER t BEFORE UPDATE ON things BEGIN SELECT RAISE(ABORT, 'no'); END")


def test_the_fingerprint_changes_with_a_table_or_the_code_that_installs_triggers() -> None:
    base = schema.fingerprint([_table(Column("name", String(20)))], [_install_v1])
    assert base == schema.fingerprint([_table(Column("name", String(20)))], [_install_v1])
    assert base != schema.fingerprint([_table(Column("name", String(30)))], [_install_v1])
    assert base != schema.fingerprint([_table(Column("title", String(20)))], [_install_v1])
    assert base != schema.fingerprint(
        [_table(Column("name", String(20), nullable=False))], [_install_v1]
    )
    assert base != schema.fingerprint([_table(Column("name", String(20)))], [_install_v2])
    assert base != schema.fingerprint([_table(Column("name", String(20)))], [_install_v1], 2)
