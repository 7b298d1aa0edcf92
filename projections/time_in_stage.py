"""Time in stage: the days each case spent in each stage, and averages per cohort (the year the
case applied)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, Integer, String, Table, Text, func, select
from sqlalchemy.engine import Connection

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("time_in_stage", version=2)
projection.table(
    "stage_periods",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("seq", Integer, primary_key=True),
        Column("stage", Text, nullable=False),
        Column("track", Text, nullable=False),
        Column("cohort", Text, nullable=False, index=True),
        Column("started_on", Date, nullable=False),
        Column("ended_on", Date),
        Column("days", Integer),
    ],
    by="case_id",
)
projection.table(
    "stage_period_cases",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("seq", Integer, nullable=False),  # the current period
        Column("entry_seq", Integer),  # the period that began on the entry date
        Column("track", Text, nullable=False),
        Column("cohort", Text, nullable=False),
    ],
    by="case_id",
)


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    case_id, cohort = rows.key(e), str(e.on.year)
    rows.put("stage_period_cases", case_id, seq=0, track=e.track, cohort=cohort)
    rows.put(
        "stage_periods", case_id, 0, stage="applied", track=e.track, cohort=cohort, started_on=e.on
    )


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    entered = isinstance(e, (Case.EntryApproved, Case.ResidentAdmitted))
    _period(rows, rows.key(e), e.stage, e.on, entered)


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    """The stage the park's records give, from when it began there (the days between, the
    records do not say stage by stage)."""
    if e.stage != "applied":
        entered = e.stage in ("incubating", "resident")
        _period(rows, rows.key(e), e.stage, e.stage_on, entered)


def _period(rows: Batch, case_id: str, stage: str, on: date, entered: bool) -> None:
    case = rows.get("stage_period_cases", case_id)
    if case is None:
        return
    _end(rows, case_id, case["seq"], on)
    seq = case["seq"] + 1
    rows.put(
        "stage_periods",
        case_id,
        seq,
        stage=stage,
        track=case["track"],
        cohort=case["cohort"],
        started_on=on,
    )
    rows.update("stage_period_cases", case_id, seq=seq, **({"entry_seq": seq} if entered else {}))


@projection.on(Case.EntryDateCorrected)
def _entry_corrected(rows: Batch, e: Case.EntryDateCorrected) -> None:
    case_id = rows.key(e)
    case = rows.get("stage_period_cases", case_id)
    if case is None or case["entry_seq"] is None:
        return
    period = rows.get("stage_periods", case_id, case["entry_seq"])
    if period is not None:
        _days(rows.update("stage_periods", case_id, case["entry_seq"], started_on=e.entered_on))
    _end(rows, case_id, case["entry_seq"] - 1, e.entered_on)


def _end(rows: Batch, case_id: str, seq: int, on: date) -> None:
    _days(rows.update("stage_periods", case_id, seq, ended_on=on))


def _days(period: dict[str, Any] | None) -> None:
    if period is not None and period["ended_on"] is not None:
        period["days"] = (period["ended_on"] - period["started_on"]).days


def averages(
    conn: Connection, tables: dict[str, Table], track: str | None = None
) -> list[dict[str, Any]]:
    """Per cohort and stage: how many cases left the stage, and their mean and longest days."""
    periods = tables["stage_periods"]
    query = (
        select(
            periods.c.cohort,
            periods.c.stage,
            func.count().label("cases"),
            func.avg(periods.c.days).label("mean_days"),
            func.max(periods.c.days).label("max_days"),
        )
        .where(periods.c.days.is_not(None))
        .group_by(periods.c.cohort, periods.c.stage)
        .order_by(periods.c.cohort, periods.c.stage)
    )
    if track:
        query = query.where(periods.c.track == track)
    return [
        {
            "cohort": r.cohort,
            "stage": r.stage,
            "cases": r.cases,
            "mean_days": round(float(r.mean_days), 1),
            "max_days": r.max_days,
        }
        for r in conn.execute(query)
    ]
