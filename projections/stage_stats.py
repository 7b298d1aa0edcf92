"""Stage statistics: cases moving into and out of each stage, per site and month, and from those
the number of cases in each stage at each month's end."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, String, Table, Text, select
from sqlalchemy.engine import Connection

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("stage_stats", version=2)
projection.table(
    "stage_movements",
    lambda: [
        Column("site", Text, primary_key=True),
        Column("month", Text, primary_key=True),  # YYYY-MM of the effective date
        Column("stage", Text, primary_key=True),
        Column("entered", Integer, nullable=False, server_default="0"),
        Column("left", Integer, nullable=False, server_default="0"),
    ],
)
projection.table(
    "stage_stat_cases",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("site", Text, nullable=False),
        Column("stage", Text, nullable=False),
    ],
    by="case_id",
)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put("stage_stat_cases", rows.key(e), site=e.site, stage="applied")
    rows.add("stage_movements", e.site, _month(e.on), "applied", entered=1)


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    _move(rows, rows.key(e), e.stage, e.on)


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    """From applied (above) to the stage the park's records give, when it began there."""
    if e.stage != "applied":
        _move(rows, rows.key(e), e.stage, e.stage_on)


def _move(rows: Batch, case_id: str, stage: str, on: date) -> None:
    case = rows.get("stage_stat_cases", case_id)
    if case is None:
        return
    month = _month(on)
    rows.add("stage_movements", case["site"], month, case["stage"], left=1)
    rows.add("stage_movements", case["site"], month, stage, entered=1)
    rows.update("stage_stat_cases", case_id, stage=stage)


def _month(on: date) -> str:
    return on.isoformat()[:7]  # YYYY-MM (strftime takes four times as long)


def by_month(
    conn: Connection, tables: dict[str, Table], site: str | None = None
) -> list[dict[str, Any]]:
    """Per site, month and stage: cases that entered, left, and were in it at the month's end."""
    movements = tables["stage_movements"]
    query = select(movements).order_by(movements.c.month, movements.c.site, movements.c.stage)
    if site:
        query = query.where(movements.c.site == site)
    in_stage: dict[tuple[str, str], int] = defaultdict(int)
    result = []
    for row in conn.execute(query):
        in_stage[row.site, row.stage] += row.entered - row.left
        result.append(
            {
                "site": row.site,
                "month": row.month,
                "stage": row.stage,
                "entered": row.entered,
                "left": row.left,
                "at_month_end": in_stage[row.site, row.stage],
            }
        )
    return result
