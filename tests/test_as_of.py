"""What was true, and what was known, at a date: a case whose entry date was corrected after
the fact, checked against expectations built by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from commands.as_of import case_as_of, caseload_as_of
from commands.bootstrap import Incubator, bootstrap
from schedules.clock import FixedClock
from tests.builders import PANEL_PASS, new_case
from tests.conftest import who
from tests.test_cli import Shell

# When each step was written (UTC): the correction of the entry date came on 2014-03-01.
WRITTEN = {
    "applied": datetime(2014, 1, 2, 2, 0, tzinfo=UTC),
    "inspection": datetime(2014, 1, 8, 2, 0, tzinfo=UTC),
    "submitted": datetime(2014, 1, 20, 2, 0, tzinfo=UTC),
    "entered": datetime(2014, 2, 10, 2, 0, tzinfo=UTC),
    "corrected": datetime(2014, 3, 1, 2, 0, tzinfo=UTC),
    "reviewed": datetime(2014, 7, 10, 2, 0, tzinfo=UTC),
}


@pytest.fixture
def corrected(any_incubator: Incubator, clock: FixedClock) -> tuple[Incubator, UUID]:
    """Applied 2014-01-02, inspected 01-08, submitted 01-20, entered 02-10 (M-01), the entry
    date corrected on 03-01 to 01-31, a growth review on 07-10; each written on its day."""
    system, service = any_incubator, any_incubator.service
    clock.at = WRITTEN["applied"]
    case_id = new_case(service)
    clock.at = WRITTEN["inspection"]
    service.start_inspection(case_id, who("2014-01-08"))
    clock.at = WRITTEN["submitted"]
    service.submit_for_entry(case_id, who("2014-01-20"))
    clock.at = WRITTEN["entered"]
    service.evaluate_entry(case_id, who("2014-02-10"), PANEL_PASS, "M-01")
    clock.at = WRITTEN["corrected"]
    service.correct_entry_date(case_id, who("2014-03-01", reason="协议日期"), date(2014, 1, 31))
    clock.at = WRITTEN["reviewed"]
    service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"])
    return system, case_id


@pytest.mark.parametrize(
    ("as_of", "stage", "entered_on", "workspace", "reviews"),
    [
        ("2014-01-01", None, None, None, 0),  # not yet applied
        ("2014-01-05", "applied", None, None, 0),
        ("2014-01-20", "entry_review", None, None, 0),
        ("2014-01-30", "entry_review", None, None, 0),
        # the corrected entry: in the shell from 01-31, before the day it was recorded (02-10)
        ("2014-01-31", "incubating", "2014-01-31", "M-01", 0),
        ("2014-02-05", "incubating", "2014-01-31", "M-01", 0),
        ("2014-07-09", "incubating", "2014-01-31", "M-01", 0),
        ("2014-07-10", "incubating", "2014-01-31", "M-01", 1),
    ],
)
def test_as_of_a_day_with_what_is_known_now(
    corrected: tuple[Incubator, UUID],
    as_of: str,
    stage: str | None,
    entered_on: str | None,
    workspace: str | None,
    reviews: int,
) -> None:
    system, case_id = corrected
    case, track = case_as_of(system.log, case_id, date.fromisoformat(as_of), None)
    if stage is None:
        assert case is None and track is None
        return
    assert case is not None
    assert (case.stage, case.workspace, len(case.growth_reviews)) == (stage, workspace, reviews)
    assert case.entered_on == (date.fromisoformat(entered_on) if entered_on else None)
    # the party track started with the entry, and its start was corrected with it
    assert (track.started_on if track else None) == case.entered_on


def test_as_known_at_a_moment_leaves_out_what_was_recorded_later(
    corrected: tuple[Incubator, UUID],
) -> None:
    system, case_id = corrected
    before_correction = datetime(2014, 2, 20, tzinfo=UTC)
    case, track = case_as_of(system.log, case_id, None, before_correction)
    assert case is not None and track is not None
    assert (case.stage, case.entered_on) == ("incubating", date(2014, 2, 10))
    assert track.started_on == date(2014, 2, 10)
    # what was known on 02-20 about 02-05: not yet in the shell (the entry was dated 02-10)
    then, _ = case_as_of(system.log, case_id, date(2014, 2, 5), before_correction)
    assert then is not None and then.stage == "entry_review"
    # once the correction is recorded, the same day reads differently
    after, _ = case_as_of(system.log, case_id, date(2014, 2, 5), WRITTEN["corrected"])
    assert after is not None and (after.stage, after.entered_on) == (
        "incubating",
        date(2014, 1, 31),
    )
    assert case_as_of(system.log, case_id, None, datetime(2014, 1, 1, tzinfo=UTC)) == (None, None)


def test_the_caseload_as_of_a_day_is_computed_from_the_log(
    corrected: tuple[Incubator, UUID],
) -> None:
    system, _ = corrected
    system.service.apply(
        who("2014-02-03"),
        name="青年书法社",
        field="文化体育",
        legal_status="filed",
        track="incubation",
        site="main",
    )
    rows = caseload_as_of(system.log, date(2014, 2, 5))
    assert [(r["name"], r["stage"], r["entered_on"]) for r in rows] == [
        ("爱心志愿者协会", "incubating", date(2014, 1, 31)),
        ("青年书法社", "applied", None),
    ]
    assert [r["name"] for r in caseload_as_of(system.log, date(2014, 2, 1))] == ["爱心志愿者协会"]
    known = caseload_as_of(system.log, date(2014, 2, 5), datetime(2014, 2, 20, tzinfo=UTC))
    assert [(r["name"], r["stage"]) for r in known] == [("爱心志愿者协会", "entry_review")]


def test_org_show_and_list_as_of_through_the_command_line(sqlite_url: str) -> None:
    clock = FixedClock(WRITTEN["applied"])
    system = bootstrap(sqlite_url, clock=clock)
    try:
        case_id = new_case(system.service)
        clock.at = WRITTEN["inspection"]
        system.service.start_inspection(case_id, who("2014-01-08"))
    finally:
        system.close_all()
    sh = Shell(sqlite_url)
    shown = sh.json("org", "show", str(case_id), "--as-of", "2014-01-05")
    assert (shown["stage"], shown["as_of"]) == ("applied", "2014-01-05")
    assert "allowed_commands" not in shown
    error = sh.refused("org", "show", str(case_id), "--as-of", "2013-12-31")
    assert "had not applied on 2013-12-31" in error
    listed = sh.json("org", "list", "--as-of", "2014-01-05")
    assert [(r["name"], r["stage"]) for r in listed] == [("爱心志愿者协会", "applied")]
    assert sh.json("org", "list", "--as-of", "2014-01-08")[0]["stage"] == "inspecting"
    known = sh.json("org", "show", str(case_id), "--as-known-on", "2014-01-02T12:00")
    assert known["stage"] == "applied"
    assert known["known_on"] == "2014-01-02T12:00:00+08:00"
    assert sh.json("org", "show", str(case_id), "--as-known-on", "2014-01-08T12:00")["stage"] == (
        "inspecting"
    )
