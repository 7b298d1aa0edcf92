"""One way to write a read model, and the machinery that applies the log to it exactly once.

A `Projection` has a name, a version, tables, and one small function per event type. Its rows live
in *generations*: physical tables named `<table>_g<N>`. The registry says which generation serves
readers; a rebuild fills a new generation beside it and switches readers over in one transaction.

Every generation records the log position it has applied in the same transaction as its rows, and
that transaction holds a lock on the position rows (PostgreSQL: SELECT ... FOR UPDATE; SQLite:
BEGIN IMMEDIATE), so two runners never apply an event twice and a process that dies mid-batch
leaves neither rows nor position behind. Events are applied in batches: handlers change plain
dicts in a `Batch`, which writes them back at the end of the batch in a few statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.utils import resolve_topic
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from commands.log import EventLog

Key = tuple[Any, ...]
Row = dict[str, Any]
Handler = Callable[["Batch", Any], None]

registry_metadata = MetaData()
registry = Table(
    "projection_registry",
    registry_metadata,
    Column("name", String(64), primary_key=True),
    Column("serving", Integer, nullable=False),  # the generation readers use
    Column("serving_version", Integer, nullable=False),
    Column("building", Integer),  # a generation being rebuilt, if any
    Column("building_version", Integer),
)
positions = Table(
    "projection_positions",
    registry_metadata,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: Callable[[], list[Column[Any]]]
    # The column that holds the originator id of the events that change this table's rows:
    # its rows are fetched for a whole batch in one query.
    by: str | None = None


@dataclass(frozen=True)
class TableShape:
    columns: tuple[str, ...]
    pk: tuple[str, ...]
    dates: frozenset[str]  # columns SQLite keeps as ISO text
    by: str | None
    by_index: int  # the position of `by` in the primary key, or -1

    @classmethod
    def of(cls, table: Table, by: str | None) -> TableShape:
        pk = tuple(c.name for c in table.primary_key.columns)
        dates = frozenset(c.name for c in table.columns if isinstance(c.type, Date))
        return cls(
            tuple(c.name for c in table.columns), pk, dates, by, pk.index(by) if by in pk else -1
        )


class Projection:
    """A read model: its tables, and one small function per event type it cares about."""

    def __init__(self, name: str, version: int) -> None:
        self.name, self.version = name, version
        self.specs: dict[str, TableSpec] = {}
        self.handlers: dict[type, Handler] = {}
        self._generations: dict[int, dict[str, Table]] = {}
        self._shapes: dict[int, dict[str, TableShape]] = {}
        self._by_topic: dict[str, list[Handler]] = {}

    def table(
        self, name: str, columns: Callable[[], list[Column[Any]]], by: str | None = None
    ) -> None:
        self.specs[name] = TableSpec(name, columns, by)

    def on(self, *event_types: type) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = handler
            return handler

        return register

    def shapes(self, generation: int) -> dict[str, TableShape]:
        """Per table, what the batch needs on every row: computed once, not per event."""
        if generation not in self._shapes:
            self._shapes[generation] = {
                name: TableShape.of(table, self.specs[name].by)
                for name, table in self.tables(generation).items()
            }
        return self._shapes[generation]

    def tables(self, generation: int) -> dict[str, Table]:
        if generation not in self._generations:
            metadata = MetaData()
            self._generations[generation] = {
                name: Table(f"{name}_g{generation}", metadata, *spec.columns())
                for name, spec in self.specs.items()
            }
        return self._generations[generation]

    def handlers_for(self, topic: str) -> list[Handler]:
        """The handlers for an event's class and its bases, base first (decided once per topic)."""
        if topic not in self._by_topic:
            mro = reversed(resolve_topic(topic).__mro__)
            found = [self.handlers[c] for c in mro if c in self.handlers]
            self._by_topic[topic] = list(dict.fromkeys(found))
        return self._by_topic[topic]


