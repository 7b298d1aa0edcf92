"""Given, when, then: the shared helper of the domain tests.

Given a history (messages dispatched before, or aggregates built by their own methods and
saved), when one command message is dispatched through the real `Dispatcher` on an in-memory
event log, then the events it recorded, or its refusal and nothing recorded at all:

    s = Scenario()
    s.applied()                                    # the case later messages are about
    s.given(m.StartInspection, on="2014-01-08")
    events = s.when(m.SubmitForEntry, on="2014-01-20")
    assert events.names == ["SubmittedForEntry"]
    s.refuses(m.SubmitForEntry, "cannot submit-for-entry", WrongStage, on="2014-01-21")

Messages are given as their class and fields: `org` is the case applied last unless given,
`round` the round created last and `project` the project submitted last; dates may be written
as strings. A venture-philanthropy round with its panel, and a project of it screened in and
scored: `s.round_with_panel()`, `s.scored_project(...)`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar, overload
from uuid import UUID

import pytest
from argon2 import PasswordHasher
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from commands import messages as m
from commands.accounts import AccountService
from commands.handlers import Actor, Dispatcher, Result, Services
from commands.party import PartyService
from commands.rounds import RoundService
from commands.service import IncubatorService
from commands.settings import load_settings
from lifecycle.errors import Refused
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.park import Park, Rules, VentureRules
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.round import Round
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from projections.read_models import ReadModels
from schedules.clock import Clock, FixedClock
from store import sessions
from store.log import EventLog
from tests.conftest import NOW

ACTOR = "王芳"
ORG = "爱心志愿者协会"
PASS = ["王芳=78", "李强=82", "张敏=70"]
FAIL = ["王芳=50", "李强=55", "张敏=40"]
ENTRY_ON = "2014-02-10"
# A round of 2014 (the first Yijinhuoluo round was announced in March) and its panel.
ROUND_FIELDS: dict[str, Any] = {
    "name": "2014年公益创投",
    "fund": Decimal(440_000),
    "opens": "2014-03-01",
    "closes": "2014-03-31",
    "on": "2014-02-20",
}
EXPERTS = ("王建国", "刘慧", "赵志强")
SUBMITTED_ON, SCREENED_ON, SCORED_ON, AWARDED_ON = (
    "2014-03-10",
    "2014-04-01",
    "2014-04-10",
    "2014-04-20",
)
# The incubation track's stages in order; `reviewed` is `incubating` with a growth review.
PATH = ("applied", "inspecting", "entry_review", "incubating", "reviewed", "follow_up", "closed")
STEPS: dict[str, tuple[type[m.Command], dict[str, Any]]] = {
    "inspecting": (m.StartInspection, {"on": "2014-01-08"}),
    "entry_review": (m.SubmitForEntry, {"on": "2014-01-20"}),
    "incubating": (m.EvaluateEntry, {"on": ENTRY_ON}),  # the panel and workspace: `case_at`
    "reviewed": (m.RecordGrowthReview, {"on": "2014-07-10", "scores": ["王芳=75"]}),
    "follow_up": (m.EvaluateExit, {"on": "2014-12-10", "scores": PASS}),
    "closed": (m.Close, {"on": "2015-12-10"}),
}
A = TypeVar("A", bound=Aggregate)
E = TypeVar("E", bound=Exception)


class Recorded(list[Any]):
    """The events one message recorded, in the log's order (every aggregate it changed)."""

    @property
    def names(self) -> list[str]:
        return [type(e).__name__ for e in self]

    def one(self, name: str) -> Any:
        """The only event of type `name`."""
        found = [e for e in self if type(e).__name__ == name]
        assert len(found) == 1, f"{len(found)} {name} events in {self.names}"
        return found[0]

    def of(self, aggregate_id: object) -> Recorded:
        """The events of one aggregate."""
        return Recorded(e for e in self if e.originator_id == aggregate_id)


