"""Many cases, quickly: realistic lifecycles driven through the real aggregates, reproducible from
a seed, saved many aggregates to a transaction.

This is for filling a log fast (rebuild tests and benchmarks). It skips the application service,
so it does not check a park's settings: every entered case gets a workspace of its own.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from eventsourcing.domain import Aggregate

from lifecycle.holdings import Holdings, evaluation_noted, let_go, move_in
from lifecycle.organization import OrganizationCase
from lifecycle.park import Rules
from lifecycle.party import PartyIncubation
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from store.log import EventLog

SITES = ["main", "branch", *(f"community-{n}" for n in range(1, 7))]
FIELDS = [
    "charity",
    "culture_sports",
    "counselling_rights",
    "citizen_education",
    "community_service",
    "social_affairs",
]
CASEWORKERS = ["李娜", "王芳", "张伟", "刘洋", "陈静", "杨磊"]
EXPERTS = ["王建国", "刘慧", "赵志强", "孙丽", "周涛"]
RECORDED_AT = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
RULES = Rules()


class Lifecycle:
    """One case's life, with dates that move forward as a caseworker's would."""

    def __init__(self, rng: random.Random, number: int, start: date) -> None:
        self.rng, self.number, self.on = rng, number, start
        self.party: PartyIncubation | None = None

    def step(self, days: tuple[int, int] = (1, 20), reason: str | None = None) -> Step:
        self.on += timedelta(days=self.rng.randint(*days))
        return Step(
            actor=self.rng.choice(CASEWORKERS), on=self.on, recorded_at=RECORDED_AT, reason=reason
        )

    def panel(self, low: int, high: int, size: int = 3) -> Panel:
        experts = self.rng.sample(EXPERTS, size)
        return Panel({e: Decimal(self.rng.randint(low, high)) for e in experts})

    def run(self) -> list[Aggregate]:
        rng = self.rng
        track = "residency" if rng.random() < 0.15 else "incubation"
        site = rng.choice(SITES)
        case = OrganizationCase.apply_for(
            self.step((0, 3)),
            name=f"社会组织{self.number:06d}",
            field=rng.choice(FIELDS),
            legal_status=_legal_status(track, rng.choice(["unregistered", "filed", "registered"])),
            track=track,
            site=site,
            contact="负责人",
            party_members=rng.randint(0, 5),
        )
        workspace = Workspace.register(site, f"W{self.number:06d}", self.step((0, 0)))
        case.assign_caseworker(self.step((0, 2)), rng.choice(CASEWORKERS))
        if track == "residency":
            self._residency(case, workspace)
        else:
            self._incubation(case, workspace)
        held = [workspace] if workspace.holder is not None or workspace.version > 1 else []
        return [case, *held, *([self.party] if self.party else [])]

    def held(self, workspace: Workspace) -> Holdings:
        return Holdings(workspace, self.party)

    def _stars(self) -> int | None:
        return self.party.stars if self.party else None

    def _party_track(self, party: PartyIncubation, members: int) -> None:
        """Inspection, member discovery and some support: the party track's common path."""
        self.party = party
        party.record_inspection(self.step((0, 5)), "入壳考察")
        party.count_members(self.step((1, 30)), members, self.rng.randint(0, 1), members)
        if members == 0:
            party.assign_instructor(self.step((0, 5)), self.rng.choice(CASEWORKERS))
        for _ in range(self.rng.randint(0, 2)):
            party.record_support(self.step((5, 40)), "information", "党建政策宣讲")

    def _residency(self, case: OrganizationCase, workspace: Workspace) -> None:
        if self.rng.random() < 0.1:
            case.reject(self.step(reason="不符合入驻条件"))
            return
        step = self.step()
        case.admit(step, workspace.code)
        self._party_track(move_in(case, workspace, step), case.party_members or 0)
        for _ in range(self.rng.randint(1, 4)):
            step = self.step((60, 120))
            case.record_service_evaluation(step, self.panel(60, 95, 2), self._stars())
            evaluation_noted(self.party, step, "service_evaluation")
        if self.rng.random() < 0.7:
            step = self.step((30, 90), reason="入驻期满")
            case.depart(step)
            let_go(case, step, self.held(workspace))

    def _incubation(self, case: OrganizationCase, workspace: Workspace) -> None:
        rng = self.rng
        case.start_inspection(self.step())
        for _ in range(rng.randint(0, 4)):
            case.record_visit(self.step(), "走访辅导")
        if rng.random() < 0.1:
            case.reject(self.step(reason="不符合孵化条件"))
            return
        case.submit_for_entry(self.step())
        if rng.random() < 0.2:
            case.evaluate_entry(self.step(), self.panel(30, 59), RULES, None)
            case.resume_coaching(self.step())
            case.submit_for_entry(self.step())
        step = self.step()
        assert case.evaluate_entry(step, self.panel(60, 95), RULES, workspace.code)
        assert case.entered_on is not None
        self._party_track(move_in(case, workspace, step), case.party_members or 0)
        earlier = case.entered_on - timedelta(days=1)
        if rng.random() < 0.1 and case.submitted_on is not None and earlier >= case.submitted_on:
            step = self.step(reason="协议日期有误")
            case.correct_entry_date(step, earlier, RULES)
            if self.party is not None:
                self.party.correct_start(step, earlier)
        for _ in range(rng.randint(1, 3)):
            step = self.step((60, 90))
            case.record_growth_review(step, self.panel(55, 95, 2), self._stars())
            evaluation_noted(self.party, step, "growth_review")
        if rng.random() < 0.08:
            step = self.step(reason="提前终止")
            case.terminate(step)
            let_go(case, step, self.held(workspace))
            return
        self.on = max(self.on, RULES.exit_opens(case.entered_on))
        step = self.step((0, 40))
        case.evaluate_exit(step, self.panel(45, 95), RULES, self.party)
        evaluation_noted(self.party, step, "exit_evaluation")
        let_go(case, step, self.held(workspace))
        if case.stage != "follow_up":
            return
        for _ in range(rng.randint(0, 3)):
            case.record_follow_up(self.step((30, 100)), "协助竞标政府购买服务")
        assert case.exit_on is not None
        self.on = max(self.on, RULES.follow_up_end(case.exit_on))
        step = self.step((0, 10))
        case.close_case(step, RULES)
        let_go(case, step, self.held(workspace))


