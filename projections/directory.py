"""The directory: every organization that ever applied, found by any part of its name.

It holds no personal data (the contact person is read from the log, where it can be erased):
version 3 dropped the contact that version 2 kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, String, Table, Text, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("directory", version=3)
projection.table(
    "directory",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("name", Text, nullable=False, index=True),
        Column("field", Text, nullable=False),
        Column("track", Text, nullable=False),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False),
        Column("applied_on", Date, nullable=False),
    ],
    by="id",
)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put(
        "directory",
        rows.key(e),
        name=e.name,
        field=e.field,
        track=e.track,
        site=e.site,
        stage="applied",
        applied_on=e.on,
    )


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    rows.update("directory", rows.key(e), stage=e.stage)


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    rows.update("directory", rows.key(e), stage=e.stage)


def search(
    conn: Connection, tables: dict[str, Table], text: str, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """Organizations whose name contains `text` (爱心 finds 伊金霍洛旗爱心志愿者协会), by name:
    `limit` of them from `offset`, walking the index of the names until the page is full."""
    directory = tables["directory"]
    query = (
        select(directory)
        .where(_containing(directory, text))
        .order_by(directory.c.name, directory.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def found(conn: Connection, tables: dict[str, Table], text: str) -> int:
    """How many organizations' names contain `text`."""
    directory = tables["directory"]
    return int(conn.execute(select(func.count()).where(_containing(directory, text))).scalar() or 0)


def _containing(directory: Table, text: str) -> ColumnElement[bool]:
    return directory.c.name.contains(text.strip(), autoescape=True)
