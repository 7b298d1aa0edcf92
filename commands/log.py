"""The event log: the eventsourcing application that stores every case's events."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

from commands.database import Database, DatabaseError


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EventLog(Application[UUID]):
    """Append-only: aggregates are saved through it, never changed in place."""

    name = "Incubator"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def open_log(database: Database) -> EventLog:
    """The log on `database`, its tables created on first use."""
    try:
        if database.backend == "postgresql":
            return _open_postgres(database)
        return EventLog(env=database.event_store_env)
    except DatabaseError:
        raise
    except Exception as e:  # the driver's own errors vary by backend
        raise DatabaseError(f"cannot open the event log at {database.url}: {e}") from e


def _open_postgres(database: Database) -> EventLog:
    from sqlalchemy import text

    # Several processes may start at once on a new database: creating the schema and the
    # library's tables and types is serialized with an advisory lock.
    engine = database.engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext('incubator-schema'))"))
            try:
                if database.schema:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"'))
                    conn.commit()
                log = EventLog(env=database.event_store_env)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext('incubator-schema'))"))
                conn.commit()
    finally:
        engine.dispose()
    return log


def event_data(event: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """An event's own fields, without the library's bookkeeping."""
    base = {"originator_id", "originator_version", "timestamp", "originator_topic", *skip}
    return {k: v for k, v in event.__dict__.items() if k not in base}
