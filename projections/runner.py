"""One way to write a read model, and the machinery that applies the log to it exactly once.

A `Projection` has a name, a version, tables, and one small function per event type. Its rows live
in *generations*: physical tables named `<table>_g<N>`. The registry says which generation serves
readers; a rebuild fills a new generation beside it and switches readers over in one transaction.

Every generation records the log position it has applied in the same transaction as its rows, and
that transaction holds a lock on the position rows (PostgreSQL: SELECT ... FOR UPDATE; SQLite:
BEGIN IMMEDIATE), so two runners never apply an event twice and a process that dies mid-batch
leaves neither rows nor position behind. Events are applied in batches: each event is decoded
once for all the read models (its personal fields left sealed: no read model holds personal
data, store/personal.py), handlers change plain dicts in a `Batch`, and the batch writes them
back at its end in a few statements (projections/statements.py).

An event a read model cannot apply in full does not stop it: a handler that raises leaves what it
had done, and a value the database could not store in its column (an integer out of the column's
range, a text too long or holding NUL on PostgreSQL) is left empty when it is set, so it never
reaches the flush. Either is an *anomaly* of that read model's generation, recorded with the
event's position, case and type in `projection_anomalies`, in the batch's transaction: a rebuild
records the same anomalies as the catch-ups did, whatever its batches, and switches them with
its rows.
"""

from __future__ import annotations

import copy
import gc
import re
import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification
from eventsourcing.utils import construct_topic, resolve_topic
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Select
from sqlalchemy.types import SmallInteger

from projections.statements import TableStatements
from store.database import reading, writing
from store.log import EventLog
from store.personal import sealed_decoder

Key = tuple[Any, ...]
Row = dict[str, Any]
Handler = Callable[["Batch", Any], None]


_DECIDING = threading.Lock()


class Later:
    """An event class named by its topic (`module:Class.Event`), imported only when an event
    is applied or checked against it: the read models declare their handlers without importing
    the aggregates, so a list whose read models are up to date never builds the domain's event
    classes (a tenth of a command's start-up). `isinstance(e, Later(...))` checks against the
    class itself. A projection module binds the aggregate's name to one (`Case =
    Later("lifecycle.organization:OrganizationCase")`) and imports the class for the type
    checker alone."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._class: type | None = None

    def __getattr__(self, name: str) -> Later:
        """A nested class (`Case.Moved`), kept as an attribute once asked for: handlers ask
        for it with every event they apply."""
        if name.startswith("_"):
            raise AttributeError(name)
        nested = Later(f"{self.topic}.{name}")
        setattr(self, name, nested)
        return nested

    def __instancecheck__(self, instance: object) -> bool:
        if self._class is None:
            self._class = resolve_topic(self.topic)
        return isinstance(instance, self._class)

    def __repr__(self) -> str:
        return f"Later({self.topic!r})"


def topic_of(event_type: type | Later) -> str:
    return event_type.topic if isinstance(event_type, Later) else construct_topic(event_type)


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
# What a generation could not apply in full: one row per anomaly, in the order they arose.
anomalies = Table(
    "projection_anomalies",
    registry_metadata,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("position", BigInteger, primary_key=True),  # the event's notification id
    Column("seq", Integer, primary_key=True),  # several for one event: 0, 1, ...
    Column("originator_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),  # the case the event names, else its originator
    Column("topic", Text, nullable=False),
    Column("table_name", Text),  # a value that did not fit: where it was to go
    Column("column_name", Text),
    Column("error", Text, nullable=False),
)
# A row the batch has not read yet (None: read, and absent): only ever compared by identity.
_UNREAD: Row = {}
# Errors that are not the event's doing: the batch stops and rolls back, as before.
PASSED_ON: tuple[type[BaseException], ...] = (SQLAlchemyError, MemoryError)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: Callable[[], list[Column[Any]]]
    # The column that holds the originator id of the events that change this table's rows:
    # its rows are fetched for a whole batch in one query.
    by: str | None = None
    # Indexes of several columns, each its columns in order (the order a query sorts by).
    indexes: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class TableShape:
    columns: tuple[str, ...]
    pk: tuple[str, ...]
    by: str | None
    by_index: int  # the position of `by` in the primary key, or -1

    @classmethod
    def of(cls, table: Table, by: str | None) -> TableShape:
        pk = tuple(c.name for c in table.primary_key.columns)
        return cls(tuple(c.name for c in table.columns), pk, by, pk.index(by) if by in pk else -1)

    def key_of(self, row: Row) -> Key:
        return tuple(row[name] for name in self.pk)


class IntegerFit:
    """The whole numbers an integer column holds: SQLite's are 64-bit whatever their declared
    type; PostgreSQL's SMALLINT, INTEGER and BIGINT 16, 32 and 64."""

    __slots__ = ("high", "low", "nullable", "type_name")

    def __init__(self, type_name: str, bits: int, nullable: bool) -> None:
        self.type_name, self.nullable = type_name, nullable
        self.low, self.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def problem(self, value: Any) -> str | None:
        """None if the column can store `value`, else why not."""
        if type(value) is int:
            if self.low <= value <= self.high:
                return None
        elif value is None:
            return None if self.nullable else "no value for a column that needs one"
        elif not isinstance(value, int):
            return f"{_shown(value)} is not a whole number ({self.type_name})"
        elif self.low <= value <= self.high:
            return None  # a bool, an IntEnum
        return (
            f"{_shown(value)} is out of the range of {self.type_name} ({self.low} to {self.high})"
        )


