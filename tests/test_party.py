"""Given a party track in some stage, when a command message, then these events (or this refusal
and nothing recorded).

The party-branch incubation track (社会组织党组织孵化), the joint party branches (联合党支部) and
how the organization case starts, synchronizes and ends the track, through the real dispatcher on
an in-memory log (tests/given.py); a few tests of one aggregate's own arithmetic stay with it.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate

from commands import messages as m
from lifecycle.errors import Refused, WrongStage
from lifecycle.holdings import move_in
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.scores import Panel
from lifecycle.workspace import Workspace
from tests.conftest import NOW
from tests.given import FAIL, ORG, PASS, Recorded, Scenario, refused_alone, step

BRANCH = "园区第一联合党支部"
OTHER = "社区服务中心"
REVIEW = ["王芳=75"]

# The track's calendar in these tests: started 02-10, inspected 02-20, counted 03-01,
# developed 03-10, in a branch 04-01; follow-up steps from 05-01.
STARTED, INSPECTED, COUNTED, DEVELOPED, BRANCHED = (
    "2014-02-10",
    "2014-02-20",
    "2014-03-01",
    "2014-03-10",
    "2014-04-01",
)


class Tracks(Scenario):
    """Party tracks in each stage, reached through command messages; each builder returns the
    case id, which later messages are about."""

    def started(self, name: str = ORG, site: str = "main") -> UUID:
        return self.case_at("incubating", name, site=site)  # entered on STARTED

    def member_discovery(self, name: str = ORG, site: str = "main") -> UUID:
        org = self.started(name, site)
        self.given(m.RecordInspection, on=INSPECTED, note="走访党建情况")
        return org

    def support(self, formal: int, name: str = ORG, site: str = "main") -> UUID:
        org = self.member_discovery(name, site)
        self.given(m.CountMembers, on=COUNTED, formal=formal)
        return org

    def formation(self, formal: int) -> UUID:
        org = self.support(formal)
        if formal == 0:
            self.given(m.AssignInstructor, on=COUNTED, instructor="刘建国")
        self.given(m.RecordDevelopment, on=DEVELOPED, note="确定入党积极分子")
        return org

    def independent(self) -> UUID:
        org = self.support(3)
        self.given(m.FoundBranch, on=BRANCHED, name="爱心志愿者协会党支部")
        return org

    def joint_branch(
        self, site: str = "main", name: str = BRANCH, on: str = "2014-01-15"
    ) -> JointBranch:
        branch = self.given(m.CreateJointBranch, on=on, name=name, site=site)
        assert isinstance(branch, JointBranch)
        return branch

    def joint(self, formal: int = 2, name: str = ORG) -> UUID:
        """In the joint branch BRANCH at main, which must exist."""
        org = self.support(formal, name)
        self.given(m.JoinBranch, on=BRANCHED, branch=BRANCH)
        return org

    def closed(self) -> UUID:
        org = self.support(1)
        self.given(m.Withdraw, on="2014-05-01", reason="团队解散")
        return org

    def in_stage(self, stage: str) -> UUID:
        """By the name the parametrized tests use."""
        if stage == "joint":
            self.joint_branch()
            return self.joint()
        builders: dict[str, Any] = {
            "entry_inspection": self.started,
            "member_discovery": self.member_discovery,
            "support": lambda: self.support(1),
            "support_without_members": lambda: self.support(0),
            "formation": lambda: self.formation(2),
            "follow_up": self.independent,
            "closed": self.closed,
        }
        org: UUID = builders[stage]()
        return org


# ---- the organization case starts the track ------------------------------------------------


def test_a_passed_entry_starts_the_party_track_in_entry_inspection() -> None:
    s = Tracks()
    case_id = s.case_at("entry_review")
    events = s.when(m.EvaluateEntry, on=STARTED, scores=PASS, workspace="M-01")
    started = events.one("Started")
    assert (started.case_id, started.site, started.org_name, started.on) == (
        case_id,
        "main",
        ORG,
        date(2014, 2, 10),
    )
    track = s.track()
    assert (track.id, track.stage, track.is_open) == (
        PartyIncubation.id_for(case_id),
        "entry_inspection",
        True,
    )
    assert events.of(track.id).names == ["Started"]
    assert started.timestamp == NOW


def test_a_residents_admission_starts_its_party_track() -> None:
    s = Tracks()
    case_id = s.applied(track="residency")
    events = s.when(m.Admit, on="2014-02-01", workspace="M-01")
    track = s.track()
    assert events.of(track.id).names == ["Started"]
    assert (track.id, track.case_id, track.stage) == (
        PartyIncubation.id_for(case_id),
        case_id,
        "entry_inspection",
    )


def test_a_declined_entry_starts_no_party_track() -> None:
    s = Tracks()
    case_id = s.case_at("entry_review")
    assert s.when(m.EvaluateEntry, on=STARTED, scores=FAIL).names == ["EntryDeclined"]
    assert s.history(PartyIncubation.id_for(case_id)) == []


def test_the_track_id_is_one_per_case_so_a_second_start_is_the_same_aggregate() -> None:
    case_id, other = uuid4(), uuid4()
    first = PartyIncubation.start(case_id, ORG, "main", step(STARTED))
    again = PartyIncubation.start(case_id, ORG, "main", step("2014-02-11"))
    # the log refuses a second version 1 of one aggregate: the track exists exactly once
    assert (first.id, first.version) == (PartyIncubation.id_for(case_id), 1)
    assert (again.id, again.version) == (first.id, 1)
    assert PartyIncubation.id_for(other) != first.id


# ---- inspection and member discovery --------------------------------------------------------


def test_record_inspection_moves_to_member_discovery() -> None:
    s = Tracks()
    s.started()
    [event] = s.when(m.RecordInspection, on=INSPECTED, note="  走访  ")
    assert (type(event).__name__, event.stage, event.note) == (
        "InspectionRecorded",
        "member_discovery",
        "走访",
    )
    track = s.track()
    assert (track.inspected, track.last_on) == (True, date(2014, 2, 20))


def test_an_inspection_note_is_optional() -> None:
    s = Tracks()
    s.started()
    track = s.track()
    [event] = s.when(m.RecordInspection, on=INSPECTED)
    assert event.note is None
    # a blank note is none to the track itself (a message refuses blank text at the door)
    track.record_inspection(step(INSPECTED), "  ")
    [blank] = Recorded(track.collect_events())
    assert blank.note is None


def test_the_first_count_moves_to_support() -> None:
    s = Tracks()
    s.member_discovery()
    [event] = s.when(m.CountMembers, on=COUNTED, formal=2, probationary=1, transferred=1)
    assert (type(event).__name__, event.stage) == ("MembersCounted", "support")
    assert (event.formal, event.probationary, event.transferred) == (2, 1, 1)
    track = s.track()
    assert (track.formal, track.probationary, track.transferred) == (2, 1, 1)


@pytest.mark.parametrize("stage", ["support", "formation", "follow_up"])
def test_later_counts_stay_in_their_stage(stage: str) -> None:
    s = Tracks()
    if stage == "follow_up":
        s.independent()
    else:
        (s.formation if stage == "formation" else s.support)(3)
    [event] = s.when(m.CountMembers, on="2014-06-01", formal=5, probationary=2, transferred=3)
    track = s.track()
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
def test_impossible_counts_are_refused(counts: tuple[int, int, int], match: str) -> None:
    formal, probationary, transferred = counts
    s = Tracks()
    s.member_discovery()
    s.refuses(
        m.CountMembers,
        match,
        on=COUNTED,
        formal=formal,
        probationary=probationary,
        transferred=transferred,
    )
    # the track itself refuses them too, for a caller that does not come through a message
    refused_alone(s.track(), lambda t: t.count_members(step(COUNTED), *counts), match)


def test_a_recount_that_changes_nothing_is_refused() -> None:
    s = Tracks()
    s.member_discovery()
    s.given(m.CountMembers, on=COUNTED, formal=2, probationary=1)
    s.refuses(
        m.CountMembers,
        "the count is already 2 formal, 1 probationary, 0 transferred; record it again when",
        on="2014-03-02",
        formal=2,
        probationary=1,
        transferred=0,
    )
    [event] = s.when(m.CountMembers, on="2014-03-02", formal=2, probationary=2)
    assert event.probationary == 2  # any change of the three is a new count


def test_party_steps_are_recorded_in_date_order() -> None:
    s = Tracks()
    s.member_discovery()
    s.refuses(
        m.CountMembers,
        "the date 2014-02-19 is before the party track's last recorded step on 2014-02-20",
        on="2014-02-19",
        formal=1,
    )
    [event] = s.when(m.CountMembers, on=INSPECTED, formal=1)
    assert event.on == date(2014, 2, 20)  # the same day is in order


def test_a_wrong_stage_names_the_party_track_and_its_allowed_commands() -> None:
    s = Tracks()
    s.started()
    refusal = s.refuses(
        m.CountMembers,
        "cannot count-members: the party track is in stage 'entry_inspection'; "
        "commands allowed from 'entry_inspection': assign-instructor, record-inspection$",
        WrongStage,
        on=COUNTED,
        formal=1,
    )
    assert refusal.allowed == ["assign-instructor", "record-inspection"]


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
def test_close_is_never_offered_as_a_command(stage: str, allowed: list[str]) -> None:
    s = Tracks()
    s.in_stage(stage)
    track = s.track()
    assert track.stage == stage
    assert track.allowed_commands() == allowed
    assert "close" not in track.allowed_commands()


def test_formation_offers_the_same_commands_as_support() -> None:
    formation, support = Tracks(), Tracks()
    formation.formation(1)
    support.support(1)
    assert formation.track().stage == "formation"
    assert formation.track().allowed_commands() == support.track().allowed_commands()


# ---- instructor ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stage",
    [
        "entry_inspection",
        "member_discovery",
        "support_without_members",
        "formation",
        "follow_up",
        "joint",
    ],
)
def test_an_instructor_is_assigned_in_any_open_stage_but_not_twice(stage: str) -> None:
    s = Tracks()
    s.in_stage(stage)
    before = s.track().stage
    [event] = s.when(m.AssignInstructor, on="2014-06-01", instructor=" 李娜 ")
    assert (type(event).__name__, event.instructor) == ("InstructorAssigned", "李娜")
    track = s.track()
    assert (track.instructor, track.stage) == ("李娜", before)
    s.refuses(
        m.AssignInstructor,
        "李娜 is already the party-building instructor of this track",
        on="2014-06-02",
        instructor="李娜",
    )


def test_assign_instructor_needs_a_name() -> None:
    s = Tracks()
    s.started()
    s.refuses(
        m.AssignInstructor,
        "--instructor must be text on one line .* not empty",
        on=INSPECTED,
        instructor="  ",
    )
    refused_alone(
        s.track(),
        lambda t: t.assign_instructor(step(INSPECTED), "  "),
        "assign-instructor needs --instructor with some text",
    )


# ---- support and development ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["space", "instructor", "training", "information", "project", "funds"]
)
def test_each_support_kind_is_recorded_for_an_organization_with_members(kind: str) -> None:
    s = Tracks()
    s.support(1)
    [event] = s.when(m.RecordSupport, on="2014-03-05", kind=kind, note="帮扶")
    assert (type(event).__name__, event.kind, event.note) == ("SupportRecorded", kind, "帮扶")
    track = s.track()
    assert (track.stage, track.supports) == (
        "support",
        [{"kind": kind, "on": date(2014, 3, 5), "note": "帮扶"}],
    )


def test_support_needs_a_known_kind_a_note_and_the_support_or_formation_stage() -> None:
    s = Tracks()
    s.support(1)
    s.refuses(
        m.RecordSupport,
        "--kind must be one of space, instructor, training, information, project, funds; "
        "got 'money'",
        on="2014-03-05",
        kind="money",
        note="x",
    )
    refused_alone(
        s.track(),
        lambda t: t.record_support(step("2014-03-05"), "money", "x"),
        "unknown support kind 'money'; kinds: space, instructor, training, information, "
        "project, funds",
    )
    s.refuses(
        m.RecordSupport,
        "--note must be text .* not empty",
        on="2014-03-05",
        kind="space",
        note=" ",
    )
    refused_alone(
        s.track(),
        lambda t: t.record_support(step("2014-03-05"), "space", " "),
        "record-support needs --note",
    )
    discovering = Tracks()
    discovering.member_discovery()
    discovering.refuses(
        m.RecordSupport,
        "cannot record-support: the party track is in stage 'member_discovery'",
        WrongStage,
        on="2014-03-05",
        kind="space",
        note="x",
    )
    forming = Tracks()
    forming.formation(1)
    [event] = forming.when(m.RecordSupport, on="2014-03-15", kind="training", note="培训")
    assert event.kind == "training"


@pytest.mark.parametrize("kind", ["space", "training", "project", "funds"])
def test_without_formal_members_only_advice_is_support(kind: str) -> None:
    s = Tracks()
    s.support(0)
    s.given(m.AssignInstructor, on=COUNTED, instructor="刘建国")
    s.refuses(
        m.RecordSupport,
        f"with no formal party members .* kind instructor or information, not '{kind}'",
        on="2014-03-05",
        kind=kind,
        note="x",
    )


@pytest.mark.parametrize("kind", ["instructor", "information"])
def test_without_formal_members_advice_needs_an_instructor_first(kind: str) -> None:
    s = Tracks()
    s.support(0)
    s.refuses(
        m.RecordSupport,
        r"record-support: with no formal party members a party-building instructor or liaison "
        r"\(党建指导员/联络员\) must be assigned first \(assign-instructor\)",
        on="2014-03-05",
        kind=kind,
        note="政策宣讲",
    )
    s.given(m.AssignInstructor, on="2014-03-05", instructor="刘建国")
    [event] = s.when(m.RecordSupport, on="2014-03-05", kind=kind, note="政策宣讲")
    assert event.kind == kind


def test_development_moves_to_formation_and_stays_there() -> None:
    s = Tracks()
    s.support(1)
    [event] = s.when(m.RecordDevelopment, on=DEVELOPED, note="积极分子")
    assert (type(event).__name__, event.stage, event.note) == (
        "DevelopmentRecorded",
        "formation",
        "积极分子",
    )
    [again] = s.when(m.RecordDevelopment, on="2014-03-20", note="发展对象")
    assert again.stage == "formation"
    assert [d["note"] for d in s.track().developments] == ["积极分子", "发展对象"]


def test_development_without_members_needs_an_instructor() -> None:
    s = Tracks()
    s.support(0)
    s.refuses(
        m.RecordDevelopment,
        "record-development: with no formal party members .* must be assigned first",
        on=DEVELOPED,
        note="x",
    )
    s.given(m.AssignInstructor, on=COUNTED, instructor="刘建国")
    [event] = s.when(m.RecordDevelopment, on=DEVELOPED, note="联络员辅导")
    assert (event.stage, s.track().stage) == ("formation", "formation")


def test_development_needs_a_note_and_the_support_or_formation_stage() -> None:
    s = Tracks()
    s.support(1)
    s.refuses(m.RecordDevelopment, "--note must be text .* not empty", on=DEVELOPED, note="")
    refused_alone(
        s.track(),
        lambda t: t.record_development(step(DEVELOPED), ""),
        "record-development needs --note",
    )
    founded = Tracks()
    founded.independent()
    founded.refuses(
        m.RecordDevelopment,
        "cannot record-development: the party track is in stage 'follow_up'",
        WrongStage,
        on="2014-05-01",
        note="x",
    )


# ---- an independent branch -----------------------------------------------------------------


@pytest.mark.parametrize("stage", ["support", "formation"])
def test_three_formal_members_found_their_own_branch(stage: str) -> None:
    s = Tracks()
    (s.formation if stage == "formation" else s.support)(3)
    [event] = s.when(m.FoundBranch, on=BRANCHED, name=" 协会党支部 ")
    assert (type(event).__name__, event.stage, event.name, event.left_joint) == (
        "BranchFounded",
        "follow_up",
        "协会党支部",
        None,
    )
    track = s.track()
    assert isinstance(event.branch_id, UUID)
    assert (track.branch_kind, track.branch_id, track.branch_name) == (
        "independent",
        event.branch_id,
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
def test_founding_a_branch_needs_three_formal_members(formal: int, advice: str) -> None:
    s = Tracks()
    s.support(formal)
    s.refuses(
        m.FoundBranch,
        f"an independent party branch needs at least 3 formal members; this organization has "
        f"{formal}: {advice}",
        on=BRANCHED,
        name="党支部",
    )


def test_founding_needs_a_name() -> None:
    s = Tracks()
    s.support(3)
    s.refuses(m.FoundBranch, "--name must be text .* not empty", on=BRANCHED, name=" ")
    refused_alone(
        s.track(), lambda t: t.found_branch(step(BRANCHED), " "), "found-branch needs --name"
    )


def test_an_organization_with_its_own_branch_cannot_found_another() -> None:
    s = Tracks()
    s.independent()
    s.given(m.CountMembers, on="2014-05-01", formal=4)
    s.refuses(
        m.FoundBranch,
        "this organization already has its own branch '爱心志愿者协会党支部'",
        on="2014-05-02",
        name="第二党支部",
    )


def test_a_joint_member_that_grew_to_three_founds_its_own_and_leaves() -> None:
    s = Tracks()
    branch = s.joint_branch()
    org = s.joint(2)
    other = s.joint(1, OTHER)
    s.given(m.CountMembers, org=org, on="2014-05-01", formal=3)
    events = s.when(m.FoundBranch, org=org, on="2014-06-01", name="协会党支部")
    track = s.track(org)
    founded = events.of(track.id)
    assert founded.names == ["BranchFounded"]
    assert (founded[0].stage, founded[0].left_joint) == ("follow_up", branch.id)
    assert (track.branch_kind, track.branch_name) == ("independent", "协会党支部")
    [left, below] = events.of(branch.id)
    assert (type(left).__name__, left.case_id, left.why, left.on) == (
        "MemberLeft",
        org,
        "founded its own branch",
        date(2014, 6, 1),
    )
    # 1 formal member is left: the joint branch is no longer a branch until others join
    assert (type(below).__name__, below.formal, below.on) == (
        "FellBelowMinimum",
        1,
        date(2014, 6, 1),
    )
    branch = s.branch(BRANCH)
    assert (branch.constituted, branch.constituted_on) == (False, None)
    assert branch.members == {str(other): 1}
    assert branch.member_names == {str(other): OTHER}


def test_a_joint_member_with_too_few_members_cannot_found_its_own() -> None:
    s = Tracks()
    s.joint_branch()
    s.joint(2)
    s.refuses(  # and the branch records nothing either
        m.FoundBranch,
        "needs at least 3 formal members; this organization has 2",
        on="2014-06-01",
        name="协会党支部",
    )
    assert s.branch(BRANCH).members == {str(s.org): 2}


def test_a_joint_member_refused_founding_is_not_told_to_join_a_branch() -> None:
    s = Tracks()
    s.joint_branch()
    s.joint(2)
    refusal = s.refuses(
        m.FoundBranch,
        "needs at least 3 formal members",
        on="2014-06-01",
        name="协会党支部",
    )
    assert "join-branch" not in str(refusal)


# ---- joint branches ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["support", "formation"])
def test_one_or_two_formal_members_join_a_joint_branch_of_their_site(stage: str) -> None:
    s = Tracks()
    branch = s.joint_branch()
    org = s.support(2) if stage == "support" else s.formation(2)
    events = s.when(m.JoinBranch, on=BRANCHED, branch=BRANCH)
    track = s.track()
    [event] = events.of(track.id)
    assert (type(event).__name__, event.stage, event.branch_id, event.name) == (
        "JointBranchJoined",
        "follow_up",
        branch.id,
        BRANCH,
    )
    assert (track.branch_kind, track.branch_id, track.branch_name) == ("joint", branch.id, BRANCH)
    [joined] = events.of(branch.id)  # 2 formal members: not yet constituted
    assert (type(joined).__name__, joined.case_id, joined.org_name, joined.formal) == (
        "MemberJoined",
        org,
        ORG,
        2,
    )
    branch = s.branch(BRANCH)
    assert (branch.members, branch.constituted_on) == ({str(org): 2}, None)


@pytest.mark.parametrize(
    ("formal", "advice"),
    [
        (0, r"assign an instructor and develop members \(record-development\)"),
        (3, r"found its own branch \(found-branch\)"),
        (4, r"found its own branch \(found-branch\)"),
    ],
)
def test_a_joint_branch_is_for_one_or_two_formal_members(formal: int, advice: str) -> None:
    s = Tracks()
    s.joint_branch()
    s.support(formal)
    s.refuses(
        m.JoinBranch,
        f"a joint branch is for organizations with 1 or 2 formal members; this one has "
        f"{formal}: {advice}",
        on=BRANCHED,
        branch=BRANCH,
    )


def test_a_joint_branch_of_another_site_is_refused() -> None:
    s = Tracks()
    branch = s.joint_branch(site="branch")
    s.support(1)
    s.refuses(  # by its id: by name, a branch is looked for at the organization's own site
        m.JoinBranch,
        f"joint branch '{BRANCH}' is at site 'branch'; this organization is at 'main' and joins "
        f"a joint branch of its own site",
        on=BRANCHED,
        branch=str(branch.id),
    )
    s.refuses(
        m.JoinBranch,
        f"site 'main' has no joint branch named '{BRANCH}'",
        on=BRANCHED,
        branch=BRANCH,
    )


def test_joining_before_the_branch_was_created_is_refused() -> None:
    s = Tracks()
    s.joint_branch(on="2014-05-01")
    s.support(1)
    s.refuses(
        m.JoinBranch,
        f"joint branch '{BRANCH}' was created on 2014-05-01; 2014-04-01 is before that",
        on=BRANCHED,
        branch=BRANCH,
    )


def test_a_track_in_a_branch_cannot_join_again() -> None:
    s = Tracks()
    s.joint_branch()
    s.joint()
    s.refuses(
        m.JoinBranch,
        "cannot join-branch: the party track is in stage 'follow_up'",
        WrongStage,
        on="2014-05-01",
        branch=BRANCH,
    )


def test_a_branch_admits_an_organization_once() -> None:
    """The branch's own rule (a track in a branch cannot join again: see above)."""
    branch = JointBranch.create("main", BRANCH, step("2014-01-15"))
    case_id = uuid4()
    branch.admit(case_id, ORG, 1, step(BRANCHED))
    branch.collect_events()
    refused_alone(
        branch,
        lambda b: b.admit(case_id, ORG, 1, step("2014-04-02")),
        f"{ORG} is already a member of joint branch '{BRANCH}'",
    )
    assert branch.pending_events == []


