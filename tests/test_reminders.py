"""Deadline reminders through the real services on a real database, with a clock that moves.

Every expected date here was worked out by hand from the rules (30, 7 and 1 days before the due
date at 08:00 Shanghai time, escalations 1 day after and then every 7 days, off days skipped
with China's official calendar), not computed with the code under test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import AggregateNotFoundError

from commands.bootstrap import Incubator, bootstrap
from commands.queries import case_view, history
from commands.settings import SettingsError, load_settings
from lifecycle.deadlines import deadlines_of, reminds_instructor
from lifecycle.errors import Refused
from lifecycle.reminder import Reminder
from projections import outbox
from schedules.clock import FixedClock
from tests.builders import PANEL_FAIL, PANEL_PASS, drive, new_case, new_resident
from tests.conftest import who

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIRECTOR = "园区主任"
GROWTH, EXIT, MEMBERS = "growth_review", "exit_evaluation", "member_discovery"
INSPECTION, ENTRY = "inspection", "entry_evaluation"
# (type, kind, due_on, step, to): what a scan says it recorded
Issued = tuple[str, str, str, str, str]


def local(moment: str) -> datetime:
    """A local moment in the park ('2014-06-10 08:00'), as UTC."""
    return datetime.fromisoformat(moment).replace(tzinfo=SHANGHAI).astimezone(UTC)


def day(text: str) -> date:
    return date.fromisoformat(text)


def remind(kind: str, due_on: str, step: str, to: str) -> Issued:
    return ("ReminderIssued", kind, due_on, step, to)


def escalate(kind: str, due_on: str, step: str) -> Issued:
    return ("DeadlineEscalated", kind, due_on, step, DIRECTOR)


def issued(recorded: list[dict[str, Any]]) -> list[Issued]:
    return [(r["type"], r["kind"], r["due_on"], r["step"], r["to"]) for r in recorded]


@dataclass
class MovingPark:
    """A system on a real database and the clock it reads, moved forward by the test."""

    system: Incubator
    clock: FixedClock

    def move(self, moment: str) -> datetime:
        when = local(moment)
        assert when >= self.clock.at, f"the clock only moves forward, not back to {moment}"
        self.clock.at = when
        return when

    def reach(self, on: date) -> None:
        """The clock at least at noon of `on`, so a step dated `on` is not in the future."""
        self.clock.at = max(self.clock.at, local(f"{on.isoformat()} 12:00"))

    def scan(self, moment: str) -> list[Issued]:
        self.move(moment)
        return issued(self.system.reminders.scan())

    def enter(
        self,
        name: str,
        workspace: str,
        *,
        entered: str = "2014-02-10",
        caseworker: str | None = "李娜",
        count_members: bool = True,
    ) -> UUID:
        """A case applied 39 days before `entered`, inspected 6 days after applying, submitted
        21 days before entering (each deadline met on time), with its caseworker assigned and
        (by default) its party members counted on the entry day."""
        service, on = self.system.service, day(entered)
        applied, submitted = on - timedelta(days=39), on - timedelta(days=21)
        self.reach(on)
        case_id = self.apply(name, applied.isoformat())
        service.start_inspection(case_id, who((applied + timedelta(days=6)).isoformat()))
        service.submit_for_entry(case_id, who(submitted.isoformat()))
        service.evaluate_entry(case_id, who(entered), PANEL_PASS, workspace)
        if caseworker is not None:
            service.assign(case_id, who(entered), caseworker)
        if count_members:
            self.system.party.record_inspection(case_id, who(entered))
            self.system.party.count_members(case_id, who(entered), formal=3)
        return case_id

    def apply(self, name: str, on: str, caseworker: str | None = None) -> UUID:
        """An incubation application at the main site on `on`, its caseworker assigned then."""
        service = self.system.service
        case = service.apply(
            who(on),
            name=name,
            field="公益慈善",
            legal_status="registered",
            track="incubation",
            site="main",
        )
        case_id = UUID(str(case.id))
        if caseworker is not None:
            service.assign(case_id, who(on), caseworker)
        return case_id

    def exists(self, case_id: UUID, kind: str, due_on: str, step: str) -> bool:
        try:
            self.system.log.repository.get(Reminder.id_for(case_id, kind, day(due_on), step))
        except AggregateNotFoundError:
            return False
        return True

    def due_rows(self) -> list[tuple[str, str, str]]:
        return due_rows(self.system)

    def inbox(self, today: str, person: str | None = None) -> list[tuple[str, str, str, str]]:
        self.system.read_models.catch_up()
        return [
            (i["for"], i["organization"], i["kind"], i["status"])
            for i in self.system.read_models.inbox(day(today), person)
        ]


def due_rows(system: Incubator) -> list[tuple[str, str, str]]:
    """(case, kind, due date) of every row of the due-dates read model, caught up first."""
    system.read_models.catch_up()  # as the command line does after a command
    return sorted(
        (r["case_id"], r["kind"], r["due_on"].isoformat()) for r in system.read_models.due()
    )


def starting(system: Incubator, clock: FixedClock) -> MovingPark:
    clock.at = local("2014-01-02 09:00")
    return MovingPark(system, clock)


@pytest.fixture
def park(incubator: Incubator, clock: FixedClock) -> MovingPark:
    return starting(incubator, clock)


@pytest.fixture
def any_park(any_incubator: Incubator, clock: FixedClock) -> MovingPark:
    return starting(any_incubator, clock)


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def weekends_only(tmp_path: Path) -> Iterator[MovingPark]:
    """A system whose reminders skip weekends only, not China's public holidays."""
    path = settings_file(tmp_path, "[reminders]\nofficial_calendar = false\n")
    clock = FixedClock(local("2014-01-02 09:00"))
    system = bootstrap(
        f"sqlite:///{tmp_path / 'weekends.sqlite3'}", settings_path=path, clock=clock
    )
    yield MovingPark(system, clock)
    system.close_all()


# ---- 1. each step when its time comes, not a minute before ---------------------------------------


def test_each_step_is_recorded_when_its_0800_comes_and_not_a_minute_before(
    any_park: MovingPark,
) -> None:
    park = any_park
    case_id = park.enter("爱心志愿者协会", "M-01")  # growth review due 2014-07-10 (a Thursday)
    due = "2014-07-10"
    expected: list[tuple[str, list[Issued]]] = [
        ("2014-02-10 13:00", []),  # just entered: inspection, entry and members all met
        ("2014-06-10 07:59", []),  # nothing before the first reminder
        ("2014-06-10 08:00", [remind(GROWTH, due, "remind-30", "李娜")]),
        ("2014-06-10 17:00", []),
        ("2014-07-03 07:59", []),
        ("2014-07-03 08:00", [remind(GROWTH, due, "remind-7", "李娜")]),
        ("2014-07-09 07:59", []),
        ("2014-07-09 08:00", [remind(GROWTH, due, "remind-1", "李娜")]),
        ("2014-07-10 23:59", []),  # due today: not missed yet
        ("2014-07-11 07:59", []),
        ("2014-07-11 08:00", [escalate(GROWTH, due, "escalate-1")]),
        ("2014-07-18 07:59", []),
        ("2014-07-18 08:00", [escalate(GROWTH, due, "escalate-2")]),
        ("2014-07-25 08:00", [escalate(GROWTH, due, "escalate-3")]),
        ("2014-08-01 08:00", [escalate(GROWTH, due, "escalate-4")]),
        ("2014-08-08 08:00", []),  # at most 4 escalations
        ("2014-11-10 07:59", []),
        ("2014-11-10 08:00", [remind(EXIT, "2014-12-10", "remind-30", "李娜")]),
    ]
    got = [(moment, park.scan(moment)) for moment, _ in expected]
    assert got == expected

    reminder: Any = park.system.log.repository.get(
        Reminder.id_for(case_id, GROWTH, day(due), "escalate-2")
    )
    assert isinstance(reminder, Reminder)
    assert (reminder.kind, reminder.due_on, reminder.step, reminder.level) == (
        GROWTH,
        day(due),
        "escalate-2",
        2,
    )
    assert (reminder.recipient, reminder.responsible) == (DIRECTOR, "李娜")
    assert reminder.issued_at == local("2014-07-18 08:00")


