"""The deadlines the system owns, declared once (DOMAIN.md, "Deadlines that the system owns").

`CLOCKS` says of each deadline how long it runs (lengths from the settings' [periods], months
clipped to the month's end) and who answers for it; `EFFECTS` says which event starts each
clock and from which day, which event meets it, which moves it (a corrected date), and which
ends every clock of a case or a party track. From these two tables alone:
- the case, its party track and a venture-philanthropy project (its reports) keep their clocks
  as their events apply (`fold`), and
  `deadlines_of` gives each deadline's status on a day: `pending`, `overdue` (pending and past
  due), `done` (met, perhaps late) or `cancelled` (ended before it was met);
- the due-dates read model (projections/due_dates.py) applies the same `effects` of each event
  to its rows, so a reminder scan finds what is due without loading every case;
- the reminder service asks `responsible` who is reminded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from lifecycle.park import Rules
from schedules.reminders import CASEWORKER, INSTRUCTOR, ReminderPolicy

if TYPE_CHECKING:
    from lifecycle.organization import OrganizationCase
    from lifecycle.party import PartyIncubation


INSPECTION, ENTRY_EVALUATION = "inspection", "entry_evaluation"
GROWTH_REVIEW, EXIT_EVALUATION, FOLLOW_UP_END = "growth_review", "exit_evaluation", "follow_up_end"
MEMBER_DISCOVERY = "member_discovery"
MIDTERM_REPORT, FINAL_REPORT = "midterm_report", "final_report"  # of a round's awarded project


@dataclass(frozen=True)
class Clock:
    kind: str
    zh: str
    length: Callable[[Rules, date], date]  # the nominal last day, from the day it started
    answers: str  # who is reminded, unless the settings say otherwise
    party: bool = False  # a clock of the party track

    def due(self, rules: Rules, start: date) -> date:
        """Its due date from the day it started: the period's last day, or the next working
        day when that is a statutory day off (民法典 第二百零三条); it escalates only after."""
        return rules.period_end(self.length(rules, start))


CLOCKS = (
    Clock(INSPECTION, "考察启动", Rules.inspection_due, CASEWORKER),
    Clock(ENTRY_EVALUATION, "入壳评估", Rules.entry_evaluation_due, CASEWORKER),
    Clock(GROWTH_REVIEW, "成长评估", Rules.growth_review_due, CASEWORKER),
    Clock(EXIT_EVALUATION, "出壳评估", Rules.exit_due, CASEWORKER),
    Clock(FOLLOW_UP_END, "后续服务期满结案", Rules.follow_up_end, CASEWORKER),
    # a venture-philanthropy project's reports (公益创投): its organization's caseworker answers
    Clock(MIDTERM_REPORT, "公益创投中期报告", Rules.midterm_report_due, CASEWORKER),
    Clock(FINAL_REPORT, "公益创投结项报告", Rules.final_report_due, CASEWORKER),
    Clock(
        MEMBER_DISCOVERY,
        "发现党员(党员人数摸排)",
        Rules.member_discovery_due,
        INSTRUCTOR,
        party=True,
    ),
)
BY_KIND = {clock.kind: clock for clock in CLOCKS}
KINDS = tuple(c.kind for c in CLOCKS if not c.party)
PARTY_KINDS = tuple(c.kind for c in CLOCKS if c.party)
ALL_KINDS = KINDS + PARTY_KINDS
KIND_NAMES_ZH = {c.kind: c.zh for c in CLOCKS}


@dataclass(frozen=True)
class Effect:
    """What an event does to a clock: `start` it (again) from a day, `meet` it on a day, `move`
    its start (a corrected date), or `end` every clock of its case or party track."""

    what: str
    kind: str | None = None
    day: Callable[[Any], date] = lambda e: e.on
    only: Callable[[Any], bool] = lambda e: True  # whether this event has the effect at all


def _start(kind: str, **more: Any) -> Effect:
    return Effect("start", kind, **more)


def _meet(kind: str, **more: Any) -> Effect:
    return Effect("meet", kind, **more)


def _move(kind: str, day: Callable[[Any], date]) -> Effect:
    return Effect("move", kind, day)


END = Effect("end")


@cache
def _table() -> Mapping[type, tuple[Effect, ...]]:
    """Which events start, meet, move and end the clocks. (Built on first use: the aggregates
    fold their clocks with it, so their modules are not yet loaded when this one is.)"""
    from lifecycle.organization import OrganizationCase as Case
    from lifecycle.party import PartyIncubation as Track
    from lifecycle.project import Project

    return {
        Case.ApplicationReceived: (_start(INSPECTION, only=lambda e: e.track == "incubation"),),
        Case.InspectionStarted: (_meet(INSPECTION),),
        Case.SubmittedForEntry: (_start(ENTRY_EVALUATION),),
        Case.EntryDeclined: (_meet(ENTRY_EVALUATION),),
        Case.EntryApproved: (
            _meet(ENTRY_EVALUATION),
            _start(GROWTH_REVIEW),
            _start(EXIT_EVALUATION),
        ),
        Case.EntryDateCorrected: (
            _move(GROWTH_REVIEW, lambda e: e.entered_on),
            _move(EXIT_EVALUATION, lambda e: e.entered_on),
        ),
        Case.GrowthReviewRecorded: (_meet(GROWTH_REVIEW),),
        Case.ExitApproved: (_meet(EXIT_EVALUATION), _start(FOLLOW_UP_END)),
        Case.ExitFailed: (_meet(EXIT_EVALUATION), END),
        Case.CaseClosed: (_meet(FOLLOW_UP_END), END),
        Case.ApplicationRejected: (END,),
        Case.Withdrawn: (END,),
        Case.Terminated: (END,),
        Case.Departed: (END,),
        # a case taken from the park's records: the clocks of where it stands, and those before
        # it whose days are known
        Case.CaseImported: (
            _start(INSPECTION, only=lambda e: _known(e, "applied", "inspected_on")),
            _meet(
                INSPECTION,
                day=lambda e: e.inspected_on,
                only=lambda e: _known(e, "", "inspected_on"),
            ),
            _start(
                ENTRY_EVALUATION,
                day=lambda e: e.submitted_on,
                only=lambda e: e.submitted_on is not None,
            ),
            _meet(
                ENTRY_EVALUATION,
                day=lambda e: e.entered_on,
                only=lambda e: e.entered_on is not None,
            ),
            _start(GROWTH_REVIEW, day=lambda e: e.entered_on, only=_imported_in_shell),
            _meet(
                GROWTH_REVIEW, day=lambda e: e.reviewed_on, only=lambda e: e.reviewed_on is not None
            ),
            _start(EXIT_EVALUATION, day=lambda e: e.entered_on, only=_imported_in_shell),
            _meet(EXIT_EVALUATION, day=lambda e: e.exit_on, only=lambda e: e.exit_on is not None),
            _start(FOLLOW_UP_END, day=lambda e: e.exit_on, only=lambda e: e.exit_on is not None),
        ),
        Track.Started: (_start(MEMBER_DISCOVERY),),
        Track.MembersCounted: (_meet(MEMBER_DISCOVERY),),
        Track.StartCorrected: (_move(MEMBER_DISCOVERY, lambda e: e.started_on),),
        Track.Closed: (END,),
        Project.Awarded: (_start(MIDTERM_REPORT), _start(FINAL_REPORT)),
        Project.ReportReceived: (
            _meet(MIDTERM_REPORT, only=lambda e: e.kind == "midterm"),
            _meet(FINAL_REPORT, only=lambda e: e.kind == "final"),
        ),
    }


def _imported_in_shell(e: Any) -> bool:
    return bool(e.track == "incubation" and e.entered_on is not None)


def _known(e: Any, stage: str, day: str) -> bool:
    """An imported incubation case's inspection clock: pending in `stage`, or started and met
    when the day it was met is known."""
    return bool(e.track == "incubation" and (e.stage == stage or getattr(e, day) is not None))


def effects(event: Any) -> tuple[Effect, ...]:
    """What `event` does to the clocks, in order (an exit that fails meets its clock, then ends
    the case's others)."""
    found = _table().get(type(event), ())
    return tuple(e for e in found if e.only(event))


def handled() -> tuple[type, ...]:
    """The event types that touch a clock."""
    return tuple(_table())


# ---- the clocks of one case or party track, as its events left them -------------------------

# kind -> (the day its clock started, the day it was met or None); see `fold`.
Clocks = dict[str, tuple[date, date | None]]


def fold(clocks: Clocks, event: Any) -> Clocks:
    """The clocks after `event`: a new dict when it changed any (never changed in place)."""
    found = effects(event)
    if not found:
        return clocks
    after = dict(clocks)
    for effect in found:
        kind = effect.kind
        if effect.what == "start":
            after[kind] = (effect.day(event), None)  # type: ignore[index]
        elif effect.what == "meet" and kind in after and after[kind][1] is None:
            after[kind] = (after[kind][0], effect.day(event))
        elif effect.what == "move" and kind in after:
            after[kind] = (effect.day(event), after[kind][1])
    return after


@dataclass(frozen=True)
class Deadline:
    kind: str
    due_on: date
    status: str
    met_on: date | None = None
    start_on: date | None = None  # when its clock started

    @property
    def is_pending(self) -> bool:
        return self.status in ("pending", "overdue")

    def as_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "start_on": self.start_on.isoformat() if self.start_on else None,
            "due_on": self.due_on.isoformat(),
            "status": self.status,
            "met_on": self.met_on.isoformat() if self.met_on else None,
        }


