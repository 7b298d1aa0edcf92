"""Applying the log to a read model exactly once.

A projection's position (the last notification id it applied) is written in the same transaction
as its rows, and that transaction holds a lock on the position row (PostgreSQL: SELECT ... FOR
UPDATE; SQLite: BEGIN IMMEDIATE), so two runners never apply the same event twice and a process
that dies mid-batch leaves neither rows nor position behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from commands.log import EventLog

Handler = Callable[[Connection, Any], None]

positions_metadata = MetaData()
positions = Table(
    "projection_positions",
    positions_metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
)


@dataclass
class Projection:
    """A read model: its tables, and one small function per event type it cares about."""

    name: str
    version: int
    metadata: MetaData
    handlers: dict[type, Handler] = field(default_factory=dict)
    _by_type: dict[type, list[Handler]] = field(default_factory=dict, repr=False)

    def on(self, *event_types: type) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = handler
            return handler

        return register

    def apply(self, conn: Connection, event: Any) -> None:
        event_type = type(event)
        if event_type not in self._by_type:
            # Every handler registered for the event's class or one of its bases, base first.
            mro = reversed(event_type.__mro__)
            found = [self.handlers[c] for c in mro if c in self.handlers]
            self._by_type[event_type] = list(dict.fromkeys(found))
        for handler in self._by_type[event_type]:
            handler(conn, event)


def create_tables(engine: Engine, projection: Projection) -> None:
    positions_metadata.create_all(engine)
    projection.metadata.create_all(engine)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with engine.begin() as conn:
        conn.execute(
            insert(positions)
            .values(name=projection.name, version=projection.version, position=0)
            .on_conflict_do_nothing()
        )


def position_of(conn: Connection, projection: Projection, *, lock: bool = False) -> int:
    query = select(positions.c.position).where(
        positions.c.name == projection.name, positions.c.version == projection.version
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return int(conn.execute(query).scalar_one())


def catch_up(engine: Engine, log: EventLog, projection: Projection, batch_size: int = 1000) -> int:
    """Apply every event not yet applied; returns how many notifications were read."""
    read = 0
    while True:
        with engine.connect() as peek:
            if position_of(peek, projection) >= (log.recorder.max_notification_id() or 0):
                return read
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            start = position_of(conn, projection, lock=True)
            batch = log.recorder.select_notifications(
                start=start, limit=batch_size, inclusive_of_start=False
            )
            if not batch:
                return read
            for notification in batch:
                projection.apply(conn, log.mapper.to_domain_event(notification))
            conn.execute(
                update(positions)
                .where(
                    positions.c.name == projection.name, positions.c.version == projection.version
                )
                .values(position=batch[-1].id)
            )
        read += len(batch)
