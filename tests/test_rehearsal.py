"""A fixed clock (INCUBATOR_NOW) only on a database created for a rehearsal or a demonstration
(#20): elsewhere a caseworker could backdate when a step was written, or date one in 2099 and
have every real step of the case refused for good."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.as_of import case_as_of, caseload_as_of
from commands.bootstrap import bootstrap
from commands.settings import SettingsError
from schedules.clock import FixedClock, SystemClock
from store.purpose import DatabasePurpose, PurposeError, purpose_of
from tests.builders import ENTRY_ON, PANEL_PASS, drive, new_case
from tests.conftest import NOW, who
from tests.test_cli import Shell

APPLY = [
    "org", "apply", "--name", "爱心志愿者协会", "--field", "公益慈善", "--legal-status",
    "registered", "--track", "incubation", "--site", "main", "--on", "2014-01-06",
]  # fmt: skip
LATE = "2099-12-01T09:00+08:00"


def count_events(database_url: str) -> int:
    system = bootstrap(database_url, clock=SystemClock())
    try:
        return system.log.recorder.max_notification_id() or 0
    finally:
        system.close_all()


def test_a_fixed_clock_is_refused_on_a_database_for_real_work(database_url: str) -> None:
    real = Shell(database_url)
    org = real.run(*APPLY).stdout.strip()
    written = count_events(database_url)
    fixed = Shell(database_url)
    fixed.env["INCUBATOR_NOW"] = LATE
    for command in (["org", "start-inspection", org, "--on", "2099-11-01"], ["org", "list"]):
        error = fixed.refused(*command, code=4)
        assert error.startswith("incubator: INCUBATOR_NOW fixes the clock"), error
        assert "init --rehearsal" in error
    assert count_events(database_url) == written  # nothing recorded
    real.run("org", "start-inspection", org, "--on", "2014-01-08")  # the case goes on
    assert [e["rehearsal"] for e in real.events(org)] == [False, False]
    # nor can it become a rehearsal's database now
    error = real.refused("init", "--rehearsal", code=1)
    assert "holds events already" in error


def test_a_new_empty_database_is_for_real_work_unless_created_for_a_rehearsal(
    sqlite_url: str,
) -> None:
    fixed = Shell(sqlite_url)
    fixed.env["INCUBATOR_NOW"] = LATE
    assert "INCUBATOR_NOW fixes the clock" in fixed.refused(*APPLY, code=4)
    assert count_events(sqlite_url) == 0


def test_on_a_rehearsal_database_the_clock_is_fixed_and_every_event_says_so(
    database_url: str,
) -> None:
    sh = Shell(database_url, INCUBATOR_NOW="2026-11-29T20:00+08:00")  # init --rehearsal first
    assert "created for: a rehearsal" in sh.run("init").stdout
    org = sh.run(*APPLY[:-1], "2026-11-01").stdout.strip()
    sh.run("org", "assign", org, "--caseworker", "王芳", "--on", "2026-11-02")
    sh.run("reminders", "scan")  # the inspection was due on 11-15: reminded, escalated
    history = sh.events(org)
    assert len(history) > 2 and all(e["rehearsal"] for e in history), history
    assert {e["recorded_at"] for e in history} == {"2026-11-29T12:00:00+00:00"}
    assert "rehearsal clock" in sh.run("org", "history", org).stdout


def test_a_mark_appended_to_a_log_of_real_work_makes_no_rehearsal(sqlite_url: str) -> None:
    system = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        new_case(system.service)
        with pytest.raises(PurposeError, match="holds events already"):
            bootstrap(sqlite_url, create_for="rehearsal")
        forged = DatabasePurpose._create(
            DatabasePurpose.Marked, id=DatabasePurpose.ID, timestamp=NOW, purpose="rehearsal"
        )
        system.log.save(forged)  # past the check, as an intruder with the library would
        assert purpose_of(system.log) is None  # the first event is real work
    finally:
        system.close_all()


def test_a_demonstration_database_takes_a_fixed_clock(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCUBATOR_NOW", "2026-11-29T20:00+08:00")
    with pytest.raises(SettingsError, match="INCUBATOR_NOW fixes the clock"):
        bootstrap(sqlite_url)
    system = bootstrap(sqlite_url, create_for="demonstration")
    try:
        assert system.purpose == "demonstration" and system.clock.fixed
        case_id = new_case(system.service)
        [event] = system.log.events.get(case_id)
        assert getattr(event, "rehearsal", None) is True
        assert getattr(event, "timestamp", None) == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    finally:
        system.close_all()
    again = bootstrap(sqlite_url)  # the mark stays: the fixed clock is still honoured
    try:
        assert again.purpose == "demonstration"
    finally:
        again.close_all()


def test_what_was_known_stops_at_the_first_step_written_later(sqlite_url: str) -> None:
    """A rehearsal's clock may put a step's writing after the next one's: what was known at a
    moment is the case up to the first step written later, not a case with a hole in it."""
    later = FixedClock(datetime(2099, 12, 1, 1, 0, tzinfo=UTC))
    with_later = bootstrap(sqlite_url, clock=later, create_for="rehearsal")
    try:
        case_id = new_case(with_later.service)
        drive(with_later.service, case_id, "entry_review")
    finally:
        with_later.close_all()
    system = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        with_later_entry = bootstrap(
            sqlite_url, clock=FixedClock(datetime(2099, 12, 2, tzinfo=UTC))
        )
        try:
            with_later_entry.service.evaluate_entry(  # written "in 2099"
                case_id, who(ENTRY_ON), PANEL_PASS, "M-01"
            )
        finally:
            with_later_entry.close_all()
        system.service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"])  # now
        case, _ = case_as_of(system.log, case_id, None, NOW)
        assert case is None  # its first step was written "in 2099": nothing known yet
        case, _ = case_as_of(system.log, case_id, None, datetime(2099, 12, 1, 12, tzinfo=UTC))
        assert case is not None and case.stage == "entry_review"  # not entered; no hole
        assert [r["stage"] for r in caseload_as_of(system.log, None, NOW)] == []
    finally:
        system.close_all()
