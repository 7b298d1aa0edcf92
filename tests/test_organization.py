"""Given a case in some stage, when a command, then these events (or this refusal and no event).

Domain tests on the aggregates alone: no database, no service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lifecycle.errors import Refused, WrongStage
from lifecycle.organization import Holdings, OrganizationCase
from lifecycle.park import Rules
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace, WorkspaceTaken
from tests.conftest import NOW

RULES = Rules()
PASS = Panel.parse(["王芳=78", "李强=82", "张敏=70"])
FAIL = Panel.parse(["王芳=50", "李强=55", "张敏=40"])
Act = Callable[[OrganizationCase], Any]


def step(on: str, reason: str | None = None) -> Step:
    return Step(actor="王芳", on=date.fromisoformat(on), recorded_at=NOW, reason=reason)


def workspace(code: str = "M-01") -> Workspace:
    return Workspace.register("main", code, step("2014-01-01"))


def applied(track: str = "incubation") -> OrganizationCase:
    return OrganizationCase.apply_for(
        step("2014-01-02"),
        name="爱心志愿者协会",
        field="charity",
        legal_status="registered",
        track=track,
        site="main",
    )


class Given:
    """Cases in each stage, reached through the aggregate's own commands."""

    def __init__(self) -> None:
        self.workspace = workspace()

    def inspecting(self) -> OrganizationCase:
        case = applied()
        case.start_inspection(step("2014-01-08"))
        return case

    def entry_review(self) -> OrganizationCase:
        case = self.inspecting()
        case.submit_for_entry(step("2014-01-20"))
        return case

    def declined(self) -> OrganizationCase:
        case = self.entry_review()
        case.evaluate_entry(step("2014-02-10"), FAIL, RULES, None)
        return case

    def incubating(self) -> OrganizationCase:
        case = self.entry_review()
        self.workspace = workspace()  # each case built here takes a workspace of its own
        case.evaluate_entry(step("2014-02-10"), PASS, RULES, self.workspace)
        return case

    def reviewed(self) -> OrganizationCase:
        case = self.incubating()
        case.record_growth_review(step("2014-07-10"), Panel.parse(["王芳=75"]), None)
        return case

    def follow_up(self) -> OrganizationCase:
        case = self.reviewed()
        case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(self.workspace))
        return case

    def resident(self) -> OrganizationCase:
        case = applied("residency")
        self.workspace = workspace()
        case.admit(step("2014-02-01"), self.workspace)
        return case


@pytest.fixture
def given() -> Given:
    return Given()


def then_events(case: OrganizationCase, act: Act) -> list[Any]:
    """The events `act` records (after what the case already had)."""
    case.collect_events()
    act(case)
    return list(case.collect_events())


def then_refused(
    case: OrganizationCase, act: Act, match: str, error: type[Refused] = Refused
) -> Refused:
    case.collect_events()
    before = (case.version, case.stage, case.workspace, case.last_on)
    with pytest.raises(error, match=match) as refusal:
        act(case)
    assert case.pending_events == []
    assert (case.version, case.stage, case.workspace, case.last_on) == before
    return refusal.value


def names(events: Sequence[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


# ---- application ---------------------------------------------------------------------------


def test_apply_opens_a_case_in_applied() -> None:
    case = applied()
    [event] = case.collect_events()
    assert type(event).__name__ == "ApplicationReceived"
    assert (case.stage, case.name, case.applied_on) == (
        "applied",
        "爱心志愿者协会",
        date(2014, 1, 2),
    )
    assert event.timestamp == NOW  # recorded at, from the injected clock


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": "  "}, "needs --name"),
        ({"track": "hatchery"}, "unknown track 'hatchery'; allowed: incubation, residency"),
        ({"party_members": -1}, "--party-members must be a whole number from 0 to 10000"),
    ],
)
def test_apply_refuses_bad_input(changes: dict[str, Any], match: str) -> None:
    data: dict[str, Any] = {
        "name": "x",
        "field": "charity",
        "legal_status": "filed",
        "track": "incubation",
        "site": "main",
        **changes,
    }
    with pytest.raises(Refused, match=match):
        OrganizationCase.apply_for(step("2014-01-02"), **data)


# ---- inspection and coaching ---------------------------------------------------------------


def test_start_inspection_moves_applied_to_inspecting() -> None:
    [event] = then_events(applied(), lambda c: c.start_inspection(step("2014-01-08")))
    assert (type(event).__name__, event.stage, event.on) == (
        "InspectionStarted",
        "inspecting",
        date(2014, 1, 8),
    )


