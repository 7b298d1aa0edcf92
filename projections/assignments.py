"""Caseworker assignments: who is in charge of which open case, and since when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, Date, String, Table, Text, func, select
from sqlalchemy.engine import Connection

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("assignments", version=2)
projection.table(
    "assignments",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("name", Text, nullable=False),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False),
        Column("caseworker", Text, index=True),
        Column("since", Date),
        Column("open", Boolean, nullable=False),
    ],
    by="case_id",
)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put("assignments", rows.key(e), name=e.name, site=e.site, stage="applied", open=True)


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    # since when the caseworker is in charge, the park's records do not say
    rows.update("assignments", rows.key(e), stage=e.stage, caseworker=e.caseworker)


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    rows.update("assignments", rows.key(e), stage=e.stage)


@projection.on(Case.CaseworkerAssigned)
def _assigned(rows: Batch, e: Case.CaseworkerAssigned) -> None:
    rows.update("assignments", rows.key(e), caseworker=e.caseworker, since=e.on)


@projection.on(Case.Ended)
def _ended(rows: Batch, e: Case.Ended) -> None:
    rows.update("assignments", rows.key(e), open=False)


def open_cases(
    conn: Connection,
    tables: dict[str, Table],
    caseworker: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Open cases by caseworker (unassigned ones last): `limit` of them from `offset`."""
    assignments = tables["assignments"]
    query = (
        select(
            assignments.c.caseworker,
            assignments.c.case_id,
            assignments.c.name,
            assignments.c.site,
            assignments.c.stage,
            assignments.c.since,
        )
        .where(*_open(assignments, caseworker))
        .order_by(
            assignments.c.caseworker.is_(None),
            assignments.c.caseworker,
            assignments.c.name,
            assignments.c.case_id,  # the same name twice: still one order, page after page
        )
        .limit(limit)
        .offset(offset or None)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def open_count(conn: Connection, tables: dict[str, Table], caseworker: str | None = None) -> int:
    assignments = tables["assignments"]
    query = select(func.count()).select_from(assignments).where(*_open(assignments, caseworker))
    return int(conn.execute(query).scalar_one())


def _open(assignments: Table, caseworker: str | None) -> list[Any]:
    return [
        assignments.c.open.is_(True),
        *([assignments.c.caseworker == caseworker] if caseworker else []),
    ]
