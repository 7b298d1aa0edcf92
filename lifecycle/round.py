"""A venture-philanthropy round (公益创投): a fund, a submission window, an expert panel with its
declared conflicts (关联回避), and the awards given from the fund.

The round records every submission and every award, so both go through its version: two awards
given at the same moment both change the round, the log's optimistic concurrency lets one in,
and the other is decided again on the fresh round, where it may no longer fit the fund. The
same holds for two projects of one organization submitted at once. Scores, screening and
tracking change only the project (lifecycle/project.py), so a panel scoring many projects at
once never collides on the round.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from lifecycle.bounds import MIN_SCORES, MONEY, NAME, Invalid, day, score
from lifecycle.errors import Refused, Term
from lifecycle.stages import ROUND_WORKFLOW
from lifecycle.step import Stamped, Step, require_text

ZERO = Decimal("0.00")


class Round(Aggregate):
    name: str
    fund: Decimal
    opens_on: date
    closes_on: date
    max_award: Decimal | None
    pass_mark: Decimal
    min_scores: int
    site: str | None
    stage: str
    announced_on: date
    panel: dict[str, dict[str, str]]  # expert -> the organizations (id -> name) they declared
    projects: dict[str, str]  # organization case id -> its project's id
    awards: dict[str, Decimal]  # project id -> the amount awarded
    awarded_total: Decimal

    # ---- events -------------------------------------------------------------------------------

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Announced(Aggregate.Created, Event, Stamped):
        on: date
        actor: str
        reason: str | None
        name: str
        fund: Decimal
        opens_on: date
        closes_on: date
        max_award: Decimal | None
        pass_mark: Decimal
        min_scores: int
        site: str | None

        def apply(self, r: Round) -> None:
            r.name, r.fund = self.name, self.fund
            r.opens_on, r.closes_on = self.opens_on, self.closes_on
            r.max_award, r.pass_mark, r.min_scores = self.max_award, self.pass_mark, self.min_scores
            r.site, r.stage, r.announced_on = self.site, "open", self.on
            r.panel, r.projects, r.awards, r.awarded_total = {}, {}, {}, ZERO

    class RoundEvent(Event, Stamped):
        on: date
        actor: str
        reason: str | None

        def apply(self, r: Round) -> None:
            self.assign(r)

        def assign(self, r: Round) -> None:
            """What the event changes."""

    class ExpertAdded(RoundEvent):
        expert: str
        conflicts: dict[str, str]  # organization case id -> name

        def assign(self, r: Round) -> None:
            r.panel = {**r.panel, self.expert: dict(self.conflicts)}

    class ConflictDeclared(RoundEvent):
        expert: str
        org_id: UUID
        org_name: str

        def assign(self, r: Round) -> None:
            declared = {**r.panel[self.expert], str(self.org_id): self.org_name}
            r.panel = {**r.panel, self.expert: declared}

    class ProjectSubmitted(RoundEvent):
        project_id: UUID
        org_id: UUID
        org_name: str

        def assign(self, r: Round) -> None:
            r.projects = {**r.projects, str(self.org_id): str(self.project_id)}

    class AwardRecorded(RoundEvent):
        project_id: UUID
        amount: Decimal
        awarded_total: Decimal  # of the round, with this award

        def assign(self, r: Round) -> None:
            r.awards = {**r.awards, str(self.project_id): self.amount}
            r.awarded_total = self.awarded_total

    class Closed(RoundEvent):
        stage: str

        def assign(self, r: Round) -> None:
            r.stage = self.stage

    def __init__(self) -> None:
        pass

    # ---- commands -----------------------------------------------------------------------------

    @classmethod
    def announce(
        cls,
        step: Step,
        *,
        name: str,
        fund: Decimal,
        opens_on: date,
        closes_on: date,
        pass_mark: Decimal,
        min_scores: int,
        max_award: Decimal | None = None,
        site: str | None = None,
        round_id: UUID | None = None,
    ) -> Round:
        """A new round, open. The site, if any, is checked by the park first."""
        fund = MONEY.check(fund, "--fund")
        if max_award is not None:
            max_award = MONEY.check(max_award, "--max-award")
            if max_award > fund:
                raise Refused(
                    "--max-award {max_award:,} yuan is more than the fund {fund:,} yuan; "
                    "no project could be given it",
                    field="max_award",
                    max_award=max_award,
                    fund=fund,
                )
        day(opens_on, "--opens")
        day(closes_on, "--closes")
        if closes_on < opens_on:
            raise Refused(
                "the round cannot close ({closes}) before it opens ({opens}); "
                "--closes must be on or after --opens",
                field="closes",
                closes=closes_on,
                opens=opens_on,
            )
        return cls._create(
            cls.Announced,
            id=round_id or uuid4(),
            **step.stamp(reason=step.reason),
            name=require_text(name, "--name", "round create"),
            fund=fund,
            opens_on=opens_on,
            closes_on=closes_on,
            max_award=max_award,
            pass_mark=_pass_mark(pass_mark),
            min_scores=MIN_SCORES.check(min_scores, "--min-scores"),
            site=site,
        )

    def add_expert(self, step: Step, expert: str, conflicts: dict[UUID, str]) -> None:
        """An expert on the panel, with the organizations (id -> name) they declare conflicts
        with from the start."""
        expert = require_text(expert, "--expert", "round add-expert", NAME)
        self._check("add_expert")
        if expert in self.panel:
            raise Refused(
                "{expert} is already on the panel of {round}; to declare another conflict: "
                "incubator round declare-conflict ROUND --expert NAME --org ORG",
                field="expert",
                expert=expert,
                round=self.name,
            )
        self._record(
            self.ExpertAdded,
            step,
            expert=expert,
            conflicts={str(org): name for org, name in conflicts.items()},
        )

    def declare_conflict(self, step: Step, expert: str, org_id: UUID, org_name: str) -> None:
        self._check("declare_conflict")
        self.check_on_panel(expert)
        if self.conflicted(expert, org_id):
            raise Refused(
                "{expert} has already declared a conflict with {org}",
                field="org",
                expert=expert,
                org=org_name,
            )
        self._record(self.ConflictDeclared, step, expert=expert, org_id=org_id, org_name=org_name)

    def record_submission(self, step: Step, project_id: UUID, org_id: UUID, org_name: str) -> None:
        """One project per organization per round, submitted between the opening and closing."""
        self._check("submit")
        if not self.opens_on <= step.on <= self.closes_on:
            raise Refused(
                "{round} takes projects from {opens} to {closes}; {on} is outside",
                field="on",
                round=self.name,
                opens=self.opens_on,
                closes=self.closes_on,
                on=step.on,
            )
        earlier = self.projects.get(str(org_id))
        if earlier is not None:
            raise Refused(
                "{org} has already submitted a project to {round} ({project}); "
                "one project per organization per round",
                field="org",
                org=org_name,
                round=self.name,
                project=earlier,
            )
        self._record(
            self.ProjectSubmitted, step, project_id=project_id, org_id=org_id, org_name=org_name
        )

    def record_award(self, step: Step, project_id: UUID, amount: Decimal) -> None:
        """The awards of the round together never exceed its fund."""
        self._check("award")
        total = self.awarded_total + amount
        if total > self.fund:
            raise Refused(
                "the award of {amount:,} yuan would take the awards of {round} to {total:,} "
                "yuan, above its fund of {fund:,} yuan: {remaining:,} yuan remain",
                field="amount",
                amount=amount,
                round=self.name,
                total=total,
                fund=self.fund,
                remaining=self.remaining,
            )
        self._record(
            self.AwardRecorded, step, project_id=project_id, amount=amount, awarded_total=total
        )

    def close(self, step: Step, undetermined: list[str]) -> None:
        """Closed once every project is determined (screened out, awarded or declined);
        `undetermined` names those that are not."""
        self._check("close")
        if undetermined:
            raise Refused(
                "{count} project(s) of {round} are not determined yet ({projects}); "
                "screen them out, award or decline them first",
                count=len(undetermined),
                round=self.name,
                projects=", ".join(undetermined[:5]) + (" …" if len(undetermined) > 5 else ""),
            )
        self._record(self.Closed, step, stage=ROUND_WORKFLOW.advance(self.stage, "close"))

    # ---- what the round knows -----------------------------------------------------------------

    def check_open(self, command: str) -> None:
        """Refuses a command of the determinations (screen, score, decline) on a closed round."""
        self._check(command)

    def check_on_panel(self, expert: str) -> None:
        if expert not in self.panel:
            raise Refused(
                "{expert} is not on the panel of {round} (the panel: {panel}); "
                "add them first: incubator round add-expert ROUND --expert NAME",
                field="expert",
                expert=expert,
                round=self.name,
                panel=", ".join(self.panel) or Term("nobody yet"),
            )

    def conflicted(self, expert: str, org_id: UUID) -> bool:
        return str(org_id) in self.panel.get(expert, {})

    @property
    def remaining(self) -> Decimal:
        return self.fund - self.awarded_total

    def allowed_commands(self) -> list[str]:
        return ROUND_WORKFLOW.allowed(self.stage)

    # ---- helpers ------------------------------------------------------------------------------

    def _check(self, command: str) -> None:
        ROUND_WORKFLOW.advance(self.stage, command)

    def _record(self, event: type[RoundEvent], step: Step, **data: Any) -> None:
        data.setdefault("reason", step.reason)
        self.trigger_event(event, **step.stamp(**data))


def _pass_mark(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise Invalid("--pass-mark", value, "must be a number from 0 to 100")
    return score(str(value), "--pass-mark")