def test_a_scan_says_what_it_recorded_under_the_reminders_id(park: MovingPark) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01")
    park.move("2014-06-10 08:00")
    [recorded] = park.system.reminders.scan()
    assert recorded == {
        "id": str(Reminder.id_for(case_id, GROWTH, day("2014-07-10"), "remind-30")),
        "type": "ReminderIssued",
        "case_id": str(case_id),
        "organization": "爱心志愿者协会",
        "kind": GROWTH,
        "due_on": "2014-07-10",
        "step": "remind-30",
        "to": "李娜",
        "responsible": "李娜",
    }


def test_a_scan_refuses_a_now_after_the_clock_and_records_nothing(park: MovingPark) -> None:
    park.enter("爱心志愿者协会", "M-01")
    park.move("2014-06-10 07:00")
    head = park.system.log.recorder.max_notification_id()
    with pytest.raises(Refused, match="is in the future"):
        park.system.reminders.scan(local("2014-06-10 08:00"))
    assert park.system.log.recorder.max_notification_id() == head
    # a now before the clock is a scan as of then: remind-30 has not come at 07:00
    assert park.system.reminders.scan(local("2014-06-09 08:00")) == []
    # a now without a timezone is the park's local time
    park.move("2014-06-10 08:30")
    with pytest.raises(Refused, match="is in the future"):
        park.system.reminders.scan(datetime(2014, 6, 10, 8, 31))
    assert park.system.reminders.scan(datetime(2014, 6, 10, 7, 59)) == []
    assert issued(park.system.reminders.scan(datetime(2014, 6, 10, 8, 0))) == [
        remind(GROWTH, "2014-07-10", "remind-30", "李娜")
    ]


def test_preview_lists_what_is_coming_and_records_nothing(park: MovingPark) -> None:
    park.enter("爱心志愿者协会", "M-01")
    park.move("2014-07-01 09:00")
    head = park.system.log.recorder.max_notification_id()
    coming = park.system.reminders.preview(10)
    assert park.system.log.recorder.max_notification_id() == head
    # remind-30 came on 06-10 and was never scanned: the next scan records it
    assert [(c["at"], c["kind"], c["step"], c["to"]) for c in coming] == [
        ("2014-06-10T08:00+08:00", GROWTH, "remind-30", "李娜"),
        ("2014-07-03T08:00+08:00", GROWTH, "remind-7", "李娜"),
        ("2014-07-09T08:00+08:00", GROWTH, "remind-1", "李娜"),
        ("2014-07-11T08:00+08:00", GROWTH, "escalate-1", DIRECTOR),
    ]


def test_the_inspection_and_entry_evaluation_clocks_remind_and_stop_when_met(
    park: MovingPark,
) -> None:
    system, service = park.system, park.system.service
    park.reach(day("2014-01-02"))
    case_id = park.apply("爱心志愿者协会", "2014-01-02", "李娜")
    # inspection due 01-16: its 30-day reminder would fall before the application: not sent
    policy = system.park.reminders
    planned_steps = policy.steps(INSPECTION, day("2014-01-02"), day("2014-01-16"))
    assert [s.name for s in planned_steps][:3] == ["remind-7", "remind-1", "escalate-1"]
    assert park.scan("2014-01-02 12:01") == []
    assert park.scan("2014-01-09 07:59") == []
    assert park.scan("2014-01-09 08:00") == [remind(INSPECTION, "2014-01-16", "remind-7", "李娜")]
    assert park.scan("2014-01-15 08:00") == [remind(INSPECTION, "2014-01-16", "remind-1", "李娜")]
    assert park.scan("2014-01-17 08:00") == [escalate(INSPECTION, "2014-01-16", "escalate-1")]

    park.move("2014-01-20 12:00")
    service.start_inspection(case_id, who("2014-01-20"))  # late, but met
    park.move("2014-01-22 12:00")
    service.submit_for_entry(case_id, who("2014-01-22"))
    # entry evaluation due 02-21: its 30-day reminder would fall on the submission day itself,
    # the day its clock started: not sent
    assert park.scan("2014-01-22 12:01") == []
    assert park.scan("2014-01-24 08:00") == []  # the inspection's escalate-2 never comes
    assert park.scan("2014-02-14 08:00") == [remind(ENTRY, "2014-02-21", "remind-7", "李娜")]

    park.move("2014-02-18 12:00")
    service.evaluate_entry(case_id, who("2014-02-18"), PANEL_PASS, "M-01")
    # met: no remind-1 on 02-20; the party track's clock (started 02-18, due 03-20) sends no
    # remind-30, which would fall on its first day
    assert park.scan("2014-02-20 08:00") == []
    assert park.scan("2014-02-24 08:00") == []  # the entry evaluation's escalate-1 never comes
    assert not park.exists(case_id, INSPECTION, "2014-01-16", "escalate-2")
    assert not park.exists(case_id, ENTRY, "2014-02-21", "remind-1")
    assert not park.exists(case_id, ENTRY, "2014-02-21", "remind-30")
    assert not park.exists(case_id, MEMBERS, "2014-03-20", "remind-30")
    # the party track's first reminder: remind-7 on Thursday 03-13
    assert park.scan("2014-03-13 08:00") == [remind(MEMBERS, "2014-03-20", "remind-7", "李娜")]


# ---- 2. a met deadline, an ended case ------------------------------------------------------------


def test_a_met_deadline_stops_its_reminders_and_leaves_the_inbox(park: MovingPark) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01")
    assert park.scan("2014-06-10 08:00") == [remind(GROWTH, "2014-07-10", "remind-30", "李娜")]
    assert park.inbox("2014-06-10", "李娜") == [("李娜", "爱心志愿者协会", GROWTH, "due")]

    park.move("2014-06-20 12:00")
    park.system.service.record_growth_review(case_id, who("2014-06-20"), ["王芳=75"])

    assert park.inbox("2014-06-20", "李娜") == []
    assert park.scan("2014-08-08 09:00") == []  # past every growth review step
    for step in ("remind-7", "remind-1", "escalate-1", "escalate-4"):
        assert not park.exists(case_id, GROWTH, "2014-07-10", step)
    # the exit evaluation still has its own
    assert park.scan("2014-11-10 08:00") == [remind(EXIT, "2014-12-10", "remind-30", "李娜")]


def test_a_deadline_met_late_stops_its_escalations(park: MovingPark) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01")
    assert park.scan("2014-07-18 08:00")[-1] == escalate(GROWTH, "2014-07-10", "escalate-2")
    assert park.inbox("2014-07-18", DIRECTOR) == [(DIRECTOR, "爱心志愿者协会", GROWTH, "escalated")]
    park.move("2014-07-20 12:00")
    park.system.service.record_growth_review(case_id, who("2014-07-20"), ["王芳=75"])
    assert park.inbox("2014-07-20") == []
    assert park.scan("2014-08-02 09:00") == []
    assert not park.exists(case_id, GROWTH, "2014-07-10", "escalate-3")
    case = park.system.service.case(case_id)
    [growth] = [
        d for d in deadlines_of(case, park.system.park.rules, day("2014-08-02")) if d.kind == GROWTH
    ]
    assert (growth.status, growth.met_on) == ("done", day("2014-07-20"))


