"""The party-branch commands on a real database: the automatic start exactly once, lookups,
refusals that record nothing, one transaction for everything a step changes, coverage."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from commands.bootstrap import Incubator
from commands.queries import case_view
from lifecycle.errors import NotFound, WrongStage
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from tests.builders import ENTRY_ON, PANEL_PASS, drive, new_case, new_resident
from tests.conftest import NOW, who
from tests.test_service import nothing_recorded


def entered(system: Incubator, name: str = "爱心志愿者协会", workspace: str = "M-01") -> UUID:
    case_id = new_case(system.service, name=name)
    drive(system.service, case_id, "incubating", workspace=workspace)
    return case_id


def names(system: Incubator, aggregate_id: UUID) -> list[str]:
    return [type(e).__name__ for e in system.log.events.get(aggregate_id)]


def test_entry_starts_the_party_track_in_the_same_transaction(any_incubator: Incubator) -> None:
    system = any_incubator
    case_id = new_case(system.service)
    drive(system.service, case_id, "entry_review")
    assert system.service.party_track(system.service.case(case_id)) is None
    head = system.log.recorder.max_notification_id() or 0

    system.service.evaluate_entry(case_id, who(ENTRY_ON), PANEL_PASS, "M-01")

    # The approval, the workspace and the party track: one transaction, consecutive positions.
    written = system.log.recorder.select_notifications(head + 1, 10)
    assert sorted(n.topic.rsplit(".", 1)[-1] for n in written) == [
        "Allocated",
        "EntryApproved",
        "Registered",
        "Started",
    ]
    track = system.party.track(case_id)
    assert (track.id, track.stage, track.started_on.isoformat(), track.site) == (
        PartyIncubation.id_for(case_id),
        "entry_inspection",
        ENTRY_ON,
        "main",
    )


def test_a_retried_entry_is_refused_and_starts_nothing(incubator: Incubator) -> None:
    case_id = entered(incubator)
    nothing_recorded(
        incubator,
        lambda: incubator.service.evaluate_entry(case_id, who(ENTRY_ON), PANEL_PASS, "M-02"),
        "cannot evaluate-entry: the case is in stage 'incubating'",
    )
    assert names(incubator, PartyIncubation.id_for(case_id)) == ["Started"]


def test_the_log_refuses_a_second_start_of_one_case_s_track(any_incubator: Incubator) -> None:
    """Even code that bypasses the case's rules cannot start a track twice: the id is the case's."""
    case_id = entered(any_incubator)
    again = PartyIncubation.start(
        case_id, "爱心志愿者协会", "main", Step("王芳", NOW.date(), NOW, None)
    )
    with pytest.raises(IntegrityError):
        any_incubator.log.save(again)
    assert names(any_incubator, PartyIncubation.id_for(case_id)) == ["Started"]


def test_a_resident_s_admission_starts_its_track(incubator: Incubator) -> None:
    case_id = new_resident(incubator.service)
    incubator.service.admit(case_id, who("2014-02-01"), "B-01")
    assert incubator.party.track(case_id).site == "branch"


def test_party_commands_on_a_case_without_a_track_say_when_it_starts(
    incubator: Incubator,
) -> None:
    case_id = new_case(incubator.service)
    nothing_recorded(
        incubator,
        lambda: incubator.party.record_inspection(case_id, who("2014-01-05")),
        r"no party track yet: it starts when the organization enters the shell "
        r"\(evaluate-entry\) or is admitted as a resident \(admit\); the case is in stage "
        r"'applied'",
    )
    with pytest.raises(NotFound, match="no organization case with id"):
        incubator.party.track(PartyIncubation.id_for(case_id))


def test_a_case_that_entered_before_automatic_starts_gets_its_track_once(
    incubator: Incubator,
) -> None:
    """A log written before party tracks existed: the entry without its track."""
    case_id = new_case(incubator.service)
    drive(incubator.service, case_id, "entry_review")
    case = incubator.service.case(case_id)
    step = Step("王芳", NOW.date(), NOW)
    ws = Workspace.register("main", "M-01", step)
    case.evaluate_entry(step, Panel.parse(PANEL_PASS), incubator.park.rules, ws.code)
    ws.allocate(case_id, case.name, step)
    incubator.log.save(case, ws)  # no party track started, as old code did
    with pytest.raises(NotFound, match="before party tracks were started automatically"):
        incubator.party.track(case_id)

    track = incubator.party.start_missing(case_id, who("2026-11-22"))
    assert track.stage == "entry_inspection"
    nothing_recorded(
        incubator,
        lambda: incubator.party.start_missing(case_id, who("2026-11-22")),
        "already has its party track",
    )
    other = new_case(incubator.service, name="市民学堂")
    nothing_recorded(
        incubator,
        lambda: incubator.party.start_missing(other, who("2026-11-22")),
        "only while its case is open",
    )


def test_ending_a_case_closes_its_track_and_leaves_its_branch_in_one_transaction(
    any_incubator: Incubator,
) -> None:
    system = any_incubator
    case_id = entered(system)
    branch = system.party.create_joint_branch(
        who("2014-02-01"), name="主园区联合党支部", site="main"
    )
    system.party.record_inspection(case_id, who("2014-02-11"))
    system.party.count_members(case_id, who("2014-02-12"), 2, transferred=2)
    system.party.join_branch(case_id, who("2014-02-13"), str(branch.id))
    head = system.log.recorder.max_notification_id() or 0

    system.service.terminate(case_id, who("2014-05-01", reason="违反园区管理规定"))

    written = system.log.recorder.select_notifications(head + 1, 10)
    assert sorted(n.topic.rsplit(".", 1)[-1] for n in written) == [
        "Closed",
        "MemberLeft",
        "Released",
        "Terminated",
    ]
    track = system.party.track(case_id)
    assert (track.stage, track.ended_on.isoformat() if track.ended_on else None) == (
        "closed",
        "2014-05-01",
    )
    assert system.party.joint_branch(str(branch.id)).members == {}
    with pytest.raises(WrongStage, match="none: the party track has ended"):
        system.party.rate(case_id, who("2014-05-02"), 3, "x")


def test_joint_branches_are_found_by_id_or_by_name_at_the_organization_s_site(
    incubator: Incubator,
) -> None:
    main = incubator.party.create_joint_branch(who("2014-02-01"), name="联合党支部", site="main")
    branch_site = incubator.party.create_joint_branch(
        who("2014-02-01"), name="联合党支部", site="branch"
    )
    assert main.id != branch_site.id == JointBranch.id_for("branch", "联合党支部")
    assert incubator.party.joint_branch(" 联合党支部 ", "main").id == main.id
    with pytest.raises(NotFound, match="site 'community-1' has no joint branch named '联合党支部'"):
        incubator.party.joint_branch("联合党支部", "community-1")
    with pytest.raises(NotFound, match="no joint branch with id"):
        incubator.party.joint_branch(str(PartyIncubation.id_for(main.id)))
    nothing_recorded(
        incubator,
        lambda: incubator.party.create_joint_branch(
            who("2014-03-01"), name="联合党支部", site="main"
        ),
        "site 'main' already has a joint branch named '联合党支部'",
    )
    nothing_recorded(
        incubator,
        lambda: incubator.party.create_joint_branch(who("2014-03-01"), name="x", site="moon"),
        "unknown site 'moon'",
    )
    nothing_recorded(
        incubator,
        lambda: incubator.party.create_joint_branch(who("2014-03-01"), name="  ", site="main"),
        "needs --name",
    )

    case_id = entered(incubator)
    incubator.party.record_inspection(case_id, who("2014-02-11"))
    incubator.party.count_members(case_id, who("2014-02-12"), 1, transferred=1)
    nothing_recorded(
        incubator,
        lambda: incubator.party.join_branch(case_id, who("2014-02-13"), str(branch_site.id)),
        "is at site 'branch'; this organization is at 'main'",
    )
    track = incubator.party.join_branch(case_id, who("2014-02-13"), "联合党支部")
    assert track.branch_id == main.id


def test_growth_reviews_and_exits_carry_the_party_s_current_stars(incubator: Incubator) -> None:
    case_id = entered(incubator)
    incubator.party.record_inspection(case_id, who("2014-02-11"))
    incubator.party.count_members(case_id, who("2014-02-12"), 3, transferred=3)
    incubator.party.found_branch(case_id, who("2014-02-20"), "协会党支部")
    incubator.party.rate(case_id, who("2014-06-01"), 3, "组织健全")
    case = incubator.service.record_growth_review(case_id, who("2014-07-10"), ["王芳=75"])
    [review] = list(incubator.log.events.get(case_id, gt=case.version - 1))
    assert isinstance(review, OrganizationCase.GrowthReviewRecorded)
    assert review.party_stars == 3

    nothing_recorded(
        incubator,
        lambda: incubator.service.evaluate_exit(case_id, who("2014-12-10"), PANEL_PASS),
        "no star rating since the last growth review on 2014-07-10",
    )
    incubator.party.rate(case_id, who("2014-12-01"), 4, "年度评定")
    case = incubator.service.evaluate_exit(case_id, who("2014-12-10"), PANEL_PASS)
    [exit_event] = list(incubator.log.events.get(case_id, gt=case.version - 1))
    assert isinstance(exit_event, OrganizationCase.ExitApproved)
    assert exit_event.party_stars == 4
    view = case_view(
        case, incubator.park, incubator.service.today(), incubator.party.track(case_id)
    )
    assert view["party"] == {
        "stage": "follow_up",
        "formal_members": 3,
        "branch": "independent",
        "stars": 4,
        "rated_on": "2014-12-01",
    }


def test_coverage_counts_the_organizations_in_the_park_by_site(any_incubator: Incubator) -> None:
    system = any_incubator
    a = entered(system, "爱心志愿者协会", "M-01")
    b = entered(system, "心理疏导工作室", "M-02")
    resident = new_resident(system.service)
    system.service.admit(resident, who("2014-02-01"), "B-01")
    new_case(system.service, name="市民学堂")  # applied only: not in the park
    for case_id, formal in ((a, 3), (b, 1), (resident, 2)):
        system.party.record_inspection(case_id, who("2014-02-11"))
        system.party.count_members(case_id, who("2014-02-12"), formal, transferred=formal)
    system.party.found_branch(a, who("2014-02-20"), "协会党支部")
    system.party.create_joint_branch(who("2014-02-01"), name="主园区联合党支部", site="main")
    system.party.join_branch(b, who("2014-02-20"), "主园区联合党支部")
    system.read_models.catch_up()

    assert system.read_models.party_coverage() == {
        "organizations": 3,
        "covered": 3,
        "formal_members": 6,
        "branches": {"independent": 1, "joint": 0},  # 1 formal member: not constituted
        "ratio": 1.0,
    }
    assert system.read_models.party_coverage("branch") == {
        "organizations": 1,
        "covered": 1,
        "formal_members": 2,
        "branches": {"independent": 0, "joint": 0},
        "ratio": 1.0,
    }
    assert system.read_models.party_coverage("community-4")["ratio"] is None
    assert [
        (b["site"], b["name"], b["kind"], b["organizations"], b["formal_members"], b["constituted"])
        for b in system.read_models.party_branches()
    ] == [
        ("main", "协会党支部", "independent", 1, 3, True),
        ("main", "主园区联合党支部", "joint", 1, 1, False),
    ]
    assert system.read_models.party_branches("branch") == []

    system.service.withdraw(b, who("2014-03-01", reason="团队解散"))
    system.read_models.catch_up()
    after = system.read_models.party_coverage("main")
    assert (after["organizations"], after["formal_members"], after["branches"]) == (
        1,
        3,
        {"independent": 1, "joint": 0},
    )
    branches = system.read_models.party_branches()
    assert [(b["kind"], b["organizations"]) for b in branches] == [("independent", 1), ("joint", 0)]
    system.read_models.rebuild(["party"])
    assert system.read_models.party_coverage("main") == after
    assert system.read_models.party_branches() == branches