def test_a_wrong_stage_is_refused_naming_the_stage_and_what_is_allowed(given: Given) -> None:
    refusal = then_refused(
        given.inspecting(),
        lambda c: c.start_inspection(step("2014-01-09")),
        "cannot start-inspection: the case is in stage 'inspecting'",
        WrongStage,
    )
    assert "record-visit, reject, submit-for-entry, withdraw" in str(refusal)


def test_record_visit_stays_inspecting(given: Given) -> None:
    case = given.inspecting()
    [event] = then_events(case, lambda c: c.record_visit(step("2014-01-09"), "走访"))
    assert (type(event).__name__, event.note, case.stage) == (
        "SiteVisitRecorded",
        "走访",
        "inspecting",
    )


def test_record_visit_needs_a_note_and_the_inspection_stage(given: Given) -> None:
    then_refused(
        given.inspecting(),
        lambda c: c.record_visit(step("2014-01-09"), " "),
        "record-visit needs --note",
    )
    then_refused(
        applied(),
        lambda c: c.record_visit(step("2014-01-09"), "x"),
        "cannot record-visit",
        WrongStage,
    )


def test_assign_in_any_open_stage_but_not_twice_to_the_same_person(given: Given) -> None:
    for case in (
        applied(),
        given.inspecting(),
        given.incubating(),
        given.follow_up(),
        given.resident(),
    ):
        events = then_events(case, lambda c: c.assign_caseworker(step("2014-12-31"), "李娜"))
        assert names(events) == ["CaseworkerAssigned"]
        assert case.caseworker == "李娜"
        then_refused(
            case,
            lambda c: c.assign_caseworker(step("2014-12-31"), "李娜"),
            "李娜 is already the caseworker",
        )


def test_submit_for_entry_moves_to_entry_review(given: Given) -> None:
    [event] = then_events(given.inspecting(), lambda c: c.submit_for_entry(step("2014-01-20")))
    assert (type(event).__name__, event.stage) == ("SubmittedForEntry", "entry_review")
    then_refused(
        applied(),
        lambda c: c.submit_for_entry(step("2014-01-20")),
        "cannot submit-for-entry",
        WrongStage,
    )


# ---- entry evaluation ----------------------------------------------------------------------


def test_a_passing_entry_evaluation_enters_the_shell_and_takes_the_workspace(given: Given) -> None:
    case, ws = given.entry_review(), given.workspace
    [event] = then_events(case, lambda c: c.evaluate_entry(step("2014-02-10"), PASS, RULES, ws))
    assert type(event).__name__ == "EntryApproved"
    assert (event.stage, event.workspace, event.mean) == ("incubating", "M-01", Decimal("76.67"))
    assert event.scores == {"王芳": 78, "李强": 82, "张敏": 70}
    assert (case.entered_on, case.workspace) == (date(2014, 2, 10), "M-01")
    assert names(ws.collect_events()) == ["Registered", "Allocated"]
    assert ws.holder == case.id


def test_a_failing_entry_evaluation_declines_with_its_scores_as_reason(given: Given) -> None:
    case = given.entry_review()
    [event] = then_events(
        case, lambda c: c.evaluate_entry(step("2014-02-10"), FAIL, RULES, given.workspace)
    )
    assert (type(event).__name__, event.stage) == ("EntryDeclined", "declined")
    assert event.reason == "mean score 48.33 below the pass mark 60 (王芳 50, 李强 55, 张敏 40)"
    assert given.workspace.holder is None and case.workspace is None


def test_the_pass_mark_is_reached_at_the_mean_exactly(given: Given) -> None:
    at_mark = Panel.parse(["a=60", "b=60", "c=60"])
    below = Panel.parse(["a=60", "b=60", "c=59.99"])
    passed = then_events(
        given.entry_review(),
        lambda c: c.evaluate_entry(step("2014-02-10"), at_mark, RULES, workspace("M-02")),
    )
    failed = then_events(
        given.entry_review(), lambda c: c.evaluate_entry(step("2014-02-10"), below, RULES, None)
    )
    assert names(passed + failed) == ["EntryApproved", "EntryDeclined"]
    assert failed[0].reason.startswith("mean score 59.9967 below the pass mark 60")