def test_a_late_exit_stops_its_escalations_and_starts_the_follow_up_clock(
    park: MovingPark,
) -> None:
    service = park.system.service
    case_id = park.enter("爱心志愿者协会", "M-01")
    park.move("2014-07-10 12:00")
    service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"])
    exit_due = "2014-12-10"
    expected: list[tuple[str, list[Issued]]] = [
        ("2014-11-10 08:00", [remind(EXIT, exit_due, "remind-30", "李娜")]),
        ("2014-12-03 08:00", [remind(EXIT, exit_due, "remind-7", "李娜")]),
        ("2014-12-09 08:00", [remind(EXIT, exit_due, "remind-1", "李娜")]),
        ("2014-12-11 08:00", [escalate(EXIT, exit_due, "escalate-1")]),
    ]
    assert [(moment, park.scan(moment)) for moment, _ in expected] == expected

    park.move("2014-12-15 12:00")
    service.evaluate_exit(case_id, who("2014-12-15"), PANEL_PASS)  # late: follow-up to 2015-12-15
    assert park.due_rows() == [(str(case_id), "follow_up_end", "2015-12-15")]
    assert park.scan("2014-12-18 08:00") == []  # exit's escalate-2
    assert park.scan("2015-11-13 07:59") == []
    # remind-30 of Sunday 11-15 goes out on Friday 11-13
    assert park.scan("2015-11-13 08:00") == [
        remind("follow_up_end", "2015-12-15", "remind-30", "李娜")
    ]
    park.move("2015-11-20 12:00")
    service.close_case(case_id, who("2015-11-20", reason="服务目标已达成"))
    assert park.due_rows() == []
    assert park.scan("2015-12-16 08:00") == []


def test_a_case_that_ends_stops_every_one_of_its_deadlines(park: MovingPark) -> None:
    staying = park.enter("爱心志愿者协会", "M-01")
    leaving = park.enter("阳光助残服务队", "M-02", count_members=False)
    # the party track's 30-day clock started on the entry day: no remind-30 on that day itself;
    # its first reminder is remind-7 on Wednesday 03-05
    assert park.scan("2014-02-10 13:00") == []
    assert park.scan("2014-03-05 08:00") == [remind(MEMBERS, "2014-03-12", "remind-7", "李娜")]

    park.move("2014-03-06 12:00")
    park.system.service.withdraw(leaving, who("2014-03-06", reason="负责人离职"))

    assert [r[0] for r in park.due_rows()] == [str(staying)] * 2
    got = park.scan("2014-12-20 09:00")  # past every step of every one of its deadlines
    assert got == [
        remind(GROWTH, "2014-07-10", "remind-30", "李娜"),
        remind(GROWTH, "2014-07-10", "remind-7", "李娜"),
        remind(GROWTH, "2014-07-10", "remind-1", "李娜"),
        escalate(GROWTH, "2014-07-10", "escalate-4"),
        remind(EXIT, "2014-12-10", "remind-30", "李娜"),
        remind(EXIT, "2014-12-10", "remind-7", "李娜"),
        remind(EXIT, "2014-12-10", "remind-1", "李娜"),
        escalate(EXIT, "2014-12-10", "escalate-2"),
    ]
    # of the withdrawn case only the party track's first reminder ever went out
    assert [(r["kind"], r["step"]) for r in park.system.read_models.reminders_of(str(leaving))] == [
        (MEMBERS, "remind-7")
    ]
    assert [i for i in park.inbox("2014-12-20") if i[1] == "阳光助残服务队"] == []


def test_an_evaluation_of_an_earlier_submission_does_not_meet_the_latest_submissions_clock(
    park: MovingPark,
) -> None:
    """Submitted, declined, coaching resumed and submitted again, all on 2014-01-20: the decline
    evaluated the first submission, not the second, whose clock (due 02-19) is still running.
    When the case then withdraws, that entry evaluation was never done: it is cancelled."""
    system, service = park.system, park.system.service
    park.reach(day("2014-02-01"))
    case_id = new_case(service)
    drive(service, case_id, "inspecting")
    on = who("2014-01-20")
    service.submit_for_entry(case_id, on)
    service.evaluate_entry(case_id, on, PANEL_FAIL)
    service.resume_coaching(case_id, on)
    service.submit_for_entry(case_id, on)

    def entry_evaluation(today: str) -> dict[str, Any]:
        view = case_view(service.case(case_id), system.park, day(today))
        [found] = [d for d in view["deadlines"] if d["kind"] == ENTRY]
        return dict(found)

    latest = {"kind": ENTRY, "start_on": "2014-01-20", "due_on": "2014-02-19", "met_on": None}
    assert entry_evaluation("2014-01-20") == {**latest, "status": "pending"}
    assert park.due_rows() == [(str(case_id), ENTRY, "2014-02-19")]

    service.withdraw(case_id, who("2014-02-01", reason="负责人离职"))
    assert entry_evaluation("2014-02-01") == {**latest, "status": "cancelled"}
    [found] = [
        d
        for d in deadlines_of(service.case(case_id), system.park.rules, day("2014-02-01"))
        if d.kind == ENTRY
    ]
    assert (found.status, found.met_on, found.is_pending) == ("cancelled", None, False)
    assert park.due_rows() == []


# ---- 3. a corrected entry date ---------------------------------------------------------------


def test_a_corrected_entry_date_moves_the_reminders_to_the_new_due_dates(park: MovingPark) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01")  # growth review due 07-10, exit 12-10
    assert park.scan("2014-06-10 08:00") == [remind(GROWTH, "2014-07-10", "remind-30", "李娜")]

    park.move("2014-06-11 12:00")
    park.system.service.correct_entry_date(
        case_id, who("2014-06-11", reason="协议签订日期为1月31日"), day("2014-01-31")
    )
    # entry 2014-01-31: growth review due 2014-06-30 (a Monday), exit 2014-11-30 (a Sunday:
    # the period ends on Monday 12-01, 民法典 第二百零三条)
    assert park.due_rows() == [
        (str(case_id), EXIT, "2014-12-01"),
        (str(case_id), GROWTH, "2014-06-30"),
    ]
    assert park.inbox("2014-06-11") == []  # nothing has gone out for the new dates yet
    # remind-30 of the new date (nominal 05-31, a Saturday of the Dragon Boat holiday: 05-30)
    # has passed: it is recorded at once, under an id of its own
    assert park.scan("2014-06-11 12:01") == [remind(GROWTH, "2014-06-30", "remind-30", "李娜")]
    old = Reminder.id_for(case_id, GROWTH, day("2014-07-10"), "remind-30")
    new = Reminder.id_for(case_id, GROWTH, day("2014-06-30"), "remind-30")
    assert old != new
    assert park.exists(case_id, GROWTH, "2014-07-10", "remind-30")
    assert park.exists(case_id, GROWTH, "2014-06-30", "remind-30")

    expected: list[tuple[str, list[Issued]]] = [
        ("2014-06-23 07:59", []),
        ("2014-06-23 08:00", [remind(GROWTH, "2014-06-30", "remind-7", "李娜")]),
        # remind-1 falls on Sunday 06-29: it goes out on Friday 06-27
        ("2014-06-27 08:00", [remind(GROWTH, "2014-06-30", "remind-1", "李娜")]),
        ("2014-07-01 08:00", [escalate(GROWTH, "2014-06-30", "escalate-1")]),
        # the old date's remind-7, remind-1 and escalate-1 never come
        ("2014-07-03 08:00", []),
        ("2014-07-08 08:00", [escalate(GROWTH, "2014-06-30", "escalate-2")]),
        ("2014-07-09 08:00", []),
        ("2014-07-11 08:00", []),
        ("2014-07-15 08:00", [escalate(GROWTH, "2014-06-30", "escalate-3")]),
        ("2014-07-22 08:00", [escalate(GROWTH, "2014-06-30", "escalate-4")]),
        # exit: remind-30 on Saturday 11-01 goes out on Friday 10-31; remind-7 on Monday 11-24
        ("2014-10-31 08:00", [remind(EXIT, "2014-12-01", "remind-30", "李娜")]),
        ("2014-11-10 08:00", []),  # the old exit date's remind-30
        ("2014-11-21 08:00", []),
        ("2014-11-24 08:00", [remind(EXIT, "2014-12-01", "remind-7", "李娜")]),
    ]
    got = [(moment, park.scan(moment)) for moment, _ in expected]
    assert got == expected
    for step in ("remind-7", "remind-1", "escalate-1"):
        assert not park.exists(case_id, GROWTH, "2014-07-10", step)
    assert not park.exists(case_id, EXIT, "2014-12-10", "remind-30")
    # rebuilt, the read model still knows which date each reminder was for
    inbox = park.inbox("2014-11-21")
    assert inbox == [
        ("李娜", "爱心志愿者协会", GROWTH, "escalated"),  # never reviewed
        (DIRECTOR, "爱心志愿者协会", GROWTH, "escalated"),
        ("李娜", "爱心志愿者协会", EXIT, "due"),
    ]
    park.system.read_models.rebuild(["due_dates"])
    assert park.inbox("2014-11-21") == inbox
    assert park.system.reminders.scan() == []
    # remind-1 on Sunday 11-30 goes out on Friday 11-28
    assert park.scan("2014-11-28 08:00") == [remind(EXIT, "2014-12-01", "remind-1", "李娜")]


