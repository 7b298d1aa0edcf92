"""The reports of an awarded venture-philanthropy project are clocks like every other: reminders
before their due dates to the organization's caseworker, escalations to the director after,
nothing once the report came in; visible in the round's history and in the inbox.

The dates were worked out by hand (tests/test_reminders.py explains the rules): an award on
Sunday 2014-04-20 makes the mid-term report due Monday 2014-10-20 and the final report Monday
2015-04-20. The mid-term's 30-day reminder falls on Saturday 09-20 and goes out on Friday 09-19;
the 7-day one on Monday 10-13; the 1-day one on Sunday 10-19, so Friday 10-17; the first
escalation on Tuesday 10-21.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from commands.bootstrap import Incubator
from commands.queries import history
from schedules.clock import FixedClock
from tests.conftest import who
from tests.test_reminders import MovingPark, escalate, remind, starting

MIDTERM, FINAL = "midterm_report", "final_report"
LABEL = "爱心志愿者协会「社区助老送餐」"


@pytest.fixture
def any_park(any_incubator: Incubator, clock: FixedClock) -> MovingPark:
    return starting(any_incubator, clock)


def awarded_project(park: MovingPark) -> tuple[UUID, UUID]:
    """A resident organization (no clock of its own) whose caseworker is 李娜, and its project
    awarded on 2014-04-20 in a round of 2014."""
    system = park.system
    park.reach(date(2014, 4, 20))
    case = system.service.apply(
        who("2014-01-06"),
        name="爱心志愿者协会",
        field="公益慈善",
        legal_status="registered",
        track="residency",
        site="main",
    )
    org = UUID(str(case.id))
    system.service.assign(org, who("2014-01-06"), "李娜")
    rounds = system.rounds
    r = rounds.create_round(
        who("2014-02-20"),
        name="2014年公益创投",
        fund=Decimal(440_000),
        opens=date(2014, 3, 1),
        closes=date(2014, 3, 31),
    )
    round_id = UUID(str(r.id))
    for expert in ("王建国", "刘慧", "赵志强"):
        rounds.add_expert(round_id, who("2014-02-21"), expert)
    p = rounds.submit(
        round_id, who("2014-03-10"), org=org, title="社区助老送餐", amount=Decimal(40_000)
    )
    project = UUID(str(p.id))
    rounds.screen(project, who("2014-04-01"), True)
    for expert in ("王建国", "刘慧", "赵志强"):
        rounds.score(project, who("2014-04-10"), expert, Decimal(80))
    rounds.award(project, who("2014-04-20"), Decimal(40_000))
    return round_id, project


def test_the_reports_of_an_award_remind_then_escalate_until_they_come_in(
    any_park: MovingPark,
) -> None:
    round_id, project = awarded_project(any_park)
    assert any_park.scan("2014-09-19 07:59") == []
    assert any_park.scan("2014-09-19 08:00") == [remind(MIDTERM, "2014-10-20", "remind-30", "李娜")]
    assert any_park.scan("2014-10-21 08:00") == [
        remind(MIDTERM, "2014-10-20", "remind-7", "李娜"),
        remind(MIDTERM, "2014-10-20", "remind-1", "李娜"),
        escalate(MIDTERM, "2014-10-20", "escalate-1"),
    ]
    system = any_park.system
    inbox = system.read_models.inbox(date(2014, 10, 21), "李娜")
    assert [(i["organization"], i["kind"], i["status"]) for i in inbox] == [
        (LABEL, MIDTERM, "escalated")
    ]

    any_park.reach(date(2014, 10, 22))
    system.rounds.report(project, who("2014-10-22"), "midterm", "中期检查: 送餐 1200 份")
    assert any_park.scan("2014-10-28 08:00") == []  # the second escalation: met, none
    assert any_park.scan("2015-03-20 08:00") == [remind(FINAL, "2015-04-20", "remind-30", "李娜")]

    system.read_models.catch_up()
    reminders = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(project))]
    assert len(reminders) == 5
    r = system.rounds.round(round_id)
    events = history(system.log, round_id, reminders, [UUID(p) for p in r.projects.values()])
    kinds = [(e["type"], e.get("of", {}).get("aggregate")) for e in events]
    assert kinds.index(("Awarded", "project")) < kinds.index(("ReminderIssued", "reminder"))
    assert kinds.index(("DeadlineEscalated", "reminder")) < kinds.index(
        ("ReportReceived", "project")
    )
    assert [e["data"]["organization"] for e in events if e["type"] == "ReminderIssued"] == [
        LABEL
    ] * 4
