"""Cohorts: when each case applied, entered the shell (or was admitted), left it and how, and
when it closed; behind the stage funnel of a year's cohort and the Gantt chart of the in-shell
periods (issue #15)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, String, Table, Text, extract, func, select
from sqlalchemy.engine import Connection

from lifecycle.deadlines import BY_KIND, EXIT_EVALUATION
from lifecycle.park import Rules
from lifecycle.stages import INCUBATION
from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase as Case
else:  # imported when an event is applied (projections/runner.py: Later)
    Case = Later("lifecycle.organization:OrganizationCase")

projection = Projection("cohorts", version=1)
projection.table(
    "cohort_cases",
    lambda: [
        Column("id", String(36), primary_key=True),
        Column("name", Text, nullable=False),
        Column("track", Text, nullable=False),
        Column("site", Text, nullable=False, index=True),
        Column("stage", Text, nullable=False),
        Column("applied_on", Date, nullable=False),
        Column("entered_on", Date),  # entered the shell, or admitted as a resident
        Column("left_on", Date),  # left it: exit evaluated, withdrawn, terminated, departed
        Column("left_to", Text),  # the stage it left to: follow_up is a successful exit
        Column("closed_on", Date),  # the case closed after its follow-up services
    ],
    by="id",
)
# The stage a successful exit leads to (出壳, incubated successfully).
EXITED_WELL = "follow_up"


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put(
        "cohort_cases",
        rows.key(e),
        name=e.name,
        track=e.track,
        site=e.site,
        stage="applied",
        applied_on=e.on,
    )


@projection.on(Case.CaseImported)
def _imported(rows: Batch, e: Case.CaseImported) -> None:
    """Where the park's records left it: in the shell, or out of it after a successful exit."""
    left = e.stage == EXITED_WELL
    rows.update(
        "cohort_cases",
        rows.key(e),
        stage=e.stage,
        entered_on=e.entered_on,
        left_on=e.exit_on if left else None,
        left_to=e.stage if left else None,
    )


@projection.on(Case.Moved)
def _moved(rows: Batch, e: Case.Moved) -> None:
    rows.update("cohort_cases", rows.key(e), stage=e.stage)


@projection.on(Case.EntryApproved, Case.ResidentAdmitted)
def _entered(rows: Batch, e: Case.EntryApproved | Case.ResidentAdmitted) -> None:
    rows.update("cohort_cases", rows.key(e), entered_on=e.on)


@projection.on(Case.EntryDateCorrected)
def _entry_corrected(rows: Batch, e: Case.EntryDateCorrected) -> None:
    rows.update("cohort_cases", rows.key(e), entered_on=e.entered_on)


@projection.on(Case.ExitApproved, Case.Ended)
def _left(rows: Batch, e: Case.Moved) -> None:
    """The first step out of the shell after entering it (an exit, or an end in it)."""
    row = rows.get("cohort_cases", rows.key(e))
    if row is None or row["entered_on"] is None or row["left_on"] is not None:
        return
    rows.update("cohort_cases", rows.key(e), left_on=e.on, left_to=e.stage)


@projection.on(Case.CaseClosed)
def _closed(rows: Batch, e: Case.CaseClosed) -> None:
    rows.update("cohort_cases", rows.key(e), closed_on=e.on)


# ---- queries ---------------------------------------------------------------------------------

FUNNEL = ("applied", "entered", "exited", "closed")  # the steps of a cohort's funnel
BY = ("applied", "entered")  # a cohort is the cases that applied, or entered, in a year


def funnel(
    conn: Connection,
    tables: dict[str, Table],
    *,
    by: str = "applied",
    track: str = INCUBATION,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Per cohort year (of application, or of entry), oldest first: how many cases applied,
    entered the shell, exited it successfully, and closed after their follow-up year."""
    cases = tables["cohort_cases"]
    since = cases.c.applied_on if by == "applied" else cases.c.entered_on
    year = extract("year", since).label("year")
    query = (
        select(
            year,
            func.count().label("applied"),
            func.count(cases.c.entered_on).label("entered"),
            func.count().filter(cases.c.left_to == EXITED_WELL).label("exited"),
            func.count(cases.c.closed_on).label("closed"),
        )
        .where(cases.c.track == track, since.is_not(None))
        .group_by(year)
        .order_by(year)
    )
    if site:
        query = query.where(cases.c.site == site)
    return [dict(row._mapping) | {"year": int(row.year)} for row in conn.execute(query)]


def in_shell(
    conn: Connection,
    tables: dict[str, Table],
    rules: Rules,
    *,
    year: int | None = None,
    site: str | None = None,
    track: str | None = INCUBATION,
) -> list[dict[str, Any]]:
    """The cases that entered (in `year`), by entry date: each one's in-shell period, from its
    entry to the day it left, and its exit deadline (the incubation track's in-shell period,
    as lifecycle/deadlines.py declares it)."""
    cases = tables["cohort_cases"]
    query = (
        select(
            cases.c.id,
            cases.c.name,
            cases.c.track,
            cases.c.site,
            cases.c.stage,
            cases.c.entered_on,
            cases.c.left_on,
            cases.c.left_to,
        )
        .where(cases.c.entered_on.is_not(None))
        .order_by(cases.c.entered_on, cases.c.name, cases.c.id)
    )
    if year is not None:
        query = query.where(
            cases.c.entered_on >= date(year, 1, 1), cases.c.entered_on <= date(year, 12, 31)
        )
    if site:
        query = query.where(cases.c.site == site)
    if track:
        query = query.where(cases.c.track == track)
    exit_clock = BY_KIND[EXIT_EVALUATION]
    return [
        dict(row._mapping)
        | {"exit_due": exit_clock.due(rules, row.entered_on) if row.track == INCUBATION else None}
        for row in conn.execute(query)
    ]
