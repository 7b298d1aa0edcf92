"""Given a party track in some stage, when a command, then these events (or this refusal and none).

Domain tests on the party-branch incubation track (社会组织党组织孵化), the joint party branches
(联合党支部) and how the organization case starts, synchronizes and ends the track. No database,
no service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from lifecycle.errors import Refused, WrongStage
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import Holdings, OrganizationCase
from lifecycle.park import Rules
from lifecycle.party import PartyIncubation
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from tests.conftest import NOW

RULES = Rules()
PASS = Panel.parse(["王芳=78", "李强=82", "张敏=70"])
FAIL = Panel.parse(["王芳=50", "李强=55", "张敏=40"])
REVIEW = Panel.parse(["王芳=75"])
ORG = "爱心志愿者协会"
BRANCH = "园区第一联合党支部"
Act = Callable[[PartyIncubation], Any]

# The track's calendar in these tests: started 02-10, inspected 02-20, counted 03-01,
# developed 03-10, in a branch 04-01; follow-up steps from 05-01.
STARTED, INSPECTED, COUNTED, DEVELOPED, BRANCHED = (
    "2014-02-10",
    "2014-02-20",
    "2014-03-01",
    "2014-03-10",
    "2014-04-01",
)


def step(on: str, reason: str | None = None) -> Step:
    return Step(actor="王芳", on=date.fromisoformat(on), recorded_at=NOW, reason=reason)


def recorded(aggregate: Aggregate) -> list[Any]:
    """The events `aggregate` has pending, taken from it."""
    return list(aggregate.collect_events())


def names(events: Sequence[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def joint_branch(site: str = "main", name: str = BRANCH, on: str = "2014-01-15") -> JointBranch:
    branch = JointBranch.create(site, name, step(on))
    recorded(branch)
    return branch


class Given:
    """Party tracks in each stage, reached through the track's own commands."""

    def started(self, site: str = "main", name: str = ORG) -> PartyIncubation:
        return PartyIncubation.start(uuid4(), name, site, step(STARTED))

    def member_discovery(self, site: str = "main", name: str = ORG) -> PartyIncubation:
        track = self.started(site, name)
        track.record_inspection(step(INSPECTED), "走访党建情况")
        return track

    def support(self, formal: int, site: str = "main", name: str = ORG) -> PartyIncubation:
        track = self.member_discovery(site, name)
        track.count_members(step(COUNTED), formal, 0, 0, None)
        return track

    def formation(self, formal: int) -> PartyIncubation:
        track = self.support(formal)
        if formal == 0:
            track.assign_instructor(step(COUNTED), "刘建国")
        track.record_development(step(DEVELOPED), "确定入党积极分子")
        return track

    def independent(self) -> PartyIncubation:
        track = self.support(3)
        track.found_branch(step(BRANCHED), "爱心志愿者协会党支部", None)
        return track

    def joint(self, branch: JointBranch, formal: int = 2, name: str = ORG) -> PartyIncubation:
        track = self.support(formal, branch.site, name)
        track.join_branch(step(BRANCHED), branch)
        return track

    def closed(self) -> PartyIncubation:
        track = self.support(1)
        track.close(step("2014-05-01", "团队解散"), "withdrawn", None)
        return track


@pytest.fixture
def given() -> Given:
    return Given()


def then_events(track: PartyIncubation, act: Act, *also: Aggregate) -> list[Any]:
    """The events `act` records on the track (after what it already had); the pending events of
    the other aggregates it touches (`also`) start empty too."""
    for aggregate in (track, *also):
        recorded(aggregate)
    act(track)
    return recorded(track)


def then_refused(
    track: PartyIncubation,
    act: Act,
    match: str,
    error: type[Refused] = Refused,
    *also: JointBranch,
) -> Refused:
    """`act` is refused with `match`, and neither the track nor any branch records anything."""
    for aggregate in (track, *also):
        recorded(aggregate)
    before = (track.version, track.stage, track.last_on, track.formal, track.branch_id)
    branches = [(b.version, dict(b.members), b.constituted_on) for b in also]
    with pytest.raises(error, match=match) as refusal:
        act(track)
    assert track.pending_events == []
    assert all(b.pending_events == [] for b in also)
    assert (track.version, track.stage, track.last_on, track.formal, track.branch_id) == before
    assert [(b.version, dict(b.members), b.constituted_on) for b in also] == branches
    return refusal.value


# ---- the organization case starts the track ------------------------------------------------


def applied(track: str = "incubation") -> OrganizationCase:
    return OrganizationCase.apply_for(
        step("2014-01-02"),
        name=ORG,
        field="charity",
        legal_status="registered",
        track=track,
        site="main",
    )


def workspace(code: str = "M-01") -> Workspace:
    return Workspace.register("main", code, step("2014-01-01"))


def entry_review() -> OrganizationCase:
    case = applied()
    case.start_inspection(step("2014-01-08"))
    case.submit_for_entry(step("2014-01-20"))
    return case


def entered() -> tuple[OrganizationCase, PartyIncubation, Workspace]:
    """An incubating case (entered 2014-02-10) and the party track its entry started."""
    case, ws = entry_review(), workspace()
    track = case.evaluate_entry(step(STARTED), PASS, RULES, ws)
    assert track is not None
    return case, track, ws


def test_a_passed_entry_starts_the_party_track_in_entry_inspection() -> None:
    case, ws = entry_review(), workspace()
    track = case.evaluate_entry(step(STARTED), PASS, RULES, ws)
    assert track is not None
    [started] = recorded(track)
    assert type(started).__name__ == "Started"
    assert (started.case_id, started.site, started.org_name, started.on) == (
        case.id,
        "main",
        ORG,
        date(2014, 2, 10),
    )
    assert (track.id, track.stage, track.is_open) == (
        PartyIncubation.id_for(case.id),
        "entry_inspection",
        True,
    )
    assert started.timestamp == NOW


