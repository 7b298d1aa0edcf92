"""The application service on a real database: input checks, and refusals that record nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from commands.bootstrap import Incubator
from commands.queries import case_view, history
from commands.service import IncubatorService, Who
from lifecycle.errors import NotFound, Refused
from lifecycle.workspace import Workspace
from tests.builders import PANEL_FAIL, PANEL_PASS, drive, new_case
from tests.conftest import who


def nothing_recorded(system: Incubator, act: Callable[[], Any], match: str) -> None:
    before = system.log.recorder.max_notification_id()
    with pytest.raises(Refused, match=match):
        act()
    assert system.log.recorder.max_notification_id() == before


def apply(service: IncubatorService, **changes: Any) -> Any:
    data: dict[str, Any] = {
        "name": "阳光助残服务队",
        "field": "社区服务",
        "legal_status": "unregistered",
        "track": "incubation",
        "site": "branch",
        **changes,
    }
    return service.apply(who("2014-01-02"), **data)


def test_a_field_is_given_by_chinese_name_or_english_key(incubator: Incubator) -> None:
    by_name = apply(incubator.service)
    by_key = apply(incubator.service, field="community_service")
    assert by_name.field == by_key.field == "community_service"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"field": "体育"}, "unknown field '体育'; fields: charity \\(公益慈善\\)"),
        ({"site": "moon"}, "unknown site 'moon'; sites: main, branch, community-1"),
        ({"legal_status": "licensed"}, "allowed: unregistered, filed, registered"),
    ],
)
def test_apply_refuses_what_the_park_does_not_know(
    incubator: Incubator, changes: dict[str, Any], match: str
) -> None:
    nothing_recorded(incubator, lambda: apply(incubator.service, **changes), match)


def test_every_command_needs_an_actor(incubator: Incubator) -> None:
    case_id = new_case(incubator.service)
    nothing_recorded(
        incubator,
        lambda: incubator.service.start_inspection(case_id, Who(actor=" ", on=date(2014, 1, 8))),
        "who is acting\\? give --actor",
    )


def test_a_business_date_in_the_future_is_refused(incubator: Incubator) -> None:
    case_id = new_case(incubator.service)
    nothing_recorded(
        incubator,
        lambda: incubator.service.start_inspection(case_id, who("2026-11-23")),
        "2026-11-23 is in the future \\(today is 2026-11-22\\)",
    )


def test_the_date_defaults_to_today_in_the_park_and_recorded_at_comes_from_the_clock(
    incubator: Incubator,
) -> None:
    case = incubator.service.apply(
        Who("王芳"),
        name="x",
        field="charity",
        legal_status="filed",
        track="incubation",
        site="main",
    )
    [event] = history(incubator.log, UUID(str(case.id)))
    assert event["on"] == "2026-11-22"
    assert event["recorded_at"] == "2026-11-22T04:00:00+00:00"
    assert event["actor"] == "王芳"


def test_an_unknown_case_is_refused(incubator: Incubator) -> None:
    missing = uuid4()
    nothing_recorded(
        incubator,
        lambda: incubator.service.start_inspection(missing, who("2014-01-08")),
        f"no organization case with id {missing}",
    )


def test_a_workspace_id_is_not_a_case(incubator: Incubator) -> None:
    case_id = new_case(incubator.service)
    drive(incubator.service, case_id, "incubating")
    with pytest.raises(NotFound, match="is not an organization case"):
        incubator.service.case(Workspace.id_for("main", "M-01"))


def test_a_workspace_must_be_at_the_case_site(incubator: Incubator) -> None:
    case_id = new_case(incubator.service, site="branch")
    drive(incubator.service, case_id, "entry_review")
    nothing_recorded(
        incubator,
        lambda: incubator.service.evaluate_entry(case_id, who("2014-02-10"), PANEL_PASS, "M-01"),
        "workspace 'M-01' is not at site 'branch'; its workspaces are B-01 … B-10 \\(10\\)",
    )


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        (["王芳 78"], "must be EXPERT=N"),
        (["王芳=78", "王芳=80", "x=1"], "scored twice"),
        (["王芳=101", "a=1", "b=1"], "must be a number from 0 to 100 .*; got '101'"),
        (["王芳=٨٠", "a=1", "b=1"], "digits 0-9 .*; got '٨٠'"),
        (["王芳=8_0", "a=1", "b=1"], "got '8_0'"),
        (["王芳=0E+1000000", "a=1", "b=1"], "got '0E\\+1000000'"),
        (["王芳=-0", "a=1", "b=1"], "got '-0'"),
        (["王芳=78.125", "a=1", "b=1"], "at most 2 decimals"),
        (["王芳=abc", "a=1", "b=1"], "got 'abc'"),
        (["王芳=NaN", "a=1", "b=1"], "got 'NaN'"),
    ],
)
def test_bad_scores_are_refused(incubator: Incubator, scores: list[str], match: str) -> None:
    case_id = new_case(incubator.service)
    drive(incubator.service, case_id, "entry_review")
    nothing_recorded(
        incubator,
        lambda: incubator.service.evaluate_entry(case_id, who("2014-02-10"), scores, "M-01"),
        match,
    )


def test_a_refused_entry_takes_no_workspace(incubator: Incubator) -> None:
    first, second = new_case(incubator.service), new_case(incubator.service, name="第二家")
    drive(incubator.service, first, "incubating")
    drive(incubator.service, second, "entry_review")
    nothing_recorded(
        incubator,
        lambda: incubator.service.evaluate_entry(second, who("2014-02-11"), PANEL_PASS, "M-01"),
        "is held by 爱心志愿者协会",
    )
    incubator.service.evaluate_entry(second, who("2014-02-11"), PANEL_PASS, "M-02")
    assert incubator.service.case(second).workspace == "M-02"


def test_a_declined_entry_naming_a_workspace_records_nothing_of_it(incubator: Incubator) -> None:
    case_id = new_case(incubator.service)
    drive(incubator.service, case_id, "entry_review")
    incubator.service.evaluate_entry(case_id, who("2014-02-11"), PANEL_FAIL, "M-07")
    assert incubator.service.case(case_id).stage == "declined"
    assert list(incubator.log.events.get(Workspace.id_for("main", "M-07"))) == []


def test_a_released_workspace_can_be_taken_again(any_incubator: Incubator) -> None:
    service = any_incubator.service
    first, second = new_case(service), new_case(service, name="第二家")
    drive(service, first, "follow_up")  # exit released M-01 on 2014-12-10
    drive(service, second, "entry_review")
    service.evaluate_entry(second, who("2014-12-10"), PANEL_PASS, "M-01")
    workspace: Any = any_incubator.log.repository.get(Workspace.id_for("main", "M-01"))
    assert workspace.holder == second


def test_correcting_the_entry_date_moves_the_deadlines(incubator: Incubator) -> None:
    service = incubator.service
    case_id = new_case(service)
    drive(service, case_id, "incubating")  # entered 2014-02-10
    before = case_view(service.case(case_id), incubator.park, date(2014, 3, 1))["deadlines"]
    service.correct_entry_date(case_id, who("2014-03-01", reason="协议日期"), date(2014, 1, 31))
    after = case_view(service.case(case_id), incubator.park, date(2014, 3, 1))["deadlines"]
    # applied 2014-01-02 (inspection within 14 days), submitted 2014-01-20 (evaluation in 30)
    assert [(d["kind"], d["start_on"], d["due_on"]) for d in before] == [
        ("inspection", "2014-01-02", "2014-01-16"),
        ("entry_evaluation", "2014-01-20", "2014-02-19"),
        ("growth_review", "2014-02-10", "2014-07-10"),
        ("exit_evaluation", "2014-02-10", "2014-12-10"),
    ]
    assert [(d["kind"], d["start_on"], d["due_on"]) for d in after][2:] == [
        ("growth_review", "2014-01-31", "2014-06-30"),
        ("exit_evaluation", "2014-01-31", "2014-12-01"),  # Sunday 11-30: Monday
    ]


def test_show_has_the_contract_keys_and_deadline_statuses(incubator: Incubator) -> None:
    service = incubator.service
    case_id = new_case(service)
    drive(service, case_id, "reviewed")
    case = service.case(case_id)
    view = case_view(case, incubator.park, date(2014, 12, 11), service.party_track(case))
    assert {
        "id",
        "name",
        "track",
        "stage",
        "site",
        "workspace",
        "field",
        "legal_status",
        "caseworker",
        "entered_on",
        "deadlines",
    } <= set(view)
    assert [(d["kind"], d["status"], d["met_on"]) for d in view["deadlines"]] == [
        ("inspection", "done", "2014-01-08"),
        ("entry_evaluation", "done", "2014-02-10"),
        ("growth_review", "done", "2014-07-10"),
        ("exit_evaluation", "overdue", None),
        ("member_discovery", "overdue", None),  # its party track never counted members
    ]
    on_due_day = case_view(service.case(case_id), incubator.park, date(2014, 12, 10))
    assert on_due_day["deadlines"][3]["status"] == "pending"


def test_history_lists_every_event_with_actor_reason_and_data(incubator: Incubator) -> None:
    service = incubator.service
    case_id = new_case(service)
    drive(service, case_id, "inspecting")
    service.reject(case_id, who("2014-01-10", actor="李娜", reason="不符合条件"))
    events = history(incubator.log, case_id)
    assert [e["type"] for e in events] == [
        "ApplicationReceived",
        "InspectionStarted",
        "ApplicationRejected",
    ]
    assert (events[-1]["actor"], events[-1]["reason"], events[-1]["on"]) == (
        "李娜",
        "不符合条件",
        "2014-01-10",
    )
    assert events[-1]["data"] == {"stage": "rejected"}
    assert events[0]["data"]["name"] == "爱心志愿者协会"


def test_the_caseload_follows_the_log(any_incubator: Incubator) -> None:
    service = any_incubator.service
    first, second = new_case(service), new_case(service, name="第二家", site="branch")
    drive(service, first, "incubating")
    service.assign(second, who("2014-01-05"), "李娜")
    any_incubator.read_models.catch_up()
    rows = {r["id"]: r for r in any_incubator.read_models.caseload()}
    assert (rows[str(first)]["stage"], rows[str(first)]["workspace"]) == ("incubating", "M-01")
    assert (rows[str(second)]["stage"], rows[str(second)]["caseworker"]) == ("applied", "李娜")
    assert [r["id"] for r in any_incubator.read_models.caseload(site="branch")] == [str(second)]
    assert any_incubator.read_models.caseload(stage="closed") == []
    assert any_incubator.read_models.catch_up() == 0  # nothing applied twice


def test_a_case_loads_as_the_library_s_own_replay_makes_it(incubator: Incubator) -> None:
    """The log replays without the library's check of each event against a protocol (the
    most of a load's time): the same state, version and dates."""
    case_id = new_case(incubator.service)
    drive(incubator.service, case_id, "incubating")
    loaded: Any = incubator.log.repository.get(case_id)
    replayed: Any = project_aggregate(None, incubator.log.events.get(case_id))
    assert loaded.version == replayed.version > 3
    assert vars(loaded) == vars(replayed)