class TextFit:
    """What PostgreSQL refuses in a text column: more characters than VARCHAR(n) has room
    for, and NUL, which no text value may hold."""

    __slots__ = ("length", "nullable", "type_name")

    def __init__(self, type_name: str, length: int | None, nullable: bool) -> None:
        self.type_name, self.length, self.nullable = type_name, length, nullable

    def problem(self, value: Any) -> str | None:
        if isinstance(value, str):
            if (self.length is None or len(value) <= self.length) and "\x00" not in value:
                return None
            if "\x00" in value:
                return f"{_shown(value)} holds a NUL character, which {self.type_name} cannot store"
            return f"{_shown(value)} is longer than {self.type_name} allows"
        if value is None:
            return None if self.nullable else "no value for a column that needs one"
        return None  # not text: left to the database


Fit = IntegerFit | TextFit


def fit_of(column: Column[Any], dialect: Dialect) -> Fit | None:
    """What is checked of the values put into `column`, when they are set: only what the
    database would refuse and a value can have, by the column's type (None: nothing)."""
    type_name = f"{column.type.compile(dialect)} on {dialect.name}"
    nullable = bool(column.nullable)
    if isinstance(column.type, Integer):
        if dialect.name == "postgresql":
            bits = 64 if isinstance(column.type, BigInteger) else 32
            bits = 16 if isinstance(column.type, SmallInteger) else bits
        else:
            bits = 64
        return IntegerFit(type_name, bits, nullable)
    if isinstance(column.type, String) and dialect.name == "postgresql":
        return TextFit(type_name, column.type.length, nullable)
    return None


def _shown(value: Any) -> str:
    """A value in an anomaly's text: short whatever its size, without its text (which could be
    anything, and is in the log)."""
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    if isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > 200:
            return f"an integer of {value.bit_length()} bits"
        return str(value)
    return f"a {type(value).__name__}"