def test_a_corrected_entry_date_moves_the_party_tracks_member_discovery_too(
    park: MovingPark,
) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01", count_members=False)  # members by 03-12
    assert park.scan("2014-02-10 13:00") == []  # no remind-30 on the clock's first day
    park.move("2014-02-12 12:00")
    park.system.service.correct_entry_date(
        case_id, who("2014-02-12", reason="协议签订日期为2月1日"), day("2014-02-01")
    )
    assert park.due_rows() == [
        (str(case_id), EXIT, "2014-12-01"),
        (str(case_id), GROWTH, "2014-07-01"),
        (str(case_id), MEMBERS, "2014-03-03"),
    ]
    expected: list[tuple[str, list[Issued]]] = [
        # the track now started 02-01 (a Spring Festival holiday): remind-30 would fall on that
        # very day (and the working day before, 01-30, is before the clock started): not sent
        ("2014-02-12 12:01", []),
        ("2014-02-24 08:00", [remind(MEMBERS, "2014-03-03", "remind-7", "李娜")]),
        ("2014-02-28 08:00", [remind(MEMBERS, "2014-03-03", "remind-1", "李娜")]),  # Sun 03-02
        ("2014-03-04 08:00", [escalate(MEMBERS, "2014-03-03", "escalate-1")]),
        ("2014-03-05 08:00", []),  # the old date's remind-7
        ("2014-03-11 08:00", [escalate(MEMBERS, "2014-03-03", "escalate-2")]),
        ("2014-03-13 08:00", []),  # the old date's escalate-1
    ]
    got = [(moment, park.scan(moment)) for moment, _ in expected]
    assert got == expected
    # nothing had gone out for the old date 03-12; everything recorded is the new date's
    assert sorted(
        (r["due_on"].isoformat(), r["step"])
        for r in park.system.read_models.reminders_of(str(case_id))
    ) == [
        ("2014-03-03", "escalate-1"),
        ("2014-03-03", "escalate-2"),
        ("2014-03-03", "remind-1"),
        ("2014-03-03", "remind-7"),
    ]


def test_a_correction_that_keeps_the_due_date_keeps_what_went_out_for_it(
    park: MovingPark,
) -> None:
    """Entry 01-31 corrected to 01-30: calendar months clip to the month's end, so the growth
    review stays due 06-30 (and the exit 11-30, a Sunday: 12-01). The reminders and escalations
    already recorded for 06-30 are that deadline's (the same ids, which the log will not take
    again): the overdue, escalated growth review must stay in the inbox, and nothing is pending
    to go out."""
    case_id = park.enter("爱心志愿者协会", "M-01", entered="2014-01-31")
    assert park.scan("2014-07-23 09:00") == [
        remind(GROWTH, "2014-06-30", "remind-30", "李娜"),
        remind(GROWTH, "2014-06-30", "remind-7", "李娜"),
        remind(GROWTH, "2014-06-30", "remind-1", "李娜"),
        escalate(GROWTH, "2014-06-30", "escalate-4"),
    ]
    escalated = [
        ("李娜", "爱心志愿者协会", GROWTH, "escalated"),
        (DIRECTOR, "爱心志愿者协会", GROWTH, "escalated"),
    ]
    assert park.inbox("2014-07-23") == escalated

    park.system.service.correct_entry_date(
        case_id, who("2014-07-23", reason="协议签订日期为1月30日"), day("2014-01-30")
    )
    assert park.due_rows() == [
        (str(case_id), EXIT, "2014-12-01"),
        (str(case_id), GROWTH, "2014-06-30"),
    ]
    assert park.scan("2014-07-24 09:00") == []
    assert park.inbox("2014-07-24") == escalated
    assert park.system.reminders.preview(0) == []


# ---- 4. a late scan catches up ---------------------------------------------------------------


def test_a_late_first_scan_records_every_missed_reminder_but_only_the_latest_escalation(
    park: MovingPark,
) -> None:
    case_id = park.enter("爱心志愿者协会", "M-01", count_members=False)
    # member discovery due 03-12 (its clock started 02-10: no remind-30 on that day);
    # escalations came 03-13, 03-20, 03-27, 04-03;
    # growth review due 07-10: escalations came 07-11, 07-18, 07-25
    assert park.scan("2014-07-26 09:00") == [
        remind(MEMBERS, "2014-03-12", "remind-7", "李娜"),
        remind(MEMBERS, "2014-03-12", "remind-1", "李娜"),
        escalate(MEMBERS, "2014-03-12", "escalate-4"),
        remind(GROWTH, "2014-07-10", "remind-30", "李娜"),
        remind(GROWTH, "2014-07-10", "remind-7", "李娜"),
        remind(GROWTH, "2014-07-10", "remind-1", "李娜"),
        escalate(GROWTH, "2014-07-10", "escalate-3"),
    ]
    for kind, due, step in [
        (MEMBERS, "2014-03-12", "escalate-1"),
        (MEMBERS, "2014-03-12", "escalate-3"),
        (GROWTH, "2014-07-10", "escalate-1"),
        (GROWTH, "2014-07-10", "escalate-2"),
    ]:
        assert not park.exists(case_id, kind, due, step), step
    assert park.exists(case_id, GROWTH, "2014-07-10", "escalate-3")
    # the skipped escalations never come later either; the next one comes in its time
    assert park.scan("2014-07-31 09:00") == []
    assert park.scan("2014-08-01 08:00") == [escalate(GROWTH, "2014-07-10", "escalate-4")]
    assert park.scan("2014-11-09 09:00") == []


def test_a_scan_after_a_gap_records_the_reminders_in_between_and_the_latest_escalation(
    park: MovingPark,
) -> None:
    park.enter("爱心志愿者协会", "M-01")
    assert park.scan("2014-06-10 08:00") == [remind(GROWTH, "2014-07-10", "remind-30", "李娜")]
    assert park.scan("2014-07-19 09:00") == [
        remind(GROWTH, "2014-07-10", "remind-7", "李娜"),
        remind(GROWTH, "2014-07-10", "remind-1", "李娜"),
        escalate(GROWTH, "2014-07-10", "escalate-2"),
    ]
    assert park.scan("2014-07-25 08:00") == [escalate(GROWTH, "2014-07-10", "escalate-3")]


# ---- 5. exactly once -------------------------------------------------------------------------


def test_scanning_again_records_nothing_new_also_after_the_read_model_is_rebuilt(
    any_park: MovingPark,
) -> None:
    park = any_park
    system = park.system
    park.enter("爱心志愿者协会", "M-01")
    park.enter("阳光助残服务队", "M-02", count_members=False)
    first = park.scan("2014-07-26 09:00")
    # the first case's growth review: 4; the second's member discovery (remind-7, remind-1,
    # escalate-4: no remind-30 on its clock's first day) and growth review (4): 7
    assert len(first) == 11
    head = system.log.recorder.max_notification_id()
    inbox = system.read_models.inbox(day("2014-07-26"))
    # escalated, each to 李娜 and to the director: both growth reviews, one member discovery
    assert len(inbox) == 6

    assert system.reminders.scan() == []
    system.read_models.rebuild(["due_dates"])
    assert system.reminders.scan() == []
    system.read_models.rebuild()
    assert system.reminders.scan() == []
    assert system.log.recorder.max_notification_id() == head
    assert system.read_models.inbox(day("2014-07-26")) == inbox

    # the rebuilt read model knows where each deadline stands: the next step comes once
    assert park.scan("2014-08-01 08:00") == [
        escalate(GROWTH, "2014-07-10", "escalate-4"),
        escalate(GROWTH, "2014-07-10", "escalate-4"),
    ]
    system.read_models.rebuild(["due_dates"])
    assert system.reminders.scan() == []
    assert park.scan("2014-08-08 09:00") == []


