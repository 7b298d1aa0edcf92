"""The database URL: what it selects, and clear errors for what it cannot be."""

from __future__ import annotations

import json

import pytest

from commands.bootstrap import bootstrap
from schedules.clock import FixedClock
from store.database import DatabaseError, parse_database_url
from tests.builders import new_case
from tests.conftest import NOW


def test_postgres_url_selects_the_library_module_and_a_schema() -> None:
    database = parse_database_url("postgresql://app:s3cret@db.local:5433/park?schema=incubator")
    assert database.backend == "postgresql"
    assert database.event_store_env["POSTGRES_SCHEMA"] == "incubator"
    assert database.event_store_env["POSTGRES_PORT"] == "5433"
    assert "s3cret" not in database.url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://x", "unsupported database URL 'mysql://x'"),
        ("postgresql://postgres@127.0.0.1:99999/test", "Port out of range"),
        ("postgresql://postgres@[::1/test", "malformed database URL"),
        ("postgresql://postgres@127.0.0.1:5432/", "names no database"),
        ("postgresql://postgres@h/test?schema=Review_Up", "must be lower-case letters"),
        ("postgresql://postgres@h/test?schema=1abc", "not starting with a digit"),
        ("postgresql://postgres@h/test?sslmode=x", "unknown URL option\\(s\\) sslmode"),
        ("sqlite:///:memory:", "SQLite needs a file"),
    ],
)
def test_a_bad_url_is_a_clear_error(url: str, match: str) -> None:
    with pytest.raises(DatabaseError, match=match):
        parse_database_url(url)


def test_only_the_url_configures_the_event_log_not_stray_environment_variables(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library would read its settings from the process environment too, INCUBATOR_<KEY>
    first: an in-memory log, compressed events or another pool behind the URL's back."""
    monkeypatch.setenv("INCUBATOR_PERSISTENCE_MODULE", "eventsourcing.popo")
    monkeypatch.setenv("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
    monkeypatch.setenv("INCUBATOR_SQLITE_DBNAME", ":memory:")
    system = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        case_id = new_case(system.service)
        [stored] = system.log.recorder.select_events(case_id)
        assert json.loads(stored.state)["name"] == "爱心志愿者协会"  # plain JSON, not zlib
    finally:
        system.close_all()
    monkeypatch.delenv("INCUBATOR_PERSISTENCE_MODULE")
    again = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        assert again.service.case(case_id).name == "爱心志愿者协会"  # it was in the file
    finally:
        again.close_all()