class Projection:
    """A read model: its tables, and one small function per event type it cares about."""

    def __init__(self, name: str, version: int) -> None:
        self.name, self.version = name, version
        self.specs: dict[str, TableSpec] = {}
        # By the topic of the event class (`Later`): several, in the order registered.
        self.handlers: dict[str, list[Handler]] = {}
        self._named_later: list[tuple[Callable[[], Iterable[type]], Handler]] = []
        self._generations: dict[int, dict[str, Table]] = {}
        self._shapes: dict[int, dict[str, TableShape]] = {}
        self._statements: dict[tuple[int, str, str], dict[str, TableStatements]] = {}
        self._fits: dict[tuple[int, str], dict[str, dict[str, Fit]]] = {}
        self._by_topic: dict[str, list[Handler]] = {}
        # The case an event is about when it does not name one (a party track's events): for
        # its anomalies, so that a read of that case is told of them.
        self.case_of: Callable[[Batch, Any], str | None] | None = None
        # What in the context (the park's settings) its rows depend on, as text: see `built_with`.
        self.fingerprint: Callable[[Any], str] | None = None

    def built_with(self, context: Any) -> Projection:
        """This read model as built with `context`: a read model whose rows depend on the
        settings (the due dates on the lengths, the reminder policy and the calendar) has a
        version for each fingerprint of them, so a change of the settings is a new version,
        which the read models rebuild by themselves (ReadModels.catch_up)."""
        if self.fingerprint is None:
            return self
        built = copy.copy(self)  # the same tables, handlers and caches
        print_ = zlib.crc32(self.fingerprint(context).encode()) % 1_000_000
        built.version = self.version * 1_000_000 + print_
        return built

    def table(
        self,
        name: str,
        columns: Callable[[], list[Column[Any]]],
        by: str | None = None,
        indexes: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.specs[name] = TableSpec(name, columns, by, indexes)

    def on(self, *event_types: type | Later) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.handlers.setdefault(topic_of(event_type), []).append(handler)
            return handler

        return register

    def on_each(self, event_types: Callable[[], Iterable[type]]) -> Callable[[Handler], Handler]:
        """The handler for each of the classes `event_types()` names, asked when the first
        event is applied (the classes are imported then, not when the read model is)."""

        def register(handler: Handler) -> Handler:
            self._named_later.append((event_types, handler))
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

    def statements(self, generation: int, dialect: Dialect) -> dict[str, TableStatements]:
        """Per table, the statements a batch runs on it: compiled once, not per batch."""
        known = (generation, dialect.name, dialect.paramstyle)
        if known not in self._statements:
            self._statements[known] = {
                name: TableStatements(table, self.specs[name].by, dialect)
                for name, table in self.tables(generation).items()
            }
        return self._statements[known]

    def fits(self, generation: int, dialect: Dialect) -> dict[str, dict[str, Fit]]:
        """Per table, the columns whose values are checked when a handler sets them (keys are
        not: they come from ids), and how. A table without any costs its rows nothing."""
        known = (generation, dialect.name)
        if known not in self._fits:
            self._fits[known] = {
                name: {
                    c.name: fit
                    for c in table.columns
                    if not c.primary_key and (fit := fit_of(c, dialect)) is not None
                }
                for name, table in self.tables(generation).items()
            }
        return self._fits[known]

    def tables(self, generation: int) -> dict[str, Table]:
        if generation not in self._generations:
            metadata = MetaData()
            tables = {
                name: Table(f"{name}_g{generation}", metadata, *spec.columns())
                for name, spec in self.specs.items()
            }
            for name, spec in self.specs.items():
                table = tables[name]
                for columns in spec.indexes:  # named by table and columns: unique per schema
                    Index(f"ix_{table.name}_{'_'.join(columns)}", *(table.c[c] for c in columns))
            self._generations[generation] = tables
        return self._generations[generation]

    def handlers_for(self, topic: str) -> list[Handler]:
        """The handlers for an event's class and its bases, base first (decided once per topic,
        under a lock: threads of one server apply events at once)."""
        found = self._by_topic.get(topic)
        if found is None:
            with _DECIDING:
                while self._named_later:
                    event_types, handler = self._named_later.pop(0)
                    self.on(*event_types())(handler)
                mro = reversed(resolve_topic(topic).__mro__)
                handlers = [h for c in mro for h in self.handlers.get(construct_topic(c), ())]
                found = self._by_topic[topic] = list(dict.fromkeys(handlers))
        return found


class Batch:
    """The rows one batch of events changes, kept as dicts and written back by `flush`."""

    def __init__(
        self,
        conn: Connection,
        projection: Projection,
        generation: int,
        context: Any = None,
        ids: dict[int, str] | None = None,
    ) -> None:
        self.conn, self.projection, self.context = conn, projection, context
        self.generation = generation
        self._ids = ids if ids is not None else {}
        self.tables = projection.tables(generation)
        self.shapes = projection.shapes(generation)
        self.statements = projection.statements(generation, conn.dialect)
        self.fits = projection.fits(generation, conn.dialect)
        # The event being applied (set before its handlers run), for the anomalies it causes.
        self.notification: Notification | None = None
        self.event: Any = None
        self.anomalies: list[Row] = []
        self._rows: dict[str, dict[Key, Row | None]] = defaultdict(dict)
        # The keys whose rows the flush writes back: stored, or deleted where the row is None.
        self._changed: dict[str, set[Key]] = defaultdict(set)
        self._counts: dict[str, dict[Key, dict[str, int]]] = defaultdict(dict)
        self._fetched: dict[str, set[str]] = defaultdict(set)

    def prefetch(self, originator_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(originator_ids))
        if not ids:
            return
        for spec in self.projection.specs.values():
            if spec.by is not None:
                rows, key_of = self._rows[spec.name], self.shapes[spec.name].key_of
                for row in self.statements[spec.name].fetch(self.conn, ids):
                    rows[key_of(row)] = row
                self._fetched[spec.name].update(ids)

    def key(self, event: Any) -> str:
        """The event's originator id as text (the key of most rows), converted once a batch."""
        originator = event.originator_id
        text = self._ids.get(originator.int)  # the UUID's number: hashed without Python calls
        if text is None:
            text = self._ids[originator.int] = str(originator)
        return text

    def get(self, table_name: str, *key: Any) -> Row | None:
        return self._row(table_name, key)

    def _row(self, table_name: str, key: Key) -> Row | None:
        rows = self._rows[table_name]
        row = rows.get(key, _UNREAD)
        if row is not _UNREAD:
            return row
        shape = self.shapes[table_name]
        if shape.by_index >= 0 and key[shape.by_index] in self._fetched[table_name]:
            rows[key] = None  # prefetched: absent
            return None
        found = rows[key] = self.statements[table_name].one(self.conn, key)
        return found

    def put(self, table_name: str, *key: Any, **values: Any) -> Row:
        """Create the row if it is missing, then set `values`. A value its column cannot hold
        is an anomaly: left empty (a column that needs a value keeps the one it had; a new row
        that would lack one is not stored, and what is returned is not kept)."""
        row = self._row(table_name, key)
        fits = self.fits[table_name]
        if fits and not self._fitted(table_name, fits, values, row):
            lost = dict.fromkeys(self.shapes[table_name].columns)
            lost.update(zip(self.shapes[table_name].pk, key, strict=True))
            lost.update(values)
            return lost
        if row is None:
            shape = self.shapes[table_name]
            row = self._rows[table_name][key] = dict.fromkeys(shape.columns)
            row.update(zip(shape.pk, key, strict=True))
        row.update(values)
        self._changed[table_name].add(key)
        return row

    def update(self, table_name: str, *key: Any, **values: Any) -> Row | None:
        """Set `values` on the row if it exists (a value its column cannot hold: as `put`)."""
        row = self._row(table_name, key)
        if row is not None:
            fits = self.fits[table_name]
            if fits:
                self._fitted(table_name, fits, values, row)
            row.update(values)
            self._changed[table_name].add(key)
        return row

    def _fitted(
        self, table_name: str, fits: dict[str, Fit], values: dict[str, Any], row: Row | None
    ) -> bool:
        """Check the values that go into columns with a `Fit`, and take out those that do not
        fit (each an anomaly); False: the row is new and cannot be stored."""
        misfits = None
        for name, value in values.items():
            fit = fits.get(name)
            if fit is not None and (problem := fit.problem(value)) is not None:
                misfits = [*(misfits or ()), (name, fit, problem)]
        if misfits is None:
            return True
        stored = row is not None or all(fit.nullable for _, fit, _ in misfits)
        for name, fit, problem in misfits:
            if not stored:
                outcome = "the row was not stored"
            elif fit.nullable:
                values[name], outcome = None, "left empty"
            else:
                del values[name]
                outcome = "the value it had was kept"
            self.anomaly(f"{table_name}.{name}: {problem}; {outcome}", table_name, name)
        return stored

    def anomaly(self, error: str, table_name: str | None = None, column: str | None = None) -> None:
        """Note that the event being applied could not be applied in full; recorded with the
        batch's rows."""
        n = self.notification
        if n is None:
            raise RuntimeError(f"{self.projection.name}: an anomaly outside an event: {error}")
        originator = str(n.originator_id)
        case = self._case(self.event)
        self.anomalies.append(
            {
                "name": self.projection.name,
                "generation": self.generation,
                "position": n.id,
                "originator_id": originator,
                "case_id": _storable(str(case), 100) if case is not None else originator,
                "topic": _storable(n.topic, 300),
                "table_name": table_name,
                "column_name": column,
                "error": _storable(error, 1000),
            }
        )

    def _case(self, event: Any) -> Any:
        case = getattr(event, "case_id", None)
        if case is None and event is not None and self.projection.case_of is not None:
            try:
                case = self.projection.case_of(self, event)
            except PASSED_ON:
                raise
            except Exception:  # the event is odd already: its originator stands for it
                case = None
        return case

    def delete(self, table_name: str, *key: Any) -> None:
        if self._known_absent(table_name, key):
            return  # no statement for it (an ended case deletes every kind of deadline)
        self._rows[table_name][key] = None
        self._changed[table_name].add(key)

    def _known_absent(self, table_name: str, key: Key) -> bool:
        """The row is not stored, nor will be (as far as the batch knows without asking)."""
        rows = self._rows[table_name]
        if key in rows:
            return rows[key] is None  # absent when read, or deleted already
        shape = self.shapes[table_name]
        return shape.by_index >= 0 and key[shape.by_index] in self._fetched[table_name]

    def add(self, table_name: str, *key: Any, **amounts: int) -> None:
        """Counters: added to whatever the row holds (created at zero)."""
        counts = self._counts[table_name].setdefault(key, {})
        for column, amount in amounts.items():
            counts[column] = counts.get(column, 0) + amount

    def flush(self) -> None:
        """Write the batch back: one executemany per table and kind of change."""
        for name, keys in self._changed.items():
            rows, pk = self._rows[name], self.shapes[name].pk
            deleted = [dict(zip(pk, k, strict=True)) for k in keys if rows[k] is None]
            if deleted:
                self.statements[name].delete.executemany(self.conn, deleted)
            stored = [row for k in keys if (row := rows[k]) is not None]
            if stored:
                self.statements[name].upsert.executemany(self.conn, stored)
        for name, counts in self._counts.items():
            self._flush_counts(name, counts)
        if self.anomalies:
            seq, last = 0, None
            for found in self.anomalies:  # in the order they arose, several for one event
                seq = seq + 1 if found["position"] == last else 0
                found["seq"], last = seq, found["position"]
            self.conn.execute(anomalies.insert(), self.anomalies)

    def _flush_counts(self, table_name: str, counts: dict[Key, dict[str, int]]) -> None:
        pk = self.shapes[table_name].pk
        groups: dict[tuple[str, ...], list[Row]] = defaultdict(list)
        for key, amounts in counts.items():
            groups[tuple(sorted(amounts))].append(dict(zip(pk, key, strict=True)) | amounts)
        for columns, rows in groups.items():
            self.statements[table_name].counts(columns).executemany(self.conn, rows)


# ---- the registry: which generation serves, which one is being built --------------------------


def install(engine: Engine, projections: Sequence[Projection]) -> None:
    """Create the registry, and generation 1 of every projection that has none yet."""
    registry_metadata.create_all(engine)
    with engine.connect() as conn:  # most days there is nothing to create: no write lock
        known = {r.name for r in conn.execute(select(registry.c.name))}
    if all(p.name in known for p in projections):
        return
    with writing(engine) as conn:
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


# The statements every read runs, built once: SQLAlchemy then finds them compiled by the key
# it memoizes on the statement, instead of building and keying them again (most of their cost).
_FLAGGED = select(
    registry.c.serving,
    registry.c.serving_version,
    exists()
    .where(anomalies.c.name == registry.c.name, anomalies.c.generation == registry.c.serving)
    .label("flagged"),
).where(registry.c.name == bindparam("name"))
_SERVING_ANOMALIES = (
    select(anomalies)
    .join(
        registry,
        and_(registry.c.name == anomalies.c.name, registry.c.serving == anomalies.c.generation),
    )
    .order_by(anomalies.c.position, anomalies.c.name, anomalies.c.seq)
)
_ANOMALIES_OF_CASES = _SERVING_ANOMALIES.where(
    anomalies.c.case_id.in_(bindparam("cases", expanding=True))
)


def serving_flagged(conn: Connection, projection: Projection) -> tuple[Generation, bool]:
    """The serving generation, and whether it has anomalies (in the same statement)."""
    row = conn.execute(_FLAGGED, {"name": projection.name}).one()
    return Generation(projection, row.serving, row.serving_version), bool(row.flagged)


def served_with(query: Select[Any], order: Sequence[str]) -> Select[Any]:
    """`query` beside the registry's serving generation of the read model `name` (bound when
    run) and whether it has anomalies (`_serving`, `_flagged`), in one statement: a row with
    no answer (None in every column of the query) when it answers nothing. Ordered by
    `order`."""
    answer = query.subquery("answer")
    serving = _FLAGGED.subquery("serving")
    return (
        select(serving.c.serving.label("_serving"), serving.c.flagged.label("_flagged"), *answer.c)
        .select_from(serving.outerjoin(answer, true()))
        .order_by(*(answer.c[name] for name in order))
    )


def serving_anomalies(
    conn: Connection, names: Sequence[str] | None = None, cases: Sequence[str] | None = None
) -> list[Row]:
    """The anomalies of the serving generations (of the read models `names`, of the events
    naming `cases`), in log order."""
    if names is None and cases is not None:  # a read of a case: every time, so built once
        return [dict(row._mapping) for row in conn.execute(_ANOMALIES_OF_CASES, {"cases": cases})]
    query = _SERVING_ANOMALIES
    if names is not None:
        query = query.where(anomalies.c.name.in_(list(names)))
    if cases is not None:
        query = query.where(anomalies.c.case_id.in_(list(cases)))
    return [dict(row._mapping) for row in conn.execute(query)]


def _create_generation(conn: Connection, projection: Projection, generation: int) -> None:
    for table in projection.tables(generation).values():
        table.drop(conn, checkfirst=True)  # leftovers of an abandoned build
        table.create(conn)
    # The new generation's anomalies start empty, and those of dropped ones go: only the
    # serving generation's stay.
    conn.execute(
        delete(anomalies).where(
            anomalies.c.name == projection.name,
            anomalies.c.generation.not_in(
                select(registry.c.serving).where(registry.c.name == projection.name)
            ),
        )
    )
    conn.execute(
        delete(positions).where(
            positions.c.name == projection.name, positions.c.generation == generation
        )
    )
    conn.execute(positions.insert().values(name=projection.name, generation=generation, position=0))


# ---- applying the log ------------------------------------------------------------------------


def apply_batch(
    conn: Connection, log: EventLog, targets: Sequence[Generation], batch_size: int, context: Any
) -> int:
    """Apply the next events to each generation, from its own position; returns how many
    notifications were read (0: all are at the end of the log)."""
    locked = _lock_positions(conn, targets)
    froms = [locked[t.generation, t.projection.name] for t in targets]
    with _cycle_collector_paused():
        notifications = log.recorder.select_notifications(
            start=min(froms), limit=batch_size, inclusive_of_start=False
        )
        if notifications:
            _apply(conn, sealed_decoder(log), targets, froms, notifications, context)
    return len(notifications)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A batch keeps tens of thousands of objects until it ends, none of them in cycles: the
    cycle collector would walk the whole heap every batch or two for nothing (a sixth of a
    rebuild's time). It runs again when the batch is done, on what the batch left."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_cycle_collector_paused()  # until the batch is written, and let go
def build_batch(
    engine: Engine,
    log: EventLog,
    targets: Sequence[Generation],
    batch_size: int,
    context: Any,
    stop: int,
    topics: Sequence[str] = (),
) -> int:
    """Apply the next events up to `stop` to generations being built, which no one else
    writes: read and applied outside the write lock, written in a short transaction (two
    builders of other generations overlap all but their writes). `topics`: only those events
    are read (those the targets handle). Returns how far along the log the batch went (0: the
    targets are at `stop`)."""
    with reading(engine) as conn:
        rows = conn.execute(_positions_of(targets))
        found = {(r.generation, r.name): int(r.position) for r in rows}
        froms = [found.get((t.generation, t.projection.name), -1) for t in targets]
        if min(froms) < 0:
            raise LookupError("a projection generation being built no longer exists")
        notifications = log.recorder.select_notifications(
            start=min(froms), limit=batch_size, stop=stop, topics=topics, inclusive_of_start=False
        )
        # Fewer than asked for: none of the events up to `stop` is left for the targets.
        end = stop if len(notifications) < batch_size else notifications[-1].id
        if not notifications and min(froms) >= stop:
            return 0
        batches = _applied(conn, sealed_decoder(log), targets, froms, notifications, context)
    with writing(engine) as conn:
        locked = _lock_positions(conn, targets)
        if [locked[t.generation, t.projection.name] for t in targets] == froms:
            _written(conn, targets, batches, froms, end)
        # else another builder of the same generations went first: read again from there
    return end - min(froms)


def _apply(
    conn: Connection,
    decode: Callable[[Notification], Any],
    targets: Sequence[Generation],
    froms: list[int],
    notifications: Sequence[Notification],
    context: Any,
) -> None:
    batches = _applied(conn, decode, targets, froms, notifications, context)
    _written(conn, targets, batches, froms, notifications[-1].id)


def _written(
    conn: Connection,
    targets: Sequence[Generation],
    batches: list[Batch],
    froms: list[int],
    end: int,
) -> None:
    """Each generation's rows, and its position (`end`: the events up to it applied)."""
    for target, batch, position in zip(targets, batches, froms, strict=True):
        batch.conn = conn
        batch.flush()
        conn.execute(
            update(positions)
            .where(
                positions.c.name == target.projection.name,
                positions.c.generation == target.generation,
            )
            .values(position=max(position, end))
        )


def _applied(
    conn: Connection,
    decode: Callable[[Notification], Any],
    targets: Sequence[Generation],
    froms: list[int],
    notifications: Sequence[Notification],
    context: Any,
) -> list[Batch]:
    """Per generation, the batch of rows the notifications change (read through `conn`)."""
    routes: dict[str, list[tuple[int, list[Handler]]]] = {}
    wanted = []  # the notifications some generation handles, and which (by index) with what
    # Per generation, the notifications it handles (their originators' rows are read first).
    seen: list[list[Notification]] = [[] for _ in targets]
    behind = max(froms)  # after this every generation wants every event (usually: all do)
    for n in notifications:
        route = routes.get(n.topic)
        if route is None:
            route = routes[n.topic] = _route(targets, n.topic)
        mine = route if n.id > behind else [(i, h) for i, h in route if n.id > froms[i]]
        if mine:
            wanted.append((n, mine))
            for i, _ in mine:
                seen[i].append(n)
    ids: dict[int, str] = {}  # originator ids as text, converted once and only when needed
    batches = [Batch(conn, t.projection, t.generation, context, ids) for t in targets]
    for batch, handled in zip(batches, seen, strict=True):
        batch.prefetch(batch.key(n) for n in handled)
    _hand_out(decode, wanted, batches)
    return batches


def _hand_out(
    decode: Callable[[Notification], Any],
    wanted: list[tuple[Notification, list[tuple[int, list[Handler]]]]],
    batches: list[Batch],
) -> None:
    """Each event is decoded once, handed to every read model that wants it, then let go. An
    event a read model cannot apply is an anomaly of that read model; the others go on."""
    for n, mine in wanted:
        try:
            event = decode(n)
        except PASSED_ON:
            raise
        except Exception as error:
            for i, _ in mine:
                batches[i].notification, batches[i].event = n, None
                batches[i].anomaly(f"the event cannot be read: {said(error)}")
            continue
        for i, handlers in mine:
            batch = batches[i]
            batch.notification, batch.event = n, event
            for handler in handlers:
                try:
                    handler(batch, event)
                except PASSED_ON:
                    raise
                except Exception as error:
                    batch.anomaly(f"{handler.__module__}.{handler.__qualname__}: {said(error)}")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def said(error: BaseException) -> str:
    """An exception in words that do not change from run to run (no memory addresses)."""
    try:
        text = _ADDRESS.sub("", str(error)).strip()
    except Exception:  # an exception whose text cannot be had
        text = ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _storable(text: str, limit: int) -> str:
    """Text any database stores: no NUL, no lone surrogate, at most `limit` characters."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _route(targets: Sequence[Generation], topic: str) -> list[tuple[int, list[Handler]]]:
    """Which of `targets` (by index) handle events of `topic`, and with what. A topic no class
    answers to goes to all of them, with no handler: decoding it fails, an anomaly of each."""
    try:
        return [
            (i, handlers)
            for i, target in enumerate(targets)
            if (handlers := target.projection.handlers_for(topic))
        ]
    except Exception:
        return [(i, []) for i in range(len(targets))]


def _positions_of(targets: Sequence[Generation]) -> Select[Any]:
    """Only the rows of `targets`: a rebuild must not hold up catch-ups of the serving ones."""
    return (
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


def _lock_positions(conn: Connection, targets: Sequence[Generation]) -> dict[tuple[int, str], int]:
    query = _positions_of(targets)
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
        with writing(engine) as conn:
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