class Batch:
    """The rows one batch of events changes, kept as dicts and written back by `flush`."""

    def __init__(
        self,
        conn: Connection,
        projection: Projection,
        generation: int,
        context: Any = None,
        ids: dict[Any, str] | None = None,
    ) -> None:
        self.conn, self.projection, self.context = conn, projection, context
        self._ids = ids if ids is not None else {}
        self.tables = projection.tables(generation)
        self.shapes = projection.shapes(generation)
        self._rows: dict[str, dict[Key, Row | None]] = defaultdict(dict)
        self._dirty: dict[str, set[Key]] = defaultdict(set)
        self._deleted: dict[str, set[Key]] = defaultdict(set)
        self._counts: dict[str, dict[Key, dict[str, int]]] = defaultdict(dict)
        self._fetched: dict[str, set[str]] = defaultdict(set)

    def prefetch(self, originator_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(originator_ids))
        for spec in self.projection.specs.values():
            if spec.by is None:
                continue
            table = self.tables[spec.name]
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                for found in self.conn.execute(select(table).where(table.c[spec.by].in_(part))):
                    row = dict(found._mapping)
                    self._rows[spec.name][self._key(table, row)] = row
                self._fetched[spec.name].update(part)

    def key(self, event: Any) -> str:
        """The event's originator id as text (the key of most rows), converted once a batch."""
        originator = event.originator_id
        text = self._ids.get(originator)
        if text is None:
            text = self._ids[originator] = str(originator)
        return text

    def get(self, table_name: str, *key: Any) -> Row | None:
        rows = self._rows[table_name]
        if key in rows:
            return rows[key]
        shape = self.shapes[table_name]
        if shape.by_index >= 0 and key[shape.by_index] in self._fetched[table_name]:
            rows[key] = None  # prefetched: absent
            return None
        table = self.tables[table_name]
        where = and_(*(table.c[name] == value for name, value in zip(shape.pk, key, strict=True)))
        found = self.conn.execute(select(table).where(where)).first()
        rows[key] = dict(found._mapping) if found is not None else None
        return rows[key]

    def put(self, table_name: str, *key: Any, **values: Any) -> Row:
        """Create the row if it is missing, then set `values`."""
        row = self.get(table_name, *key)
        if row is None:
            shape = self.shapes[table_name]
            row = dict.fromkeys(shape.columns) | dict(zip(shape.pk, key, strict=True))
            self._rows[table_name][key] = row
        row.update(values)
        self._dirty[table_name].add(key)
        self._deleted[table_name].discard(key)
        return row

    def update(self, table_name: str, *key: Any, **values: Any) -> Row | None:
        """Set `values` on the row if it exists."""
        row = self.get(table_name, *key)
        if row is not None:
            row.update(values)
            self._dirty[table_name].add(key)
        return row

    def delete(self, table_name: str, *key: Any) -> None:
        self._rows[table_name][key] = None
        self._dirty[table_name].discard(key)
        self._deleted[table_name].add(key)

    def add(self, table_name: str, *key: Any, **amounts: int) -> None:
        """Counters: added to whatever the row holds (created at zero)."""
        counts = self._counts[table_name].setdefault(key, {})
        for column, amount in amounts.items():
            counts[column] = counts.get(column, 0) + amount

    def flush(self) -> None:
        """Write the batch back: one executemany per table and kind of change."""
        for name, keys in self._deleted.items():
            if keys:
                table = self.tables[name]
                pk = list(table.primary_key.columns)
                where = and_(*(c == bindparam(c.name) for c in pk))
                self._executemany(
                    delete(table).where(where),
                    [dict(zip([c.name for c in pk], k, strict=True)) for k in keys],
                    self.shapes[name].dates,
                )
        for name, keys in self._dirty.items():
            if keys:
                table = self.tables[name]
                names = self.shapes[name].pk
                stmt = self._insert(table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=names,
                    set_={
                        c.name: stmt.excluded[c.name] for c in table.columns if c.name not in names
                    },
                )
                rows = self._rows[name]
                self._executemany(stmt, [rows[k] or {} for k in keys], self.shapes[name].dates)
        for name, counts in self._counts.items():
            self._flush_counts(self.tables[name], counts, self.shapes[name].dates)

    def _flush_counts(
        self, table: Table, counts: dict[Key, dict[str, int]], dates: frozenset[str]
    ) -> None:
        pk = [c.name for c in table.primary_key.columns]
        groups: dict[tuple[str, ...], list[Row]] = defaultdict(list)
        for key, amounts in counts.items():
            groups[tuple(sorted(amounts))].append(dict(zip(pk, key, strict=True)) | amounts)
        for columns, rows in groups.items():
            stmt = self._insert(table).values({c: bindparam(c) for c in [*pk, *columns]})
            stmt = stmt.on_conflict_do_update(
                index_elements=pk, set_={c: table.c[c] + stmt.excluded[c] for c in columns}
            )
            self._executemany(stmt, rows, dates)

    def _insert(self, table: Table) -> Any:
        return (pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert)(table)

    def _executemany(self, stmt: Any, rows: list[Row], dates: frozenset[str] = frozenset()) -> None:
        """Straight to the driver's executemany: the statement is compiled once per batch and
        the rows (plain dates, text, numbers) need none of SQLAlchemy's per-row processing."""
        compiled = stmt.compile(dialect=self.conn.dialect)
        if compiled.positional:  # SQLite: ? placeholders, values in order; dates as ISO text
            order = compiled.positiontup
            if dates:
                params: list[Any] = [
                    tuple(_plain(row.get(n)) if n in dates else row.get(n) for n in order)
                    for row in rows
                ]
            else:
                params = [tuple(map(row.get, order)) for row in rows]
        else:
            params = rows
        self.conn.exec_driver_sql(str(compiled), params)

    @staticmethod
    def _key(table: Table, row: Row) -> Key:
        return tuple(row[c.name] for c in table.primary_key.columns)