class Scenario:
    """A park (the default settings, or `rules` and `venture`) on an in-memory event log, a
    clock fixed at NOW, and the case (round, project) the messages are about."""

    def __init__(self, rules: Rules | None = None, venture: VentureRules | None = None) -> None:
        park = load_settings(None)
        if rules is not None:
            park = dataclasses.replace(park, rules=rules)
        if venture is not None:
            park = dataclasses.replace(park, venture=venture)
        self.park = park
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        clock = FixedClock(NOW)
        self.dispatcher = Dispatcher(
            Services(
                IncubatorService(self.log, park, clock),
                PartyService(self.log, park, clock),
                RoundService(self.log, park, clock),
                accounts_on(self.log, park, clock),
            )
        )
        self.actor = ACTOR  # who gives the messages
        self.org: UUID | None = None  # the case applied last
        self.round: UUID | None = None  # the round created last
        self.project: UUID | None = None  # the project submitted last
        self._taken: dict[str, int] = {}  # workspaces handed out per site by `case_at`

    # ---- given --------------------------------------------------------------------------------

    def given(self, message: type[m.Command], /, **fields: Any) -> Result:
        """A step of the history (it must be recorded); what the handler returns."""
        return self._dispatch(message, fields)

    def saved(self, *aggregates: Aggregate) -> None:
        """A history of events: aggregates built by their own methods, saved as they are."""
        self.log.save(*aggregates)

    def applied(
        self,
        name: str = ORG,
        *,
        track: str = "incubation",
        site: str = "main",
        on: str = "2014-01-02",
        **more: Any,
    ) -> UUID:
        """A new case, which later messages are about."""
        self.given(
            m.Apply,
            name=name,
            field="公益慈善",
            legal_status="registered",
            track=track,
            site=site,
            on=on,
            **more,
        )
        assert self.org is not None
        return self.org

    def case_at(
        self, stage: str, name: str = ORG, *, site: str = "main", workspace: str | None = None
    ) -> UUID:
        """A new case taken to `stage` (one of PATH, `declined` or `resident`) on the dates a
        caseworker would use; a case that enters takes the next workspace of its site unless
        `workspace` is given."""
        if stage == "resident":
            org = self.applied(name, track="residency", site=site)
            self.given(m.Admit, on="2014-02-01", workspace=workspace or self._next(site))
            return org
        org = self.applied(name, site=site)
        passed = stage != "declined"
        for reached in PATH[1 : PATH.index(stage if passed else "incubating") + 1]:
            message, fields = STEPS[reached]
            if reached == "incubating":
                fields = {**fields, "scores": PASS if passed else FAIL}
                if passed:
                    fields["workspace"] = workspace or self._next(site)
            self.given(message, **fields)
        return org

    def round_with_panel(self, experts: tuple[str, ...] = EXPERTS, **fields: Any) -> UUID:
        """A new round (ROUND_FIELDS, changed by `fields`) with `experts` on its panel."""
        self.given(m.CreateRound, **(ROUND_FIELDS | fields))
        for expert in experts:
            self.given(m.AddExpert, expert=expert, on="2014-02-21")
        assert self.round is not None
        return self.round

    def submitted(
        self,
        name: str = ORG,
        *,
        amount: Decimal = Decimal(40_000),
        title: str | None = None,
        category: str | None = "为老服务",
        site: str = "main",
        on: str = SUBMITTED_ON,
    ) -> UUID:
        """A new organization (applied) and its project in the round created last."""
        org = self.applied(name, site=site)
        self.given(
            m.SubmitProject,
            org=org,
            title=title or f"{name}的项目",
            amount=amount,
            category=category,
            on=on,
        )
        assert self.project is not None
        return self.project

    def scored_project(
        self, scores: tuple[int | str, ...] = (80, 75, 70), name: str = ORG, **more: Any
    ) -> UUID:
        """A new project, screened in and scored by the panel's experts in order."""
        project = self.submitted(name, **more)
        self.given(m.ScreenProject, passed=True, on=SCREENED_ON)
        for expert, value in zip(EXPERTS, scores, strict=False):
            self.given(m.ScoreProject, expert=expert, score=Decimal(value), on=SCORED_ON)
        return project

    # ---- when, then ---------------------------------------------------------------------------

    def when(self, message: type[m.Command], /, **fields: Any) -> Recorded:
        """Dispatches the message; then the events it recorded."""
        head = self._head()
        self._dispatch(message, fields)
        notifications = self.log.recorder.select_notifications(head + 1, 1000)
        return Recorded(self.log.mapper.to_domain_event(n) for n in notifications)

    @overload
    def refuses(self, message: type[m.Command], match: str, /, **fields: Any) -> Refused: ...
    @overload
    def refuses(
        self, message: type[m.Command], match: str, error: type[E], /, **fields: Any
    ) -> E: ...
    def refuses(
        self,
        message: type[m.Command],
        match: str,
        error: type[Exception] = Refused,
        /,
        **fields: Any,
    ) -> Exception:
        """Making or dispatching the message is refused with `error` matching `match`, and
        nothing is recorded: the log is where it was and every aggregate loads as it did."""
        head, before = self._head(), self._everything()
        with pytest.raises(error, match=match) as refusal:
            self._dispatch(message, fields)
        assert self._head() == head, "a refused command recorded something"
        assert self._everything() == before
        return refusal.value

    # ---- reading ------------------------------------------------------------------------------

    def case(self, org: UUID | None = None) -> OrganizationCase:
        return self._load(org or self._org(), OrganizationCase)

    def track(self, org: UUID | None = None) -> PartyIncubation:
        return self._load(PartyIncubation.id_for(org or self._org()), PartyIncubation)

    def the_round(self, round_id: UUID | None = None) -> Round:
        found = round_id or self.round
        assert found is not None, "no round yet: begin with round_with_panel()"
        return self._load(found, Round)

    def the_project(self, project_id: UUID | None = None) -> Project:
        found = project_id or self.project
        assert found is not None, "no project yet: begin with submitted()"
        return self._load(found, Project)

    def branch(self, name: str, site: str = "main") -> JointBranch:
        return self._load(JointBranch.id_for(site, name), JointBranch)

    def workspace(self, code: str, site: str = "main") -> Workspace | None:
        """None when no case ever took it."""
        try:
            return self._load(Workspace.id_for(site, code), Workspace)
        except AggregateNotFoundError:
            return None

    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate."""
        return list(self.log.events.get(aggregate_id))

    # ---- helpers ------------------------------------------------------------------------------

    def _dispatch(self, message: type[m.Command], fields: dict[str, Any]) -> Result:
        kinds = {name: spec.kind for name, spec in m.params(message)}
        if kinds.get("org") is m.CASE and "org" not in fields:
            fields = {"org": self._org(), **fields}
        for name, last in (("round", self.round), ("project", self.project)):
            if name in kinds and name not in fields and last is not None:
                fields = {name: last, **fields}
        values: dict[str, Any] = {
            k: date.fromisoformat(v) if kinds.get(k) is m.DAY and isinstance(v, str) else v
            for k, v in fields.items()
        }
        made = message(**values)
        result = self.dispatcher.handle(made, Actor(self.actor))
        # What the handler decided is what the log replays.
        assert vars(self.log.repository.get(result.id)) == vars(result), "replay differs"
        if isinstance(made, m.Apply):
            self.org = UUID(str(result.id))
        elif isinstance(made, m.CreateRound):
            self.round = UUID(str(result.id))
        elif isinstance(made, m.SubmitProject):
            self.project = UUID(str(result.id))
        return result

    def _org(self) -> UUID:
        assert self.org is not None, "no case yet: begin with applied()"
        return self.org

    def _next(self, site: str) -> str:
        taken = self._taken.get(site, 0)
        self._taken[site] = taken + 1
        return self.park.site(site).workspaces[taken]

    def _head(self) -> int:
        return self.log.recorder.max_notification_id() or 0

    def _everything(self) -> dict[Any, dict[str, Any]]:
        """Every aggregate in the log, as it loads now."""
        ids = {n.originator_id for n in self.log.recorder.select_notifications(1, 100_000)}
        return {i: dict(vars(self.log.repository.get(UUID(str(i))))) for i in ids}

    def _load(self, aggregate_id: UUID, kind: type[A]) -> A:
        found: Aggregate = self.log.repository.get(aggregate_id)
        assert isinstance(found, kind), f"{aggregate_id} is {type(found).__name__}"
        return found


def step(on: str, reason: str | None = None) -> Step:
    """A step for a test of one aggregate's method alone."""
    return Step(actor=ACTOR, on=date.fromisoformat(on), recorded_at=NOW, reason=reason)


@overload
def refused_alone(aggregate: A, act: Callable[[A], object], match: str) -> Refused: ...
@overload
def refused_alone(aggregate: A, act: Callable[[A], object], match: str, error: type[E]) -> E: ...
def refused_alone(
    aggregate: A, act: Callable[[A], object], match: str, error: type[Exception] = Refused
) -> Exception:
    """One aggregate's own method is refused with `error` matching `match`, and nothing is
    pending on it: it is as it was."""
    pending, before = list(aggregate.pending_events), _state(aggregate)
    with pytest.raises(error, match=match) as refusal:
        act(aggregate)
    assert aggregate.pending_events == pending, "a refused method left an event pending"
    assert _state(aggregate) == before
    return refusal.value


def _state(aggregate: Aggregate) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


# A cheap Argon2 for tests: the real parameters cost tens of milliseconds a hash.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def accounts_on(log: EventLog, park: Park, clock: Clock) -> AccountService:
    """The accounts of an in-memory log, with their read model and sessions in an in-memory
    SQLite database."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    sessions.install(engine)
    return AccountService(
        log, park, clock, ReadModels(engine, log, park), sessions.SessionStore(engine), CHEAP_HASHER
    )