def test_a_joint_branch_needs_a_name_and_its_id_comes_from_site_and_name() -> None:
    s = Tracks()
    s.refuses(
        m.CreateJointBranch,
        "--name must be text .* not empty",
        on="2014-01-15",
        name=" ",
        site="main",
    )
    with pytest.raises(Refused, match="joint-branch create needs --name"):
        JointBranch.create("main", " ", step("2014-01-15"))
    [created] = s.when(m.CreateJointBranch, on="2014-01-15", name=f" {BRANCH} ", site="main")
    branch = s.branch(BRANCH)
    assert (branch.name, branch.id, created.originator_id) == (
        BRANCH,
        JointBranch.id_for("main", BRANCH),
        branch.id,
    )
    assert JointBranch.id_for("east", BRANCH) != branch.id


def test_a_branch_is_constituted_once_its_members_reach_three() -> None:
    s = Tracks()
    branch = s.joint_branch()
    first = s.support(2)
    assert s.when(m.JoinBranch, on=BRANCHED, branch=BRANCH).of(branch.id).names == ["MemberJoined"]
    second = s.support(1, OTHER)
    joined, constituted = s.when(m.JoinBranch, on="2014-04-05", branch=BRANCH).of(branch.id)
    assert (type(joined).__name__, type(constituted).__name__) == ("MemberJoined", "Constituted")
    assert (constituted.formal, constituted.on) == (3, date(2014, 4, 5))
    branch = s.branch(BRANCH)
    assert branch.formal_total == 3 and branch.constituted_on == date(2014, 4, 5)
    assert set(branch.members) == {str(first), str(second)}
    s.support(2, "第三家")
    third = s.when(m.JoinBranch, on=BRANCHED, branch=BRANCH)
    assert third.of(branch.id).names == ["MemberJoined"]  # constituted only once


