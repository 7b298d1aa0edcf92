"""The calendar the deadlines count with: years from the settings file, the Civil Code's rule for
a period ending on a day off, the read model rebuilt when either changes, and the warning that
next year is unknown.

The 2027 calendars here are made up for the tests (the State Council's notice for 2027 was not
to be found when this was written); every other date is China's official calendar, worked out
by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from commands.bootstrap import Incubator, bootstrap
from commands.settings import SettingsError, default_text, load_settings
from lifecycle.deadlines import deadlines_of
from schedules.clock import FixedClock
from tests.builders import PANEL_PASS
from tests.conftest import who
from tests.test_cli import Shell

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A made-up notice for 2027: Monday 06-14 off, Saturday 06-12 worked in lieu.
TEST_2027 = '[calendar.2027]\nholidays = [2027-06-14]\nworkdays = ["2027-06-12"]\n'


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=SHANGHAI).astimezone(UTC)


def day(text: str) -> date:
    return date.fromisoformat(text)


def settings(tmp_path: Path, text: str, name: str = "park.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[list[Incubator]]:
    systems: list[Incubator] = []
    yield systems
    for system in systems:
        system.close_all()


def open_system(
    opened: list[Incubator], url: str, path: Path | None, at: str
) -> tuple[Incubator, FixedClock]:
    clock = FixedClock(local(at))
    system = bootstrap(url, settings_path=path, clock=clock)
    opened.append(system)
    return system, clock


def apply(system: Incubator, on: str, name: str = "爱心志愿者协会") -> UUID:
    case = system.service.apply(
        who(on),
        name=name,
        field="公益慈善",
        legal_status="filed",
        track="incubation",
        site="main",
    )
    return UUID(str(case.id))


def coming(system: Incubator, now: str, days: int = 14) -> list[tuple[str, str, str]]:
    """(deadline, step, local day it goes out) of what is coming."""
    return [
        (c["kind"], c["step"], c["at"][:10])
        for c in system.reminders.preview(days, datetime.fromisoformat(now))
    ]


# ---- a year from the settings file --------------------------------------------------------


def test_a_holiday_of_2027_from_the_settings_moves_a_reminder(
    tmp_path: Path, opened: list[Incubator]
) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    bare, _ = open_system(opened, url, None, "2027-06-01 09:00")
    case_id = apply(bare, "2027-06-01")  # the inspection is due Tuesday 06-15
    # chinese-calendar 1.11 knows nothing of 2027: weekends only, remind-1 on Monday 06-14
    assert coming(bare, "2027-06-01T09:00") == [
        ("inspection", "remind-7", "2027-06-08"),
        ("inspection", "remind-1", "2027-06-14"),
    ]
    bare.close_all()

    # The notice in the settings wins: Monday 06-14 is off, Saturday 06-12 worked
    path = settings(tmp_path, TEST_2027)
    told, _ = open_system(opened, url, path, "2027-06-01 09:00")
    assert coming(told, "2027-06-01T09:00") == [
        ("inspection", "remind-7", "2027-06-08"),
        ("inspection", "remind-1", "2027-06-12"),
    ]
    # the case's own deadline counts with the same calendar
    [inspection] = deadlines_of(told.service.case(case_id), told.park.rules, day("2027-06-01"))
    assert inspection.due_on == day("2027-06-15")


def test_the_settings_year_wins_over_the_package(tmp_path: Path) -> None:
    """A year the package knows can be given too (a corrected notice): the settings win."""
    park = load_settings(settings(tmp_path, '[calendar.2026]\nholidays = ["2026-03-02"]\n'))
    days = park.reminders.days
    assert days.is_working(day("2026-03-02")) is False  # a Monday, made a day off
    assert days.is_working(day("2026-10-05")) is True  # National Day, not in this notice
    assert park.rules.calendar is days  # the deadlines and the reminders count alike


def test_the_example_in_the_default_settings_is_the_2026_notice() -> None:
    """The commented example of defaults.toml, uncommented, says what chinese-calendar says of
    every day of 2026."""
    lines = default_text().splitlines()
    start = lines.index("# [calendar.2026]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    import tomllib

    park_2026 = tomllib.loads("\n".join(block))["calendar"]["2026"]
    from commands.settings import _calendar

    [(year, notice)] = _calendar({"2026": park_2026}).items()
    assert year == 2026
    every_day = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    differ = [d for d in every_day if notice.is_working(d) != chinese_calendar.is_workday(d)]
    assert differ == []


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[calendar.27]\nholidays = ["2027-01-01"]\n', "a year of four digits"),
        ('[calendar.2027]\nholidays = ["2028-01-01"]\n', "2028-01-01 is not in 2027"),
        ('[calendar.2027]\nholidays = ["2027-13-01"]\n', "a list of dates like 2027-01-01"),
        ("[calendar.2027]\nholidays = 2027-01-01\n", "a list of dates"),
        ('[calendar.2027]\nworkdays = ["2027-06-15"]\n', "2027-06-15, which is not a Saturday"),
        (
            '[calendar.2027]\nholidays = ["2027-06-12"]\nworkdays = ["2027-06-12"]\n',
            "both a holiday and a workday",
        ),
        ('[calendar.2027]\nholiday = ["2027-06-14"]\n', r"unknown key\(s\) in \[calendar.2027\]"),
        ("[periods]\nends_on_working_day = 1\n", "must be true or false"),
    ],
)
def test_a_wrong_calendar_in_the_settings_is_a_clear_error(
    tmp_path: Path, text: str, match: str
) -> None:
    with pytest.raises(SettingsError, match=match):
        load_settings(settings(tmp_path, text))


# ---- the Civil Code's rule: a period ending on a day off ends on the next working day ---------


def drive_to_follow_up(system: Incubator, clock: FixedClock, exit_on: str) -> UUID:
    service = system.service
    case_id = apply(system, "2014-01-02")
    service.start_inspection(case_id, who("2014-01-08"))
    service.submit_for_entry(case_id, who("2014-01-20"))
    service.evaluate_entry(case_id, who("2014-02-19"), PANEL_PASS, "M-01")
    system.party.record_inspection(case_id, who("2014-02-19"))
    system.party.count_members(case_id, who("2014-02-19"), formal=3)
    service.record_growth_review(case_id, who("2014-07-18"), ["王芳=75"])
    service.evaluate_exit(case_id, who(exit_on), PANEL_PASS)
    return case_id


def test_a_follow_up_year_ending_on_a_saturday_ends_on_monday(
    tmp_path: Path, opened: list[Incubator]
) -> None:
    system, clock = open_system(
        opened, f"sqlite:///{tmp_path / 'a.sqlite3'}", None, "2014-12-19 12:00"
    )
    case_id = drive_to_follow_up(system, clock, "2014-12-19")
    # exit Friday 2014-12-19: the year's last day is Saturday 2015-12-19; the period ends on
    # Monday 12-21, and the escalation waits for Tuesday 12-22 (before: Monday 12-21, the first
    # day anyone could close the case)
    follow_up = [
        d
        for d in deadlines_of(system.service.case(case_id), system.park.rules, day("2015-12-21"))
        if d.kind == "follow_up_end"
    ]
    assert [(d.due_on, d.status) for d in follow_up] == [(day("2015-12-21"), "pending")]
    system.read_models.catch_up()
    assert [(r["kind"], r["due_on"]) for r in system.read_models.due()] == [
        ("follow_up_end", day("2015-12-21"))
    ]
    steps = system.park.reminders.steps("follow_up_end", day("2014-12-19"), day("2015-12-21"))
    assert [(s.name, s.day.isoformat()) for s in steps][:4] == [
        ("remind-30", "2015-11-20"),  # Saturday 11-21: Friday
        ("remind-7", "2015-12-14"),
        ("remind-1", "2015-12-18"),  # Sunday 12-20: Friday
        ("escalate-1", "2015-12-22"),
    ]
    clock.at = local("2015-12-21 09:00")
    recorded = system.reminders.scan()
    assert [r["step"] for r in recorded] == ["remind-30", "remind-7", "remind-1"]  # no escalation
    system.service.close_case(case_id, who("2015-12-21"))  # the year has passed: no reason
    [done] = [
        d
        for d in deadlines_of(system.service.case(case_id), system.park.rules, day("2015-12-22"))
        if d.kind == "follow_up_end"
    ]
    assert (done.status, done.met_on, done.due_on) == ("done", day("2015-12-21"), done.met_on)
    clock.at = local("2015-12-22 09:00")
    assert system.reminders.scan() == []


@pytest.mark.parametrize(
    ("applied", "due", "escalated"),
    [
        # 14 days end on Saturday 2014-07-19: Monday 07-21
        ("2014-07-05", "2014-07-21", "2014-07-22"),
        # in the National Day week of 2025 (10-01 to 10-08 off): Friday 10-03 → Thursday 10-09
        ("2025-09-19", "2025-10-09", "2025-10-10"),
        # Sunday 2025-09-28 was a working day (调休上班): the period ends on it
        ("2025-09-14", "2025-09-28", "2025-09-29"),
        # Saturday 2025-10-11 too: the period ends on it (its escalation, Sunday: Monday)
        ("2025-09-27", "2025-10-11", "2025-10-13"),
    ],
)
def test_the_inspection_clock_ends_on_the_next_working_day(
    tmp_path: Path, opened: list[Incubator], applied: str, due: str, escalated: str
) -> None:
    system, _ = open_system(opened, f"sqlite:///{tmp_path / 'a.sqlite3'}", None, f"{applied} 12:00")
    case_id = apply(system, applied)
    [inspection] = deadlines_of(system.service.case(case_id), system.park.rules, day(applied))
    assert inspection.due_on == day(due)
    system.read_models.catch_up()
    [row] = system.read_models.due()
    assert row["due_on"] == day(due)
    steps = system.park.reminders.steps("inspection", day(applied), day(due))
    assert next(s.day for s in steps if s.name == "escalate-1") == day(escalated)


def test_without_the_rule_a_period_ends_on_its_last_day(tmp_path: Path) -> None:
    park = load_settings(settings(tmp_path, "[periods]\nends_on_working_day = false\n"))
    from lifecycle.deadlines import BY_KIND

    assert BY_KIND["inspection"].due(park.rules, day("2014-07-05")) == day("2014-07-19")


# ---- the read model rebuilds itself when what it was built with changes ---------------------


def test_a_changed_calendar_or_period_rebuilds_the_due_dates_by_itself(
    database_url: str, tmp_path: Path, opened: list[Incubator]
) -> None:
    first, _ = open_system(opened, database_url, None, "2027-06-01 09:00")
    apply(first, "2027-06-01")
    first.read_models.catch_up()
    version = _version(first, "due_dates")
    assert [r["due_on"] for r in first.read_models.due()] == [day("2027-06-15")]
    others = {r["name"]: r["version"] for r in first.read_models.status()}
    first.close_all()

    # the same settings again: nothing to rebuild
    again, _ = open_system(opened, database_url, None, "2027-06-01 09:00")
    assert again.read_models.stale() == []
    again.close_all()

    # the notice of 2027 in the settings: the due dates rebuild on the next catch-up
    told, _ = open_system(opened, database_url, settings(tmp_path, TEST_2027), "2027-06-01 10:00")
    assert [p.name for p in told.read_models.stale()] == ["due_dates"]
    told.read_models.catch_up()
    assert told.read_models.stale() == []
    assert _version(told, "due_dates") != version
    assert [r["due_on"] for r in told.read_models.due()] == [day("2027-06-15")]
    [remind_1] = [c for c in told.reminders.preview(30) if c["step"] == "remind-1"]
    assert remind_1["at"].startswith("2027-06-12")  # from the rebuilt row
    # the other read models do not depend on the calendar: untouched
    assert {
        r["name"]: r["version"] for r in told.read_models.status() if r["name"] != "due_dates"
    } == {k: v for k, v in others.items() if k != "due_dates"}
    told.close_all()

    # a shorter inspection period: rebuilt again, the due date moves
    text = TEST_2027 + "[periods]\ninspection_days = 10\n"
    shorter, _ = open_system(opened, database_url, settings(tmp_path, text), "2027-06-01 11:00")
    shorter.read_models.catch_up()
    assert [r["due_on"] for r in shorter.read_models.due()] == [day("2027-06-11")]


def _version(system: Incubator, name: str) -> int:
    return next(int(r["version"]) for r in system.read_models.status() if r["name"] == name)


# ---- the command line warns a month ahead ---------------------------------------------------


@pytest.mark.slow
def test_the_command_line_warns_from_december_that_next_year_is_unknown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rehearsal.sqlite3'}"
    december = Shell(url, INCUBATOR_NOW="2026-12-07T09:00+08:00")
    said = december.run("reminders", "preview").stderr
    assert "warning: the official holidays of 2027 are not known" in said
    assert "[calendar.2027]" in said and re.search(r"chinese-calendar \S+ knows", said)
    assert "warning" in december.run("report", "due").stderr
    assert "warning" in december.run("inbox").stderr
    # not on the commands of a caseworker's day
    assert "warning" not in december.run("org", "list").stderr

    told = settings(tmp_path, TEST_2027)
    assert december.run("--settings", str(told), "reminders", "preview").stderr == ""

    november = Shell(
        f"sqlite:///{tmp_path / 'november.sqlite3'}", INCUBATOR_NOW="2026-11-20T09:00+08:00"
    )
    assert november.run("reminders", "preview").stderr == ""


@pytest.mark.parametrize(("exit_on", "late"), [("2014-12-15", False), ("2014-12-16", True)])
def test_an_exit_on_the_monday_after_a_saturday_due_date_is_on_time(
    exit_on: str, late: bool
) -> None:
    from commands import messages as m
    from tests.given import PASS, Scenario

    s = Scenario()
    s.applied()
    s.given(m.StartInspection, on="2014-01-08")
    s.given(m.SubmitForEntry, on="2014-01-20")
    # entered 2014-02-13: the ten months end on Saturday 12-13; the exit is due Monday 12-15
    s.given(m.EvaluateEntry, on="2014-02-13", scores=PASS, workspace="M-01")
    s.given(m.RecordGrowthReview, on="2014-07-10", scores=["王芳=75"])
    event = s.when(m.EvaluateExit, on=exit_on, scores=PASS).one("ExitApproved")
    assert event.late is late
