"""A project submitted to a venture-philanthropy round (公益创投): screened (初审), scored by the
round's panel, awarded or declined once, then tracked: agreed reports with due dates, the award
paid in tranches, a mid-term check that may stop further tranches.

The project reads its round (the panel, the pass mark, whether it is open) but never changes
it: a command that changes both, an award, is decided by each and saved together by the
handler (commands/rounds.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from lifecycle import deadlines
from lifecycle.bounds import MONEY, NAME, NOTE, shown
from lifecycle.deadlines import FINAL_REPORT, MIDTERM_REPORT, Deadline
from lifecycle.errors import Refused
from lifecycle.organization import OrganizationCase
from lifecycle.park import Rules
from lifecycle.round import ZERO, Round
from lifecycle.scores import Panel
from lifecycle.stages import PROJECT_WORKFLOW
from lifecycle.step import Stamped, Step, require_text

# The reports an award agrees, and the clock of each (lifecycle/deadlines.py).
REPORT_CLOCKS = {"midterm": MIDTERM_REPORT, "final": FINAL_REPORT}
REPORT_KINDS = tuple(REPORT_CLOCKS)


class Project(Aggregate):
    round_id: UUID
    org_id: UUID
    org_name: str
    org_site: str
    title: str
    category: str | None
    amount: Decimal  # asked
    stage: str
    submitted_on: date
    last_on: date
    scores: dict[str, Decimal]  # each expert's current score
    conflicts: list[str]  # experts whose conflict with the organization was noted here
    awarded: Decimal | None
    awarded_on: date | None
    reports: dict[str, date]  # report kind -> when it came in
    disbursed: Decimal
    tranches: int
    stopped_on: date | None
    _clocks: deadlines.Clocks  # its reports' clocks, as its events left them

    # ---- events -------------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Submitted(Aggregate.Created, Event, Stamped):
        on: date
        actor: str
        reason: str | None
        round_id: UUID
        org_id: UUID
        org_name: str
        org_site: str
        title: str
        category: str | None
        amount: Decimal

        def apply(self, p: Project) -> None:
            p.round_id, p.org_id, p.org_name = self.round_id, self.org_id, self.org_name
            p.org_site, p.title, p.category = self.org_site, self.title, self.category
            p.amount, p.stage = self.amount, "submitted"
            p.submitted_on = p.last_on = self.on
            p.scores, p.conflicts = {}, []
            p.awarded = p.awarded_on = p.stopped_on = None
            p.reports, p.disbursed, p.tranches = {}, ZERO, 0
            p._clocks = deadlines.fold({}, self)

    class ProjectEvent(Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, p: Project) -> None:
            p.last_on = max(p.last_on, self.on)
            self.assign(p)
            p._clocks = deadlines.fold(p._clocks, self)

        def assign(self, p: Project) -> None:
            """What the event changes besides the date of the last step."""

    class Moved(ProjectEvent):
        stage: str

        def apply(self, p: Project) -> None:
            p.stage = self.stage
            super().apply(p)

    class ScreenedIn(Moved):
        pass

    class ScreenedOut(Moved):
        pass

    class Scored(ProjectEvent):
        expert: str
        score: Decimal

        def assign(self, p: Project) -> None:
            p.scores = {**p.scores, self.expert: self.score}

    class ScoreCorrected(ProjectEvent):
        """Supersedes the expert's earlier score (`previous`); the reason says why."""

        expert: str
        score: Decimal
        previous: Decimal

        def assign(self, p: Project) -> None:
            p.scores = {**p.scores, self.expert: self.score}

    class ConflictNoted(ProjectEvent):
        """A conflict the expert declared with the organization (关联回避): a score they gave
        before (`withdrawn`) no longer counts."""

        expert: str
        withdrawn: Decimal | None

        def assign(self, p: Project) -> None:
            p.conflicts = [*p.conflicts, self.expert]
            p.scores = {e: s for e, s in p.scores.items() if e != self.expert}

    class Awarded(Moved):
        amount: Decimal
        scores: dict[str, Decimal]  # the current scores it was decided on
        mean: Decimal
        pass_mark: Decimal

        def assign(self, p: Project) -> None:
            p.awarded, p.awarded_on = self.amount, self.on

    class Declined(Moved):
        pass

    class Disbursed(ProjectEvent):
        amount: Decimal
        tranche: int  # 1, 2, ...
        disbursed: Decimal  # all tranches so far, this one included

        def assign(self, p: Project) -> None:
            p.disbursed, p.tranches = self.disbursed, self.tranche

    class ReportReceived(ProjectEvent):
        kind: str
        note: str
        due_on: date
        late: bool

        def assign(self, p: Project) -> None:
            p.reports = {**p.reports, self.kind: self.on}

    class Stopped(Moved):
        """No further tranches (the mid-term check's verdict); what was paid stays paid."""

        def assign(self, p: Project) -> None:
            p.stopped_on = self.on

    def __init__(self) -> None:
        pass

    # ---- commands -----------------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        step: Step,
        r: Round,
        case: OrganizationCase,
        *,
        title: str,
        amount: Decimal,
        category: str | None = None,
        project_id: UUID | None = None,
    ) -> Project:
        """A project of an organization known to the park whose case has not ended, asking an
        amount above 0 and not above the round's maximum (the round records it: the handler
        asks the round too)."""
        check_organization_open(case)
        amount = MONEY.check(amount, "--amount")
        if r.max_award is not None and amount > r.max_award:
            raise Refused(
                "{round} gives at most {most:,} yuan to a project; "
                "--amount {amount:,} yuan is more",
                field="amount",
                round=r.name,
                most=r.max_award,
                amount=amount,
            )
        return cls._create(
            cls.Submitted,
            id=project_id or uuid4(),
            **step.stamp(reason=step.reason),
            round_id=UUID(str(r.id)),
            org_id=UUID(str(case.id)),
            org_name=case.name,
            org_site=case.site,
            title=require_text(title, "--title", "round submit"),
            category=NAME.optional(category, "--category"),
            amount=amount,
        )

    def screen(self, step: Step, r: Round, passed: bool) -> None:
        """初审: in, or out with a reason."""
        r.check_open("screen")
        self._check("screen", step, passed=passed)
        if passed:
            self._move(self.ScreenedIn, "screen", step, passed=True)
            return
        reason = step.require_reason(
            "round screen --fail needs --reason saying why the project is out"
        )
        self._move(self.ScreenedOut, "screen", step, passed=False, reason=reason)

    def score(self, step: Step, r: Round, expert: str, value: Decimal) -> None:
        """A panel expert's score, once; a second one with a reason is a correction that
        supersedes the first (both stay in the history)."""
        expert = require_text(expert, "--expert", "round score", NAME)
        r.check_open("score")
        self._check("score", step)
        r.check_on_panel(expert)
        if r.conflicted(expert, self.org_id) or expert in self.conflicts:
            raise Refused(
                "{expert} has declared a conflict with {org} (关联回避) and cannot score its "
                "project",
                field="expert",
                expert=expert,
                org=self.org_name,
            )
        previous = self.scores.get(expert)
        if previous is None:
            self._record(self.Scored, step, expert=expert, score=value)
            return
        if value == previous:
            raise Refused(
                "{expert}'s score of this project is already {score}",
                field="score",
                expert=expert,
                score=previous,
            )
        reason = step.require_reason(
            "round score needs --reason to correct {expert}'s score of {score} (an expert scores "
            "a project once; a correction says why)",
            expert=expert,
            score=previous,
        )
        self._record(
            self.ScoreCorrected, step, reason=reason, expert=expert, score=value, previous=previous
        )

    def award(self, step: Step, r: Round, amount: Decimal) -> None:
        """At least the round's minimum of current scores, their mean at or above its pass mark,
        and no more than asked (the fund is the round's to check)."""
        amount = MONEY.check(amount, "--amount")
        r.check_open("award")
        self._check("award", step)
        if len(self.scores) < r.min_scores:
            raise Refused(
                "an award needs scores from at least {minimum} expert(s); this project has {got}",
                minimum=r.min_scores,
                got=len(self.scores),
            )
        panel = Panel(dict(self.scores))
        if not panel.passes(r.pass_mark):
            raise Refused(
                "the mean of the current scores, {mean}, is below the round's pass mark "
                "{pass_mark}; decline it instead (with a reason)",
                mean=self.mean_shown,
                pass_mark=r.pass_mark,
            )
        if amount > self.amount:
            raise Refused(
                "the award of {amount:,} yuan is more than the project asked, {asked:,} yuan",
                field="amount",
                amount=amount,
                asked=self.amount,
            )
        self._move(
            self.Awarded,
            "award",
            step,
            amount=amount,
            scores=dict(self.scores),
            mean=panel.mean,
            pass_mark=r.pass_mark,
        )

    def decline(self, step: Step, r: Round) -> None:
        r.check_open("decline")
        self._check("decline", step)
        reason = step.require_reason(
            "round decline needs --reason saying why the project is not funded"
        )
        self._move(self.Declined, "decline", step, reason=reason)

    def disburse(self, step: Step, amount: Decimal) -> None:
        """A tranche of the award; all of them together never more than the award."""
        amount = MONEY.check(amount, "--amount")
        self._check("disburse", step)
        assert self.awarded is not None
        total = self.disbursed + amount
        if total > self.awarded:
            raise Refused(
                "a tranche of {amount:,} yuan would take what was paid to {total:,} yuan, above "
                "the award of {awarded:,} yuan: {remaining:,} yuan remain",
                field="amount",
                amount=amount,
                total=total,
                awarded=self.awarded,
                remaining=self.awarded - self.disbursed,
            )
        self._record(
            self.Disbursed, step, amount=amount, tranche=self.tranches + 1, disbursed=total
        )

    def report(self, step: Step, kind: str, note: str, rules: Rules) -> None:
        """A report agreed with the award (mid-term, final), once each; late after its due
        date (`rules` give the lengths of its clock)."""
        if kind not in REPORT_KINDS:
            raise Refused(
                "unknown report kind {kind}; allowed: {allowed}",
                field="kind",
                kind=shown(kind),
                allowed=", ".join(REPORT_KINDS),
            )
        note = require_text(note, "--note", "round report", NOTE)
        self._check("report", step)
        if kind in self.reports:
            raise Refused(
                "the {kind} report of this project came in on {on}",
                field="kind",
                kind=kind,
                on=self.reports[kind],
            )
        due = self.report_due(kind, rules)
        self._record(
            self.ReportReceived, step, kind=kind, note=note, due_on=due, late=step.on > due
        )

    def stop(self, step: Step) -> None:
        """The mid-term check stops further tranches, with a reason."""
        self._check("stop", step)
        reason = step.require_reason(
            "round stop needs --reason saying why no further tranches are paid"
        )
        self._move(self.Stopped, "stop", step, reason=reason)

    def note_conflict(self, step: Step, expert: str) -> bool:
        """The expert declared a conflict with this project's organization on the round: noted
        while the project is still being decided (a score already given is withdrawn); False
        when the project is already determined and nothing is noted."""
        if self.stage not in PROJECT_WORKFLOW.sources("note_conflict") or expert in self.conflicts:
            return False
        self.trigger_event(
            self.ConflictNoted,
            **step.stamp(reason=step.reason),
            expert=expert,
            withdrawn=self.scores.get(expert),
        )
        return True

    # ---- what the project knows ---------------------------------------------------------------

    @property
    def mean(self) -> Decimal | None:
        """The mean of the current scores, rounded to two places (None: no score yet)."""
        return Panel(dict(self.scores)).mean if self.scores else None

    @property
    def mean_shown(self) -> str:
        """Exact enough that a mean just under the pass mark never reads as reaching it."""
        if not self.scores:
            return "—"
        exact = Panel(dict(self.scores)).exact_mean
        rounded = exact.quantize(Decimal("0.01"))
        return str(rounded if rounded == exact else exact.quantize(Decimal("0.0001")))

    def deadlines(self, rules: Rules, today: date) -> list[Deadline]:
        """Its reports' deadlines and their status on `today` (lifecycle/deadlines.py)."""
        return deadlines.deadlines(self._clocks, rules, today, ended=False)

    def report_due(self, kind: str, rules: Rules) -> date:
        """When the report of `kind` (midterm, final) is due: the award started its clock."""
        start, _ = self._clocks[REPORT_CLOCKS[kind]]
        return deadlines.BY_KIND[REPORT_CLOCKS[kind]].due(rules, start)

    @property
    def label(self) -> str:
        return project_label(self.org_name, self.title)

    @property
    def is_determined(self) -> bool:
        return self.stage not in ("submitted", "screened_in")

    def allowed_commands(self) -> list[str]:
        return PROJECT_WORKFLOW.allowed(self.stage)

    # ---- helpers ------------------------------------------------------------------------------

    def _check(self, command: str, step: Step, *, passed: bool = False) -> str:
        """The stage `command` leads to; refuses a wrong stage or an out-of-order date."""
        stage = PROJECT_WORKFLOW.advance(self.stage, command, passed=passed)
        if step.on < self.last_on:
            raise Refused(
                "the date {on} is before this project's last recorded step on {last_on}; "
                "steps are recorded in date order",
                field="on",
                on=step.on,
                last_on=self.last_on,
            )
        return stage

    def _record(self, event: type[ProjectEvent], step: Step, **data: Any) -> None:
        data.setdefault("reason", step.reason)
        self.trigger_event(event, **step.stamp(**data))

    def _move(
        self, event: type[Moved], command: str, step: Step, *, passed: bool = False, **data: Any
    ) -> None:
        stage = self._check(command, step, passed=passed)
        self._record(event, step, stage=stage, **data)


def check_organization_open(case: OrganizationCase) -> None:
    """Only an organization the park knows, whose case has not ended, submits a project."""
    if not case.is_open:
        raise Refused(
            "{org}'s case has ended (stage '{stage}' since {on}); only an organization whose "
            "case is open submits a project",
            field="org",
            org=case.name,
            stage=case.stage,
            on=case.ended_on,
        )


def project_label(org_name: str, title: str) -> str:
    """How a project is named where its organization's name alone would not say which."""
    return f"{org_name}「{title}」"