def test_a_recount_in_follow_up_updates_the_branch_and_may_constitute_it() -> None:
    s = Tracks()
    branch = s.joint_branch()
    org = s.joint(2)
    events = s.when(m.CountMembers, on="2014-05-01", formal=3)
    [event] = events.of(s.track().id)
    assert (event.stage, event.formal) == ("follow_up", 3)
    recounted, constituted = events.of(branch.id)
    assert (type(recounted).__name__, recounted.case_id, recounted.formal) == (
        "MemberRecounted",
        org,
        3,
    )
    assert (type(constituted).__name__, constituted.formal) == ("Constituted", 3)
    assert s.branch(BRANCH).members == {str(org): 3}
    events = s.when(m.CountMembers, on="2014-06-01", formal=2)
    assert events.of(branch.id).names == ["MemberRecounted", "FellBelowMinimum"]
    branch = s.branch(BRANCH)
    assert not branch.constituted
    assert branch.constituted_on is None


def test_a_recount_of_only_probationary_members_leaves_the_branch_alone() -> None:
    s = Tracks()
    s.joint_branch()
    s.joint(2)
    events = s.when(m.CountMembers, on="2014-05-01", formal=2, probationary=3)
    assert events.names == ["MembersCounted"]
    assert events[0].probationary == 3