def test_a_residents_admission_starts_its_party_track() -> None:
    case = applied("residency")
    track = case.admit(step("2014-02-01"), workspace())
    assert names(recorded(track)) == ["Started"]
    assert (track.id, track.case_id, track.stage) == (
        PartyIncubation.id_for(case.id),
        case.id,
        "entry_inspection",
    )


def test_a_declined_entry_starts_no_party_track() -> None:
    assert entry_review().evaluate_entry(step(STARTED), FAIL, RULES, None) is None


def test_the_track_id_is_one_per_case_so_a_second_start_is_the_same_aggregate() -> None:
    case_id, other = uuid4(), uuid4()
    first = PartyIncubation.start(case_id, ORG, "main", step(STARTED))
    again = PartyIncubation.start(case_id, ORG, "main", step("2014-02-11"))
    # the log refuses a second version 1 of one aggregate: the track exists exactly once
    assert (first.id, first.version) == (PartyIncubation.id_for(case_id), 1)
    assert (again.id, again.version) == (first.id, 1)
    assert PartyIncubation.id_for(other) != first.id


# ---- inspection and member discovery --------------------------------------------------------


def test_record_inspection_moves_to_member_discovery(given: Given) -> None:
    track = given.started()
    [event] = then_events(track, lambda t: t.record_inspection(step(INSPECTED), "  走访  "))
    assert (type(event).__name__, event.stage, event.note) == (
        "InspectionRecorded",
        "member_discovery",
        "走访",
    )
    assert (track.inspected, track.last_on) == (True, date(2014, 2, 20))


def test_an_inspection_note_is_optional(given: Given) -> None:
    [event] = then_events(given.started(), lambda t: t.record_inspection(step(INSPECTED), "  "))
    assert event.note is None


def test_the_first_count_moves_to_support(given: Given) -> None:
    track = given.member_discovery()
    [event] = then_events(track, lambda t: t.count_members(step(COUNTED), 2, 1, 1, None))
    assert (type(event).__name__, event.stage) == ("MembersCounted", "support")
    assert (event.formal, event.probationary, event.transferred) == (2, 1, 1)
    assert (track.formal, track.probationary, track.transferred) == (2, 1, 1)


@pytest.mark.parametrize("stage", ["support", "formation", "follow_up"])
def test_later_counts_stay_in_their_stage(given: Given, stage: str) -> None:
    track = {
        "support": lambda: given.support(3),
        "formation": lambda: given.formation(3),
        "follow_up": given.independent,
    }[stage]()
    [event] = then_events(track, lambda t: t.count_members(step("2014-06-01"), 5, 2, 3, None))
    assert (event.stage, track.stage, track.formal) == (stage, stage, 5)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (
            (-1, 0, 0),
            "--formal must be a whole number from 0 to 10000 \\(digits 0-9 only\\); got '-1'",
        ),
        (
            (1, -1, 0),
            "--probationary must be a whole number from 0 to 10000 \\(digits 0-9 only\\); got '-1'",
        ),
        (
            (1, 0, -2),
            "--transferred must be a whole number from 0 to 10000 \\(digits 0-9 only\\); got '-2'",
        ),
        ((1, 0, 2), "--transferred 2 is more than the 1 formal members"),
    ],
)
def test_impossible_counts_are_refused(
    given: Given, counts: tuple[int, int, int], match: str
) -> None:
    formal, probationary, transferred = counts
    then_refused(
        given.member_discovery(),
        lambda t: t.count_members(step(COUNTED), formal, probationary, transferred, None),
        match,
    )


def test_a_recount_that_changes_nothing_is_refused(given: Given) -> None:
    track = given.member_discovery()
    track.count_members(step(COUNTED), 2, 1, 0, None)
    then_refused(
        track,
        lambda t: t.count_members(step("2014-03-02"), 2, 1, 0, None),
        "the count is already 2 formal, 1 probationary, 0 transferred; record it again when",
    )
    [event] = then_events(track, lambda t: t.count_members(step("2014-03-02"), 2, 2, 0, None))
    assert event.probationary == 2  # any change of the three is a new count


def test_party_steps_are_recorded_in_date_order(given: Given) -> None:
    then_refused(
        given.member_discovery(),
        lambda t: t.count_members(step("2014-02-19"), 1, 0, 0, None),
        "the date 2014-02-19 is before the party track's last recorded step on 2014-02-20",
    )
    [event] = then_events(
        given.member_discovery(), lambda t: t.count_members(step(INSPECTED), 1, 0, 0, None)
    )
    assert event.on == date(2014, 2, 20)  # the same day is in order


def test_a_wrong_stage_names_the_party_track_and_its_allowed_commands(given: Given) -> None:
    refusal = then_refused(
        given.started(),
        lambda t: t.count_members(step(COUNTED), 1, 0, 0, None),
        "cannot count-members: the party track is in stage 'entry_inspection'; "
        "commands allowed from 'entry_inspection': assign-instructor, record-inspection$",
        WrongStage,
    )
    assert refusal.allowed == ["assign-instructor", "record-inspection"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("stage", "allowed"),
    [
        ("entry_inspection", ["assign-instructor", "record-inspection"]),
        ("member_discovery", ["assign-instructor", "count-members"]),
        (
            "support",
            [
                "assign-instructor",
                "count-members",
                "found-branch",
                "join-branch",
                "record-development",
                "record-support",
            ],
        ),
        (
            "follow_up",
            ["assign-instructor", "count-members", "found-branch", "rate", "record-service"],
        ),
        ("closed", []),
    ],
)
def test_close_is_never_offered_as_a_command(given: Given, stage: str, allowed: list[str]) -> None:
    track = {
        "entry_inspection": given.started,
        "member_discovery": given.member_discovery,
        "support": lambda: given.support(1),
        "follow_up": given.independent,
        "closed": given.closed,
    }[stage]()
    assert track.stage == stage
    assert track.allowed_commands() == allowed
    assert "close" not in track.allowed_commands()