def test_entry_needs_enough_experts_and_a_workspace_when_it_passes(given: Given) -> None:
    two = Panel.parse(["a=90", "b=90"])
    then_refused(
        given.entry_review(),
        lambda c: c.evaluate_entry(step("2014-02-10"), two, RULES, given.workspace),
        r"at least 3 expert\(s\), got 2",
    )
    then_refused(
        given.entry_review(),
        lambda c: c.evaluate_entry(step("2014-02-10"), PASS, RULES, None),
        "passes .*name a free workspace at site 'main' with --workspace",
    )


def test_a_held_workspace_is_refused_and_nothing_is_recorded(given: Given) -> None:
    holder = given.incubating()
    ws = given.workspace
    ws.collect_events()
    other = Given().entry_review()
    then_refused(
        other,
        lambda c: c.evaluate_entry(step("2014-02-11"), PASS, RULES, ws),
        "workspace 'M-01' at site 'main' is held by 爱心志愿者协会",
        WorkspaceTaken,
    )
    assert ws.pending_events == [] and ws.holder == holder.id


def test_a_workspace_is_free_from_the_day_its_holder_left_not_before(given: Given) -> None:
    """An entry dated before the last holder left would make their stays overlap."""
    given.follow_up()  # held M-01 from 2014-02-10, left on 2014-12-10
    ws = given.workspace
    ws.collect_events()
    then_refused(
        Given().entry_review(),
        lambda c: c.evaluate_entry(step("2014-12-09"), PASS, RULES, ws),
        "workspace 'M-01' at site 'main' was held until 2014-12-10; it can be taken from that "
        "day on, not on 2014-12-09",
        WorkspaceTaken,
    )
    assert ws.pending_events == [] and ws.holder is None
    newcomer = Given().entry_review()
    newcomer.evaluate_entry(step("2014-12-10"), PASS, RULES, ws)
    assert ws.holder == newcomer.id and ws.held_since == date(2014, 12, 10)


def test_the_configured_pass_mark_and_panel_size_apply(given: Given) -> None:
    strict = Rules(pass_mark=Decimal(80), min_experts=2)
    panel = Panel.parse(["a=79", "b=80"])
    [event] = then_events(
        given.entry_review(), lambda c: c.evaluate_entry(step("2014-02-10"), panel, strict, None)
    )
    assert (type(event).__name__, event.pass_mark) == ("EntryDeclined", Decimal(80))


def test_resume_coaching_leads_back_from_declined(given: Given) -> None:
    [event] = then_events(given.declined(), lambda c: c.resume_coaching(step("2014-02-20")))
    assert (type(event).__name__, event.stage) == ("CoachingResumed", "inspecting")
    then_refused(
        given.inspecting(),
        lambda c: c.resume_coaching(step("2014-02-20")),
        "cannot resume-coaching",
        WrongStage,
    )


# ---- growth and exit -----------------------------------------------------------------------


def test_growth_reviews_stay_incubating_and_need_a_score(given: Given) -> None:
    case = given.incubating()
    [event] = then_events(
        case,
        lambda c: c.record_growth_review(step("2014-07-10"), Panel.parse(["a=70", "b=81"]), None),
    )
    assert (type(event).__name__, event.mean, case.stage) == (
        "GrowthReviewRecorded",
        Decimal("75.50"),
        "incubating",
    )
    then_refused(
        case,
        lambda c: c.record_growth_review(step("2014-07-11"), Panel.parse([]), None),
        r"a growth review needs scores from at least 1 expert\(s\)",
    )


def test_the_exit_evaluation_needs_a_growth_review_first(given: Given) -> None:
    then_refused(
        given.incubating(),
        lambda c: c.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(given.workspace)),
        "needs at least one growth review first",
    )


def test_the_exit_evaluation_opens_30_days_before_the_ten_months_end(given: Given) -> None:
    # entry 2014-02-10: the in-shell period ends 2014-12-10, the window opens 2014-11-10
    then_refused(
        given.reviewed(),
        lambda c: c.evaluate_exit(step("2014-11-09"), PASS, RULES, Holdings(given.workspace)),
        "opens on 2014-11-10, 30 days before the in-shell period ends on 2014-12-10",
    )
    case = given.reviewed()
    [event] = then_events(
        case, lambda c: c.evaluate_exit(step("2014-11-10"), PASS, RULES, Holdings(given.workspace))
    )
    assert (type(event).__name__, event.stage, event.late) == ("ExitApproved", "follow_up", False)