def test_a_refused_recount_leaves_the_branch_alone() -> None:
    s = Tracks()
    s.joint_branch()
    s.joint(2)
    s.refuses(  # the helper checks that no aggregate changed, the branch among them
        m.CountMembers,
        "--transferred 4 is more than the 3 formal members",
        on="2014-05-01",
        formal=3,
        transferred=4,
    )


def test_a_recount_changes_the_track_s_own_joint_branch_and_no_other() -> None:
    """A track used to be handed the branch to recount, and refused one not its own; now the
    handler finds its branch from the track itself."""
    s = Tracks()
    mine, other = s.joint_branch(), s.joint_branch(name="另一联合党支部")
    s.joint(2)
    events = s.when(m.CountMembers, on="2014-06-01", formal=1, transferred=1)
    assert events.of(mine.id).names == ["MemberRecounted"]
    assert events.of(other.id) == []
    assert s.branch("另一联合党支部").members == {}


# ---- follow-up services and rating ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["joint_meeting", "model_selection", "project_priority"])
def test_follow_up_services_are_recorded(kind: str) -> None:
    s = Tracks()
    s.independent()
    [event] = s.when(m.RecordService, on="2014-05-01", kind=kind, note="联席会")
    track = s.track()
    assert (type(event).__name__, event.kind, track.stage) == (
        "ServiceRecorded",
        kind,
        "follow_up",
    )
    assert track.services == [{"kind": kind, "on": date(2014, 5, 1), "note": "联席会"}]