def test_formation_offers_the_same_commands_as_support(given: Given) -> None:
    assert given.formation(1).allowed_commands() == given.support(1).allowed_commands()


# ---- instructor ----------------------------------------------------------------------------


def test_an_instructor_is_assigned_in_any_open_stage_but_not_twice(given: Given) -> None:
    branch = joint_branch()
    for track in (
        given.started(),
        given.member_discovery(),
        given.support(0),
        given.formation(2),
        given.independent(),
        given.joint(branch),
    ):
        stage = track.stage
        [event] = then_events(track, lambda t: t.assign_instructor(step("2014-06-01"), " 李娜 "))
        assert (type(event).__name__, event.instructor) == ("InstructorAssigned", "李娜")
        assert (track.instructor, track.stage) == ("李娜", stage)
        then_refused(
            track,
            lambda t: t.assign_instructor(step("2014-06-02"), "李娜"),
            "李娜 is already the party-building instructor of this track",
        )


def test_assign_instructor_needs_a_name(given: Given) -> None:
    then_refused(
        given.started(),
        lambda t: t.assign_instructor(step(INSPECTED), "  "),
        "assign-instructor needs --instructor with some text",
    )


# ---- support and development ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["space", "instructor", "training", "information", "project", "funds"]
)
def test_each_support_kind_is_recorded_for_an_organization_with_members(
    given: Given, kind: str
) -> None:
    track = given.support(1)
    [event] = then_events(track, lambda t: t.record_support(step("2014-03-05"), kind, "帮扶"))
    assert (type(event).__name__, event.kind, event.note) == ("SupportRecorded", kind, "帮扶")
    assert (track.stage, track.supports) == (
        "support",
        [{"kind": kind, "on": date(2014, 3, 5), "note": "帮扶"}],
    )


def test_support_needs_a_known_kind_a_note_and_the_support_or_formation_stage(
    given: Given,
) -> None:
    then_refused(
        given.support(1),
        lambda t: t.record_support(step("2014-03-05"), "money", "x"),
        "unknown support kind 'money'; kinds: space, instructor, training, information, "
        "project, funds",
    )
    then_refused(
        given.support(1),
        lambda t: t.record_support(step("2014-03-05"), "space", " "),
        "record-support needs --note",
    )
    then_refused(
        given.member_discovery(),
        lambda t: t.record_support(step("2014-03-05"), "space", "x"),
        "cannot record-support: the party track is in stage 'member_discovery'",
        WrongStage,
    )
    [event] = then_events(
        given.formation(1), lambda t: t.record_support(step("2014-03-15"), "training", "培训")
    )
    assert event.kind == "training"


@pytest.mark.parametrize("kind", ["space", "training", "project", "funds"])
def test_without_formal_members_only_advice_is_support(given: Given, kind: str) -> None:
    track = given.support(0)
    track.assign_instructor(step(COUNTED), "刘建国")
    then_refused(
        track,
        lambda t: t.record_support(step("2014-03-05"), kind, "x"),
        f"with no formal party members .* kind instructor or information, not '{kind}'",
    )


@pytest.mark.parametrize("kind", ["instructor", "information"])
def test_without_formal_members_advice_needs_an_instructor_first(given: Given, kind: str) -> None:
    track = given.support(0)
    then_refused(
        track,
        lambda t: t.record_support(step("2014-03-05"), kind, "政策宣讲"),
        r"record-support: with no formal party members a party-building instructor or liaison "
        r"\(党建指导员/联络员\) must be assigned first \(assign-instructor\)",
    )
    track.assign_instructor(step("2014-03-05"), "刘建国")
    [event] = then_events(track, lambda t: t.record_support(step("2014-03-05"), kind, "政策宣讲"))
    assert event.kind == kind


def test_development_moves_to_formation_and_stays_there(given: Given) -> None:
    track = given.support(1)
    [event] = then_events(track, lambda t: t.record_development(step(DEVELOPED), "积极分子"))
    assert (type(event).__name__, event.stage, event.note) == (
        "DevelopmentRecorded",
        "formation",
        "积极分子",
    )
    [again] = then_events(track, lambda t: t.record_development(step("2014-03-20"), "发展对象"))
    assert again.stage == "formation"
    assert [d["note"] for d in track.developments] == ["积极分子", "发展对象"]


def test_development_without_members_needs_an_instructor(given: Given) -> None:
    then_refused(
        given.support(0),
        lambda t: t.record_development(step(DEVELOPED), "x"),
        "record-development: with no formal party members .* must be assigned first",
    )
    track = given.support(0)
    track.assign_instructor(step(COUNTED), "刘建国")
    [event] = then_events(track, lambda t: t.record_development(step(DEVELOPED), "联络员辅导"))
    assert (event.stage, track.stage) == ("formation", "formation")


