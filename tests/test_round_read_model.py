"""The rounds read model: kept current command by command, it answers as the aggregates do, and
a rebuild from the log gives the same rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from commands.bootstrap import Incubator, bootstrap
from schedules.clock import FixedClock
from tests.conftest import NOW, who
from tests.test_projections import snapshot

EXPERTS = ("王建国", "刘慧", "赵志强")


@pytest.fixture
def system(database_url: str) -> Iterator[Incubator]:
    incubator = bootstrap(database_url, clock=FixedClock(NOW))
    yield incubator
    incubator.close_all()


def organization(system: Incubator, name: str, site: str) -> UUID:
    case = system.service.apply(
        who("2014-01-02"),
        name=name,
        field="公益慈善",
        legal_status="filed",
        track="incubation",
        site=site,
    )
    return UUID(str(case.id))


def a_round_played_out(system: Incubator) -> tuple[UUID, dict[str, UUID], dict[str, UUID]]:
    """A round with every kind of event, the read models caught up after each command."""
    rounds, catch_up = system.rounds, system.read_models.catch_up
    orgs = {
        "爱心志愿者协会": organization(system, "爱心志愿者协会", "main"),
        "阳光助残服务队": organization(system, "阳光助残服务队", "branch"),
        "青少年成长服务中心": organization(system, "青少年成长服务中心", "branch"),
        "社区书画社": organization(system, "社区书画社", "community-1"),
    }
    r = rounds.create_round(
        who("2014-02-20"),
        name="2014年公益创投",
        fund=Decimal(100_000),
        opens=date(2014, 3, 1),
        closes=date(2014, 3, 31),
    )
    round_id = UUID(str(r.id))
    for expert in EXPERTS:
        rounds.add_expert(round_id, who("2014-02-21"), expert)
        catch_up()
    projects = {}
    for (name, org), category in zip(orgs.items(), ("为老", "助残", "助残", None), strict=True):
        project = rounds.submit(
            round_id,
            who("2014-03-10"),
            org=org,
            title=f"{name}的项目",
            amount=Decimal("40000.50"),
            category=category,
        )
        projects[name] = UUID(str(project.id))
        catch_up()
    step = who("2014-04-01")
    for name in list(orgs)[:3]:
        rounds.screen(projects[name], step, True)
        catch_up()
    rounds.screen(projects["社区书画社"], who("2014-04-01", reason="不符合方向"), False)
    marks = {"爱心志愿者协会": 85, "阳光助残服务队": 70, "青少年成长服务中心": 50}
    for name, mark in marks.items():
        for expert in EXPERTS:
            rounds.score(projects[name], who("2014-04-10"), expert, Decimal(mark))
            catch_up()
    rounds.score(projects["阳光助残服务队"], who("2014-04-11", reason="更正"), "刘慧", Decimal(76))
    # a conflict declared late withdraws 赵志强's 50 from the third project: 2 scores remain
    rounds.declare_conflict(round_id, who("2014-04-12"), "赵志强", orgs["青少年成长服务中心"])
    catch_up()
    rounds.award(projects["爱心志愿者协会"], who("2014-04-20"), Decimal("40000.50"))
    rounds.award(projects["阳光助残服务队"], who("2014-04-20"), Decimal(30_000))
    rounds.decline(projects["青少年成长服务中心"], who("2014-04-20", reason="未达及格线"))
    catch_up()
    rounds.disburse(projects["爱心志愿者协会"], who("2014-05-01"), Decimal(20_000))
    rounds.disburse(projects["阳光助残服务队"], who("2014-05-01"), Decimal("10000.25"))
    rounds.stop(projects["阳光助残服务队"], who("2014-10-21", reason="中期检查未通过"))
    rounds.close_round(round_id, who("2014-05-01"))
    catch_up()
    return round_id, orgs, projects


def rounds_snapshot(system: Incubator) -> dict[str, list[tuple[object, ...]]]:
    return {k: v for k, v in snapshot(system).items() if k in ("rounds", "round_projects")}


def test_the_rounds_read_model_answers_as_the_round_does(system: Incubator) -> None:
    round_id, orgs, projects = a_round_played_out(system)
    [listed] = system.read_models.rounds()
    assert (listed["id"], listed["stage"], listed["experts"]) == (str(round_id), "closed", 3)
    assert (listed["awarded_total"], listed["remaining"]) == (
        Decimal("70000.50"),
        Decimal("29999.50"),
    )
    r = system.rounds.round(round_id)
    assert (r.awarded_total, r.remaining) == (listed["awarded_total"], listed["remaining"])
    assert system.read_models.funnel(str(round_id)) == {
        "submitted": 4,
        "screened_in": 3,
        "screened_out": 1,
        "awarded": 2,
        "declined": 1,
    }
    ranked = system.read_models.ranking(str(round_id))
    assert [(p["org_name"], p["mean"], p["scores"], p["status"]) for p in ranked] == [
        ("爱心志愿者协会", Decimal("85.00"), 3, "awarded"),
        ("阳光助残服务队", Decimal("72.00"), 3, "stopped"),  # 70, 76, 70: the corrected mean
        ("青少年成长服务中心", Decimal("50.00"), 2, "declined"),  # 赵志强's withdrawn
        ("社区书画社", None, 0, "screened_out"),
    ]
    for p in ranked:
        project = system.rounds.project(UUID(p["id"]))
        assert (p["mean"], p["scores"], p["awarded"]) == (
            project.mean,
            len(project.scores),
            project.awarded,
        )
    awards = system.read_models.awards(str(round_id))
    assert awards["by_category"] == [
        {
            "category": "为老",
            "projects": 1,
            "awarded": Decimal("40000.50"),
            "disbursed": Decimal("20000.00"),
        },
        {
            "category": "助残",
            "projects": 1,
            "awarded": Decimal("30000.00"),
            "disbursed": Decimal("10000.25"),
        },
    ]
    assert [(g["site"], g["awarded"]) for g in awards["by_site"]] == [
        ("main", Decimal("40000.50")),
        ("branch", Decimal("30000.00")),
    ]
    mine = system.read_models.projects(org_id=str(orgs["阳光助残服务队"]))
    assert [(p["id"], p["round_name"], p["status"]) for p in mine] == [
        (str(projects["阳光助残服务队"]), "2014年公益创投", "stopped")
    ]


def test_the_rounds_read_model_rebuilt_equals_the_incremental_one(system: Incubator) -> None:
    a_round_played_out(system)
    before = rounds_snapshot(system)
    assert len(before["round_projects"]) == 4
    system.read_models.rebuild(["rounds"])
    assert rounds_snapshot(system) == before