def test_a_second_scanner_on_the_same_database_records_nothing_again(any_park: MovingPark) -> None:
    park = any_park
    case_id = park.enter("爱心志愿者协会", "M-01")
    other = bootstrap(park.system.database.url, clock=park.clock)
    try:
        assert park.scan("2014-07-03 08:00") == [
            remind(GROWTH, "2014-07-10", "remind-30", "李娜"),
            remind(GROWTH, "2014-07-10", "remind-7", "李娜"),
        ]
        assert other.reminders.scan() == []
        assert issued(other.reminders.scan(local("2014-07-03 08:00"))) == []
        assert len(other.read_models.reminders_of(str(case_id))) == 2
    finally:
        other.close_all()


def test_a_scanner_that_read_the_due_dates_before_another_recorded_records_nothing_twice(
    any_park: MovingPark, monkeypatch: pytest.MonkeyPatch
) -> None:
    park = any_park
    park.enter("爱心志愿者协会", "M-01")
    other = bootstrap(park.system.database.url, clock=park.clock)
    try:
        now = park.move("2014-07-03 08:00")
        seen = list(other.read_models.coming(now))  # the second scanner has read the rows ...
        assert park.system.reminders.scan() != []  # ... when the first one records
        head = park.system.log.recorder.max_notification_id()
        monkeypatch.setattr(other.read_models, "coming", lambda until: iter(seen))
        assert other.reminders.scan() == []  # the log refuses its copies
        assert park.system.log.recorder.max_notification_id() == head
    finally:
        other.close_all()


# ---- 6. working days -------------------------------------------------------------------------


def planned(park: MovingPark, kind: str, start_on: str, due_on: str) -> list[tuple[str, str]]:
    policy = park.system.park.reminders
    found = policy.steps(kind, day(start_on), day(due_on))
    for step in found:
        assert step.at == local(f"{step.day.isoformat()} 08:00")
    return [(s.name, s.day.isoformat()) for s in found]


def test_a_reminder_on_a_holiday_goes_out_on_the_working_day_before(park: MovingPark) -> None:
    # growth review due Tuesday 2024-10-08, the day after the National Day holiday
    assert planned(park, GROWTH, "2024-05-08", "2024-10-08") == [
        ("remind-30", "2024-09-06"),  # Sunday 09-08: Friday 09-06
        ("remind-7", "2024-09-30"),  # National Day 10-01: Monday 09-30
        ("remind-1", "2024-09-30"),  # 10-07, the holiday's last day: also 09-30
        ("escalate-1", "2024-10-09"),
        ("escalate-2", "2024-10-16"),
        ("escalate-3", "2024-10-23"),
        ("escalate-4", "2024-10-30"),
    ]
    park.enter("爱心志愿者协会", "M-01", entered="2024-05-08")
    assert park.scan("2024-09-06 08:00") == [remind(GROWTH, "2024-10-08", "remind-30", "李娜")]
    assert park.scan("2024-09-30 07:59") == []
    assert park.scan("2024-09-30 08:00") == [
        remind(GROWTH, "2024-10-08", "remind-7", "李娜"),
        remind(GROWTH, "2024-10-08", "remind-1", "李娜"),
    ]
    assert park.scan("2024-10-08 23:59") == []
    assert park.scan("2024-10-09 08:00") == [escalate(GROWTH, "2024-10-08", "escalate-1")]


def test_an_adjusted_working_saturday_is_a_working_day_only_on_the_official_calendar(
    park: MovingPark, weekends_only: MovingPark
) -> None:
    # growth review due Friday 2024-10-11: escalate-1's day is Saturday 10-12, a working day
    # in lieu of the National Day holiday; remind-7's day is Friday 10-04, within the holiday
    assert planned(park, GROWTH, "2024-05-11", "2024-10-11")[2:4] == [
        ("remind-1", "2024-10-10"),
        ("escalate-1", "2024-10-12"),
    ]
    assert planned(park, GROWTH, "2024-05-11", "2024-10-11")[1] == ("remind-7", "2024-09-30")
    assert planned(weekends_only, GROWTH, "2024-05-11", "2024-10-11")[1:4] == [
        ("remind-7", "2024-10-04"),
        ("remind-1", "2024-10-10"),
        ("escalate-1", "2024-10-14"),
    ]
    for system in (park, weekends_only):
        system.enter("爱心志愿者协会", "M-01", entered="2024-05-11")
        system.move("2024-10-10 09:00")
        system.system.reminders.scan()
    assert park.scan("2024-10-12 08:00") == [escalate(GROWTH, "2024-10-11", "escalate-1")]
    assert weekends_only.scan("2024-10-12 08:00") == []
    assert weekends_only.scan("2024-10-14 07:59") == []
    assert weekends_only.scan("2024-10-14 08:00") == [escalate(GROWTH, "2024-10-11", "escalate-1")]


def test_an_escalation_on_a_weekend_goes_out_on_monday(park: MovingPark) -> None:
    # growth review due Friday 2014-07-04: escalate-1 on Saturday 07-05, escalate-2 on Saturday
    # 07-12
    assert planned(park, GROWTH, "2014-02-04", "2014-07-04")[3:5] == [
        ("escalate-1", "2014-07-07"),
        ("escalate-2", "2014-07-14"),
    ]
    park.enter("爱心志愿者协会", "M-01", entered="2014-02-04")
    park.scan("2014-07-05 09:00")
    assert park.scan("2014-07-06 08:00") == []
    assert park.scan("2014-07-07 07:59") == []
    assert park.scan("2014-07-07 08:00") == [escalate(GROWTH, "2014-07-04", "escalate-1")]
    assert park.scan("2014-07-13 08:00") == []
    assert park.scan("2014-07-14 08:00") == [escalate(GROWTH, "2014-07-04", "escalate-2")]


def test_a_year_the_calendar_does_not_know_falls_back_to_weekends_and_warns_once(
    park: MovingPark, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="incubator.workdays")

    def warned() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "incubator.workdays"]

    # 2030: the National Day holiday is not known yet; only weekends are days off
    assert planned(park, GROWTH, "2030-05-08", "2030-10-08") == [
        ("remind-30", "2030-09-06"),  # Sunday 09-08: Friday
        ("remind-7", "2030-10-01"),  # a Tuesday
        ("remind-1", "2030-10-07"),  # a Monday
        ("escalate-1", "2030-10-09"),
        ("escalate-2", "2030-10-16"),
        ("escalate-3", "2030-10-23"),
        ("escalate-4", "2030-10-30"),
    ]
    [warning] = warned()
    assert "does not know 2030" in warning
    assert "only weekends count as days off" in warning
    assert planned(park, EXIT, "2030-05-08", "2030-10-12")[3] == ("escalate-1", "2030-10-14")
    assert planned(park, GROWTH, "2030-06-01", "2030-11-26")[0] == ("remind-30", "2030-10-25")
    assert len(warned()) == 1  # once for the year, however many days are asked about

    # through the service: the case's exit evaluation is due in 2031, another unknown year
    park.enter("爱心志愿者协会", "M-01", entered="2030-05-08")
    assert park.scan("2030-10-01 08:00") == [
        remind(GROWTH, "2030-10-08", "remind-30", "李娜"),
        remind(GROWTH, "2030-10-08", "remind-7", "李娜"),
    ]
    assert park.scan("2030-10-09 08:00") == [
        remind(GROWTH, "2030-10-08", "remind-1", "李娜"),
        escalate(GROWTH, "2030-10-08", "escalate-1"),
    ]
    # due Saturday 2031-03-08: the period ends on Monday 03-10 (weekends, at least, are known)
    assert park.due_rows()[0][1:] == (EXIT, "2031-03-10")
    planned(park, GROWTH, "2031-05-08", "2031-10-08")
    assert len(warned()) == 2, warned()
    assert "does not know 2031" in warned()[1]
    # a known year still follows the official calendar
    assert planned(park, GROWTH, "2024-05-08", "2024-10-08")[1] == ("remind-7", "2024-09-30")