def test_a_late_exit_is_accepted_and_meets_the_deadline_late(given: Given) -> None:
    case = given.reviewed()
    [event] = then_events(
        case, lambda c: c.evaluate_exit(step("2015-01-20"), PASS, RULES, Holdings(given.workspace))
    )
    assert event.late is True and case.exit_on == date(2015, 1, 20)


def test_a_passed_exit_releases_the_workspace_and_starts_follow_up(given: Given) -> None:
    case, ws = given.reviewed(), given.workspace
    ws.collect_events()
    then_events(case, lambda c: c.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws)))
    assert (case.stage, case.workspace, ws.holder) == ("follow_up", None, None)
    assert names(ws.collect_events()) == ["Released"]


def test_a_failed_exit_ends_in_exited_and_releases_the_workspace(given: Given) -> None:
    case, ws = given.reviewed(), given.workspace
    [event] = then_events(
        case, lambda c: c.evaluate_exit(step("2014-12-10"), FAIL, RULES, Holdings(ws))
    )
    assert (type(event).__name__, event.stage) == ("ExitFailed", "exited")
    assert "below the pass mark" in event.reason
    assert (case.workspace, ws.holder, case.is_open) == (None, None, False)


def test_follow_up_services_are_recorded(given: Given) -> None:
    case = given.follow_up()
    [event] = then_events(case, lambda c: c.record_follow_up(step("2015-03-01"), "协助竞标"))
    assert (type(event).__name__, event.service) == ("FollowUpServiceRecorded", "协助竞标")
    then_refused(
        case,
        lambda c: c.record_follow_up(step("2015-03-01"), ""),
        "record-follow-up needs --service",
    )


def test_close_after_the_follow_up_year_needs_no_reason(given: Given) -> None:
    [event] = then_events(
        given.follow_up(), lambda c: c.close_case(step("2015-12-10"), RULES, Holdings())
    )
    assert (type(event).__name__, event.stage, event.early) == ("CaseClosed", "closed", False)


def test_an_early_close_needs_a_reason_that_explains_it(given: Given) -> None:
    then_refused(
        given.follow_up(),
        lambda c: c.close_case(step("2015-12-09"), RULES, Holdings()),
        "close needs --reason explaining the early close: the follow-up year ends on 2015-12-10",
    )
    [event] = then_events(
        given.follow_up(),
        lambda c: c.close_case(step("2015-06-01", "已独立运营"), RULES, Holdings()),
    )
    assert (event.early, event.reason) == (True, "已独立运营")


# ---- ends ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["reject", "withdraw"])
def test_reject_and_withdraw_need_a_reason(given: Given, command: str) -> None:
    def act(reason: str | None) -> Act:
        if command == "reject":
            return lambda c: c.reject(step("2014-01-10", reason))
        return lambda c: c.withdraw(step("2014-01-10", reason), Holdings())

    then_refused(given.inspecting(), act(None), f"{command} needs --reason")
    case = given.inspecting()
    [event] = then_events(case, act("不符合条件"))
    assert (event.reason, case.stage, case.ended_on) == (
        "不符合条件",
        "rejected" if command == "reject" else "withdrawn",
        date(2014, 1, 10),
    )


@pytest.mark.parametrize("command", ["withdraw", "terminate"])
def test_an_early_end_in_the_shell_releases_the_workspace(given: Given, command: str) -> None:
    case, ws = given.incubating(), given.workspace
    ws.collect_events()
    then_refused(
        case, lambda c: getattr(c, command)(step("2014-05-01"), ws), f"{command} needs --reason"
    )
    events = then_events(
        case, lambda c: getattr(c, command)(step("2014-05-01", "团队解散"), Holdings(ws))
    )
    assert names(events) == ["Withdrawn" if command == "withdraw" else "Terminated"]
    assert (case.workspace, ws.holder, names(ws.collect_events())) == (None, None, ["Released"])


def test_terminate_is_only_for_the_in_shell_period(given: Given) -> None:
    then_refused(
        given.inspecting(),
        lambda c: c.terminate(step("2014-02-01", "x"), Holdings()),
        "cannot terminate",
        WrongStage,
    )


def test_an_ended_case_allows_nothing(given: Given) -> None:
    case = given.inspecting()
    case.reject(step("2014-01-10", "x"))
    then_refused(
        case,
        lambda c: c.assign_caseworker(step("2014-01-11"), "李娜"),
        "commands allowed from 'rejected': none: the case has ended",
        WrongStage,
    )


