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

from lifecycle.bounds import MONEY, NAME, NOTE, shown
from lifecycle.errors import Refused
from lifecycle.organization import OrganizationCase
from lifecycle.round import ZERO, Round, yuan
from lifecycle.scores import Panel
from lifecycle.stages import PROJECT_WORKFLOW
from lifecycle.step import Stamped, Step, require_text

REPORT_KINDS = ("midterm", "final")
REPORT_NAMES_ZH = {"midterm": "中期报告", "final": "结项报告"}


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
    milestones: dict[str, date]  # report kind -> due date, agreed with the award
    reports: dict[str, date]  # report kind -> when it came in
    disbursed: Decimal
    tranches: int
    stopped_on: date | None

    # ---- events -------------------------------------------------------------------------------

    class Submitted(Aggregate.Created, Stamped):
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
            p.milestones, p.reports, p.disbursed, p.tranches = {}, {}, ZERO, 0

    class ProjectEvent(Aggregate.Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, p: Project) -> None:
            p.last_on = max(p.last_on, self.on)
            self.assign(p)

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
        milestones: dict[str, date]  # the reports agreed, each with its due date

        def assign(self, p: Project) -> None:
            p.awarded, p.awarded_on, p.milestones = self.amount, self.on, dict(self.milestones)

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
                f"{r.name} gives at most {yuan(r.max_award)} to a project; "
                f"--amount {yuan(amount)} is more"
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
        reason = step.require_reason("round screen --fail", " saying why the project is out")
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
                f"{expert} has declared a conflict with {self.org_name} (关联回避) and cannot "
                f"score its project"
            )
        previous = self.scores.get(expert)
        if previous is None:
            self._record(self.Scored, step, expert=expert, score=value)
            return
        if value == previous:
            raise Refused(f"{expert}'s score of this project is already {previous}")
        reason = step.require_reason(
            "round score",
            f" to correct {expert}'s score of {previous} (an expert scores a project once; "
            f"a correction says why)",
        )
        self._record(
            self.ScoreCorrected, step, reason=reason, expert=expert, score=value, previous=previous
        )

    def award(self, step: Step, r: Round, amount: Decimal, milestones: dict[str, date]) -> None:
        """At least the round's minimum of current scores, their mean at or above its pass mark,
        and no more than asked (the fund is the round's to check)."""
        amount = MONEY.check(amount, "--amount")
        r.check_open("award")
        self._check("award", step)
        if len(self.scores) < r.min_scores:
            raise Refused(
                f"an award needs scores from at least {r.min_scores} expert(s); this project has "
                f"{len(self.scores)}"
            )
        panel = Panel(dict(self.scores))
        if not panel.passes(r.pass_mark):
            raise Refused(
                f"the mean of the current scores, {self.mean_shown}, is below the round's pass "
                f"mark {r.pass_mark}; decline it instead (with a reason)"
            )
        if amount > self.amount:
            raise Refused(
                f"the award of {yuan(amount)} is more than the project asked, {yuan(self.amount)}"
            )
        self._move(
            self.Awarded,
            "award",
            step,
            amount=amount,
            scores=dict(self.scores),
            mean=panel.mean,
            pass_mark=r.pass_mark,
            milestones=milestones,
        )

    def decline(self, step: Step, r: Round) -> None:
        r.check_open("decline")
        self._check("decline", step)
        reason = step.require_reason("round decline", " saying why the project is not funded")
        self._move(self.Declined, "decline", step, reason=reason)

    def disburse(self, step: Step, amount: Decimal) -> None:
        """A tranche of the award; all of them together never more than the award."""
        amount = MONEY.check(amount, "--amount")
        self._check("disburse", step)
        assert self.awarded is not None
        total = self.disbursed + amount
        if total > self.awarded:
            raise Refused(
                f"a tranche of {yuan(amount)} would take what was paid to {yuan(total)}, above "
                f"the award of {yuan(self.awarded)}: {yuan(self.awarded - self.disbursed)} remain"
            )
        self._record(
            self.Disbursed, step, amount=amount, tranche=self.tranches + 1, disbursed=total
        )

    def report(self, step: Step, kind: str, note: str) -> None:
        """A report agreed with the award (mid-term, final), once each."""
        if kind not in REPORT_KINDS:
            raise Refused(f"unknown report kind {shown(kind)}; allowed: {', '.join(REPORT_KINDS)}")
        note = require_text(note, "--note", "round report", NOTE)
        self._check("report", step)
        if kind in self.reports:
            raise Refused(f"the {kind} report of this project came in on {self.reports[kind]}")
        due = self.milestones[kind]
        self._record(
            self.ReportReceived, step, kind=kind, note=note, due_on=due, late=step.on > due
        )

    def stop(self, step: Step) -> None:
        """The mid-term check stops further tranches, with a reason."""
        self._check("stop", step)
        reason = step.require_reason("round stop", " saying why no further tranches are paid")
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
                f"the date {step.on} is before this project's last recorded step on "
                f"{self.last_on}; steps are recorded in date order"
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
            f"{case.name}'s case has ended (stage '{case.stage}' since {case.ended_on}); "
            f"only an organization whose case is open submits a project"
        )
