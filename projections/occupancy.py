"""Workspace occupancy: who holds which workspace at each site, from the workspaces' own events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, String, Table, Text, func, select
from sqlalchemy.engine import Connection

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.workspace import Workspace
else:  # imported when an event is applied (projections/runner.py: Later)
    Workspace = Later("lifecycle.workspace:Workspace")

projection = Projection("occupancy", version=2)
projection.table(
    "occupancy",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("site", Text, nullable=False, index=True),
        Column("code", Text, nullable=False),
        Column("case_id", String(36)),
        Column("case_name", Text),
        Column("since", Date),
    ],
    by="id",
)


@projection.on(Workspace.Registered)
def _registered(rows: Batch, e: Workspace.Registered) -> None:
    rows.put("occupancy", rows.key(e), site=e.site, code=e.code)


@projection.on(Workspace.Allocated)
def _allocated(rows: Batch, e: Workspace.Allocated) -> None:
    rows.update("occupancy", rows.key(e), case_id=str(e.case_id), case_name=e.case_name, since=e.on)


@projection.on(Workspace.Released)
def _released(rows: Batch, e: Workspace.Released) -> None:
    rows.update("occupancy", rows.key(e), case_id=None, case_name=None, since=None)


def held(
    conn: Connection, tables: dict[str, Table], site: str | None = None
) -> list[dict[str, Any]]:
    occupancy = tables["occupancy"]
    query = (
        select(
            occupancy.c.site,
            occupancy.c.code,
            occupancy.c.case_id,
            occupancy.c.case_name,
            occupancy.c.since,
        )
        .where(occupancy.c.case_id.is_not(None))
        .order_by(occupancy.c.site, occupancy.c.code)
    )
    if site:
        query = query.where(occupancy.c.site == site)
    return [dict(row._mapping) for row in conn.execute(query)]


def held_by_site(conn: Connection, tables: dict[str, Table]) -> dict[str, int]:
    """How many workspaces are held at each site that has a workspace held."""
    occupancy = tables["occupancy"]
    query = (
        select(occupancy.c.site, func.count())
        .where(occupancy.c.case_id.is_not(None))
        .group_by(occupancy.c.site)
    )
    return {str(site): int(count) for site, count in conn.execute(query).tuples()}