# ---- the registry: which generation serves, which one is being built --------------------------


def install(engine: Engine, projections: Sequence[Projection]) -> None:
    """Create the registry, and generation 1 of every projection that has none yet."""
    registry_metadata.create_all(engine)
    with engine.connect() as conn:  # most days there is nothing to create: no write lock
        known = {r.name for r in conn.execute(select(registry.c.name))}
    if all(p.name in known for p in projections):
        return
    with _writing(engine) as conn:
        known = {r.name for r in conn.execute(select(registry.c.name))}
        for projection in projections:
            if projection.name not in known:
                _create_generation(conn, projection, 1)
                conn.execute(
                    registry.insert().values(
                        name=projection.name, serving=1, serving_version=projection.version
                    )
                )


@dataclass(frozen=True)
class Generation:
    projection: Projection
    generation: int
    version: int


def serving(conn: Connection, projection: Projection) -> Generation:
    row = conn.execute(
        select(registry.c.serving, registry.c.serving_version).where(
            registry.c.name == projection.name
        )
    ).one()
    return Generation(projection, row.serving, row.serving_version)


def serving_tables(conn: Connection, projection: Projection) -> dict[str, Table]:
    return projection.tables(serving(conn, projection).generation)


def _create_generation(conn: Connection, projection: Projection, generation: int) -> None:
    for table in projection.tables(generation).values():
        table.drop(conn, checkfirst=True)  # leftovers of an abandoned build
        table.create(conn)
    conn.execute(
        delete(positions).where(
            positions.c.name == projection.name, positions.c.generation == generation
        )
    )
    conn.execute(positions.insert().values(name=projection.name, generation=generation, position=0))


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        yield conn


# ---- applying the log ------------------------------------------------------------------------