def test_a_service_needs_a_known_kind_a_note_and_follow_up() -> None:
    s = Tracks()
    s.independent()
    s.refuses(
        m.RecordService,
        "--kind must be one of joint_meeting, model_selection, project_priority; got 'party'",
        on="2014-05-01",
        kind="party",
        note="x",
    )
    refused_alone(
        s.track(),
        lambda t: t.record_service(step("2014-05-01"), "party", "x"),
        "unknown service kind 'party'; kinds: joint_meeting, model_selection, project_priority",
    )
    s.refuses(
        m.RecordService,
        "--note must be text .* not empty",
        on="2014-05-01",
        kind="joint_meeting",
        note=" ",
    )
    refused_alone(
        s.track(),
        lambda t: t.record_service(step("2014-05-01"), "joint_meeting", " "),
        "record-service needs --note",
    )
    forming = Tracks()
    forming.formation(1)
    forming.refuses(
        m.RecordService,
        "cannot record-service: the party track is in stage 'formation'",
        WrongStage,
        on="2014-05-01",
        kind="joint_meeting",
        note="x",
    )


@pytest.mark.parametrize("stars", [1, 5])
def test_a_track_in_follow_up_is_rated_one_to_five_stars(stars: int) -> None:
    s = Tracks()
    s.independent()
    [event] = s.when(m.Rate, on="2014-07-01", stars=stars, note="组织健全")
    assert (type(event).__name__, event.stars, event.note) == ("Rated", stars, "组织健全")
    track = s.track()
    assert (track.stars, track.rated_on, track.rating_note) == (
        stars,
        date(2014, 7, 1),
        "组织健全",
    )


@pytest.mark.parametrize("stars", [0, 6, -1])
def test_stars_outside_one_to_five_are_refused(stars: int) -> None:
    s = Tracks()
    s.independent()
    match = f"--stars must be a whole number from 1 to 5 \\(digits 0-9 only\\); got '{stars}'"
    s.refuses(m.Rate, match, on="2014-07-01", stars=stars, note="x")
    refused_alone(s.track(), lambda t: t.rate(step("2014-07-01"), stars, "x"), match)


