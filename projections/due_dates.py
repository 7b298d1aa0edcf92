"""Due dates: every pending deadline of every case, soonest first (what reminders scan).

A deadline's row exists while it is pending; meeting it or ending the case deletes it, and a
corrected entry date moves it. The lengths come from the park's rules (the settings file): after
changing them, rebuild this read model (`incubator projections rebuild due_dates`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Column, Date, String, Table, Text, select
from sqlalchemy.engine import Connection

from lifecycle.organization import OrganizationCase as Case
from lifecycle.park import Park
from projections.runner import Batch, Projection

KINDS = ("growth_review", "exit_evaluation", "follow_up_end")

projection = Projection("due_dates", version=2)
projection.table(
    "due_dates",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("kind", Text, primary_key=True),
        Column("due_on", Date, nullable=False, index=True),
        Column("site", Text, nullable=False),
    ],
    by="case_id",
)
# Where each case is, to label its deadlines.
projection.table(
    "due_date_cases",
    lambda: [
        Column("case_id", String(36), primary_key=True),
        Column("site", Text, nullable=False),
        Column("track", Text, nullable=False),
    ],
    by="case_id",
)


def _rules(rows: Batch) -> Any:
    park: Park = rows.context
    return park.rules


@projection.on(Case.ApplicationReceived)
def _received(rows: Batch, e: Case.ApplicationReceived) -> None:
    rows.put("due_date_cases", rows.key(e), site=e.site, track=e.track)


def _due(rows: Batch, case_id: str, kind: str, due_on: date) -> None:
    case = rows.get("due_date_cases", case_id)
    if case is not None:
        rows.put("due_dates", case_id, kind, due_on=due_on, site=case["site"])


@projection.on(Case.EntryApproved)
def _entered(rows: Batch, e: Case.EntryApproved) -> None:
    case_id, rules = rows.key(e), _rules(rows)
    _due(rows, case_id, "growth_review", rules.growth_review_due(e.on))
    _due(rows, case_id, "exit_evaluation", rules.exit_due(e.on))


@projection.on(Case.EntryDateCorrected)
def _entry_corrected(rows: Batch, e: Case.EntryDateCorrected) -> None:
    case_id, rules = rows.key(e), _rules(rows)
    if rows.get("due_dates", case_id, "growth_review") is not None:
        rows.update(
            "due_dates", case_id, "growth_review", due_on=rules.growth_review_due(e.entered_on)
        )
    rows.update("due_dates", case_id, "exit_evaluation", due_on=rules.exit_due(e.entered_on))


@projection.on(Case.GrowthReviewRecorded)
def _reviewed(rows: Batch, e: Case.GrowthReviewRecorded) -> None:
    rows.delete("due_dates", rows.key(e), "growth_review")


@projection.on(Case.ExitApproved)
def _exit_approved(rows: Batch, e: Case.ExitApproved) -> None:
    case_id = rows.key(e)
    rows.delete("due_dates", case_id, "exit_evaluation")
    _due(rows, case_id, "follow_up_end", _rules(rows).follow_up_end(e.on))


@projection.on(Case.Ended)
def _ended(rows: Batch, e: Case.Ended) -> None:
    for kind in KINDS:
        rows.delete("due_dates", rows.key(e), kind)


def pending(
    conn: Connection,
    tables: dict[str, Table],
    *,
    until: date | None = None,
    site: str | None = None,
) -> list[dict[str, Any]]:
    due = tables["due_dates"]
    query = select(due).order_by(due.c.due_on, due.c.case_id, due.c.kind)
    if until is not None:
        query = query.where(due.c.due_on <= until)
    if site:
        query = query.where(due.c.site == site)
    return [dict(row._mapping) for row in conn.execute(query)]
