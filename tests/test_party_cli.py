"""The party-branch track end to end through the real `incubator` executable: three organizations
with 0, 2 and 3 formal party members, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_cli import GOOD, Shell

pytestmark = pytest.mark.slow


def enter(sh: Shell, name: str, workspace: str) -> str:
    org = sh.run(
        "org",
        "apply",
        "--name",
        name,
        "--field",
        "community_service",
        "--legal-status",
        "filed",
        "--track",
        "incubation",
        "--site",
        "main",
        "--on",
        "2014-01-06",
    ).stdout.strip()
    sh.run("org", "start-inspection", org, "--on", "2014-01-08")
    sh.run("org", "submit-for-entry", org, "--on", "2014-01-20")
    sh.run("org", "evaluate-entry", org, *GOOD, "--workspace", workspace, "--on", "2014-02-10")
    return org


def party(sh: Shell, org: str) -> Any:
    return sh.json("party", "show", org)


def test_three_organizations_with_0_2_and_3_members(database_url: str) -> None:
    sh = Shell(database_url)
    none, two, three = (
        enter(sh, "社区睦邻服务社", "M-01"),
        enter(sh, "青少年成长服务中心", "M-02"),
        enter(sh, "爱心志愿者协会", "M-03"),
    )

    # 入驻一家, 覆盖一家: each entry started its party track on the entry date.
    for org in (none, two, three):
        track = party(sh, org)
        assert (track["stage"], track["started_on"], track["stars"]) == (
            "entry_inspection",
            "2014-02-10",
            None,
        )
        assert track["branch"] == {"kind": "none", "id": None, "name": None}
        assert sh.json("org", "show", org)["party"]["stage"] == "entry_inspection"
        sh.run("party", "record-inspection", org, "--note", "入壳考察", "--on", "2014-02-12")

    sh.run("party", "count-members", none, "--formal", "0", "--on", "2014-02-20")
    sh.run(
        "party", "count-members", two, "--formal", "2", "--transferred", "2", "--on", "2014-02-20"
    )
    counted = sh.json(
        "party",
        "count-members",
        three,
        "--formal",
        "3",
        "--probationary",
        "1",
        "--transferred",
        "3",
        "--on",
        "2014-02-20",
    )
    assert (counted["stage"], counted["formal_members"], counted["probationary_members"]) == (
        "support",
        3,
        1,
    )

    # No members: an instructor first, then policy advice and member development.
    assert "need members" in sh.refused(
        "party", "record-support", none, "--kind", "space", "--note", "活动场地"
    )
    assert "instructor or liaison" in sh.refused(
        "party", "record-development", none, "--note", "培养入党积极分子"
    )
    assert "at least 3 formal members" in sh.refused("party", "found-branch", none, "--name", "x")
    sh.run("party", "assign-instructor", none, "--instructor", "张建华", "--on", "2014-02-21")
    sh.run(
        "party", "record-support", none, "--kind", "instructor", "--note", "党建政策辅导",
        "--on", "2014-02-22",
    )  # fmt: skip
    developed = sh.json(
        "party", "record-development", none, "--note", "培养入党积极分子2名", "--on", "2014-03-01"
    )
    assert (developed["stage"], developed["instructor"]) == ("formation", "张建华")

    # Two members: a joint branch of its site; its own branch is refused.
    assert "join a joint branch" in sh.refused("party", "found-branch", two, "--name", "x")
    branch_id = sh.run(
        "party", "joint-branch", "create", "--name", "主园区联合党支部", "--site", "main",
        "--on", "2014-02-25",
    ).stdout.strip()  # fmt: skip
    assert "already has a joint branch" in sh.refused(
        "party", "joint-branch", "create", "--name", "主园区联合党支部", "--site", "main"
    )
    joined = sh.json("party", "join-branch", two, "--branch", branch_id, "--on", "2014-03-01")
    assert joined["stage"] == "follow_up"
    assert joined["branch"] == {"kind": "joint", "id": branch_id, "name": "主园区联合党支部"}
    branch = sh.json("party", "joint-branch", "show", branch_id)
    assert (branch["formal_members"], branch["constituted_on"]) == (2, None)

    # Three members: its own branch; a joint branch is refused.
    assert "found its own branch" in sh.refused(
        "party", "join-branch", three, "--branch", branch_id
    )
    founded = sh.json(
        "party", "found-branch", three, "--name", "爱心志愿者协会党支部", "--on", "2014-03-05"
    )
    assert (founded["stage"], founded["branch"]["kind"], founded["branch"]["name"]) == (
        "follow_up",
        "independent",
        "爱心志愿者协会党支部",
    )

    sh.run(
        "party", "record-service", two, "--kind", "joint_meeting", "--note", "联席会议",
        "--on", "2014-04-01",
    )  # fmt: skip
    assert "must be a whole number from 1 to 5 (digits 0-9 only); got '6'" in sh.refused(
        "party", "rate", two, "--stars", "6", "--note", "x", code=2
    )
    sh.run("party", "rate", two, "--stars", "3", "--note", "支部活动记录", "--on", "2014-05-01")

    assert sh.json("party", "coverage") == {
        "organizations": 3,
        "covered": 3,
        "formal_members": 5,
        "branches": {"independent": 1, "joint": 0},  # 2 formal members: not yet constituted
        "ratio": 1.0,
    }

    # The growth review shows the party's star rating beside it; the exit needs a newer one.
    sh.run("org", "record-growth-review", two, "--score", "王建国=75", "--on", "2014-07-10")
    assert sh.events(two)[-1]["data"]["party_stars"] == 3
    before = len(sh.events(two))
    refusal = sh.refused("org", "evaluate-exit", two, *GOOD, "--on", "2014-11-20")
    assert "no star rating since the last growth review on 2014-07-10" in refusal
    assert "incubator party rate" in refusal
    assert len(sh.events(two)) == before
    sh.run("party", "rate", two, "--stars", "4", "--note", "年度星级评定", "--on", "2014-11-15")
    sh.run("org", "evaluate-exit", two, *GOOD, "--on", "2014-11-20")
    exit_event = sh.events(two)[-1]
    assert (exit_event["type"], exit_event["data"]["party_stars"]) == ("ExitApproved", 4)
    assert sh.json("org", "show", two)["party"] == {
        "stage": "follow_up",
        "formal_members": 2,
        "branch": "joint",
        "stars": 4,
        "rated_on": "2014-11-15",
    }

    # It grows to 3 members: the joint branch is constituted; then it founds its own.
    sh.run(
        "party", "count-members", two, "--formal", "3", "--transferred", "3", "--on", "2014-12-01"
    )
    assert sh.json("party", "joint-branch", "show", branch_id)["constituted_on"] == "2014-12-01"
    assert sh.json("party", "coverage")["branches"]["joint"] == 1
    sh.run("party", "found-branch", two, "--name", "青少年中心党支部", "--on", "2014-12-10")
    left = sh.json("party", "joint-branch", "show", branch_id)
    assert (left["members"], left["constituted"], left["constituted_on"]) == ([], False, None)

    # The organization without members withdraws: its party track closes with its case.
    sh.run("org", "withdraw", none, "--reason", "团队解散", "--on", "2014-12-15")
    closed = party(sh, none)
    assert (closed["stage"], closed["ended_on"], closed["allowed_commands"]) == (
        "closed",
        "2014-12-15",
        [],
    )
    assert "the party track has ended" in sh.refused(
        "party", "assign-instructor", none, "--instructor", "李四"
    )
    assert sh.json("party", "coverage", "--site", "main") == {
        "organizations": 2,
        "covered": 2,
        "formal_members": 6,
        "branches": {"independent": 2, "joint": 0},
        "ratio": 1.0,
    }
    assert [
        (b["name"], b["kind"], b["organizations"], b["formal_members"])
        for b in sh.json("party", "branches", "--site", "main")
    ] == [
        ("爱心志愿者协会党支部", "independent", 1, 3),
        ("青少年中心党支部", "independent", 1, 3),
        ("主园区联合党支部", "joint", 0, 0),
    ]
    history = sh.json("party", "history", two)
    assert [e["type"] for e in history] == [
        "Started",
        "InspectionRecorded",
        "MembersCounted",
        "JointBranchJoined",
        "ServiceRecorded",
        "Rated",
        "EvaluationNoted",  # the growth review, with the stars beside it
        "Rated",
        "EvaluationNoted",  # the exit evaluation
        "MembersCounted",
        "BranchFounded",
    ]


def test_party_commands_before_entry_say_when_the_track_starts(sqlite_url: str) -> None:
    sh = Shell(sqlite_url)
    org = sh.run(
        "org", "apply", "--name", "社区睦邻服务社", "--field", "charity", "--legal-status",
        "registered", "--track", "residency", "--site", "branch",
    ).stdout.strip()  # fmt: skip
    message = sh.refused("party", "show", org)
    assert "no party track yet" in message and "admit" in message
    assert sh.json("org", "show", org)["party"] is None
    sh.run("org", "admit", org, "--workspace", "B-01")
    assert party(sh, org)["stage"] == "entry_inspection"
    assert sh.json("party", "coverage", "--site", "branch")["covered"] == 1
    assert "unknown site" in sh.refused("party", "coverage", "--site", "nowhere")
