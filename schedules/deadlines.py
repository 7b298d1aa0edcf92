"""The deadlines of a case, derived from its events: a corrected date moves every one that depends
on it. Status as of a given day: `pending`, `overdue` (pending and past due), `done` (met, perhaps
late), or `cancelled` (the case ended before it was met)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lifecycle.organization import OrganizationCase
from lifecycle.park import Rules


@dataclass(frozen=True)
class Deadline:
    kind: str  # growth_review, exit_evaluation, follow_up_end
    due_on: date
    status: str
    met_on: date | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "due_on": self.due_on.isoformat(),
            "status": self.status,
            "met_on": self.met_on.isoformat() if self.met_on else None,
        }


def deadlines_of(case: OrganizationCase, rules: Rules, today: date) -> list[Deadline]:
    if not case.is_incubation or case.entered_on is None:
        return []
    entered = case.entered_on
    deadlines = [
        _status(
            "growth_review",
            rules.growth_review_due(entered),
            case.growth_reviews[0] if case.growth_reviews else None,
            case,
            today,
        ),
        _status("exit_evaluation", rules.exit_due(entered), case.exit_on, case, today),
    ]
    if case.exit_on is not None and case.stage in ("follow_up", "closed"):
        closed_on = case.ended_on if case.stage == "closed" else None
        deadlines.append(
            _status("follow_up_end", rules.follow_up_end(case.exit_on), closed_on, case, today)
        )
    return deadlines


def _status(
    kind: str, due: date, met_on: date | None, case: OrganizationCase, today: date
) -> Deadline:
    if met_on is not None:
        return Deadline(kind, due, "done", met_on)
    if not case.is_open:
        return Deadline(kind, due, "cancelled")
    return Deadline(kind, due, "overdue" if today > due else "pending")