def test_development_needs_a_note_and_the_support_or_formation_stage(given: Given) -> None:
    then_refused(
        given.support(1),
        lambda t: t.record_development(step(DEVELOPED), ""),
        "record-development needs --note",
    )
    then_refused(
        given.independent(),
        lambda t: t.record_development(step("2014-05-01"), "x"),
        "cannot record-development: the party track is in stage 'follow_up'",
        WrongStage,
    )


# ---- an independent branch -----------------------------------------------------------------


@pytest.mark.parametrize("stage", ["support", "formation"])
def test_three_formal_members_found_their_own_branch(given: Given, stage: str) -> None:
    track = given.support(3) if stage == "support" else given.formation(3)
    branch_id = uuid4()
    [event] = then_events(
        track, lambda t: t.found_branch(step(BRANCHED), " 协会党支部 ", None, branch_id)
    )
    assert (type(event).__name__, event.stage, event.name, event.left_joint) == (
        "BranchFounded",
        "follow_up",
        "协会党支部",
        None,
    )
    assert (track.branch_kind, track.branch_id, track.branch_name) == (
        "independent",
        branch_id,
        "协会党支部",
    )


@pytest.mark.parametrize(
    ("formal", "advice"),
    [
        (0, r"assign an instructor and develop members \(record-development\)"),
        (1, r"join a joint branch \(join-branch\)"),
        (2, r"join a joint branch \(join-branch\)"),
    ],
)
def test_founding_a_branch_needs_three_formal_members(
    given: Given, formal: int, advice: str
) -> None:
    then_refused(
        given.support(formal),
        lambda t: t.found_branch(step(BRANCHED), "党支部", None),
        f"an independent party branch needs at least 3 formal members; this organization has "
        f"{formal}: {advice}",
    )


def test_founding_needs_a_name(given: Given) -> None:
    then_refused(
        given.support(3),
        lambda t: t.found_branch(step(BRANCHED), " ", None),
        "found-branch needs --name",
    )


def test_an_organization_with_its_own_branch_cannot_found_another(given: Given) -> None:
    track = given.independent()
    track.count_members(step("2014-05-01"), 4, 0, 0, None)
    then_refused(
        track,
        lambda t: t.found_branch(step("2014-05-02"), "第二党支部", None),
        "this organization already has its own branch '爱心志愿者协会党支部'",
    )


def test_a_joint_member_that_grew_to_three_founds_its_own_and_leaves(given: Given) -> None:
    branch = joint_branch()
    track = given.joint(branch, 2)
    other = given.joint(branch, 1, "社区服务中心")
    track.count_members(step("2014-05-01"), 3, 0, 0, branch)
    events = then_events(
        track, lambda t: t.found_branch(step("2014-06-01"), "协会党支部", branch), branch
    )
    assert names(events) == ["BranchFounded"]
    assert (events[0].stage, events[0].left_joint) == ("follow_up", branch.id)
    assert (track.branch_kind, track.branch_name) == ("independent", "协会党支部")
    [left, below] = recorded(branch)
    assert (type(left).__name__, left.case_id, left.why, left.on) == (
        "MemberLeft",
        track.case_id,
        "founded its own branch",
        date(2014, 6, 1),
    )
    # 1 formal member is left: the joint branch is no longer a branch until others join
    assert (type(below).__name__, below.formal, below.on) == (
        "FellBelowMinimum",
        1,
        date(2014, 6, 1),
    )
    assert (branch.constituted, branch.constituted_on) == (False, None)
    assert branch.members == {str(other.case_id): 1}
    assert branch.member_names == {str(other.case_id): "社区服务中心"}


def test_a_joint_member_with_too_few_members_cannot_found_its_own(given: Given) -> None:
    branch = joint_branch()
    then_refused(
        given.joint(branch, 2),
        lambda t: t.found_branch(step("2014-06-01"), "协会党支部", branch),
        "needs at least 3 formal members; this organization has 2",
        Refused,
        branch,
    )


def test_a_joint_member_refused_founding_is_not_told_to_join_a_branch(given: Given) -> None:
    branch = joint_branch()
    refusal = then_refused(
        given.joint(branch, 2),
        lambda t: t.found_branch(step("2014-06-01"), "协会党支部", branch),
        "needs at least 3 formal members",
    )
    assert "join-branch" not in str(refusal)


# ---- joint branches ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["support", "formation"])
def test_one_or_two_formal_members_join_a_joint_branch_of_their_site(
    given: Given, stage: str
) -> None:
    branch = joint_branch()
    track = given.support(2) if stage == "support" else given.formation(2)
    [event] = then_events(track, lambda t: t.join_branch(step(BRANCHED), branch), branch)
    assert (type(event).__name__, event.stage, event.branch_id, event.name) == (
        "JointBranchJoined",
        "follow_up",
        branch.id,
        BRANCH,
    )
    assert (track.branch_kind, track.branch_id, track.branch_name) == ("joint", branch.id, BRANCH)
    [joined] = recorded(branch)  # 2 formal members: not yet constituted
    assert (type(joined).__name__, joined.case_id, joined.org_name, joined.formal) == (
        "MemberJoined",
        track.case_id,
        ORG,
        2,
    )
    assert (branch.members, branch.constituted_on) == ({str(track.case_id): 2}, None)


@pytest.mark.parametrize(
    ("formal", "advice"),
    [
        (0, r"assign an instructor and develop members \(record-development\)"),
        (3, r"found its own branch \(found-branch\)"),
        (4, r"found its own branch \(found-branch\)"),
    ],
)
def test_a_joint_branch_is_for_one_or_two_formal_members(
    given: Given, formal: int, advice: str
) -> None:
    branch = joint_branch()
    then_refused(
        given.support(formal),
        lambda t: t.join_branch(step(BRANCHED), branch),
        f"a joint branch is for organizations with 1 or 2 formal members; this one has "
        f"{formal}: {advice}",
        Refused,
        branch,
    )