def test_no_reminder_on_the_clocks_first_day_nor_one_a_day_off_moves_before_it(
    park: MovingPark,
) -> None:
    # member discovery, a 30-day clock, started on Wednesday 2025-09-10 and due Friday 10-10:
    # remind-30 would fall on the first day itself: not sent
    assert planned(park, MEMBERS, "2025-09-10", "2025-10-10") == [
        ("remind-7", "2025-09-30"),  # Friday 10-03, in the National Day holiday: Tuesday 09-30
        ("remind-1", "2025-10-09"),  # a Thursday
        ("escalate-1", "2025-10-11"),  # a Saturday worked in lieu of the holiday
        ("escalate-2", "2025-10-20"),  # Saturday 10-18: Monday
        ("escalate-3", "2025-10-27"),  # Saturday 10-25: Monday
        ("escalate-4", "2025-11-03"),  # Saturday 11-01: Monday
    ]
    # the inspection, a 14-day clock, started on 2025-10-01 (National Day) and due Wednesday
    # 10-15: remind-30 comes before the start; remind-7 (Wednesday 10-08, the holiday's last day)
    # would move to the working day before the holiday, 09-30, before the clock started: not
    # sent either (nor moved onto the holiday's first day)
    assert planned(park, INSPECTION, "2025-10-01", "2025-10-15") == [
        ("remind-1", "2025-10-14"),  # a Tuesday
        ("escalate-1", "2025-10-16"),
        ("escalate-2", "2025-10-23"),
        ("escalate-3", "2025-10-30"),
        ("escalate-4", "2025-11-06"),
    ]

    # through the service: a case entered on 2025-09-10 whose members are not counted yet ...
    entered = park.enter("爱心志愿者协会", "M-01", entered="2025-09-10", count_members=False)
    assert park.scan("2025-09-10 13:00") == []
    assert park.scan("2025-09-30 07:59") == []
    assert park.scan("2025-09-30 08:00") == [remind(MEMBERS, "2025-10-10", "remind-7", "李娜")]
    # ... and one that applied on 2025-10-01
    park.reach(day("2025-10-01"))
    applied = park.apply("阳光助残服务队", "2025-10-01", "王芳")
    assert park.scan("2025-10-01 12:01") == []
    assert park.scan("2025-10-09 08:00") == [remind(MEMBERS, "2025-10-10", "remind-1", "李娜")]
    assert park.scan("2025-10-11 08:00") == [escalate(MEMBERS, "2025-10-10", "escalate-1")]
    assert park.scan("2025-10-14 07:59") == []
    assert park.scan("2025-10-14 08:00") == [remind(INSPECTION, "2025-10-15", "remind-1", "王芳")]
    assert not park.exists(entered, MEMBERS, "2025-10-10", "remind-30")
    assert not park.exists(applied, INSPECTION, "2025-10-15", "remind-7")


# ---- 7. member discovery: the instructor, the caseworker, the director ------------------------


def test_member_discovery_reminds_the_instructor_else_the_caseworker_else_the_director(
    park: MovingPark,
) -> None:
    system = park.system
    case_id = park.enter("爱心志愿者协会", "M-01", caseworker=None, count_members=False)
    # the party track's clock: started 02-10, members to be counted by 03-12; nobody in charge.
    # remind-30 would fall on the clock's first day: not sent
    assert park.scan("2014-02-10 13:00") == []
    park.move("2014-03-05 08:00")
    [first] = system.reminders.scan()
    assert (first["type"], first["kind"], first["step"], first["to"], first["responsible"]) == (
        "ReminderIssued",
        MEMBERS,
        "remind-7",
        DIRECTOR,
        None,
    )
    park.move("2014-03-05 12:00")
    system.service.assign(case_id, who("2014-03-05"), "李娜")
    [coming] = system.reminders.preview(6)  # through 03-11 12:00
    assert (coming["kind"], coming["step"], coming["to"]) == (MEMBERS, "remind-1", "李娜")

    park.move("2014-03-06 12:00")
    system.party.assign_instructor(case_id, who("2014-03-06"), "张军")
    assert park.scan("2014-03-11 08:00") == [remind(MEMBERS, "2014-03-12", "remind-1", "张军")]
    assert park.inbox("2014-03-11", "张军") == [("张军", "爱心志愿者协会", MEMBERS, "due")]
    assert park.inbox("2014-03-11", "李娜") == []
    assert park.scan("2014-03-13 08:00") == [escalate(MEMBERS, "2014-03-12", "escalate-1")]
    assert park.inbox("2014-03-13") == [
        ("张军", "爱心志愿者协会", MEMBERS, "escalated"),
        (DIRECTOR, "爱心志愿者协会", MEMBERS, "escalated"),
    ]

    park.move("2014-03-14 12:00")
    system.party.record_inspection(case_id, who("2014-03-14"))
    system.party.count_members(case_id, who("2014-03-14"), formal=2, transferred=2)
    assert park.inbox("2014-03-14") == []
    assert park.scan("2014-04-10 09:00") == []  # escalate-2..4 would have come by now
    # the case's own deadlines still go to the caseworker
    assert park.scan("2014-06-10 08:00") == [remind(GROWTH, "2014-07-10", "remind-30", "李娜")]


def test_a_residents_member_discovery_has_no_inspection_clock_before_it(park: MovingPark) -> None:
    service = park.system.service
    resident = new_resident(service)
    # a residency application has no inspection clock: nothing on 01-09
    assert park.scan("2014-01-09 08:00") == []
    park.move("2014-03-03 12:00")
    service.admit(resident, who("2014-03-03"), "B-01")
    # its party track's clock: members by 04-02; no remind-30 on its first day (03-03), and no
    # caseworker or instructor yet: what is coming goes to the director
    assert park.scan("2014-03-03 12:01") == []
    assert [(c["step"], c["to"]) for c in park.system.reminders.preview(30)] == [
        ("remind-7", DIRECTOR),  # Wednesday 03-26
        ("remind-1", DIRECTOR),  # Tuesday 04-01
    ]
    park.move("2014-03-04 12:00")
    service.assign(resident, who("2014-03-04"), "王芳")
    assert park.scan("2014-03-26 08:00") == [remind(MEMBERS, "2014-04-02", "remind-7", "王芳")]
    assert park.due_rows() == [(str(resident), MEMBERS, "2014-04-02")]


# ---- 8. the inbox ----------------------------------------------------------------------------


def test_the_inbox_shows_each_person_what_is_due_overdue_and_escalated_soonest_first(
    park: MovingPark,
) -> None:
    park.enter("甲社会服务中心", "M-01", entered="2014-02-10")  # growth review due Thu 07-10
    park.enter("乙公益协会", "M-02", entered="2014-02-11")  # due Fri 07-11
    # Sunday 07-20: the period ends on Monday 07-21
    third = park.enter("丙志愿者队", "M-03", entered="2014-02-20", caseworker="王芳")
    assert park.inbox("2014-06-01") == []  # nothing has gone out yet
    park.scan("2014-07-12 09:00")  # a Saturday: 乙's escalation waits for Monday
    assert park.inbox("2014-07-12", "李娜") == [
        ("李娜", "甲社会服务中心", GROWTH, "escalated"),
        ("李娜", "乙公益协会", GROWTH, "overdue"),
    ]
    assert park.inbox("2014-07-12", "王芳") == [("王芳", "丙志愿者队", GROWTH, "due")]
    assert park.inbox("2014-07-12", DIRECTOR) == [(DIRECTOR, "甲社会服务中心", GROWTH, "escalated")]
    assert park.inbox("2014-07-12") == [
        ("李娜", "甲社会服务中心", GROWTH, "escalated"),
        (DIRECTOR, "甲社会服务中心", GROWTH, "escalated"),
        ("李娜", "乙公益协会", GROWTH, "overdue"),
        ("王芳", "丙志愿者队", GROWTH, "due"),
    ]
    [item] = park.system.read_models.inbox(day("2014-07-12"), "王芳")
    assert item["case_id"] == str(third)
    assert (item["due_on"], item["days"], item["reminded"], item["escalation"]) == (
        day("2014-07-21"),
        9,
        "remind-30",  # Saturday 06-21's reminder went out on Friday 06-20; remind-7 is 07-14
        0,
    )
    assert item["responsible"] == "王芳"

    park.scan("2014-07-14 08:00")
    assert park.inbox("2014-07-14", DIRECTOR) == [
        (DIRECTOR, "甲社会服务中心", GROWTH, "escalated"),
        (DIRECTOR, "乙公益协会", GROWTH, "escalated"),
    ]
    park.system.service.record_growth_review(third, who("2014-07-14"), ["王芳=80"])
    assert park.inbox("2014-07-14", "王芳") == []


