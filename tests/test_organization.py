"""Given a case in some stage, when a command message, then these events (or this refusal and
nothing recorded): the organization incubation case through the real dispatcher, on an
in-memory log (tests/given.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from commands import messages as m
from lifecycle.errors import Refused, WrongStage
from lifecycle.organization import OrganizationCase
from lifecycle.park import Rules
from lifecycle.scores import Panel
from lifecycle.workspace import WorkspaceTaken
from tests.conftest import NOW
from tests.given import ENTRY_ON, FAIL, ORG, PASS, Scenario, refused_alone, step

OTHER = "社区服务中心"


def at(stage: str, **more: Any) -> Scenario:
    """A scenario whose case is in `stage` (see Scenario.case_at)."""
    s = Scenario()
    s.case_at(stage, **more)
    return s


# ---- application ---------------------------------------------------------------------------


def test_apply_opens_a_case_in_applied() -> None:
    s = Scenario()
    events = s.when(
        m.Apply,
        name=ORG,
        field="charity",
        legal_status="registered",
        track="incubation",
        site="main",
        on="2014-01-02",
    )
    assert events.names == ["ApplicationReceived"]
    case = s.case()
    assert (case.stage, case.name, case.applied_on) == ("applied", ORG, date(2014, 1, 2))
    assert events[0].timestamp == NOW  # recorded at, from the injected clock


APPLICATION = {
    "name": "x",
    "field": "charity",
    "legal_status": "filed",
    "track": "incubation",
    "site": "main",
}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": "  "}, "--name must be text on one line .* not empty"),
        ({"track": "hatchery"}, "--track must be one of incubation, residency; got 'hatchery'"),
        ({"party_members": -1}, "--party-members must be a whole number from 0 to 10000"),
    ],
)
def test_apply_refuses_bad_input(changes: dict[str, Any], match: str) -> None:
    Scenario().refuses(m.Apply, match, on="2014-01-02", **(APPLICATION | changes))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": "  "}, "needs --name"),
        ({"track": "hatchery"}, "unknown track 'hatchery'; allowed: incubation, residency"),
        ({"party_members": -1}, "--party-members must be a whole number from 0 to 10000"),
    ],
)
def test_the_case_itself_refuses_bad_input_too(changes: dict[str, Any], match: str) -> None:
    """For a caller that does not come through a message."""
    with pytest.raises(Refused, match=match):
        OrganizationCase.apply_for(step("2014-01-02"), **(APPLICATION | changes))


# ---- inspection and coaching ---------------------------------------------------------------


def test_start_inspection_moves_applied_to_inspecting() -> None:
    [event] = at("applied").when(m.StartInspection, on="2014-01-08")
    assert (type(event).__name__, event.stage, event.on) == (
        "InspectionStarted",
        "inspecting",
        date(2014, 1, 8),
    )


def test_a_wrong_stage_is_refused_naming_the_stage_and_what_is_allowed() -> None:
    refusal = at("inspecting").refuses(
        m.StartInspection,
        "cannot start-inspection: the case is in stage 'inspecting'",
        WrongStage,
        on="2014-01-09",
    )
    assert "record-visit, reject, submit-for-entry, withdraw" in str(refusal)


def test_record_visit_stays_inspecting() -> None:
    s = at("inspecting")
    [event] = s.when(m.RecordVisit, on="2014-01-09", note="走访")
    assert (type(event).__name__, event.note, s.case().stage) == (
        "SiteVisitRecorded",
        "走访",
        "inspecting",
    )


def test_record_visit_needs_a_note_and_the_inspection_stage() -> None:
    s = at("inspecting")
    s.refuses(m.RecordVisit, "--note must be text .* not empty", on="2014-01-09", note=" ")
    refused_alone(
        s.case(), lambda c: c.record_visit(step("2014-01-09"), " "), "record-visit needs --note"
    )
    at("applied").refuses(
        m.RecordVisit, "cannot record-visit", WrongStage, on="2014-01-09", note="x"
    )


@pytest.mark.parametrize("stage", ["applied", "inspecting", "incubating", "follow_up", "resident"])
def test_assign_in_any_open_stage_but_not_twice_to_the_same_person(stage: str) -> None:
    s = at(stage)
    events = s.when(m.Assign, on="2014-12-31", caseworker="李娜")
    assert events.names == ["CaseworkerAssigned"]
    assert s.case().caseworker == "李娜"
    s.refuses(m.Assign, "李娜 is already the caseworker", on="2014-12-31", caseworker="李娜")


def test_submit_for_entry_moves_to_entry_review() -> None:
    [event] = at("inspecting").when(m.SubmitForEntry, on="2014-01-20")
    assert (type(event).__name__, event.stage) == ("SubmittedForEntry", "entry_review")
    at("applied").refuses(m.SubmitForEntry, "cannot submit-for-entry", WrongStage, on="2014-01-20")


# ---- entry evaluation ----------------------------------------------------------------------


def test_a_passing_entry_evaluation_enters_the_shell_and_takes_the_workspace() -> None:
    s = at("entry_review")
    events = s.when(m.EvaluateEntry, on=ENTRY_ON, scores=PASS, workspace="M-01")
    assert events.names == ["EntryApproved", "Registered", "Allocated", "Started"]
    event = events.one("EntryApproved")
    assert (event.stage, event.workspace, event.mean) == ("incubating", "M-01", Decimal("76.67"))
    assert event.scores == {"王芳": 78, "李强": 82, "张敏": 70}
    case, ws = s.case(), s.workspace("M-01")
    assert (case.entered_on, case.workspace) == (date(2014, 2, 10), "M-01")
    assert ws is not None and events.of(ws.id).names == ["Registered", "Allocated"]
    assert ws.holder == case.id


def test_a_failing_entry_evaluation_declines_with_its_scores_as_reason() -> None:
    s = at("entry_review")
    [event] = s.when(m.EvaluateEntry, on=ENTRY_ON, scores=FAIL, workspace="M-01")
    assert (type(event).__name__, event.stage) == ("EntryDeclined", "declined")
    assert event.reason == "mean score 48.33 below the pass mark 60 (王芳 50, 李强 55, 张敏 40)"
    assert s.workspace("M-01") is None and s.case().workspace is None  # not even registered


def test_the_pass_mark_is_reached_at_the_mean_exactly() -> None:
    passed = at("entry_review").when(
        m.EvaluateEntry, on=ENTRY_ON, scores=["a=60", "b=60", "c=60"], workspace="M-02"
    )
    failed = at("entry_review").when(
        m.EvaluateEntry, on=ENTRY_ON, scores=["a=60", "b=60", "c=59.99"]
    )
    assert (passed.names[0], failed.names) == ("EntryApproved", ["EntryDeclined"])
    assert failed[0].reason.startswith("mean score 59.9967 below the pass mark 60")


def test_entry_needs_enough_experts_and_a_workspace_when_it_passes() -> None:
    s = at("entry_review")
    s.refuses(
        m.EvaluateEntry,
        r"at least 3 expert\(s\), got 2",
        on=ENTRY_ON,
        scores=["a=90", "b=90"],
        workspace="M-01",
    )
    s.refuses(
        m.EvaluateEntry,
        "passes .*name a free workspace at site 'main' with --workspace",
        on=ENTRY_ON,
        scores=PASS,
    )


def test_a_held_workspace_is_refused_and_nothing_is_recorded() -> None:
    s = at("incubating")  # holds M-01
    holder = s.case()
    s.case_at("entry_review", OTHER)
    s.refuses(
        m.EvaluateEntry,
        f"workspace 'M-01' at site 'main' is held by {ORG}",
        WorkspaceTaken,
        on="2014-02-11",
        scores=PASS,
        workspace="M-01",
    )
    ws = s.workspace("M-01")
    assert ws is not None and ws.holder == holder.id


def test_a_workspace_is_free_from_the_day_its_holder_left_not_before() -> None:
    """An entry dated before the last holder left would make their stays overlap."""
    s = at("follow_up")  # held M-01 from 2014-02-10, left on 2014-12-10
    newcomer = s.case_at("entry_review", OTHER)
    s.refuses(
        m.EvaluateEntry,
        "workspace 'M-01' at site 'main' was held until 2014-12-10; it can be taken from that "
        "day on, not on 2014-12-09",
        WorkspaceTaken,
        on="2014-12-09",
        scores=PASS,
        workspace="M-01",
    )
    ws = s.workspace("M-01")
    assert ws is not None and ws.holder is None
    s.when(m.EvaluateEntry, on="2014-12-10", scores=PASS, workspace="M-01")
    ws = s.workspace("M-01")
    assert ws is not None and (ws.holder, ws.held_since) == (newcomer, date(2014, 12, 10))


def test_the_configured_pass_mark_and_panel_size_apply() -> None:
    s = Scenario(Rules(pass_mark=Decimal(80), min_experts=2))
    s.case_at("entry_review")
    [event] = s.when(m.EvaluateEntry, on=ENTRY_ON, scores=["a=79", "b=80"])
    assert (type(event).__name__, event.pass_mark) == ("EntryDeclined", Decimal(80))


def test_resume_coaching_leads_back_from_declined() -> None:
    [event] = at("declined").when(m.ResumeCoaching, on="2014-02-20")
    assert (type(event).__name__, event.stage) == ("CoachingResumed", "inspecting")
    at("inspecting").refuses(
        m.ResumeCoaching, "cannot resume-coaching", WrongStage, on="2014-02-20"
    )


# ---- growth and exit -----------------------------------------------------------------------


def test_growth_reviews_stay_incubating_and_need_a_score() -> None:
    s = at("incubating")
    events = s.when(m.RecordGrowthReview, on="2014-07-10", scores=["a=70", "b=81"])
    assert events.names == ["GrowthReviewRecorded", "EvaluationNoted"]  # noted on the track
    assert (events[0].mean, s.case().stage) == (Decimal("75.50"), "incubating")
    s.refuses(
        m.RecordGrowthReview,
        r"a growth review needs scores from at least 1 expert\(s\)",
        on="2014-07-11",
        scores=[],
    )


def test_the_exit_evaluation_needs_a_growth_review_first() -> None:
    at("incubating").refuses(
        m.EvaluateExit,
        "needs at least one growth review first",
        on="2014-12-10",
        scores=PASS,
    )


def test_the_exit_evaluation_opens_30_days_before_the_ten_months_end() -> None:
    # entry 2014-02-10: the in-shell period ends 2014-12-10, the window opens 2014-11-10
    s = at("reviewed")
    s.refuses(
        m.EvaluateExit,
        "opens on 2014-11-10, 30 days before the in-shell period ends on 2014-12-10",
        on="2014-11-09",
        scores=PASS,
    )
    event = s.when(m.EvaluateExit, on="2014-11-10", scores=PASS).one("ExitApproved")
    assert (event.stage, event.late) == ("follow_up", False)


def test_a_late_exit_is_accepted_and_meets_the_deadline_late() -> None:
    s = at("reviewed")
    event = s.when(m.EvaluateExit, on="2015-01-20", scores=PASS).one("ExitApproved")
    assert event.late is True and s.case().exit_on == date(2015, 1, 20)


def test_a_passed_exit_releases_the_workspace_and_starts_follow_up() -> None:
    s = at("reviewed")
    events = s.when(m.EvaluateExit, on="2014-12-10", scores=PASS)
    assert events.names == ["ExitApproved", "EvaluationNoted", "Released"]
    ws, case = s.workspace("M-01"), s.case()
    assert ws is not None and (case.stage, case.workspace, ws.holder) == ("follow_up", None, None)
    assert events.of(ws.id).names == ["Released"]


def test_a_failed_exit_ends_in_exited_and_releases_the_workspace() -> None:
    s = at("reviewed")
    events = s.when(m.EvaluateExit, on="2014-12-10", scores=FAIL)
    event = events.one("ExitFailed")
    assert event.stage == "exited"
    assert "below the pass mark" in event.reason
    ws, case = s.workspace("M-01"), s.case()
    assert ws is not None and (case.workspace, ws.holder, case.is_open) == (None, None, False)
    assert events.of(ws.id).names == ["Released"]


def test_follow_up_services_are_recorded() -> None:
    s = at("follow_up")
    [event] = s.when(m.RecordFollowUp, on="2015-03-01", service="协助竞标")
    assert (type(event).__name__, event.service) == ("FollowUpServiceRecorded", "协助竞标")
    s.refuses(
        m.RecordFollowUp,
        "--service must be text .* not empty",
        on="2015-03-01",
        service="",
    )
    refused_alone(
        s.case(),
        lambda c: c.record_follow_up(step("2015-03-01"), ""),
        "record-follow-up needs --service",
    )


def test_close_after_the_follow_up_year_needs_no_reason() -> None:
    event = at("follow_up").when(m.Close, on="2015-12-10").one("CaseClosed")
    assert (event.stage, event.early) == ("closed", False)


def test_an_early_close_needs_a_reason_that_explains_it() -> None:
    s = at("follow_up")
    s.refuses(
        m.Close,
        "close needs --reason explaining the early close: the follow-up year ends on 2015-12-10",
        on="2015-12-09",
    )
    event = s.when(m.Close, on="2015-06-01", reason="已独立运营").one("CaseClosed")
    assert (event.early, event.reason) == (True, "已独立运营")


# ---- ends ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "ended"), [(m.Reject, "rejected"), (m.Withdraw, "withdrawn")])
def test_reject_and_withdraw_need_a_reason(command: type[m.Command], ended: str) -> None:
    s = at("inspecting")
    s.refuses(command, f"{command.verb} needs --reason", on="2014-01-10")
    [event] = s.when(command, on="2014-01-10", reason="不符合条件")
    case = s.case()
    assert (event.reason, case.stage, case.ended_on) == ("不符合条件", ended, date(2014, 1, 10))


@pytest.mark.parametrize(
    ("command", "ended"), [(m.Withdraw, "Withdrawn"), (m.Terminate, "Terminated")]
)
def test_an_early_end_in_the_shell_releases_the_workspace(
    command: type[m.Command], ended: str
) -> None:
    s = at("incubating")
    s.refuses(command, f"{command.verb} needs --reason", on="2014-05-01")
    events = s.when(command, on="2014-05-01", reason="团队解散")
    ws, case = s.workspace("M-01"), s.case()
    assert ws is not None
    assert events.of(case.id).names == [ended]
    assert (case.workspace, ws.holder, events.of(ws.id).names) == (None, None, ["Released"])


def test_terminate_is_only_for_the_in_shell_period() -> None:
    at("inspecting").refuses(
        m.Terminate, "cannot terminate", WrongStage, on="2014-02-01", reason="x"
    )


def test_an_ended_case_allows_nothing() -> None:
    s = at("inspecting")
    s.given(m.Reject, on="2014-01-10", reason="x")
    s.refuses(
        m.Assign,
        "commands allowed from 'rejected': none: the case has ended",
        WrongStage,
        on="2014-01-11",
        caseworker="李娜",
    )


# ---- dates ---------------------------------------------------------------------------------


def test_steps_are_recorded_in_date_order() -> None:
    at("inspecting").refuses(
        m.SubmitForEntry,
        "2014-01-07 is before this case's last recorded step on 2014-01-08",
        on="2014-01-07",
    )


def test_correcting_the_entry_date_needs_a_reason_and_a_plausible_date() -> None:
    s = at("reviewed")  # entered 2014-02-10, growth review 2014-07-10
    s.refuses(
        m.CorrectEntryDate,
        "correct-entry-date needs --reason",
        on="2014-07-20",
        to="2014-02-12",
    )
    for to, match in (
        ("2014-02-10", "already 2014-02-10"),
        (
            "2014-07-11",
            "between 2014-01-20 \\(when the case was submitted for entry, or applied\\) and "
            "2014-07-10",
        ),
    ):
        s.refuses(m.CorrectEntryDate, match, on="2014-07-20", reason="x", to=to)
    events = s.when(m.CorrectEntryDate, on="2014-07-20", reason="协议日期", to="2014-02-12")
    assert events.names == ["EntryDateCorrected", "StartCorrected"]  # the track's start moves
    assert (events[0].entered_on, events[0].previous, s.case().entered_on) == (
        date(2014, 2, 12),
        date(2014, 2, 10),
        date(2014, 2, 12),
    )


def test_a_corrected_entry_date_cannot_precede_the_submission() -> None:
    at("incubating").refuses(  # submitted 2014-01-20, entered 2014-02-10
        m.CorrectEntryDate,
        "must lie between 2014-01-20",
        on="2014-03-01",
        reason="x",
        to="2014-01-19",
    )


def test_a_corrected_entry_date_cannot_put_a_recorded_exit_before_its_window() -> None:
    s = at("reviewed")  # entered 2014-02-10, growth review 2014-07-10
    s.given(m.EvaluateExit, on="2014-11-15", scores=PASS)  # the window opened 11-10
    s.refuses(
        m.CorrectEntryDate,
        "window would open on 2014-11-20, after the exit evaluation recorded on 2014-11-15",
        on="2014-11-20",
        reason="x",
        to="2014-02-20",
    )
    event = s.when(m.CorrectEntryDate, on="2014-11-20", reason="x", to="2014-02-12")[0]
    assert event.entered_on == date(2014, 2, 12)


# ---- residency -----------------------------------------------------------------------------


def test_residency_admit_evaluate_depart() -> None:
    s = Scenario()
    case_id = s.applied(track="residency")
    assert s.when(m.Admit, on="2014-02-01", workspace="M-01").of(case_id).names == [
        "ResidentAdmitted"
    ]
    case, ws = s.case(), s.workspace("M-01")
    assert ws is not None and (case.stage, case.workspace, ws.holder) == (
        "resident",
        "M-01",
        case_id,
    )
    s.when(m.RecordServiceEvaluation, on="2014-08-01", scores=["a=88"])
    s.refuses(m.Depart, "depart needs --reason", on="2015-01-31")
    events = s.when(m.Depart, on="2015-01-31", reason="期满")
    assert events.of(case_id).names == ["Departed"]
    case, ws = s.case(), s.workspace("M-01")
    assert ws is not None and (case.stage, case.workspace, ws.holder) == ("departed", None, None)


@pytest.mark.parametrize("status", ["unregistered", "filed"])
def test_only_a_registered_organization_is_admitted_as_a_resident(status: str) -> None:
    """The residency area takes "成熟的、已注册的社会组织" (seed 001, 实体化运作): a founding team
    or a filed group is incubated, or registers first."""
    s = Scenario()
    s.given(
        m.Apply,
        name=ORG,
        field="公益慈善",
        legal_status=status,
        track="residency",
        site="main",
        on="2014-01-02",
    )
    s.refuses(
        m.Admit,
        f"is {status}: the residency area admits registered organizations",
        on="2014-02-01",
        workspace="M-01",
    )
    s.given(
        m.RecordRegistration,
        credit_code="53100000500021676K",
        authority="伊金霍洛旗民政局",
        on="2014-01-20",
    )
    assert s.when(m.Admit, on="2014-02-01", workspace="M-01").of(s.org).names == [
        "ResidentAdmitted"
    ]


def test_residency_does_not_take_incubation_steps() -> None:
    s = Scenario()
    s.applied(track="residency")
    refusal = s.refuses(m.StartInspection, "cannot start-inspection", WrongStage, on="2014-01-08")
    assert refusal.allowed == [
        "admit",
        "assign",
        "correct-legal-status",  # the legal status moves on either track (登记/备案)
        "record-filing",
        "record-registration",
        "record-registration-help",
        "reject",
        "withdraw",
    ]


# ---- replay --------------------------------------------------------------------------------


def test_replaying_the_events_gives_the_same_case() -> None:
    """The case a handler decided on, in memory, is the case its events replay to."""
    s = at("reviewed")
    case = s.given(m.EvaluateExit, on="2014-12-10", scores=PASS)
    replayed: OrganizationCase | None = None
    for event in s.history(case.id):
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.stage == "follow_up"
    assert vars(replayed) == vars(case)


def test_scores_have_at_most_two_decimals() -> None:
    with pytest.raises(Refused, match="at most 2 decimals"):
        Panel.parse(["a=59.999", "b=60", "c=60"])
    assert Panel.parse(["a=59.99"]).scores["a"] == Decimal("59.99")
    at("entry_review").refuses(
        m.EvaluateEntry,
        "at most 2 decimals",
        on=ENTRY_ON,
        scores=["a=59.999", "b=60", "c=60"],
        workspace="M-01",
    )
