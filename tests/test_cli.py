"""End to end through the real `incubator` executable, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent / "incubator"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "cli.main"]
GOOD = ["--score", "王建国=82", "--score", "刘慧=78", "--score", "赵志强=85"]
SMTP = "INCUBATOR_SMTP_URL"
WEAK = ["--score", "王建国=52", "--score", "刘慧=55", "--score", "赵志强=58"]


class Shell:
    def __init__(self, database_url: str, **env: str) -> None:
        self.env = {
            **os.environ,
            "INCUBATOR_DATABASE_URL": database_url,
            "INCUBATOR_ACTOR": "李娜",
            **env,
        }
        self.env.pop("INCUBATOR_SETTINGS", None)
        if "INCUBATOR_NOW" not in env:
            self.env.pop("INCUBATOR_NOW", None)  # the real clock unless a test fixes it
        else:  # a fixed clock is honoured only on a database created for rehearsals
            plain = {k: v for k, v in self.env.items() if k not in ("INCUBATOR_NOW", SMTP)}
            created = subprocess.run(
                [*COMMAND, "init", "--rehearsal"], env=plain, capture_output=True, check=False
            )
            assert created.returncode == 0, created.stderr.decode()

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*COMMAND, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        if ok and result.returncode != 0:
            raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def refused(self, *args: str, code: int = 1) -> str:
        result = self.run(*args, ok=False)
        assert result.returncode == code, (result.returncode, result.stderr)
        assert result.stdout == ""
        return result.stderr

    def events(self, org: str) -> list[dict[str, Any]]:
        return list(self.json("org", "history", org))


@pytest.mark.slow
def test_a_cohort_through_the_whole_lifecycle(database_url: str) -> None:
    sh = Shell(database_url)
    org = sh.run(
        "org",
        "apply",
        "--name",
        "爱心志愿者协会",
        "--field",
        "公益慈善",
        "--legal-status",
        "registered",
        "--track",
        "incubation",
        "--site",
        "main",
        "--contact",
        "张伟",
        "--party-members",
        "2",
        "--on",
        "2014-01-06",
    ).stdout.strip()
    other = sh.json(
        "org",
        "apply",
        "--name",
        "心理疏导工作室",
        "--field",
        "counselling_rights",
        "--legal-status",
        "filed",
        "--track",
        "incubation",
        "--site",
        "main",
        "--on",
        "2014-01-07",
    )["id"]
    sh.run("org", "start-inspection", org, "--on", "2014-01-08")
    sh.run("org", "assign", org[:8], "--caseworker", "王芳", "--on", "2014-01-08")
    sh.run("org", "record-visit", org, "--note", "走访: 团队 12 人", "--on", "2014-01-15")
    sh.run("org", "submit-for-entry", org, "--on", "2014-02-20")
    declined = sh.json("org", "evaluate-entry", org, *WEAK, "--on", "2014-03-01")
    assert declined["stage"] == "declined"
    sh.run("org", "resume-coaching", org, "--on", "2014-03-02")
    sh.run("org", "submit-for-entry", org, "--on", "2014-03-02")
    entered = sh.json(
        "org", "evaluate-entry", org, *GOOD, "--workspace", "M-01", "--on", "2014-03-03"
    )
    assert (entered["stage"], entered["workspace"], entered["entered_on"]) == (
        "incubating",
        "M-01",
        "2014-03-03",
    )

    # the other case cannot take the same workspace
    sh.run("org", "start-inspection", other, "--on", "2014-01-09")
    sh.run("org", "submit-for-entry", other, "--on", "2014-02-01")
    error = sh.refused(
        "org", "evaluate-entry", other, *GOOD, "--workspace", "M-01", "--on", "2014-03-04"
    )
    assert "workspace 'M-01' at site 'main' is held by 爱心志愿者协会" in error

    sh.run(
        "org",
        "correct-entry-date",
        org,
        "--to",
        "2014-03-05",
        "--reason",
        "协议签订日",
        "--on",
        "2014-03-10",
    )
    sh.run("org", "record-growth-review", org, "--score", "王建国=75", "--on", "2014-08-05")
    error = sh.refused("org", "evaluate-exit", org, *GOOD, "--on", "2014-10-01")
    assert "opens on 2014-12-06" in error and "ends on 2015-01-05" in error
    followed = sh.json("org", "evaluate-exit", org, *GOOD, "--on", "2015-01-05")
    assert (followed["stage"], followed["workspace"]) == ("follow_up", None)
    sh.run(
        "org", "record-follow-up", org, "--service", "协助竞标政府购买服务", "--on", "2015-03-10"
    )
    error = sh.refused("org", "close", org, "--on", "2015-06-01")
    assert "needs --reason explaining the early close" in error
    closed = sh.json("org", "close", org, "--on", "2016-01-05")
    assert closed["stage"] == "closed"
    assert [(d["kind"], d["due_on"], d["status"]) for d in closed["deadlines"]][2:5] == [
        ("growth_review", "2014-08-05", "done"),
        ("exit_evaluation", "2015-01-05", "done"),
        ("follow_up_end", "2016-01-05", "done"),
    ]

    shown = sh.json("org", "show", org)
    assert {
        k: shown[k]
        for k in (
            "name",
            "track",
            "stage",
            "site",
            "workspace",
            "field",
            "legal_status",
            "caseworker",
            "entered_on",
        )
    } == {
        "name": "爱心志愿者协会",
        "track": "incubation",
        "stage": "closed",
        "site": "main",
        "workspace": None,
        "field": "charity",
        "legal_status": "registered",
        "caseworker": "王芳",
        "entered_on": "2014-03-05",
    }

    events = sh.events(org)
    assert [e["type"] for e in events] == [
        "ApplicationReceived",
        "InspectionStarted",
        "CaseworkerAssigned",
        "SiteVisitRecorded",
        "SubmittedForEntry",
        "EntryDeclined",
        "CoachingResumed",
        "SubmittedForEntry",
        "EntryApproved",
        "EntryDateCorrected",
        "GrowthReviewRecorded",
        "ExitApproved",
        "FollowUpServiceRecorded",
        "CaseClosed",
    ]
    assert all(e["actor"] == "李娜" and e["recorded_at"] for e in events)
    assert events[5]["reason"].startswith("mean score 55.00 below the pass mark 60")
    assert events[9]["reason"] == "协议签订日"
    assert events[8]["data"]["scores"] == {"王建国": 82, "刘慧": 78, "赵志强": 85}

    # the other case takes the released workspace; the caseload shows both
    sh.run("org", "evaluate-entry", other, *GOOD, "--workspace", "M-01", "--on", "2015-01-06")
    rows = sh.json("org", "list")
    assert [(r["name"], r["stage"], r["workspace"]) for r in rows] == [
        ("爱心志愿者协会", "closed", None),
        ("心理疏导工作室", "incubating", "M-01"),
    ]
    assert [r["name"] for r in sh.json("org", "list", "--stage", "incubating")] == [
        "心理疏导工作室"
    ]
    table = sh.run("org", "list").stdout
    assert "爱心志愿者协会" in table and "壳内孵化" in table
    history_text = sh.run("org", "history", org).stdout
    assert "EntryDateCorrected" in history_text and "协议签订日" in history_text


@pytest.mark.slow
def test_residency_through_the_command_line(sqlite_url: str) -> None:
    sh = Shell(sqlite_url)
    org = sh.run(
        "org",
        "apply",
        "--name",
        "青年创业服务中心",
        "--field",
        "社会事务",
        "--legal-status",
        "registered",
        "--track",
        "residency",
        "--site",
        "branch",
        "--on",
        "2014-01-20",
    ).stdout.strip()
    assert (
        sh.json("org", "admit", org, "--workspace", "B-02", "--on", "2014-02-01")["stage"]
        == "resident"
    )
    sh.run("org", "record-service-evaluation", org, "--score", "王建国=88", "--on", "2014-08-01")
    departed = sh.json("org", "depart", org, "--reason", "期满", "--on", "2015-01-31")
    assert (departed["stage"], departed["workspace"]) == ("departed", None)


@pytest.mark.slow
def test_refusals_exit_non_zero_say_why_and_record_nothing(sqlite_url: str, tmp_path: Path) -> None:
    sh = Shell(sqlite_url)
    org = sh.run(
        "org",
        "apply",
        "--name",
        "市民学堂",
        "--field",
        "市民教育",
        "--legal-status",
        "unregistered",
        "--track",
        "incubation",
        "--site",
        "community-2",
        "--on",
        "2014-03-01",
    ).stdout.strip()
    before = sh.events(org)

    error = sh.refused("org", "submit-for-entry", org, "--on", "2014-03-02")
    assert (
        "cannot submit-for-entry: the case is in stage 'applied'; commands allowed from "
        "'applied': assign, correct-legal-status, record-filing, record-registration, "
        "record-registration-help, reject, start-inspection, withdraw"
    ) in error
    assert "needs --reason" in sh.refused("org", "reject", org, "--on", "2014-03-02")
    assert "in the future" in sh.refused("org", "start-inspection", org, "--on", "2099-01-01")
    assert "must be a date from 2000-01-01 to 2100-12-31" in sh.refused(
        "org", "start-inspection", org, "--on", "2999-01-01", code=2
    )
    assert "before this case's last recorded step" in sh.refused(
        "org", "start-inspection", org, "--on", "2014-02-01"
    )
    no_actor = Shell(sqlite_url, INCUBATOR_ACTOR="")
    assert "give --actor" in no_actor.refused("org", "start-inspection", org)
    assert "no case id starts with 'ffffffff'" in sh.refused("org", "show", "ffffffff")
    assert "unknown field '体育'" in sh.refused(
        "org",
        "apply",
        "--name",
        "x",
        "--field",
        "体育",
        "--legal-status",
        "filed",
        "--track",
        "incubation",
        "--site",
        "main",
    )
    assert "'--on': must be a date like 2014-01-08 (YYYY-MM-DD); got '2014-13-01'" in sh.refused(
        "org", "start-inspection", org, "--on", "2014-13-01", code=2
    )
    assert "Missing option '--caseworker'" in sh.refused("org", "assign", org, code=2)
    assert sh.events(org) == before

    bad_settings = tmp_path / "bad.toml"
    bad_settings.write_text("[evaluation]\npass_mark = 'high'\n", encoding="utf-8")
    assert "evaluation.pass_mark must be a number" in sh.refused(
        "--settings", str(bad_settings), "org", "list", code=4
    )
    assert "unsupported database URL 'mysql://x'" in Shell("mysql://x").refused(
        "org", "list", code=4
    )


@pytest.mark.slow
def test_the_demo_runs_on_a_sqlite_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "demo", "--database", str(tmp_path / "demo.sqlite3")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "caseload: 7 cases" in result.stdout
    assert "refused, nothing recorded" in result.stdout
    assert "CaseClosed" in result.stdout
    assert (tmp_path / "demo.sqlite3").exists()


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [*COMMAND, "org", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    for command in (
        "apply",
        "start-inspection",
        "evaluate-entry",
        "correct-entry-date",
        "record-service-evaluation",
        "history",
        "list",
    ):
        assert command in result.stdout
