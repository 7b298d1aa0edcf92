"""Two awards of one round at the same moment, by real OS processes on one database (a SQLite
file and PostgreSQL): the fund is never overspent.

Each child bootstraps the system on the same URL and awards one project. The children meet at a
barrier in front of their first save, so both have loaded the project and the round (with what
is left of the fund) before either writes: the race is certain. The round records every award,
so both saves change it; the log lets one in, and the other is decided again on the fresh
round: refused as a conflict if the fund no longer covers it, recorded if it still does.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any
from uuid import UUID

import pytest

from commands.bootstrap import Incubator, bootstrap
from lifecycle.errors import Conflict, Refused
from lifecycle.project import Project
from lifecycle.round import Round
from schedules.clock import FixedClock
from tests.conftest import NOW, who
from tests.processes import at_once

pytestmark = pytest.mark.slow

BARRIER_TIMEOUT = 20.0
RACE_TIMEOUT = 90.0
AWARDED_ON = "2014-04-20"
EXPERTS = ("王建国", "刘慧", "赵志强")


@dataclass(frozen=True)
class Outcome:
    actor: str
    kind: str  # "ok", "Conflict", another refusal's class name, or "error"
    message: str
    loads: int  # how many times the child loaded its project (2: it decided again)


def award_at_the_barrier(
    url: str, actor: str, project_id: str, amount: str, barrier: Barrier, results: Queue[Outcome]
) -> None:
    """The child: bootstrap on `url`, award `amount` to the project, report what happened."""
    loads = saves = 0
    try:
        incubator = bootstrap(url, clock=FixedClock(NOW))
    except BaseException:
        barrier.abort()
        results.put(Outcome(actor, "error", traceback.format_exc(), loads))
        return
    try:
        rounds, log = incubator.rounds, incubator.log
        load, save = rounds.project, log.save

        def counting_load(project_id: UUID) -> Project:
            nonlocal loads
            loads += 1
            return load(project_id)

        def save_after_barrier(*objs: Any, **kwargs: Any) -> Any:
            nonlocal saves
            saves += 1
            if saves == 1:  # the first save only; the retry goes ahead at once
                barrier.wait(BARRIER_TIMEOUT)
            return save(*objs, **kwargs)

        rounds.project = counting_load  # type: ignore[method-assign]
        log.save = save_after_barrier  # type: ignore[method-assign]
        try:
            rounds.award(UUID(project_id), who(AWARDED_ON, actor=actor), Decimal(amount))
        except (Conflict, Refused) as e:
            results.put(Outcome(actor, type(e).__name__, str(e), loads))
        else:
            results.put(Outcome(actor, "ok", "", loads))
        if saves == 0:
            barrier.abort()  # refused without saving: the other child would wait for nothing
    except BaseException:
        barrier.abort()
        results.put(Outcome(actor, "error", traceback.format_exc(), loads))
    finally:
        incubator.close_all()


def a_round(incubator: Incubator, fund: int, asks: dict[str, int]) -> tuple[UUID, dict[str, UUID]]:
    """A round with a panel, and one scored project per organization in `asks`."""
    rounds = incubator.rounds
    r = rounds.create_round(
        who("2014-02-20"),
        name="2014年公益创投",
        fund=Decimal(fund),
        opens=date(2014, 3, 1),
        closes=date(2014, 3, 31),
    )
    round_id = UUID(str(r.id))
    for expert in EXPERTS:
        rounds.add_expert(round_id, who("2014-02-21"), expert)
    projects = {}
    for name, amount in asks.items():
        org = incubator.service.apply(
            who("2014-01-02"),
            name=name,
            field="公益慈善",
            legal_status="registered",
            track="incubation",
            site="main",
        )
        p = rounds.submit(
            round_id,
            who("2014-03-10"),
            org=UUID(str(org.id)),
            title=f"{name}的项目",
            amount=Decimal(amount),
        )
        project = UUID(str(p.id))
        rounds.screen(project, who("2014-04-01"), True)
        for expert in EXPERTS:
            rounds.score(project, who("2014-04-10"), expert, Decimal(80))
        projects[name] = project
    return round_id, projects


def race(url: str, awards: dict[str, tuple[UUID, int]]) -> dict[str, Outcome]:
    received: list[Outcome]
    received, exits = at_once(
        award_at_the_barrier,
        [(url, actor, str(project), str(amount)) for actor, (project, amount) in awards.items()],
        [f"award-{actor}" for actor in awards],
        RACE_TIMEOUT,
    )
    outcomes = {o.actor: o for o in received}
    assert len(outcomes) == len(awards), f"only {outcomes} reported (exit codes {exits})"
    errors = "\n".join(o.message for o in outcomes.values() if o.kind == "error")
    assert not errors, errors
    return outcomes


def events_of(url: str, clock: FixedClock, aggregate_id: UUID) -> list[Any]:
    incubator = bootstrap(url, clock=clock)
    try:
        return list(incubator.log.events.get(aggregate_id))
    finally:
        incubator.close_all()


def prepared(
    url: str, clock: FixedClock, fund: int, asks: dict[str, int], first: int
) -> tuple[UUID, dict[str, UUID]]:
    """The round, its projects, and the first one awarded `first` (the fund partly spent)."""
    incubator = bootstrap(url, clock=clock)
    try:
        round_id, projects = a_round(incubator, fund, asks)
        incubator.rounds.award(next(iter(projects.values())), who(AWARDED_ON), Decimal(first))
        return round_id, projects
    finally:
        incubator.close_all()


def test_two_processes_awarding_the_last_of_the_fund_at_once_one_wins(
    database_url: str, clock: FixedClock
) -> None:
    asks = {"爱心志愿者协会": 60_000, "阳光助残服务队": 40_000, "青少年成长服务中心": 40_000}
    round_id, projects = prepared(database_url, clock, 100_000, asks, first=60_000)
    outcomes = race(
        database_url,
        {
            "王芳": (projects["阳光助残服务队"], 40_000),
            "李强": (projects["青少年成长服务中心"], 40_000),
        },
    )

    won = [o for o in outcomes.values() if o.kind == "ok"]
    lost = [o for o in outcomes.values() if o.kind != "ok"]
    assert len(won) == 1 and len(lost) == 1, outcomes
    [winner], [loser] = won, lost
    assert winner.loads == 1
    assert (loser.kind, loser.loads) == ("Conflict", 2), loser  # decided again, then refused
    assert f"AwardRecorded by {winner.actor}" in loser.message
    assert "above its fund of 100,000.00 yuan: 0.00 yuan remain" in loser.message
    assert "yours was not recorded" in loser.message

    recorded = events_of(database_url, clock, round_id)
    awards = [e for e in recorded if isinstance(e, Round.AwardRecorded)]
    assert [(e.actor, e.amount) for e in awards][1:] == [(winner.actor, Decimal(40_000))]
    assert awards[-1].awarded_total == Decimal(100_000)
    names = {"王芳": "阳光助残服务队", "李强": "青少年成长服务中心"}
    losing = events_of(database_url, clock, projects[names[loser.actor]])
    assert not any(isinstance(e, Project.Awarded) for e in losing)
    assert [type(e).__name__ for e in losing][-1] == "Scored"


def test_two_awards_at_once_that_both_fit_the_fund_are_both_recorded(
    database_url: str, clock: FixedClock
) -> None:
    asks = {"爱心志愿者协会": 60_000, "阳光助残服务队": 20_000, "青少年成长服务中心": 20_000}
    round_id, projects = prepared(database_url, clock, 100_000, asks, first=60_000)
    outcomes = race(
        database_url,
        {
            "王芳": (projects["阳光助残服务队"], 20_000),
            "李强": (projects["青少年成长服务中心"], 15_000),
        },
    )

    assert {o.kind for o in outcomes.values()} == {"ok"}, outcomes
    assert sorted(o.loads for o in outcomes.values()) == [1, 2]  # the loser's safe retry
    totals = [
        e.awarded_total
        for e in events_of(database_url, clock, round_id)
        if isinstance(e, Round.AwardRecorded)
    ]
    assert totals[0] == 60_000 and totals[-1] == Decimal(95_000) and len(totals) == 3