def overdue(due_on: date, today: date) -> bool:
    """A deadline is overdue from the day after its due date."""
    return today > due_on


def deadlines(clocks: Clocks, rules: Rules, today: date, ended: bool) -> list[Deadline]:
    """The deadlines of one case or party track on `today`; `ended`: it has ended."""
    found = []
    for kind, (start, met) in clocks.items():
        due = BY_KIND[kind].due(rules, start)
        if met is not None:
            status = "done"
        elif ended:
            status = "cancelled"
        else:
            status = "overdue" if overdue(due, today) else "pending"
        found.append(Deadline(kind, due, status, met, start))
    return found


def deadlines_of(
    case: OrganizationCase, rules: Rules, today: date, party: PartyIncubation | None = None
) -> list[Deadline]:
    """The deadlines of a case and of its party track on `today`."""
    return case.deadlines(rules, today) + (party.deadlines(rules, today) if party else [])


def pending_deadline(
    case: OrganizationCase, rules: Rules, kind: str, party: PartyIncubation | None = None
) -> Deadline | None:
    """The deadline of `kind` if it is pending now (met or ended ones are not)."""
    for deadline in deadlines_of(case, rules, case.last_on, party):
        if deadline.kind == kind and deadline.is_pending:
            return deadline
    return None


def reminds_instructor(kind: str, policy: ReminderPolicy) -> bool:
    """Whether the instructor answers for the deadline (its clock's, or the settings' choice)."""
    return (policy.of(kind).recipient or BY_KIND[kind].answers) == INSTRUCTOR


def responsible(
    kind: str, policy: ReminderPolicy, caseworker: str | None, instructor: str | None
) -> str | None:
    """Who answers for a deadline: the instructor where its clock (or the settings) says so and
    one is assigned, else the caseworker (None: nobody; the director is reminded instead)."""
    if reminds_instructor(kind, policy) and instructor:
        return instructor
    return caseworker
