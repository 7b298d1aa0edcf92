"""The event log: the eventsourcing application that stores every case's events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, Repository
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from store.database import Database, DatabaseError


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """Each event applied in turn: the library's own projector, without its check of every
    event against a runtime protocol (which took most of the time of loading a case)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Replaying(Repository[UUID]):
    """The library's repository, replaying with `replay` unless told otherwise."""

    def get(self, aggregate_id: UUID, *, projector_func: Any = replay, **options: Any) -> Any:
        return super().get(aggregate_id, projector_func=projector_func, **options)


class EventLog(Application[UUID]):
    """Append-only: aggregates are saved through it, never changed in place."""

    name = "Incubator"

    def construct_repository(self) -> Repository[UUID]:
        return Replaying(event_store=self.events, snapshot_store=self.snapshots)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the settings the database URL gave (commands/database.py). The library would
        merge in the whole process environment, where INCUBATOR_<KEY> even overrides them: a
        stray INCUBATOR_PERSISTENCE_MODULE would move the log into memory, a COMPRESSOR_TOPIC
        change how events are stored."""
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def version_of(self, aggregate_id: UUID) -> int | None:
        """The version of the aggregate's latest event (None: it has none), read by its key
        without decoding anything."""
        latest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        return int(latest[0].originator_version) if latest else None


def open_log(database: Database) -> EventLog:
    """The log on `database`, its tables created on first use (see `Database.schema_lock`)."""
    try:
        return EventLog(env=database.event_store_env)
    except Exception as e:  # the driver's own errors vary by backend
        raise DatabaseError(database.failed("open the event log", e)) from e


_BOOKKEEPING = ("originator_id", "originator_version", "timestamp", "originator_topic")
_LEFT_OUT: dict[tuple[str, ...], frozenset[str]] = {}  # by `skip`: made once, not every event


def event_data(event: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """An event's own fields, without the library's bookkeeping."""
    base = _LEFT_OUT.get(skip)
    if base is None:
        base = _LEFT_OUT[skip] = frozenset((*_BOOKKEEPING, *skip))
    return {k: v for k, v in event.__dict__.items() if k not in base}