def test_a_rating_needs_a_note_and_follow_up() -> None:
    s = Tracks()
    s.independent()
    s.refuses(m.Rate, "--note must be text .* not empty", on="2014-07-01", stars=3, note="")
    refused_alone(s.track(), lambda t: t.rate(step("2014-07-01"), 3, ""), "rate needs --note")
    supported = Tracks()
    supported.support(3)
    supported.refuses(
        m.Rate,
        "cannot rate: the party track is in stage 'support'",
        WrongStage,
        on="2014-07-01",
        stars=3,
        note="x",
    )


# ---- the exit evaluation and the star rating go together (四个同步) ------------------------


def reviewed_in_follow_up(rated_on: str | None = None, stars: int = 4) -> Tracks:
    """A case entered 2014-02-10, reviewed 2014-07-10, whose party track founded its own branch
    on 2014-04-01 and, if `rated_on`, was rated then."""
    s = Tracks()
    s.support(3)
    s.given(m.FoundBranch, on=BRANCHED, name="协会党支部")
    rating = {"on": rated_on, "stars": stars, "note": "组织健全"}
    if rated_on is not None and rated_on < "2014-07-10":
        s.given(m.Rate, **rating)
    s.given(m.RecordGrowthReview, on="2014-07-10", scores=REVIEW)
    if rated_on is not None and rated_on >= "2014-07-10":
        s.given(m.Rate, **rating)
    return s


def test_an_exit_is_refused_while_the_party_track_in_follow_up_has_no_rating() -> None:
    s = reviewed_in_follow_up()
    s.refuses(
        m.EvaluateExit,
        r"\(四个同步\): its party organization is in follow-up and has no star rating "
        r"since the last growth review on 2014-07-10; rate it first",
        on="2014-12-10",
        scores=PASS,
    )
    case, ws = s.case(), s.workspace("M-01")
    assert (case.stage, case.exit_on) == ("incubating", None)
    assert ws is not None and ws.holder == case.id


def test_an_exit_is_refused_when_the_rating_is_older_than_the_last_growth_review() -> None:
    s = reviewed_in_follow_up(rated_on="2014-06-01")
    s.refuses(
        m.EvaluateExit,
        r"on 2014-07-10 up to 2014-12-10 \(the last was on 2014-06-01\); rate it",
        on="2014-12-10",
        scores=FAIL,
    )
    assert s.case().stage == "incubating"


@pytest.mark.parametrize("rated_on", ["2014-07-10", "2014-11-20"])
def test_a_rating_on_or_after_the_last_growth_review_lets_the_exit_through(rated_on: str) -> None:
    s = reviewed_in_follow_up(rated_on=rated_on, stars=4)
    events = s.when(m.EvaluateExit, on="2014-12-10", scores=PASS)
    [event] = events.of(s.case().id)
    assert (type(event).__name__, event.stage, event.party_stars) == (
        "ExitApproved",
        "follow_up",
        4,
    )
    assert s.track().is_open  # the case is still open in follow-up: so is its party track


def test_a_rating_dated_after_the_exit_evaluation_does_not_count_for_it() -> None:
    s = reviewed_in_follow_up(rated_on="2014-12-20")
    s.refuses(
        m.EvaluateExit,
        r"up to 2014-12-10 \(the last was on 2014-12-20\)",
        on="2014-12-10",
        scores=PASS,
    )


def test_an_exit_needs_no_rating_while_the_party_track_is_not_in_follow_up() -> None:
    s = Tracks()
    s.support(1)
    s.given(m.RecordGrowthReview, on="2014-07-10", scores=REVIEW)
    event = s.when(m.EvaluateExit, on="2014-12-10", scores=PASS).one("ExitApproved")
    assert event.party_stars is None


def growth_review(s: Scenario) -> Any:
    [review] = [e for e in s.history(s.case().id) if type(e).__name__ == "GrowthReviewRecorded"]
    return review


def test_growth_reviews_record_the_party_stars_beside_them() -> None:
    assert growth_review(reviewed_in_follow_up(rated_on="2014-06-01", stars=3)).party_stars == 3
    assert growth_review(reviewed_in_follow_up()).party_stars is None
    plain = Tracks()
    plain.started()
    plain.given(m.RecordGrowthReview, on="2014-07-10", scores=REVIEW)
    assert growth_review(plain).party_stars is None


def test_a_residents_service_evaluation_records_the_party_stars_beside_it() -> None:
    """四个同步 (seed 001): "对入驻两级孵化基地的社会组织同步开展业务评估和党组织的星级评定工作" --
    residents too: their service evaluation (服务评估) goes with the star rating."""
    s = Tracks()
    org = s.case_at("resident")  # admitted 2014-02-01: the track starts
    s.given(m.RecordInspection, on=INSPECTED, note="走访党建情况")
    s.given(m.CountMembers, on=COUNTED, formal=3)
    s.given(m.FoundBranch, on=BRANCHED, name="协会党支部")
    s.given(m.Rate, on="2014-07-01", stars=4, note="组织健全")
    events = s.when(m.RecordServiceEvaluation, on="2014-08-01", scores=["王芳=88"])
    assert events.of(org).one("ServiceEvaluationRecorded").party_stars == 4
    [noted] = events.of(s.track().id)
    assert (type(noted).__name__, noted.evaluation, noted.stars) == (
        "EvaluationNoted",
        "service_evaluation",
        4,
    )


def test_the_service_evaluation_of_a_resident_not_yet_rated_has_no_stars() -> None:
    s = Tracks()
    org = s.case_at("resident")
    s.given(m.RecordInspection, on=INSPECTED, note="走访党建情况")
    events = s.when(m.RecordServiceEvaluation, on="2014-08-01", scores=["王芳=88"])
    assert events.of(org).one("ServiceEvaluationRecorded").party_stars is None
    assert events.of(s.track().id).names == ["EvaluationNoted"]


