"""Given a round and its projects, when a command message, then these events (or this refusal
and nothing recorded): venture-philanthropy rounds (公益创投) through the real dispatcher, on an
in-memory log (tests/given.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands import messages as m
from lifecycle.bounds import Invalid
from lifecycle.errors import NotFound, WrongStage
from lifecycle.park import Rules
from tests.given import (
    AWARDED_ON,
    ROUND_FIELDS,
    SCORED_ON,
    SCREENED_ON,
    SUBMITTED_ON,
    Scenario,
)

OTHER = "阳光助残服务队"
RULES = Rules()  # the default settings' lengths: reports 6 and 12 months after the award
AWARDED = date.fromisoformat(AWARDED_ON)


def with_round(**fields: Any) -> Scenario:
    s = Scenario()
    s.round_with_panel(**fields)
    return s


# ---- the round -------------------------------------------------------------------------------


def test_a_round_is_announced_with_its_fund_in_yuan_and_the_defaults_of_the_settings() -> None:
    s = Scenario()
    events = s.when(m.CreateRound, **ROUND_FIELDS, max_award=Decimal("50000.5"), site="main")
    assert events.names == ["Announced"]
    announced = events[0]
    assert str(announced.fund) == "440000.00" and str(announced.max_award) == "50000.50"
    assert (announced.pass_mark, announced.min_scores) == (60, 3)  # [venture] of the settings
    assert (announced.opens_on, announced.closes_on) == (date(2014, 3, 1), date(2014, 3, 31))
    r = s.the_round()
    assert (r.stage, r.awarded_total, r.remaining) == ("open", Decimal(0), Decimal(440_000))


def test_a_round_takes_its_own_pass_mark_and_minimum_of_scores() -> None:
    s = Scenario()
    s.given(m.CreateRound, **ROUND_FIELDS, pass_mark=Decimal("75.5"), min_scores=5)
    assert (s.the_round().pass_mark, s.the_round().min_scores) == (Decimal("75.5"), 5)


@pytest.mark.parametrize(
    ("changes", "match", "error"),
    [
        ({"closes": "2014-02-28"}, r"cannot close \(2014-02-28\) before it opens", None),
        (
            {"max_award": Decimal(500_000)},
            "--max-award 500,000.00 yuan is more than the fund",
            None,
        ),
        ({"site": "moon"}, "unknown site 'moon'", None),
        ({"fund": Decimal(0)}, "--fund must be an amount of yuan from 0.01", Invalid),
        ({"fund": Decimal("1000000000.01")}, "--fund must be an amount", Invalid),
        ({"fund": 440000.0}, "--fund must be an amount", Invalid),  # never a float
        ({"pass_mark": Decimal(101)}, "--pass-mark must be a number from 0 to 100", Invalid),
        ({"min_scores": 0}, "--min-scores must be a whole number from 1 to 50", Invalid),
        ({"name": " "}, "--name must be text", Invalid),
    ],
)
def test_a_round_is_refused_what_cannot_be(
    changes: dict[str, Any], match: str, error: type[Exception] | None
) -> None:
    s = Scenario()
    if error is None:
        s.refuses(m.CreateRound, match, **(ROUND_FIELDS | changes))
    else:
        s.refuses(m.CreateRound, match, error, **(ROUND_FIELDS | changes))


# ---- the panel and its declared conflicts (关联回避) ----------------------------------------


def test_an_expert_joins_the_panel_with_the_conflicts_they_declare() -> None:
    s = Scenario()
    org = s.applied()
    s.given(m.CreateRound, **ROUND_FIELDS)
    events = s.when(m.AddExpert, expert="王建国", conflicts=(org,), on="2014-02-21")
    assert events.names == ["ExpertAdded"]
    assert events[0].conflicts == {str(org): "爱心志愿者协会"}
    assert s.the_round().conflicted("王建国", org)


def test_an_expert_joins_the_panel_once() -> None:
    s = with_round()
    s.refuses(m.AddExpert, "王建国 is already on the panel", expert="王建国", on="2014-02-22")


def test_a_conflict_names_an_organization_the_park_knows() -> None:
    s = with_round()
    s.refuses(
        m.AddExpert, "no organization case with id", NotFound, expert="陈静", conflicts=(uuid4(),)
    )
    s.refuses(m.DeclareConflict, "no organization case", NotFound, expert="王建国", org=uuid4())


def test_a_conflict_is_declared_by_a_panel_expert_once() -> None:
    s = with_round()
    org = s.applied()
    s.refuses(m.DeclareConflict, "陈静 is not on the panel", expert="陈静", org=org)
    events = s.when(m.DeclareConflict, expert="王建国", org=org, on="2014-03-02")
    assert events.names == ["ConflictDeclared"]
    s.refuses(m.DeclareConflict, "already declared a conflict", expert="王建国", org=org)


def test_a_conflict_declared_after_scoring_withdraws_the_score_and_both_stay_in_history() -> None:
    s = with_round()
    project = s.scored_project((80, 40, 70))  # 刘慧's 40 pulls the mean down
    org = s.the_project().org_id
    events = s.when(m.DeclareConflict, expert="刘慧", org=org, on="2014-04-11")
    assert events.names == ["ConflictDeclared", "ConflictNoted"]
    noted = events.of(project).one("ConflictNoted")
    assert (noted.expert, noted.withdrawn) == ("刘慧", Decimal(40))
    assert s.the_project().scores == {"王建国": Decimal(80), "赵志强": Decimal(70)}
    assert s.the_project().mean == Decimal(75)
    assert [type(e).__name__ for e in s.history(project)].count("Scored") == 3
    s.refuses(m.ScoreProject, "刘慧 has declared a conflict", expert="刘慧", score=Decimal(90))


def test_a_conflict_with_a_project_already_determined_is_declared_on_the_round_only() -> None:
    s = with_round()
    s.scored_project()
    s.given(m.DeclineProject, reason="预算不足", on=AWARDED_ON)
    events = s.when(m.DeclareConflict, expert="刘慧", org=s.the_project().org_id, on="2014-05-01")
    assert events.names == ["ConflictDeclared"]
    assert s.the_project().scores["刘慧"] == 75  # the determination stands on what it saw


# ---- submission --------------------------------------------------------------------------------


def test_an_organization_submits_a_project_which_the_round_records() -> None:
    s = with_round()
    org = s.applied()
    events = s.when(
        m.SubmitProject,
        org=org,
        title="社区助老送餐",
        amount=Decimal(40_000),
        category="为老服务",
        on=SUBMITTED_ON,
    )
    assert events.names == ["ProjectSubmitted", "Submitted"]
    project = s.the_project()
    assert (project.stage, project.org_name, project.org_site, str(project.amount)) == (
        "submitted",
        "爱心志愿者协会",
        "main",
        "40000.00",
    )
    assert s.the_round().projects == {str(org): str(project.id)}


@pytest.mark.parametrize("on", ["2014-02-28", "2014-04-01"])
def test_projects_are_submitted_only_between_opening_and_closing(on: str) -> None:
    s = with_round()
    org = s.applied()
    s.refuses(
        m.SubmitProject,
        f"takes projects from 2014-03-01 to 2014-03-31; {on} is outside",
        org=org,
        title="x",
        amount=Decimal(1),
        on=on,
    )


@pytest.mark.parametrize("on", ["2014-03-01", "2014-03-31"])
def test_the_first_and_the_last_day_take_projects(on: str) -> None:
    s = with_round()
    org = s.applied()
    s.given(m.SubmitProject, org=org, title="x", amount=Decimal(1), on=on)


def test_one_project_per_organization_per_round() -> None:
    s = with_round()
    s.submitted()
    org = s.the_project().org_id
    s.refuses(
        m.SubmitProject,
        "has already submitted a project to 2014年公益创投 .*one project per organization",
        org=org,
        title="第二个项目",
        amount=Decimal(10_000),
        on="2014-03-11",
    )
    s.given(m.CreateRound, **(ROUND_FIELDS | {"name": "2014年第二轮"}))
    s.given(m.SubmitProject, org=org, title="第二个项目", amount=Decimal(1), on="2014-03-11")


def test_an_organization_unknown_to_the_park_submits_nothing() -> None:
    s = with_round()
    s.refuses(
        m.SubmitProject,
        "no organization case with id",
        NotFound,
        org=uuid4(),
        title="x",
        amount=Decimal(1),
        on=SUBMITTED_ON,
    )


def test_an_organization_whose_case_ended_submits_nothing() -> None:
    s = with_round()
    org = s.applied()
    s.given(m.Reject, reason="不符合条件", on="2014-01-05")
    s.refuses(
        m.SubmitProject,
        "case has ended \\(stage 'rejected' since 2014-01-05\\)",
        org=org,
        title="x",
        amount=Decimal(1),
        on=SUBMITTED_ON,
    )


def test_the_amount_asked_is_above_zero_and_not_above_the_maximum() -> None:
    s = with_round(max_award=Decimal(50_000))
    org = s.applied()
    ask = {"org": org, "title": "x", "on": SUBMITTED_ON}
    s.refuses(m.SubmitProject, "at most 50,000.00 yuan", amount=Decimal("50000.01"), **ask)
    s.refuses(m.SubmitProject, "--amount must be an amount", Invalid, amount=Decimal(0), **ask)
    s.given(m.SubmitProject, amount=Decimal(50_000), **ask)


# ---- screening (初审) ---------------------------------------------------------------------------


def test_screening_lets_a_project_in() -> None:
    s = with_round()
    s.submitted()
    events = s.when(m.ScreenProject, passed=True, on=SCREENED_ON)
    assert events.names == ["ScreenedIn"] and s.the_project().stage == "screened_in"


def test_screening_out_needs_a_reason() -> None:
    s = with_round()
    s.submitted()
    s.refuses(m.ScreenProject, "needs --reason saying why the project is out", passed=False)
    events = s.when(m.ScreenProject, passed=False, reason="不属于资助范围", on=SCREENED_ON)
    assert events.names == ["ScreenedOut"] and events[0].reason == "不属于资助范围"
    s.refuses(m.ScreenProject, "cannot screen: the project is in stage 'screened_out'", passed=True)


def test_screening_is_not_dated_before_the_submission() -> None:
    s = with_round()
    s.submitted()
    s.refuses(
        m.ScreenProject, "before this project's last recorded step", passed=True, on="2014-03-09"
    )


# ---- expert scores ----------------------------------------------------------------------------


def test_a_panel_expert_scores_a_project_screened_in() -> None:
    s = with_round()
    s.submitted()
    s.given(m.ScreenProject, passed=True, on=SCREENED_ON)
    events = s.when(m.ScoreProject, expert="王建国", score=Decimal("82.5"), on=SCORED_ON)
    assert events.names == ["Scored"]
    assert (events[0].expert, events[0].score) == ("王建国", Decimal("82.5"))


def test_only_a_project_screened_in_is_scored() -> None:
    s = with_round()
    s.submitted()
    s.refuses(
        m.ScoreProject,
        "cannot score: the project is in stage 'submitted'",
        WrongStage,
        expert="王建国",
        score=Decimal(80),
    )
    s.given(m.ScreenProject, passed=False, reason="材料不全", on=SCREENED_ON)
    s.refuses(
        m.ScoreProject, "stage 'screened_out'", WrongStage, expert="王建国", score=Decimal(80)
    )


def test_only_a_panel_expert_scores() -> None:
    s = with_round()
    s.scored_project(())
    s.refuses(
        m.ScoreProject,
        "陈静 is not on the panel of 2014年公益创投",
        expert="陈静",
        score=Decimal(80),
    )


def test_an_expert_with_a_declared_conflict_does_not_score() -> None:
    s = Scenario()
    org = s.applied()
    s.given(m.CreateRound, **ROUND_FIELDS)
    s.given(m.AddExpert, expert="王建国", conflicts=(org,), on="2014-02-21")
    s.given(m.SubmitProject, org=org, title="x", amount=Decimal(1), on=SUBMITTED_ON)
    s.given(m.ScreenProject, passed=True, on=SCREENED_ON)
    s.refuses(
        m.ScoreProject,
        "王建国 has declared a conflict with 爱心志愿者协会 \\(关联回避\\)",
        expert="王建国",
        score=Decimal(80),
    )


def test_an_expert_scores_once_and_a_correction_names_its_reason() -> None:
    s = with_round()
    project = s.scored_project((80, 75, 70))
    s.refuses(
        m.ScoreProject,
        "needs --reason to correct 王建国's score of 80",
        expert="王建国",
        score=Decimal(60),
    )
    s.refuses(
        m.ScoreProject,
        "score of this project is already 80",
        expert="王建国",
        score=Decimal(80),
        reason="x",
    )
    events = s.when(m.ScoreProject, expert="王建国", score=Decimal(95), reason="误录", on=SCORED_ON)
    corrected = events.one("ScoreCorrected")
    assert (corrected.score, corrected.previous, corrected.reason) == (95, 80, "误录")
    assert s.the_project().scores["王建国"] == 95
    assert s.the_project().mean == Decimal("80.00")  # (95 + 75 + 70) / 3
    scored = [e for e in s.history(project) if type(e).__name__ in ("Scored", "ScoreCorrected")]
    # the earlier score stays in the history, and the correction after it
    assert [(e.expert, e.score) for e in scored if e.expert == "王建国"] == [
        ("王建国", 80),
        ("王建国", 95),
    ]


def test_a_score_is_from_0_to_100_with_at_most_2_decimals() -> None:
    s = with_round()
    s.scored_project(())
    for bad in (Decimal("100.01"), Decimal("-1"), Decimal("80.123")):
        s.refuses(
            m.ScoreProject, "must be a number from 0 to 100", Invalid, expert="王建国", score=bad
        )


# ---- the determination ------------------------------------------------------------------------


def test_an_award_is_recorded_on_the_project_and_on_its_round() -> None:
    s = with_round()
    project = s.scored_project((80, 75, 70))
    events = s.when(m.AwardProject, amount=Decimal(35_000), on=AWARDED_ON)
    assert events.names == ["Awarded", "AwardRecorded"]
    awarded = events.of(project).one("Awarded")
    assert (awarded.amount, awarded.mean, awarded.pass_mark) == (35_000, 75, 60)
    reports = {d.kind: (d.due_on, d.status) for d in s.the_project().deadlines(RULES, AWARDED)}
    assert reports == {  # the award starts the clocks of its reports (lifecycle/deadlines.py)
        "midterm_report": (date(2014, 10, 20), "pending"),
        "final_report": (date(2015, 4, 20), "pending"),
    }
    r = s.the_round()
    assert (r.awarded_total, r.remaining) == (Decimal(35_000), Decimal(405_000))
    assert events.one("AwardRecorded").awarded_total == Decimal(35_000)


def test_the_reports_of_an_award_are_due_as_the_settings_say() -> None:
    rules = Rules(midterm_report_months=3, final_report_months=9)
    s = Scenario(rules=rules)
    s.round_with_panel()
    s.scored_project()
    s.given(m.AwardProject, amount=Decimal(1), on=AWARDED_ON)
    due = {d.kind: d.due_on for d in s.the_project().deadlines(rules, AWARDED)}
    # Sunday 2014-07-20: the period ends on Monday 07-21 (民法典 第二百零三条)
    assert due == {"midterm_report": date(2014, 7, 21), "final_report": date(2015, 1, 20)}


def test_no_report_is_due_before_an_award() -> None:
    s = with_round()
    s.scored_project()
    assert s.the_project().deadlines(RULES, AWARDED) == []
    s.given(m.DeclineProject, reason="x", on=AWARDED_ON)
    assert s.the_project().deadlines(RULES, AWARDED) == []


def test_an_award_needs_the_minimum_number_of_current_scores() -> None:
    s = with_round()
    s.scored_project((90, 90))
    s.refuses(
        m.AwardProject,
        "needs scores from at least 3 expert\\(s\\); this project has 2",
        amount=Decimal(1),
        on=AWARDED_ON,
    )


def test_a_withdrawn_score_does_not_count_towards_the_minimum() -> None:
    s = with_round()
    s.scored_project((90, 90, 90))
    s.given(m.DeclareConflict, expert="赵志强", org=s.the_project().org_id, on="2014-04-11")
    s.refuses(m.AwardProject, "this project has 2", amount=Decimal(1), on=AWARDED_ON)


def test_an_award_needs_the_mean_at_or_above_the_pass_mark_exactly() -> None:
    s = with_round()
    s.scored_project(("60", "60", "59.99"))  # mean 59.9967: shown 60.00, yet below
    s.refuses(
        m.AwardProject,
        "59.9967, is below the round's pass mark 60",
        amount=Decimal(1),
        on=AWARDED_ON,
    )
    s.given(m.ScoreProject, expert="赵志强", score=Decimal(60), reason="复核", on=SCORED_ON)
    s.given(m.AwardProject, amount=Decimal(1), on=AWARDED_ON)  # exactly 60


def test_an_award_is_not_above_the_amount_asked() -> None:
    s = with_round()
    s.scored_project(amount=Decimal(40_000))
    s.refuses(
        m.AwardProject,
        "40,000.01 yuan is more than the project asked, 40,000.00",
        amount=Decimal("40000.01"),
        on=AWARDED_ON,
    )


def test_the_awards_of_a_round_never_exceed_its_fund() -> None:
    s = with_round(fund=Decimal(100_000))
    first = s.scored_project(amount=Decimal(60_000))
    s.given(m.AwardProject, amount=Decimal(60_000), on=AWARDED_ON)
    s.scored_project(name=OTHER, amount=Decimal(50_000))
    s.refuses(
        m.AwardProject,
        "would take the awards of 2014年公益创投 to 110,000.00 yuan, above its fund of "
        "100,000.00 yuan: 40,000.00 yuan remain",
        amount=Decimal(50_000),
        on=AWARDED_ON,
    )
    s.given(m.AwardProject, amount=Decimal(40_000), on=AWARDED_ON)  # the rest, exactly
    assert s.the_round().remaining == 0
    assert s.the_round().awards == {str(first): 60_000, str(s.project): 40_000}


def test_a_project_is_awarded_or_declined_once() -> None:
    s = with_round()
    s.scored_project()
    s.given(m.AwardProject, amount=Decimal(1), on=AWARDED_ON)
    s.refuses(
        m.AwardProject,
        "cannot award: the project is in stage 'awarded'",
        WrongStage,
        amount=Decimal(1),
    )
    s.refuses(
        m.DeclineProject,
        "cannot decline: the project is in stage 'awarded'",
        WrongStage,
        reason="x",
    )


def test_a_project_is_declined_with_a_reason() -> None:
    s = with_round()
    s.scored_project()
    s.refuses(m.DeclineProject, "needs --reason saying why the project is not funded")
    events = s.when(m.DeclineProject, reason="资金已分配完", on=AWARDED_ON)
    assert events.names == ["Declined"] and s.the_project().stage == "declined"
    s.refuses(m.AwardProject, "stage 'declined'", WrongStage, amount=Decimal(1))


def test_a_project_not_screened_in_is_neither_awarded_nor_declined() -> None:
    s = with_round()
    s.submitted()
    s.refuses(
        m.AwardProject,
        "cannot award: the project is in stage 'submitted'",
        WrongStage,
        amount=Decimal(1),
    )
    s.refuses(m.DeclineProject, "stage 'submitted'", WrongStage, reason="x")


# ---- tracking ---------------------------------------------------------------------------------


def awarded(amount: int = 40_000) -> Scenario:
    s = with_round()
    s.scored_project(amount=Decimal(amount))
    s.given(m.AwardProject, amount=Decimal(amount), on=AWARDED_ON)
    return s


def test_the_award_is_paid_in_tranches_never_above_it() -> None:
    s = awarded(40_000)
    first = s.when(m.DisburseTranche, amount=Decimal(20_000), on="2014-05-01")
    assert (first.one("Disbursed").tranche, first.one("Disbursed").disbursed) == (1, 20_000)
    s.refuses(
        m.DisburseTranche,
        "would take what was paid to 40,000.01 yuan, above the award of "
        "40,000.00 yuan: 20,000.00 yuan remain",
        amount=Decimal("20000.01"),
        on="2014-11-01",
    )
    second = s.when(m.DisburseTranche, amount=Decimal(20_000), on="2014-11-01")
    assert (second.one("Disbursed").tranche, s.the_project().disbursed) == (2, Decimal(40_000))


def test_only_an_awarded_project_is_paid() -> None:
    s = with_round()
    s.scored_project()
    s.refuses(
        m.DisburseTranche,
        "cannot disburse: the project is in stage 'screened_in'",
        WrongStage,
        amount=Decimal(1),
    )


def test_reports_come_in_once_each_against_their_due_dates() -> None:
    s = awarded()
    overdue = {d.kind: d.status for d in s.the_project().deadlines(RULES, date(2014, 10, 21))}
    assert overdue == {"midterm_report": "overdue", "final_report": "pending"}
    midterm = s.when(m.ReceiveReport, kind="midterm", note="送餐 1200 份", on="2014-10-25")
    received = midterm.one("ReportReceived")
    assert (received.due_on, received.late) == (date(2014, 10, 20), True)
    met = {d.kind: (d.status, d.met_on) for d in s.the_project().deadlines(RULES, AWARDED)}
    assert met["midterm_report"] == ("done", date(2014, 10, 25))
    s.refuses(
        m.ReceiveReport,
        "the midterm report of this project came in on 2014-10-25",
        kind="midterm",
        note="x",
    )
    final = s.when(m.ReceiveReport, kind="final", note="结项", on="2015-04-01").one(
        "ReportReceived"
    )
    assert (final.due_on, final.late) == (date(2015, 4, 20), False)
    s.refuses(
        m.ReceiveReport, "--kind must be one of midterm, final", Invalid, kind="annual", note="x"
    )


def test_the_mid_term_check_stops_further_tranches_with_a_reason() -> None:
    s = awarded()
    s.given(m.DisburseTranche, amount=Decimal(20_000), on="2014-05-01")
    s.given(m.ReceiveReport, kind="midterm", note="进度滞后", on="2014-10-20")
    s.refuses(m.StopTranches, "needs --reason saying why no further tranches are paid")
    events = s.when(m.StopTranches, reason="中期检查: 项目未按计划执行", on="2014-10-21")
    assert events.names == ["Stopped"] and s.the_project().stage == "stopped"
    s.refuses(
        m.DisburseTranche,
        "cannot disburse: the project is in stage 'stopped'",
        WrongStage,
        amount=Decimal(1),
    )
    s.given(m.ReceiveReport, kind="final", note="提前结项", on="2014-12-01")  # still reports
    assert s.the_round().awarded_total == 40_000  # the award stays on the round's books


# ---- closing the round ------------------------------------------------------------------------


def test_a_round_closes_once_every_project_is_determined() -> None:
    s = with_round()
    s.scored_project()
    s.refuses(
        m.CloseRound, "1 project\\(s\\) of 2014年公益创投 are not determined yet", on="2014-05-01"
    )
    s.given(m.AwardProject, amount=Decimal(1), on=AWARDED_ON)
    events = s.when(m.CloseRound, on="2014-05-01")
    assert events.names == ["Closed"] and s.the_round().stage == "closed"
    s.refuses(
        m.AddExpert, "cannot add-expert: the round is in stage 'closed'", WrongStage, expert="陈静"
    )
    org = s.applied(OTHER)
    s.refuses(
        m.SubmitProject,
        "the round is in stage 'closed'",
        WrongStage,
        org=org,
        title="x",
        amount=Decimal(1),
        on="2014-03-20",
    )
    s.given(m.DisburseTranche, amount=Decimal(1), on="2014-05-02")  # tracking goes on


def test_nothing_is_scored_or_screened_on_a_closed_round() -> None:
    s = with_round()
    s.scored_project()
    s.given(m.DeclineProject, reason="x", on=AWARDED_ON)
    s.given(m.CloseRound, on="2014-05-01")
    s.refuses(
        m.ScoreProject,
        "cannot score: the round is in stage 'closed'",
        WrongStage,
        expert="王建国",
        score=Decimal(1),
    )


# ---- ids ----------------------------------------------------------------------------------------


def test_a_project_id_is_not_a_round_id() -> None:
    s = with_round()
    project = s.submitted()
    s.refuses(
        m.AddExpert, "is not a venture-philanthropy round", NotFound, round=project, expert="陈静"
    )
    assert isinstance(s.round, UUID)
    s.refuses(
        m.ScreenProject, "is not a project of a round", NotFound, project=s.round, passed=True
    )


def test_a_refusal_keeps_its_template_its_values_and_the_field_it_concerns() -> None:
    s = with_round(fund=Decimal(100))
    s.scored_project(amount=Decimal(200))
    refusal = s.refuses(m.AwardProject, "above its fund", amount=Decimal(150), on=AWARDED_ON)
    assert refusal.field == "amount" and "{fund:,} yuan" in refusal.template
    assert (refusal.params["fund"], refusal.params["remaining"]) == (Decimal(100), Decimal(100))
    bad = s.refuses(m.AwardProject, "--amount must be an amount", Invalid, amount=Decimal(0))
    assert bad.field == "amount" and bad.params["high"] == Decimal(1_000_000_000)