def test_a_joint_branch_of_another_site_is_refused(given: Given) -> None:
    branch = joint_branch(site="east")
    then_refused(
        given.support(1),
        lambda t: t.join_branch(step(BRANCHED), branch),
        f"joint branch '{BRANCH}' is at site 'east'; this organization is at 'main' and joins "
        f"a joint branch of its own site",
        Refused,
        branch,
    )


def test_joining_before_the_branch_was_created_is_refused(given: Given) -> None:
    branch = joint_branch(on="2014-05-01")
    then_refused(
        given.support(1),
        lambda t: t.join_branch(step(BRANCHED), branch),
        f"joint branch '{BRANCH}' was created on 2014-05-01; 2014-04-01 is before that",
        Refused,
        branch,
    )


def test_a_track_in_a_branch_cannot_join_again(given: Given) -> None:
    branch = joint_branch()
    then_refused(
        given.joint(branch),
        lambda t: t.join_branch(step("2014-05-01"), branch),
        "cannot join-branch: the party track is in stage 'follow_up'",
        WrongStage,
        branch,
    )


def test_a_branch_admits_an_organization_once() -> None:
    branch = joint_branch()
    case_id = uuid4()
    branch.admit(case_id, ORG, 1, step(BRANCHED))
    recorded(branch)
    with pytest.raises(Refused, match=f"{ORG} is already a member of joint branch '{BRANCH}'"):
        branch.admit(case_id, ORG, 1, step("2014-04-02"))
    assert branch.pending_events == []


def test_a_joint_branch_needs_a_name_and_its_id_comes_from_site_and_name() -> None:
    with pytest.raises(Refused, match="joint-branch create needs --name"):
        JointBranch.create("main", " ", step("2014-01-15"))
    branch = JointBranch.create("main", f" {BRANCH} ", step("2014-01-15"))
    assert (branch.name, branch.id) == (BRANCH, JointBranch.id_for("main", BRANCH))
    assert JointBranch.id_for("east", BRANCH) != branch.id


def test_a_branch_is_constituted_once_its_members_reach_three(given: Given) -> None:
    branch = joint_branch()
    first = given.joint(branch, 2)
    assert names(recorded(branch)) == ["MemberJoined"]
    second = given.support(1, name="社区服务中心")
    then_events(second, lambda t: t.join_branch(step("2014-04-05"), branch), branch)
    joined, constituted = recorded(branch)
    assert (type(joined).__name__, type(constituted).__name__) == ("MemberJoined", "Constituted")
    assert (constituted.formal, constituted.on) == (3, date(2014, 4, 5))
    assert branch.formal_total == 3 and branch.constituted_on == date(2014, 4, 5)
    assert set(branch.members) == {str(first.case_id), str(second.case_id)}
    given.joint(branch, 2, "第三家")
    assert names(recorded(branch)) == ["MemberJoined"]  # constituted only once


def test_a_recount_in_follow_up_updates_the_branch_and_may_constitute_it(given: Given) -> None:
    branch = joint_branch()
    track = given.joint(branch, 2)
    [event] = then_events(
        track, lambda t: t.count_members(step("2014-05-01"), 3, 0, 0, branch), branch
    )
    assert (event.stage, event.formal) == ("follow_up", 3)
    recounted, constituted = recorded(branch)
    assert (type(recounted).__name__, recounted.case_id, recounted.formal) == (
        "MemberRecounted",
        track.case_id,
        3,
    )
    assert (type(constituted).__name__, constituted.formal) == ("Constituted", 3)
    assert branch.members == {str(track.case_id): 3}
    then_events(track, lambda t: t.count_members(step("2014-06-01"), 2, 0, 0, branch), branch)
    assert names(recorded(branch)) == ["MemberRecounted", "FellBelowMinimum"]
    assert not branch.constituted
    assert branch.constituted_on is None


def test_a_recount_of_only_probationary_members_leaves_the_branch_alone(given: Given) -> None:
    branch = joint_branch()
    track = given.joint(branch, 2)
    [event] = then_events(
        track, lambda t: t.count_members(step("2014-05-01"), 2, 3, 0, branch), branch
    )
    assert event.probationary == 3
    assert branch.pending_events == []


def test_a_refused_recount_leaves_the_branch_alone(given: Given) -> None:
    branch = joint_branch()
    then_refused(
        given.joint(branch, 2),
        lambda t: t.count_members(step("2014-05-01"), 3, 0, 4, branch),
        "--transferred 4 is more than the 3 formal members",
        Refused,
        branch,
    )


# ---- follow-up services and rating ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["joint_meeting", "model_selection", "project_priority"])
def test_follow_up_services_are_recorded(given: Given, kind: str) -> None:
    track = given.independent()
    [event] = then_events(track, lambda t: t.record_service(step("2014-05-01"), kind, "联席会"))
    assert (type(event).__name__, event.kind, track.stage) == (
        "ServiceRecorded",
        kind,
        "follow_up",
    )
    assert track.services == [{"kind": kind, "on": date(2014, 5, 1), "note": "联席会"}]


def test_a_service_needs_a_known_kind_a_note_and_follow_up(given: Given) -> None:
    then_refused(
        given.independent(),
        lambda t: t.record_service(step("2014-05-01"), "party", "x"),
        "unknown service kind 'party'; kinds: joint_meeting, model_selection, project_priority",
    )
    then_refused(
        given.independent(),
        lambda t: t.record_service(step("2014-05-01"), "joint_meeting", " "),
        "record-service needs --note",
    )
    then_refused(
        given.formation(1),
        lambda t: t.record_service(step("2014-05-01"), "joint_meeting", "x"),
        "cannot record-service: the party track is in stage 'formation'",
        WrongStage,
    )


