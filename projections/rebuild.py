"""Rebuild without downtime (blue/green): a new generation is filled beside the serving one,
readers are switched to it in one transaction once it has caught up, then the old one is dropped.

A rebuild that dies half-way leaves its generation and position consistent (each batch commits
rows and position together); running it again resumes from there, applying nothing twice.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from projections.runner import (
    Generation,
    Projection,
    _create_generation,
    _route,
    anomalies,
    apply_batch,
    build_batch,
    lowest_position,
    positions,
    registry,
    said,
)
from store.database import writing
from store.log import EventLog

Progress = Callable[[int], None]
# The events a build applies at a time. A batch reads the rows of the cases its events touch and
# writes them back: with more events each, a case's rows are read and written fewer times
# (measured on 101,610 events: 10,000 a batch -> 20,000, a seventh less CPU for 15 MiB more;
# the write transaction that holds up commands: about 0.14 s of writing on SQLite).
BUILD_BATCH = 20_000


def start(engine: Engine, projection: Projection, *, fresh: bool = False) -> Generation:
    """The generation to build: the one a previous rebuild of this version left (resumed), or a
    new one beside the serving generation."""
    with writing(engine) as conn:
        row = _registry_row(conn, projection.name, lock=True)
        if row.building is not None and row.building_version == projection.version and not fresh:
            return Generation(projection, row.building, projection.version)
        if row.building is not None:
            _drop(conn, projection, row.building)
        generation = max(row.serving, row.building or 0) + 1
        _create_generation(conn, projection, generation)
        conn.execute(
            update(registry)
            .where(registry.c.name == projection.name)
            .values(building=generation, building_version=projection.version)
        )
    return Generation(projection, generation, projection.version)


def build(
    engine: Engine,
    log: EventLog,
    groups: Sequence[Sequence[Generation]],
    context: Any = None,
    progress: Progress | None = None,
    batch_size: int = BUILD_BATCH,
) -> None:
    """Apply the log, up to its end when the build starts, to the generations being built:
    each group in a process of its own (forked) when there are several, each reading only the
    events its read models handle. A batch is applied outside the write lock and written in a
    short transaction: the groups overlap all but their writes, and commands are held up
    only that long. The switch applies what the log gained meanwhile."""
    stop = log.recorder.max_notification_id() or 0
    groups = [g for g in groups if g]
    topics = _topics(engine, log)
    if len(groups) == 1 or "fork" not in multiprocessing.get_all_start_methods():
        targets = [t for g in groups for t in g]
        mine = _handled(topics, targets)
        _build_group(engine, log, targets, context, batch_size, stop, mine, progress=progress)
        return
    forking = multiprocessing.get_context("fork")
    workers = []
    for group in groups:
        mine = _handled(topics, group)
        receiver, sender = forking.Pipe(duplex=False)
        worker = forking.Process(
            target=_worker, args=(engine, log, group, context, batch_size, stop, mine, sender)
        )
        worker.start()
        sender.close()
        workers.append((worker, receiver))
    _wait(engine, [t for g in groups for t in g], workers, progress)


def _build_group(
    engine: Engine,
    log: EventLog,
    targets: Sequence[Generation],
    context: Any,
    batch_size: int,
    stop: int,
    topics: Sequence[str],
    *,
    forked: bool = False,
    progress: Progress | None = None,
) -> None:
    parent = os.getppid()
    while passed := build_batch(engine, log, targets, batch_size, context, stop, topics):
        if forked and os.getppid() != parent:
            return  # the rebuild was stopped: its next run resumes from what was written
        if progress is not None:
            progress(passed)


def _worker(
    engine: Engine,
    log: EventLog,
    targets: Sequence[Generation],
    context: Any,
    batch_size: int,
    stop: int,
    topics: Sequence[str],
    failed: Any,
) -> None:
    """A forked process building one group: connections of its own (the parent's stay the
    parent's), and a log of its own that only reads."""
    engine.dispose(close=False)
    try:
        own = EventLog(env=dict(log.env) | {"CREATE_TABLE": "no"})
        try:
            _build_group(engine, own, targets, context, batch_size, stop, topics, forked=True)
        finally:
            own.close()
    except BaseException as error:
        try:  # the error itself, for the parent to raise (a database's: exit 4 on the CLI)
            failed.send(error)
        except Exception:  # one that cannot be pickled: its words
            failed.send(RuntimeError(f"a rebuild process failed: {said(error)}"))
        raise SystemExit(1) from None
    finally:
        engine.dispose()


def _wait(
    engine: Engine,
    targets: Sequence[Generation],
    workers: list[tuple[Any, Any]],
    progress: Progress | None,
) -> None:
    """Until every worker is done, telling `progress` how far the slowest generation got."""
    with engine.connect() as conn:
        at = lowest_position(conn, targets)
    while any(worker.is_alive() for worker, _ in workers):
        workers[0][0].join(timeout=0.5)
        if progress is not None:
            with engine.connect() as conn:
                now = lowest_position(conn, targets)
            if now > at:
                progress(now - at)
                at = now
    for worker, receiver in workers:
        if worker.exitcode != 0:
            if receiver.poll():
                raise receiver.recv()
            raise RuntimeError(f"a rebuild process failed (exit code {worker.exitcode})")


def _topics(engine: Engine, log: EventLog) -> list[str] | None:
    """The topics of the log's events: each group reads only those its read models handle
    (or that no class answers to, an anomaly of every read model). None for a log kept in
    memory (tests): its every event is read."""
    table = getattr(log.recorder, "events_table_name", None)
    if table is None:
        return None
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql(f"SELECT DISTINCT topic FROM {table}")]