# ---- 9. settings -----------------------------------------------------------------------------

BAD_SEND_AT = (
    'reminders.send_at must be a local time of day like "08:00" (no UTC offset: the park\'s '
    "timezone applies), got "
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[reminders]\nrecipient = "director"\n',
            "reminders.recipient must be one of caseworker, instructor, got 'director'",
        ),
        (
            '[reminders.growth_review]\nrecipient = "boss"\n',
            "reminders.growth_review.recipient must be one of caseworker, instructor, got 'boss'",
        ),
        ('[reminders]\nsend_at = "8 o\'clock"\n', f'{BAD_SEND_AT}"8 o\'clock"'),
        ('[reminders]\nsend_at = "25:00"\n', f"{BAD_SEND_AT}'25:00'"),
        ("[reminders]\nsend_at = 8\n", f"{BAD_SEND_AT}8"),
        (
            "[reminders]\nremind_before = [3]\n",
            "unknown key(s) in [reminders]: remind_before; allowed: ",
        ),
        ('[reminders.growth]\nrecipient = "caseworker"\n', "unknown key(s) in [reminders]: growth"),
        (
            '[reminders.inspection]\nsend_at = "09:00"\n',
            "unknown key(s) in [reminders.inspection]: send_at; allowed: escalate_after_days",
        ),
        (
            "[reminders.inspection]\nremind_days_before = [3, -1]\n",
            "reminders.inspection.remind_days_before must be a whole number from 0 to 366, got -1",
        ),
        (
            "[reminders]\nremind_days_before = 7\n",
            "reminders.remind_days_before must be a list of whole numbers, got 7",
        ),
        (
            '[reminders]\nofficial_calendar = "yes"\n',
            "reminders.official_calendar must be true or false, got 'yes'",
        ),
        ('[reminders]\ndirector = "  "\n', "reminders.director must be a non-empty text"),
        (
            "[reminders]\nescalation_steps = 60\n",
            "reminders.escalation_steps must be a whole number from 0 to 52, got 60",
        ),
        (
            '[people]\n"王芳" = "wangfang at example.org"\n',
            "people.王芳 must be a mail address like name@example.org",
        ),
        ("reminders = 3\n", "[reminders] must be a table, got 3"),
    ],
)
def test_bad_reminder_settings_are_refused_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = settings_file(tmp_path, text)
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert str(refused.value).startswith(f"settings file {path}: ")
    assert message in str(refused.value)


def test_a_bad_park_wide_reminder_key_is_named_as_written_beside_a_deadline_table(
    tmp_path: Path,
) -> None:
    """The bad value is in [reminders]; a table [reminders.inspection] that does not mention
    the key must not make the message point there."""
    path = settings_file(
        tmp_path,
        "[reminders]\nescalation_steps = 60\n[reminders.inspection]\nremind_days_before = [3]\n",
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert str(refused.value) == (
        f"settings file {path}: reminders.escalation_steps must be a whole number from 0 to 52, "
        f"got 60"
    )


def test_reminder_settings_override_park_wide_and_per_deadline(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        '[reminders]\nsend_at = "09:30"\ndirector = "刘主任"\nescalation_steps = 2\n'
        "remind_days_before = [10, 2]\n"
        "[reminders.inspection]\nremind_days_before = [3]\n"
        '[reminders.member_discovery]\nescalation_steps = 1\n[people]\n"王芳" = "wf@example.org"\n',
    )
    policy = load_settings(path).reminders
    assert (policy.send_at.isoformat(), policy.director) == ("09:30:00", "刘主任")
    assert policy.addresses == {"王芳": "wf@example.org"}
    assert policy.of(INSPECTION).remind_days_before == (3,)
    assert policy.of(GROWTH).remind_days_before == (10, 2)
    assert policy.of(INSPECTION).escalation_steps == 2
    # member_discovery keeps its clock's recipient, the instructor, beside the override
    assert reminds_instructor(MEMBERS, policy) and not reminds_instructor(GROWTH, policy)
    assert policy.of(MEMBERS).escalation_steps == 1
    assert policy.of(MEMBERS).remind_days_before == (10, 2)
    assert [s.name for s in policy.steps(INSPECTION, day("2014-01-02"), day("2014-01-16"))] == [
        "remind-3",
        "escalate-1",
        "escalate-2",
    ]
    defaults = load_settings().reminders
    assert defaults.of(INSPECTION).remind_days_before == (30, 7, 1)
    assert (defaults.director, defaults.send_at.isoformat()) == (DIRECTOR, "08:00:00")


def test_a_scan_follows_the_settings_time_director_and_offsets(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        '[reminders]\nsend_at = "09:30"\ndirector = "刘主任"\n'
        "[reminders.growth_review]\nremind_days_before = [3]\nescalation_steps = 1\n",
    )
    clock = FixedClock(local("2014-01-02 09:00"))
    system = bootstrap(f"sqlite:///{tmp_path / 'own.sqlite3'}", settings_path=path, clock=clock)
    try:
        park = MovingPark(system, clock)
        park.enter("爱心志愿者协会", "M-01")  # growth review due Thursday 07-10
        assert park.scan("2014-07-07 09:29") == []
        assert park.scan("2014-07-07 09:30") == [remind(GROWTH, "2014-07-10", "remind-3", "李娜")]
        assert park.scan("2014-07-11 09:29") == []
        assert park.scan("2014-07-11 09:30") == [
            ("DeadlineEscalated", GROWTH, "2014-07-10", "escalate-1", "刘主任")
        ]
        assert park.scan("2014-08-30 09:30") == []  # one escalation only
    finally:
        system.close_all()


def test_a_send_at_written_as_a_toml_time_sets_when_a_scan_records(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[reminders]\nsend_at = 09:30:00\n")  # a TOML local time
    assert load_settings(path).reminders.send_at == time(9, 30)
    clock = FixedClock(local("2014-01-02 09:00"))
    system = bootstrap(f"sqlite:///{tmp_path / 'own.sqlite3'}", settings_path=path, clock=clock)
    try:
        park = MovingPark(system, clock)
        park.enter("爱心志愿者协会", "M-01")  # growth review due Thursday 07-10
        assert park.scan("2014-06-10 09:29") == []
        assert park.scan("2014-06-10 09:30") == [remind(GROWTH, "2014-07-10", "remind-30", "李娜")]
        assert park.scan("2014-07-03 09:29") == []
        assert park.scan("2014-07-03 09:30") == [remind(GROWTH, "2014-07-10", "remind-7", "李娜")]
    finally:
        system.close_all()


def test_a_deadline_set_to_go_to_the_instructor_reaches_the_instructor(tmp_path: Path) -> None:
    """[reminders.growth_review] recipient = "instructor": the party-building instructor, when
    one is assigned, receives the growth review's reminders (the inbox and preview say so)."""
    path = settings_file(tmp_path, '[reminders.growth_review]\nrecipient = "instructor"\n')
    clock = FixedClock(local("2014-01-02 09:00"))
    system = bootstrap(f"sqlite:///{tmp_path / 'own.sqlite3'}", settings_path=path, clock=clock)
    try:
        park = MovingPark(system, clock)
        case_id = park.enter("爱心志愿者协会", "M-01")  # caseworker 李娜
        system.party.assign_instructor(case_id, who("2014-02-10"), "张军")
        park.move("2014-06-09 09:00")
        [coming] = system.reminders.preview(2)
        assert (coming["kind"], coming["step"], coming["to"]) == (GROWTH, "remind-30", "张军")
        got = park.scan("2014-06-10 08:00")
        assert park.inbox("2014-06-10") == [("张军", "爱心志愿者协会", GROWTH, "due")]
        assert got == [remind(GROWTH, "2014-07-10", "remind-30", "张军")]
    finally:
        system.close_all()


# ---- 10. history -----------------------------------------------------------------------------


def test_a_cases_history_shows_its_reminders_and_escalations_by_the_system(
    park: MovingPark,
) -> None:
    system = park.system
    case_id = park.enter("爱心志愿者协会", "M-01")
    for moment in ("2014-06-10 08:00", "2014-07-03 08:00", "2014-07-09 08:00", "2014-07-11 08:00"):
        assert len(park.scan(moment)) == 1
    park.move("2014-07-14 12:00")
    system.service.record_growth_review(case_id, who("2014-07-14"), ["王芳=75"])
    system.read_models.catch_up()

    reminder_ids = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(case_id))]
    assert len(reminder_ids) == 4
    events = history(system.log, case_id, reminder_ids)
    assert [e["type"] for e in events][-6:] == [
        "CaseworkerAssigned",
        "ReminderIssued",
        "ReminderIssued",
        "ReminderIssued",
        "DeadlineEscalated",
        "GrowthReviewRecorded",
    ]
    reminders = [e for e in events if "of" in e]
    assert [
        (e["actor"], e["on"], e["data"]["step"], e["data"]["recipient"]) for e in reminders
    ] == [
        ("system", "2014-06-10", "remind-30", "李娜"),
        ("system", "2014-07-03", "remind-7", "李娜"),
        ("system", "2014-07-09", "remind-1", "李娜"),
        ("system", "2014-07-11", "escalate-1", DIRECTOR),
    ]
    for entry in reminders:
        assert entry["of"]["aggregate"] == "reminder"
        assert UUID(entry["of"]["id"]) in reminder_ids
        assert (entry["data"]["kind"], entry["data"]["due_on"]) == (GROWTH, day("2014-07-10"))
        assert entry["data"]["case_id"] == case_id
    assert {e["actor"] for e in events if "of" not in e} == {"王芳"}
    assert [e["recorded_at"] for e in events] == sorted(e["recorded_at"] for e in events)