def apply_batch(
    conn: Connection, log: EventLog, targets: Sequence[Generation], batch_size: int, context: Any
) -> int:
    """Apply the next events to each generation, from its own position; returns how many
    notifications were read (0: all are at the end of the log)."""
    locked = _lock_positions(conn, targets)
    start = min(locked.values())
    notifications = log.recorder.select_notifications(
        start=start, limit=batch_size, inclusive_of_start=False
    )
    if not notifications:
        return 0
    ids: dict[Any, str] = {}  # originator ids as text, converted once and only when needed
    events: dict[int, Any] = {}
    for target in targets:
        position = locked[target.generation, target.projection.name]
        handlers_for = target.projection.handlers_for
        mine = [
            (n, handlers)
            for n in notifications
            if n.id > position and (handlers := handlers_for(n.topic))
        ]
        batch = Batch(conn, target.projection, target.generation, context, ids)
        batch.prefetch(batch.key(n) for n, _ in mine)
        for notification, handlers in mine:
            event = events.get(notification.id)
            if event is None:  # decoded once for all the read models of this pass
                event = events[notification.id] = log.mapper.to_domain_event(notification)
            for handler in handlers:
                handler(batch, event)
        batch.flush()
        conn.execute(
            update(positions)
            .where(
                positions.c.name == target.projection.name,
                positions.c.generation == target.generation,
            )
            .values(position=max(position, notifications[-1].id))
        )
    return len(notifications)


def _lock_positions(conn: Connection, targets: Sequence[Generation]) -> dict[tuple[int, str], int]:
    # Only the rows this batch writes: a rebuild must not hold up catch-ups of the serving ones.
    query = (
        select(positions)
        .where(
            or_(
                *(
                    and_(
                        positions.c.name == t.projection.name,
                        positions.c.generation == t.generation,
                    )
                    for t in targets
                )
            )
        )
        .order_by(positions.c.name, positions.c.generation)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    wanted = {(t.generation, t.projection.name) for t in targets}
    found = {(r.generation, r.name): int(r.position) for r in conn.execute(query)}
    missing = wanted - set(found)
    if missing:
        raise LookupError(f"projection generation(s) {sorted(missing)} no longer exist")
    return {k: v for k, v in found.items() if k in wanted}


def lowest_position(conn: Connection, targets: Sequence[Generation]) -> int:
    rows = conn.execute(
        select(positions.c.name, positions.c.generation, positions.c.position).where(
            positions.c.name.in_([t.projection.name for t in targets])
        )
    )
    wanted = {(t.projection.name, t.generation) for t in targets}
    found = [int(r.position) for r in rows if (r.name, r.generation) in wanted]
    return min(found) if found else 0


def catch_up(
    engine: Engine,
    log: EventLog,
    projections: Sequence[Projection],
    context: Any = None,
    batch_size: int = 2000,
) -> int:
    """Bring the serving generations to the end of the log; returns notifications read."""
    read = 0
    while True:
        with engine.connect() as peek:
            targets = [serving(peek, p) for p in projections]
            if lowest_position(peek, targets) >= (log.recorder.max_notification_id() or 0):
                return read
        with _writing(engine) as conn:
            targets = _serving_locked(conn, projections)
            done = apply_batch(conn, log, targets, batch_size, context)
        if not done:
            return read
        read += done


def _serving_locked(conn: Connection, projections: Sequence[Projection]) -> list[Generation]:
    """The serving generations, with the registry rows held against a switch (PostgreSQL)."""
    query = select(registry).where(registry.c.name.in_([p.name for p in projections]))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    rows = {r.name: r for r in conn.execute(query.order_by(registry.c.name))}
    return [Generation(p, rows[p.name].serving, rows[p.name].serving_version) for p in projections]


def _plain(value: Any) -> Any:
    # SQLite keeps dates as ISO text (as SQLAlchemy's Date type does).
    return value.isoformat() if isinstance(value, date) else value