def _handled(topics: list[str] | None, targets: Sequence[Generation]) -> Sequence[str]:
    """Of `topics`, those `targets` apply (nothing named: every event is read)."""
    return () if topics is None else [topic for topic in topics if _route(targets, topic)]


def switch(
    engine: Engine, log: EventLog, targets: Sequence[Generation], context: Any = None
) -> None:
    """Readers move to the new generations in one transaction, which first applies whatever
    the log gained meanwhile; the old generations are then dropped."""
    old: list[tuple[Projection, int]] = []
    with writing(engine) as conn:
        # One statement, in name order as catch-ups take them: no deadlock between the two.
        query = (
            select(registry)
            .where(registry.c.name.in_([t.projection.name for t in targets]))
            .order_by(registry.c.name)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {row.name: row for row in conn.execute(query)}
        # Another rebuild of the same generation may have switched already: nothing left to do.
        targets = [t for t in targets if rows[t.projection.name].serving != t.generation]
        for target in targets:
            if rows[target.projection.name].building != target.generation:
                raise RuntimeError(
                    f"{target.projection.name}: generation {target.generation} "
                    f"is no longer the one being built"
                )
        while targets and apply_batch(conn, log, targets, 5000, context):
            pass
        for target in targets:
            name = target.projection.name
            old.append((target.projection, rows[name].serving))
            conn.execute(
                update(registry)
                .where(registry.c.name == name)
                .values(
                    serving=target.generation,
                    serving_version=target.version,
                    building=None,
                    building_version=None,
                )
            )
    with writing(engine) as conn:
        for projection, generation in old:
            _drop(conn, projection, generation)


def rebuild(
    engine: Engine,
    log: EventLog,
    projections: Sequence[Projection],
    context: Any = None,
    progress: Progress | None = None,
    *,
    fresh: bool = False,
    groups: Sequence[Collection[str]] = (),
) -> list[Generation]:
    """Build new generations of `projections` and switch to them together: in one pass over
    the log, or with `groups` (of their names), one process per group."""
    targets = [start(engine, p, fresh=fresh) for p in projections]
    by_group = [[t for t in targets if t.projection.name in group] for group in groups]
    grouped = {t.projection.name for g in by_group for t in g}
    by_group.append([t for t in targets if t.projection.name not in grouped])
    build(engine, log, by_group, context, progress)
    switch(engine, log, targets, context)
    return targets


def _registry_row(conn: Connection, name: str, *, lock: bool) -> Any:
    query = select(registry).where(registry.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).one()


def _drop(conn: Connection, projection: Projection, generation: int) -> None:
    """The generation's tables, position and anomalies go together."""
    for table in projection.tables(generation).values():
        table.drop(conn, checkfirst=True)
    for kept in (positions, anomalies):
        conn.execute(
            delete(kept).where(kept.c.name == projection.name, kept.c.generation == generation)
        )