def _legal_status(track: str, drawn: str) -> str:
    """The residency area admits registered organizations only (drawn still for every case, so
    the rest of each cohort is the same)."""
    return "registered" if track == "residency" else drawn


def lifecycles(count: int, seed: int = 2014, first: int = 0) -> Iterator[list[Aggregate]]:
    rng = random.Random(seed)
    for number in range(first, first + count):
        start = date(2014, 1, 1) + timedelta(days=rng.randint(0, 3000))
        yield Lifecycle(rng, number, start).run()


def fill(
    log: EventLog,
    cases: int,
    seed: int = 2014,
    chunk: int = 200,
    progress: Callable[[int], None] | None = None,
    first: int = 0,
) -> int:
    """Write `cases` lifecycles to the log, `chunk` aggregates to a transaction; returns the
    number of events written."""
    written, pending = 0, []
    for aggregates in lifecycles(cases, seed, first):
        pending.extend(aggregates)
        if len(pending) >= chunk:
            written += _save(log, pending, progress)
            pending = []
    if pending:
        written += _save(log, pending, progress)
    return written


def _save(
    log: EventLog, aggregates: list[Aggregate], progress: Callable[[int], None] | None
) -> int:
    count = sum(len(a.pending_events) for a in aggregates)
    log.save(*aggregates)
    if progress is not None:
        progress(count)
    return count


def fill_up_to(log: EventLog, events: int, seed: int = 2014, first: int = 0) -> tuple[int, int]:
    """Lifecycles, a block of cases at a time (each block from a seed of its own), until the
    log has gained at least `events` events; returns the events written and the cases. A block
    writes about a twentieth of `events` (a case writes about 20)."""
    block = max(10, events // 400)
    written = cases = 0
    while written < events:
        written += fill(log, block, seed=seed * 1_000_003 + cases, first=first + cases)
        cases += block
    return written, cases
