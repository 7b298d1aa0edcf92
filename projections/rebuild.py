"""Rebuild without downtime (blue/green): a new generation is filled beside the serving one,
readers are switched to it in one transaction once it has caught up, then the old one is dropped.

A rebuild that dies half-way leaves its generation and position consistent (each batch commits
rows and position together); running it again resumes from there, applying nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from projections.runner import (
    Generation,
    Projection,
    _create_generation,
    anomalies,
    apply_batch,
    positions,
    registry,
)
from store.database import writing
from store.log import EventLog

Progress = Callable[[int], None]


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
    targets: Sequence[Generation],
    context: Any = None,
    progress: Progress | None = None,
    batch_size: int = 10_000,
) -> None:
    """Apply the log to the generations being built, batch after batch, up to its end. A batch
    of 10,000 events holds the write lock for well under a second; fewer, bigger batches
    would hold up commands longer, and more, smaller ones pay a commit each."""
    while True:
        with writing(engine) as conn:
            read = apply_batch(conn, log, targets, batch_size, context)
        if not read:
            return
        if progress is not None:
            progress(read)


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
) -> list[Generation]:
    """Build new generations of `projections` in one pass over the log and switch to them."""
    targets = [start(engine, p, fresh=fresh) for p in projections]
    build(engine, log, targets, context, progress)
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
