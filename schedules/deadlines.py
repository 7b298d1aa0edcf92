"""The deadlines of a case and its party track, derived from their events: a corrected date moves
every one that depends on it. Status as of a given day: `pending`, `overdue` (pending and past due),
`done` (met, perhaps late), or `cancelled` (the case or track ended before it was met).

The clocks (DOMAIN.md, "Deadlines that the system owns"), lengths from the settings' [periods]:
- inspection: started within `inspection_days` of the application (incubation track);
- entry_evaluation: the entry evaluation within `entry_evaluation_days` of the latest submission;
- growth_review and exit_evaluation: months after entry; follow_up_end: months after the exit;
- member_discovery: the party track's members counted within `member_discovery_days` of its start.

The due-dates read model (projections/due_dates.py) follows the same clocks from the events, so a
scan finds what is due without loading every case; before recording a reminder it checks the case
itself with `pending_deadline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lifecycle.organization import OrganizationCase
from lifecycle.park import Rules
from lifecycle.party import PartyIncubation
from schedules.reminders import (
    ENTRY_EVALUATION,
    EXIT_EVALUATION,
    FOLLOW_UP_END,
    GROWTH_REVIEW,
    INSPECTION,
    MEMBER_DISCOVERY,
)

PENDING = ("pending", "overdue")


@dataclass(frozen=True)
class Deadline:
    kind: str
    due_on: date
    status: str
    met_on: date | None = None
    start_on: date | None = None  # when its clock started

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "start_on": self.start_on.isoformat() if self.start_on else None,
            "due_on": self.due_on.isoformat(),
            "status": self.status,
            "met_on": self.met_on.isoformat() if self.met_on else None,
        }


def deadlines_of(
    case: OrganizationCase, rules: Rules, today: date, party: PartyIncubation | None = None
) -> list[Deadline]:
    deadlines = _before_entry(case, rules, today)
    if case.is_incubation and case.entered_on is not None:
        entered = case.entered_on
        reviewed = case.growth_reviews[0] if case.growth_reviews else None
        deadlines += [
            _status(
                GROWTH_REVIEW, entered, rules.growth_review_due(entered), reviewed, case, today
            ),
            _status(EXIT_EVALUATION, entered, rules.exit_due(entered), case.exit_on, case, today),
        ]
        if case.exit_on is not None and case.stage in ("follow_up", "closed"):
            closed_on = case.ended_on if case.stage == "closed" else None
            end = rules.follow_up_end(case.exit_on)
            deadlines.append(_status(FOLLOW_UP_END, case.exit_on, end, closed_on, case, today))
    if party is not None:
        due = rules.member_discovery_due(party.started_on)
        if party.counted_on is not None:
            status = "done"
        elif party.ended_on is not None:
            status = "cancelled"
        else:
            status = "overdue" if today > due else "pending"
        deadlines.append(
            Deadline(MEMBER_DISCOVERY, due, status, party.counted_on, party.started_on)
        )
    return deadlines


def pending_deadline(
    case: OrganizationCase, rules: Rules, kind: str, party: PartyIncubation | None = None
) -> Deadline | None:
    """The deadline of `kind` if it is pending now (met or ended ones are not)."""
    for deadline in deadlines_of(case, rules, case.last_on, party):
        if deadline.kind == kind and deadline.is_pending:
            return deadline
    return None


def _before_entry(case: OrganizationCase, rules: Rules, today: date) -> list[Deadline]:
    if not case.is_incubation:
        return []
    deadlines = [
        _status(
            INSPECTION,
            case.applied_on,
            rules.inspection_due(case.applied_on),
            case.inspected_on,
            case,
            today,
        )
    ]
    if case.submitted_on is not None:
        met = case.evaluated_on  # None until the latest submission is evaluated
        deadlines.append(
            _status(
                ENTRY_EVALUATION,
                case.submitted_on,
                rules.entry_evaluation_due(case.submitted_on),
                met,
                case,
                today,
            )
        )
    return deadlines


def _status(
    kind: str, start: date, due: date, met_on: date | None, case: OrganizationCase, today: date
) -> Deadline:
    if met_on is not None:
        return Deadline(kind, due, "done", met_on, start)
    if not case.is_open:
        return Deadline(kind, due, "cancelled", None, start)
    return Deadline(kind, due, "overdue" if today > due else "pending", None, start)