@pytest.mark.parametrize("stars", [1, 5])
def test_a_track_in_follow_up_is_rated_one_to_five_stars(given: Given, stars: int) -> None:
    track = given.independent()
    [event] = then_events(track, lambda t: t.rate(step("2014-07-01"), stars, "组织健全"))
    assert (type(event).__name__, event.stars, event.note) == ("Rated", stars, "组织健全")
    assert (track.stars, track.rated_on, track.rating_note) == (
        stars,
        date(2014, 7, 1),
        "组织健全",
    )


@pytest.mark.parametrize("stars", [0, 6, -1])
def test_stars_outside_one_to_five_are_refused(given: Given, stars: int) -> None:
    then_refused(
        given.independent(),
        lambda t: t.rate(step("2014-07-01"), stars, "x"),
        f"--stars must be a whole number from 1 to 5 \\(digits 0-9 only\\); got '{stars}'",
    )


def test_a_rating_needs_a_note_and_follow_up(given: Given) -> None:
    then_refused(
        given.independent(), lambda t: t.rate(step("2014-07-01"), 3, ""), "rate needs --note"
    )
    then_refused(
        given.support(3),
        lambda t: t.rate(step("2014-07-01"), 3, "x"),
        "cannot rate: the party track is in stage 'support'",
        WrongStage,
    )


# ---- the exit evaluation and the star rating go together (四个同步) ------------------------


def reviewed_in_follow_up(
    rated_on: str | None = None, stars: int = 4
) -> tuple[OrganizationCase, PartyIncubation, Workspace]:
    """A case entered 2014-02-10, reviewed 2014-07-10, whose party track founded its own branch
    on 2014-04-01 and, if `rated_on`, was rated then."""
    case, track, ws = entered()
    track.record_inspection(step(INSPECTED), None)
    track.count_members(step(COUNTED), 3, 0, 0, None)
    track.found_branch(step(BRANCHED), "协会党支部", None)
    if rated_on is not None and rated_on < "2014-07-10":
        track.rate(step(rated_on), stars, "组织健全")
    case.record_growth_review(step("2014-07-10"), REVIEW, track)
    if rated_on is not None and rated_on >= "2014-07-10":
        track.rate(step(rated_on), stars, "组织健全")
    return case, track, ws


def test_an_exit_is_refused_while_the_party_track_in_follow_up_has_no_rating() -> None:
    case, track, ws = reviewed_in_follow_up()
    recorded(case)
    with pytest.raises(
        Refused,
        match=r"\(四个同步\): its party organization is in follow-up and has no star rating "
        r"since the last growth review on 2014-07-10; rate it first",
    ):
        case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track))
    assert (case.pending_events, case.stage, case.exit_on) == ([], "incubating", None)
    assert ws.holder == case.id


def test_an_exit_is_refused_when_the_rating_is_older_than_the_last_growth_review() -> None:
    case, track, ws = reviewed_in_follow_up(rated_on="2014-06-01")
    recorded(case)
    with pytest.raises(
        Refused, match=r"on 2014-07-10 up to 2014-12-10 \(the last was on 2014-06-01\); rate it"
    ):
        case.evaluate_exit(step("2014-12-10"), FAIL, RULES, Holdings(ws, track))
    assert (case.pending_events, case.stage) == ([], "incubating")


@pytest.mark.parametrize("rated_on", ["2014-07-10", "2014-11-20"])
def test_a_rating_on_or_after_the_last_growth_review_lets_the_exit_through(rated_on: str) -> None:
    case, track, ws = reviewed_in_follow_up(rated_on=rated_on, stars=4)
    recorded(case)
    case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track))
    [event] = recorded(case)
    assert (type(event).__name__, event.stage, event.party_stars) == (
        "ExitApproved",
        "follow_up",
        4,
    )
    assert track.is_open  # the case is still open in follow-up: so is its party track


def test_a_rating_dated_after_the_exit_evaluation_does_not_count_for_it() -> None:
    case, track, ws = reviewed_in_follow_up(rated_on="2014-12-20")
    recorded(case)
    with pytest.raises(Refused, match=r"up to 2014-12-10 \(the last was on 2014-12-20\)"):
        case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track))
    assert case.pending_events == []


def test_a_track_refuses_a_joint_branch_that_is_not_its_own() -> None:
    _, track, _ = entered()
    mine, other = joint_branch(), joint_branch(name="另一联合党支部")
    in_joint_branch(track, mine)
    recorded(track)
    with pytest.raises(Refused, match="is not this organization's branch"):
        track.count_members(step("2014-06-01"), 2, 0, 2, other)
    assert (track.pending_events, other.pending_events) == ([], [])


def test_an_exit_needs_no_rating_while_the_party_track_is_not_in_follow_up() -> None:
    case, track, ws = entered()
    track.record_inspection(step(INSPECTED), None)
    track.count_members(step(COUNTED), 1, 0, 0, None)
    case.record_growth_review(step("2014-07-10"), REVIEW, track)
    recorded(case)
    case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track))
    [event] = recorded(case)
    assert (type(event).__name__, event.party_stars) == ("ExitApproved", None)