def test_a_failed_exit_records_the_stars_and_closes_the_party_track() -> None:
    s = reviewed_in_follow_up(rated_on="2014-08-01", stars=2)
    events = s.when(m.EvaluateExit, on="2014-12-10", scores=FAIL)
    [event] = events.of(s.case().id)
    assert (type(event).__name__, event.stage, event.party_stars) == ("ExitFailed", "exited", 2)
    noted, closed = events.of(s.track().id)
    assert (type(noted).__name__, noted.evaluation, noted.stars) == (
        "EvaluationNoted",
        "exit_evaluation",
        2,
    )
    assert (type(closed).__name__, closed.stage, closed.org_stage) == ("Closed", "closed", "exited")


# ---- ending the organization case ends the track -------------------------------------------


@pytest.mark.parametrize(
    ("command", "org_stage"), [(m.Withdraw, "withdrawn"), (m.Terminate, "terminated")]
)
def test_ending_the_case_early_closes_the_track_and_leaves_its_joint_branch(
    command: type[m.Command], org_stage: str
) -> None:
    s = Tracks()
    branch = s.joint_branch()
    org = s.joint(2)
    events = s.when(command, on="2014-05-01", reason="团队解散")
    track = s.track()
    [closed] = events.of(track.id)
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
    [left] = events.of(branch.id)
    assert (type(left).__name__, left.case_id, left.why) == (
        "MemberLeft",
        org,
        f"the organization's case ended ({org_stage})",
    )
    assert s.branch(BRANCH).members == {}


def test_departing_closes_a_residents_party_track() -> None:
    s = Tracks()
    s.case_at("resident")
    events = s.when(m.Depart, on="2015-01-31", reason="期满")
    track = s.track()
    [closed] = events.of(track.id)
    assert (type(closed).__name__, closed.org_stage, track.stage) == (
        "Closed",
        "departed",
        "closed",
    )


def test_closing_the_case_after_follow_up_closes_the_track_and_leaves_the_branch() -> None:
    s = Tracks()
    branch = s.joint_branch()
    org = s.joint(2)
    s.given(m.Rate, on="2014-07-10", stars=4, note="规范")
    s.given(m.RecordGrowthReview, on="2014-07-10", scores=REVIEW)
    s.given(m.EvaluateExit, on="2014-12-10", scores=PASS)
    assert (s.track().stage, s.branch(BRANCH).members) == ("follow_up", {str(org): 2})
    events = s.when(m.Close, on="2015-12-10")
    [closed] = events.of(s.track().id)
    assert (closed.org_stage, closed.reason) == ("closed", None)
    assert events.of(branch.id).names == ["MemberLeft"]


def test_a_passed_exit_leaves_the_party_track_open() -> None:
    s = reviewed_in_follow_up(rated_on="2014-07-10")
    events = s.when(m.EvaluateExit, on="2014-12-10", scores=PASS)
    # noted on the track, saved with the case: a party step at the same moment conflicts
    track = s.track()
    assert events.of(track.id).names == ["EvaluationNoted"]
    assert track.stage == "follow_up"


def test_the_track_closes_no_earlier_than_its_last_step() -> None:
    s = Tracks()
    s.member_discovery()
    s.given(m.CountMembers, on="2014-04-01", formal=1)
    events = s.when(m.Withdraw, on="2014-03-01", reason="退出")
    track = s.track()
    [closed] = events.of(track.id)
    assert (closed.on, track.ended_on) == (date(2014, 4, 1), date(2014, 4, 1))


def test_the_branch_records_the_member_leaving_on_the_day_the_track_closes() -> None:
    s = Tracks()
    branch = s.joint_branch()
    s.joint(2)  # joined 2014-04-01
    events = s.when(m.Withdraw, on="2014-03-01", reason="退出")
    [closed] = events.of(s.track().id)
    [left] = events.of(branch.id)
    assert left.on == closed.on == date(2014, 4, 1)


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        pytest.param(m.RecordInspection, {}, id="inspection"),
        pytest.param(m.CountMembers, {"formal": 2}, id="count"),
        pytest.param(m.AssignInstructor, {"instructor": "李娜"}, id="instructor"),
        pytest.param(m.RecordSupport, {"kind": "space", "note": "x"}, id="support"),
        pytest.param(m.RecordDevelopment, {"note": "x"}, id="development"),
        pytest.param(m.FoundBranch, {"name": "x"}, id="found"),
        pytest.param(m.JoinBranch, {"branch": BRANCH}, id="join"),
        pytest.param(m.RecordService, {"kind": "joint_meeting", "note": "x"}, id="service"),
        pytest.param(m.Rate, {"stars": 3, "note": "x"}, id="rate"),
    ],
)
def test_a_closed_track_refuses_every_command(
    message: type[m.Command], fields: dict[str, Any]
) -> None:
    s = Tracks()
    s.joint_branch()
    s.closed()
    s.refuses(
        message,
        "the party track is in stage 'closed'; commands allowed from 'closed': none: "
        "the party track has ended",
        WrongStage,
        on="2014-06-01",
        **fields,
    )


def test_a_closed_track_is_not_closed_again() -> None:
    """Closing is no command of a person's (the case's end closes the track): the track alone."""
    s = Tracks()
    s.closed()
    refused_alone(
        s.track(),
        lambda t: t.close(step("2014-06-01"), "closed"),
        "the party track is in stage 'closed'; commands allowed from 'closed': none: "
        "the party track has ended",
        WrongStage,
    )


def entered_alone(s: Scenario) -> tuple[OrganizationCase, Workspace]:
    """Given as events: a case entered on 2014-02-10 with its workspace M-01, built by their
    own methods (its party track is left to the test)."""
    case = OrganizationCase.apply_for(
        step("2014-01-02"),
        name=ORG,
        field="charity",
        legal_status="registered",
        track="incubation",
        site="main",
    )
    case.start_inspection(step("2014-01-08"))
    case.submit_for_entry(step("2014-01-20"))
    assert case.evaluate_entry(step(STARTED), Panel.parse(PASS), s.park.rules, "M-01")
    ws = Workspace.register("main", "M-01", step(STARTED))
    s.org = UUID(str(case.id))
    return case, ws