# ---- dates ---------------------------------------------------------------------------------


def test_steps_are_recorded_in_date_order(given: Given) -> None:
    then_refused(
        given.inspecting(),
        lambda c: c.submit_for_entry(step("2014-01-07")),
        "2014-01-07 is before this case's last recorded step on 2014-01-08",
    )


def test_correcting_the_entry_date_needs_a_reason_and_a_plausible_date(given: Given) -> None:
    case = given.reviewed()  # entered 2014-02-10, growth review 2014-07-10
    then_refused(
        case,
        lambda c: c.correct_entry_date(step("2014-07-20"), date(2014, 2, 12), RULES, None),
        "correct-entry-date needs --reason",
    )
    then_refused(
        case,
        lambda c: c.correct_entry_date(step("2014-07-20", "x"), date(2014, 2, 10), RULES, None),
        "already 2014-02-10",
    )
    then_refused(
        case,
        lambda c: c.correct_entry_date(step("2014-07-20", "x"), date(2014, 7, 11), RULES, None),
        "between 2014-01-20 \\(when the case was submitted for entry, or applied\\) and 2014-07-10",
    )
    [event] = then_events(
        case,
        lambda c: c.correct_entry_date(
            step("2014-07-20", "协议日期"), date(2014, 2, 12), RULES, None
        ),
    )
    assert (event.entered_on, event.previous, case.entered_on) == (
        date(2014, 2, 12),
        date(2014, 2, 10),
        date(2014, 2, 12),
    )


# ---- residency -----------------------------------------------------------------------------


def test_residency_admit_evaluate_depart(given: Given) -> None:
    case, ws = applied("residency"), given.workspace
    assert names(then_events(case, lambda c: c.admit(step("2014-02-01"), ws))) == [
        "ResidentAdmitted"
    ]
    assert (case.stage, case.workspace, ws.holder) == ("resident", "M-01", case.id)
    then_events(
        case, lambda c: c.record_service_evaluation(step("2014-08-01"), Panel.parse(["a=88"]))
    )
    then_refused(
        case, lambda c: c.depart(step("2015-01-31"), Holdings(ws)), "depart needs --reason"
    )
    events = then_events(case, lambda c: c.depart(step("2015-01-31", "期满"), Holdings(ws)))
    assert names(events) == ["Departed"]
    assert (case.stage, case.workspace, ws.holder) == ("departed", None, None)


def test_residency_does_not_take_incubation_steps(given: Given) -> None:
    refusal = then_refused(
        applied("residency"),
        lambda c: c.start_inspection(step("2014-01-08")),
        "cannot start-inspection",
        WrongStage,
    )
    assert refusal.allowed == ["admit", "assign", "reject", "withdraw"]  # type: ignore[attr-defined]


# ---- replay --------------------------------------------------------------------------------


def test_replaying_the_events_gives_the_same_case(given: Given) -> None:
    case = given.follow_up()
    events = case.collect_events()
    replayed: OrganizationCase | None = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert vars(replayed) == vars(case) | {"_pending_events": []}


def test_a_corrected_entry_date_cannot_precede_the_submission(given: Given) -> None:
    then_refused(
        given.incubating(),  # submitted 2014-01-20, entered 2014-02-10
        lambda c: c.correct_entry_date(step("2014-03-01", "x"), date(2014, 1, 19), RULES, None),
        "must lie between 2014-01-20",
    )


def test_a_corrected_entry_date_cannot_put_a_recorded_exit_before_its_window(given: Given) -> None:
    case = given.reviewed()  # entered 2014-02-10, growth review 2014-07-10
    case.evaluate_exit(
        step("2014-11-15"), PASS, RULES, Holdings(given.workspace)
    )  # window opened 11-10
    then_refused(
        case,
        lambda c: c.correct_entry_date(step("2014-11-20", "x"), date(2014, 2, 20), RULES, None),
        "window would open on 2014-11-20, after the exit evaluation recorded on 2014-11-15",
    )
    [event] = then_events(
        case,
        lambda c: c.correct_entry_date(step("2014-11-20", "x"), date(2014, 2, 12), RULES, None),
    )
    assert event.entered_on == date(2014, 2, 12)


def test_scores_have_at_most_two_decimals() -> None:
    with pytest.raises(Refused, match="at most 2 decimals"):
        Panel.parse(["a=59.999", "b=60", "c=60"])
    assert Panel.parse(["a=59.99"]).scores["a"] == Decimal("59.99")