def test_growth_reviews_record_the_party_stars_beside_them() -> None:
    case, _, _ = reviewed_in_follow_up(rated_on="2014-06-01", stars=3)
    review = next(e for e in recorded(case) if type(e).__name__ == "GrowthReviewRecorded")
    assert review.party_stars == 3
    unrated, _, _ = reviewed_in_follow_up()
    [*_, event] = recorded(unrated)
    assert (type(event).__name__, event.party_stars) == ("GrowthReviewRecorded", None)
    plain, _, _ = entered()
    plain.record_growth_review(step("2014-07-10"), REVIEW, None)
    [*_, without] = recorded(plain)
    assert without.party_stars is None


def test_a_failed_exit_records_the_stars_and_closes_the_party_track() -> None:
    case, track, ws = reviewed_in_follow_up(rated_on="2014-08-01", stars=2)
    recorded(case)
    recorded(track)
    case.evaluate_exit(step("2014-12-10"), FAIL, RULES, Holdings(ws, track))
    [event] = recorded(case)
    assert (type(event).__name__, event.stage, event.party_stars) == ("ExitFailed", "exited", 2)
    noted, closed = recorded(track)
    assert (type(noted).__name__, noted.evaluation, noted.stars) == (
        "EvaluationNoted",
        "exit_evaluation",
        2,
    )
    assert (type(closed).__name__, closed.stage, closed.org_stage) == ("Closed", "closed", "exited")


# ---- ending the organization case ends the track -------------------------------------------


def in_joint_branch(track: PartyIncubation, branch: JointBranch) -> None:
    track.record_inspection(step(INSPECTED), None)
    track.count_members(step(COUNTED), 2, 0, 0, None)
    track.join_branch(step(BRANCHED), branch)


@pytest.mark.parametrize("command", ["withdraw", "terminate"])
def test_ending_the_case_early_closes_the_track_and_leaves_its_joint_branch(command: str) -> None:
    case, track, ws = entered()
    branch = joint_branch()
    in_joint_branch(track, branch)
    for aggregate in (case, track, branch):
        recorded(aggregate)
    end: Callable[[Step, Holdings], None] = getattr(case, command)
    end(step("2014-05-01", "团队解散"), Holdings(ws, track, branch))
    [closed] = recorded(track)
    org_stage = "withdrawn" if command == "withdraw" else "terminated"
    assert (type(closed).__name__, closed.stage, closed.org_stage) == (
        "Closed",
        "closed",
        org_stage,
    )
    assert (closed.on, closed.reason, track.ended_on) == (
        date(2014, 5, 1),
        "团队解散",
        date(2014, 5, 1),
    )
    assert (track.is_open, track.allowed_commands()) == (False, [])
    [left] = recorded(branch)
    assert (type(left).__name__, left.case_id, left.why) == (
        "MemberLeft",
        case.id,
        f"the organization's case ended ({org_stage})",
    )
    assert branch.members == {}


def test_departing_closes_a_residents_party_track() -> None:
    case, ws = applied("residency"), workspace()
    track = case.admit(step("2014-02-01"), ws)
    recorded(track)
    case.depart(step("2015-01-31", "期满"), Holdings(ws, track))
    [closed] = recorded(track)
    assert (type(closed).__name__, closed.org_stage, track.stage) == (
        "Closed",
        "departed",
        "closed",
    )


def test_closing_the_case_after_follow_up_closes_the_track_and_leaves_the_branch() -> None:
    case, track, ws = entered()
    branch = joint_branch()
    in_joint_branch(track, branch)
    track.rate(step("2014-07-10"), 4, "规范")
    case.record_growth_review(step("2014-07-10"), REVIEW, track)
    case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track, branch))
    assert (track.stage, branch.members) == ("follow_up", {str(case.id): 2})
    recorded(track)
    recorded(branch)
    case.close_case(step("2015-12-10"), RULES, Holdings(None, track, branch))
    [closed] = recorded(track)
    assert (closed.org_stage, closed.reason) == ("closed", None)
    assert names(recorded(branch)) == ["MemberLeft"]


def test_a_passed_exit_leaves_the_party_track_open() -> None:
    case, track, ws = reviewed_in_follow_up(rated_on="2014-07-10")
    recorded(track)
    case.evaluate_exit(step("2014-12-10"), PASS, RULES, Holdings(ws, track))
    # noted on the track, saved with the case: a party step at the same moment conflicts
    assert [type(e).__name__ for e in track.pending_events] == ["EvaluationNoted"]
    assert track.stage == "follow_up"


def test_the_track_closes_no_earlier_than_its_last_step() -> None:
    case, track, ws = entered()
    track.record_inspection(step(INSPECTED), None)
    track.count_members(step("2014-04-01"), 1, 0, 0, None)
    recorded(track)
    case.withdraw(step("2014-03-01", "退出"), Holdings(ws, track))
    [closed] = recorded(track)
    assert (closed.on, track.ended_on) == (date(2014, 4, 1), date(2014, 4, 1))


def test_the_branch_records_the_member_leaving_on_the_day_the_track_closes() -> None:
    case, track, ws = entered()
    branch = joint_branch()
    in_joint_branch(track, branch)  # joined 2014-04-01
    recorded(track)
    recorded(branch)
    case.withdraw(step("2014-03-01", "退出"), Holdings(ws, track, branch))
    [closed] = recorded(track)
    [left] = recorded(branch)
    assert left.on == closed.on == date(2014, 4, 1)