def test_a_track_already_closed_is_not_closed_again_when_the_case_ends() -> None:
    s = Tracks()
    case, ws = entered_alone(s)
    track = move_in(case, ws, step(STARTED))
    track.close(step("2014-03-01"), "withdrawn")
    s.saved(case, ws, track)
    events = s.when(m.Terminate, on="2014-05-01", reason="违规")
    assert events.names == ["Terminated", "Released"]  # and no second Closed
    assert (s.case().stage, s.track().stage) == ("terminated", "closed")


# ---- replay --------------------------------------------------------------------------------


def test_replaying_the_events_gives_the_same_track_and_branch() -> None:
    """Each aggregate alone, as the handlers ask them (the helper also checks, after every
    message, that the aggregate a handler returns is the one its events replay to)."""
    branch = JointBranch.create("main", BRANCH, step("2014-01-15"))
    tracks = []
    for name, formal in ((ORG, 2), (OTHER, 1)):
        track = PartyIncubation.start(uuid4(), name, "main", step(STARTED))
        track.record_inspection(step(INSPECTED), "走访党建情况")
        track.count_members(step(COUNTED), formal, 0, 0)
        track.join_branch(step(BRANCHED), branch)
        branch.admit(track.case_id, name, formal, step(BRANCHED))
        tracks.append(track)
    track = tracks[0]
    track.count_members(step("2014-05-01"), 3, 1, 1)
    branch.recount(track.case_id, 3, step("2014-05-01"))
    track.found_branch(step("2014-06-01"), "协会党支部", UUID(int=7))
    branch.leave(track.case_id, step("2014-06-01"), "founded its own branch")
    track.rate(step("2014-07-01"), 5, "示范")
    assert (track.branch_id, branch.members) == (UUID(int=7), {str(tracks[1].case_id): 1})
    for aggregate in (track, branch):
        replayed: Aggregate | None = None
        for event in aggregate.collect_events():
            replayed = event.mutate(replayed)
        assert replayed is not None
        assert vars(replayed) == vars(aggregate) | {"_pending_events": []}


def test_a_corrected_entry_date_moves_the_party_track_s_start() -> None:
    s = Tracks()
    s.started()  # entered 2014-02-10
    events = s.when(m.CorrectEntryDate, on="2014-02-20", reason="协议日期有误", to="2014-02-05")
    track = s.track()
    [moved] = events.of(track.id)
    assert (type(moved).__name__, moved.started_on, moved.previous) == (
        "StartCorrected",
        date(2014, 2, 5),
        date(2014, 2, 10),
    )
    assert track.started_on == date(2014, 2, 5) == s.case().entered_on
    assert "correct-start" not in track.allowed_commands()
    # a second correction is bounded by the case's steps, not by the first correction
    s.when(m.CorrectEntryDate, on="2014-03-01", reason="再次更正", to="2014-02-25")
    assert s.track().started_on == date(2014, 2, 25) == s.case().entered_on


def test_an_entry_date_after_the_party_track_s_first_step_is_refused() -> None:
    s = Tracks()
    s.started()
    s.given(m.RecordInspection, on="2014-02-12")
    s.refuses(
        m.CorrectEntryDate,
        "recorded a step on 2014-02-12; an entry date after it",
        on="2014-02-20",
        reason="x",
        to="2014-02-15",
    )
    assert (s.case().entered_on, s.track().started_on) == (date(2014, 2, 10), date(2014, 2, 10))


def test_a_growth_review_is_noted_on_the_party_track_with_its_stars() -> None:
    s = Tracks()
    s.started()
    events = s.when(m.RecordGrowthReview, on="2014-07-10", scores=["王芳=75"])
    track = s.track()
    [noted] = events.of(track.id)
    assert (type(noted).__name__, noted.evaluation, noted.stars, noted.on) == (
        "EvaluationNoted",
        "growth_review",
        None,
        date(2014, 7, 10),
    )
    assert track.last_on == date(2014, 2, 10)  # a record, not a step of the track's own


def test_a_joint_branch_constituted_again_when_its_members_reach_three_again() -> None:
    branch = JointBranch.create("main", BRANCH, step("2014-01-15"))
    branch.collect_events()
    a, b = uuid4(), uuid4()
    branch.admit(a, "甲", 2, step("2014-03-01"))
    branch.admit(b, "乙", 1, step("2014-03-02"))
    branch.leave(b, step("2014-04-01"), why="x")
    branch.recount(a, 3, step("2014-05-01"))
    assert Recorded(branch.collect_events()).names == [
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
    s = Tracks()
    case, ws = entered_alone(s)  # as if its track had never been saved
    ws.allocate(UUID(str(case.id)), case.name, step(STARTED))
    s.saved(case, ws)
    s.refuses(
        m.StartPartyTrack,
        "cannot start before the entry on 2014-02-10",
        on="2014-02-09",
    )
    events = s.when(m.StartPartyTrack, on="2014-03-01", reason="补建党建档案")
    track = s.track()
    [noted] = events.of(case.id)
    [started] = events.of(track.id)
    assert (type(noted).__name__, noted.party_track) == ("PartyTrackStarted", track.id)
    assert (type(started).__name__, started.on, started.reason) == (
        "Started",
        date(2014, 3, 1),
        "补建党建档案",
    )
    s.refuses(m.StartPartyTrack, "already has its party track", on="2014-03-02")
    assert "start-party-track" not in s.case().allowed_commands()


def test_a_party_track_started_late_keeps_the_case_s_date_order() -> None:
    s = Tracks()
    case, ws = entered_alone(s)
    case.record_growth_review(step("2014-07-10"), Panel.parse(REVIEW), None)
    ws.allocate(UUID(str(case.id)), case.name, step(STARTED))
    s.saved(case, ws)
    s.refuses(
        m.StartPartyTrack, "before this case's last recorded step on 2014-07-10", on="2014-03-01"
    )
    assert s.case().last_on == date(2014, 7, 10)  # else a step dated 2014-04-01 is taken next