# ---- 11. the due-dates read model agrees with the domain ------------------------------------


def test_the_due_dates_read_model_holds_exactly_the_pending_deadlines_of_every_case(
    incubator: Incubator,
) -> None:
    system = incubator
    service, party = system.service, system.party

    cases: list[UUID] = []

    def case(name: str, to: str | None = None, workspace: str = "M-01") -> UUID:
        case_id = new_case(service, name=name)
        if to is not None:
            drive(service, case_id, to, workspace)
        cases.append(case_id)
        return case_id

    case("申请中")
    case("考察中", "inspecting")
    case("待评估", "entry_review")
    declined = case("未通过", "entry_review")
    service.evaluate_entry(declined, who("2014-02-10"), PANEL_FAIL)
    again = case("再次提交", "entry_review")
    service.evaluate_entry(again, who("2014-02-10"), PANEL_FAIL)
    service.resume_coaching(again, who("2014-02-12"))
    service.submit_for_entry(again, who("2014-02-20"))
    case("孵化中", "incubating", "M-01")
    counted = case("已摸排", "incubating", "M-02")
    party.record_inspection(counted, who("2014-02-12"))
    party.count_members(counted, who("2014-02-12"), formal=1)
    corrected = case("更正入壳日期", "incubating", "M-03")
    service.correct_entry_date(corrected, who("2014-03-01", reason="协议日期"), day("2014-02-01"))
    case("已成长评估", "reviewed", "M-04")
    case("后续服务", "follow_up", "M-05")
    case("已结案", "closed", "M-06")
    withdrawn = case("已退出", "incubating", "M-07")
    service.withdraw(withdrawn, who("2014-04-01", reason="负责人离职"))
    terminated = case("已终止", "incubating", "M-08")
    service.terminate(terminated, who("2014-05-01", reason="停止活动"))
    failed = case("出壳未通过", "reviewed", "M-09")
    service.evaluate_exit(failed, who("2014-12-10"), PANEL_FAIL)
    rejected = case("不予受理")
    service.reject(rejected, who("2014-01-05", reason="不符合条件"))
    resident = new_resident(service)
    service.admit(resident, who("2014-01-10"), "B-01")
    departed = new_resident(service, name="已迁出")
    service.admit(departed, who("2014-01-10"), "B-02")
    service.depart(departed, who("2014-06-10", reason="迁出"))
    cases += [resident, departed]

    today = day("2026-11-22")
    expected: list[tuple[str, str, str]] = []
    for case_id in cases:
        found = service.case(case_id)
        track = service.party_track(found)
        expected += [
            (str(found.id), d.kind, d.due_on.isoformat())
            for d in deadlines_of(found, system.park.rules, today, track)
            if d.is_pending
        ]
    assert len({e[0] for e in expected}) == 9  # the cases with something pending
    expected.sort()
    assert due_rows(system) == expected
    assert system.reminders.scan() != []  # every step has come by 2026 ...
    assert due_rows(system) == expected  # ... and reminders change no due date
    system.read_models.rebuild(["due_dates"])
    assert due_rows(system) == expected
    assert system.reminders.scan() == []
    system.read_models.rebuild()
    assert due_rows(system) == expected


# ---- 12. the clock ---------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [timezone(timedelta(hours=8)), SHANGHAI], ids=["+08:00", "zone"])
def test_a_fixed_clock_gives_its_moment_as_the_same_instant_in_utc(zone: Any) -> None:
    at = datetime(2014, 6, 10, 8, 0, tzinfo=zone)  # 08:00 in Shanghai
    now = FixedClock(at).now()
    assert now == at  # the same instant ...
    assert now.utcoffset() == timedelta(0)  # ... told in UTC
    assert (now.date(), now.hour, now.minute) == (day("2014-06-10"), 0, 0)
    assert now.isoformat() == "2014-06-10T00:00:00+00:00"


def test_the_due_deadlines_are_read_a_page_at_a_time_without_losing_or_repeating_one(
    any_park: MovingPark,
) -> None:
    """Pages end on (next step's time, case, deadline); rows with the same time across a page
    boundary are neither skipped nor read twice, and a scan over small pages records the same."""
    park = any_park
    for n in range(5):
        park.enter(f"社会组织{n}", f"M-0{n + 1}", count_members=n % 2 == 0)
    until = park.move("2014-07-26 09:00")
    park.system.read_models.catch_up()
    whole = [(r["case_id"], r["kind"]) for r in park.system.read_models.coming(until)]
    assert len(whole) == 7  # five growth reviews, two member discoveries
    for page in (1, 2, 3, 6, 7):
        paged = park.system.read_models.coming(until, page=page)
        assert [(r["case_id"], r["kind"]) for r in paged] == whole, page


def test_a_cases_reminders_are_read_in_one_statement_from_the_generation_that_serves(
    any_park: MovingPark,
) -> None:
    """`reminders_of` asks the registry in the statement that reads the rows: the same rows as
    a read that asks it first, and after a rebuild the new generation's, not the dropped one's."""
    case_id = any_park.enter("阳光助残服务队", "M-01")
    any_park.scan("2014-12-20 09:00")
    models = any_park.system.read_models
    models.catch_up()

    first = models.reminders_of(str(case_id))
    again = models.reminders_of(str(case_id))  # on the generation the first read saw served
    asked_first = models.read(
        outbox.projection,
        lambda c, t: [
            dict(r._mapping) for r in c.execute(outbox.of_case(t), {"case_id": str(case_id)})
        ],
    )
    assert len(first) > 3
    assert again == first == asked_first
    assert [list(r) for r in again] == [list(r) for r in asked_first]  # the same columns, in order
    assert models.reminders_of(str(uuid4())) == []

    models.rebuild(["outbox"])  # a new generation serves; the one read before is dropped
    assert models.reminders_of(str(case_id)) == first