@pytest.mark.parametrize(
    "act",
    [
        pytest.param(lambda t: t.record_inspection(step("2014-06-01"), None), id="inspection"),
        pytest.param(lambda t: t.count_members(step("2014-06-01"), 2, 0, 0, None), id="count"),
        pytest.param(lambda t: t.assign_instructor(step("2014-06-01"), "李娜"), id="instructor"),
        pytest.param(lambda t: t.record_support(step("2014-06-01"), "space", "x"), id="support"),
        pytest.param(lambda t: t.record_development(step("2014-06-01"), "x"), id="development"),
        pytest.param(lambda t: t.found_branch(step("2014-06-01"), "x", None), id="found"),
        pytest.param(lambda t: t.join_branch(step("2014-06-01"), joint_branch()), id="join"),
        pytest.param(
            lambda t: t.record_service(step("2014-06-01"), "joint_meeting", "x"), id="service"
        ),
        pytest.param(lambda t: t.rate(step("2014-06-01"), 3, "x"), id="rate"),
        pytest.param(lambda t: t.close(step("2014-06-01"), "closed", None), id="close"),
    ],
)
def test_a_closed_track_refuses_every_command(given: Given, act: Act) -> None:
    then_refused(
        given.closed(),
        act,
        "the party track is in stage 'closed'; commands allowed from 'closed': none: "
        "the party track has ended",
        WrongStage,
    )


def test_a_track_already_closed_is_not_closed_again_when_the_case_ends() -> None:
    case, track, ws = entered()
    track.close(step("2014-03-01"), "withdrawn", None)
    recorded(track)
    case.terminate(step("2014-05-01", "违规"), Holdings(ws, track))
    assert (track.pending_events, case.stage) == ([], "terminated")


# ---- replay --------------------------------------------------------------------------------


def test_replaying_the_events_gives_the_same_track_and_branch(given: Given) -> None:
    branch = JointBranch.create("main", BRANCH, step("2014-01-15"))
    track = given.joint(branch, 2)
    given.joint(branch, 1, "社区服务中心")
    track.count_members(step("2014-05-01"), 3, 1, 1, branch)
    track.found_branch(step("2014-06-01"), "协会党支部", branch, UUID(int=7))
    track.rate(step("2014-07-01"), 5, "示范")
    for aggregate in (track, branch):
        replayed: Aggregate | None = None
        for event in recorded(aggregate):
            replayed = event.mutate(replayed)
        assert replayed is not None
        assert vars(replayed) == vars(aggregate) | {"_pending_events": []}


def test_a_corrected_entry_date_moves_the_party_track_s_start() -> None:
    case, track, _ = entered()  # entered 2014-02-10
    recorded(track)
    case.correct_entry_date(step("2014-02-20", "协议日期有误"), date(2014, 2, 5), RULES, track)
    [moved] = recorded(track)
    assert (type(moved).__name__, moved.started_on, moved.previous) == (
        "StartCorrected",
        date(2014, 2, 5),
        date(2014, 2, 10),
    )
    assert track.started_on == date(2014, 2, 5) == case.entered_on
    assert "correct-start" not in track.allowed_commands()
    # a second correction is bounded by the case's steps, not by the first correction
    case.correct_entry_date(step("2014-03-01", "再次更正"), date(2014, 2, 25), RULES, track)
    assert track.started_on == date(2014, 2, 25) == case.entered_on


def test_an_entry_date_after_the_party_track_s_first_step_is_refused() -> None:
    case, track, _ = entered()
    track.record_inspection(step("2014-02-12"), None)
    recorded(track)
    recorded(case)
    with pytest.raises(Refused, match="recorded a step on 2014-02-12; an entry date after it"):
        case.correct_entry_date(step("2014-02-20", "x"), date(2014, 2, 15), RULES, track)
    assert (case.pending_events, track.pending_events) == ([], [])
    assert (case.entered_on, track.started_on) == (date(2014, 2, 10), date(2014, 2, 10))


def test_a_growth_review_is_noted_on_the_party_track_with_its_stars() -> None:
    case, track, _ = entered()
    recorded(track)
    case.record_growth_review(step("2014-07-10"), Panel.parse(["王芳=75"]), track)
    [noted] = recorded(track)
    assert (type(noted).__name__, noted.evaluation, noted.stars, noted.on) == (
        "EvaluationNoted",
        "growth_review",
        None,
        date(2014, 7, 10),
    )
    assert track.last_on == date(2014, 2, 10)  # a record, not a step of the track's own


def test_a_joint_branch_constituted_again_when_its_members_reach_three_again() -> None:
    branch = joint_branch()
    a, b = uuid4(), uuid4()
    branch.admit(a, "甲", 2, step("2014-03-01"))
    branch.admit(b, "乙", 1, step("2014-03-02"))
    branch.leave(b, step("2014-04-01"), why="x")
    branch.recount(a, 3, step("2014-05-01"))
    assert names(recorded(branch)) == [
        "MemberJoined",
        "MemberJoined",
        "Constituted",
        "MemberLeft",
        "FellBelowMinimum",
        "MemberRecounted",
        "Constituted",
    ]
    assert branch.constituted_on == date(2014, 5, 1)


def test_a_missing_party_track_is_started_on_the_case_and_not_before_its_entry() -> None:
    case, _, _ = entered()  # as if its track had never been saved
    with pytest.raises(Refused, match="cannot start before the entry on 2014-02-10"):
        case.start_missing_party_track(step("2014-02-09"), None)
    recorded(case)
    track = case.start_missing_party_track(step("2014-03-01", "补建党建档案"), None)
    [started] = recorded(track)
    [noted] = recorded(case)
    assert (type(noted).__name__, noted.party_track) == ("PartyTrackStarted", track.id)
    assert (started.on, started.reason) == (date(2014, 3, 1), "补建党建档案")
    with pytest.raises(Refused, match="already has its party track"):
        case.start_missing_party_track(step("2014-03-02"), track)
    assert "start-party-track" not in case.allowed_commands()
