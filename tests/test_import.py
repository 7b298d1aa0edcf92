"""Importing a park's existing records: every row checked by the commands' rules, every problem
at its row and column, all rows or none, the same file twice records nothing, and the imported
cases then take ordinary commands with the right deadlines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from openpyxl import Workbook, load_workbook

from commands.bootstrap import Incubator, bootstrap
from commands.importing import COLUMNS, HEADERS
from commands.queries import case_view
from commands.service import Who
from commands.workbooks import read_table
from lifecycle.errors import Conflict
from lifecycle.workspace import Workspace, WorkspaceTaken
from schedules.clock import FixedClock
from tests.test_cli import Shell

FIELDS = [name for name, _, _ in COLUMNS]
# A case of each stage, as a park's records give it (the dates of 2025-2026).
BY_STAGE: dict[str, dict[str, Any]] = {
    "applied": {"stage": "项目申请", "applied_on": "2026-11-02"},
    "inspecting": {"stage": "考察辅导", "applied_on": "2026-09-01", "inspected_on": "2026-09-08"},
    "entry_review": {
        "stage": "入壳评估",
        "applied_on": "2026-09-01",
        "inspected_on": "2026-09-08",
        "submitted_on": "2026-11-16",
    },
    "incubating": {
        "stage": "壳内孵化",
        "applied_on": "2026-01-05",
        "submitted_on": "2026-02-02",
        "entered_on": "2026-03-02",
    },
    "follow_up": {
        "stage": "后续服务",
        "applied_on": "2024-11-04",
        "entered_on": "2025-01-06",
        "reviewed_on": "2025-06-03",
        "exit_on": "2025-11-03",
    },
    "resident": {
        "track": "入驻",
        "stage": "入驻",
        "applied_on": "2026-02-02",
        "entered_on": "2026-03-02",
    },
}
WORKSPACES = [f"M-{n:02d}" for n in range(1, 31)] + [f"B-{n:02d}" for n in range(1, 11)]
COMMUNITY = [(f"community-{c}", f"C{c}-{n:02d}") for c in range(1, 7) for n in range(1, 6)]


def record(n: int, stage: str, **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": f"测试社会组织{n:04d}",
        "field": ["公益慈善", "社区服务", "文化体育", "charity"][n % 4],
        "track": "孵化",
        "site": "main",
        "caseworker": ["王芳", "李娜", "张伟"][n % 3],
        "legal_status": ["未登记", "备案", "登记"][n % 3],
        "party_members": n % 5,
    }
    if row["legal_status"] == "备案":
        row |= {"filing_number": f"伊社备{n}号", "filing_authority": "阿勒腾席热镇"}
    return row | BY_STAGE[stage] | more


def park_records(count: int) -> list[dict[str, Any]]:
    """`count` valid rows: 40 in the shell (each its own workspace at main or branch), 20
    residents of the community incubators, the rest before entry or in follow-up."""
    rows = []
    for n in range(count):
        if n < 40:
            site = "main" if n < 30 else "branch"
            rows.append(record(n, "incubating", site=site, workspace=WORKSPACES[n]))
        elif n < 60:
            site, code = COMMUNITY[n - 40]
            rows.append(record(n, "resident", site=site, workspace=code))
        else:
            stage = ["applied", "inspecting", "entry_review", "follow_up"][n % 4]
            rows.append(record(n, stage, site=["main", "branch", "community-3"][n % 3]))
    return rows


def write_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "机构"
    sheet.append([HEADERS[f] for f in FIELDS])
    for row in rows:
        sheet.append([_typed(f, row.get(f)) for f in FIELDS])
    book.save(path)
    return path


def _typed(name: str, value: Any) -> Any:
    """As a spreadsheet holds it: dates as dates, counts as numbers."""
    if isinstance(value, str) and name.endswith("_on"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value  # as typed: a date that does not exist stays text
    return value


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as file:
        out = csv.writer(file)
        out.writerow([HEADERS[f] for f in FIELDS])
        for row in rows:
            out.writerow(["" if row.get(f) is None else row[f] for f in FIELDS])
    return path


# Fifteen problems of different kinds, each planted in a row of its own: the row (as the sheet
# numbers it: the headers are row 1, record i is row i + 2), the column, and what is said.
PLANTED: list[tuple[int, str, dict[str, Any], str]] = [
    (100, "field", {"field": "养老服务"}, "unknown field '养老服务'"),
    (201, "site", {"site": "第九社区"}, "unknown site '第九社区'"),
    (302, "applied_on", {"applied_on": "2026-02-30"}, "must be a date that exists"),
    (403, "inspected_on", {"inspected_on": "2099-01-05"}, "is in the future"),
    (504, "submitted_on", {"submitted_on": "2026-08-01"}, "is before the date the inspection"),
    (605, "stage", {"stage": "已毕业"}, "must be one of 项目申请 (applied)"),
    (706, "track", {"track": "托管"}, "must be one of 孵化 (incubation)"),
    (807, "legal_status", {"legal_status": "已注册"}, "must be one of 未登记 (unregistered)"),
    (
        908,
        "credit_code",
        {
            "legal_status": "登记",
            "credit_code": "91350100M000100Y44",
            "registration_authority": "民政局",
        },
        "check character",
    ),
    (
        1009,
        "credit_code",
        {
            "legal_status": "未登记",
            "credit_code": "91350100M000100Y43",
            "registration_authority": "民政局",
        },
        "a registration belongs to",
    ),
    (1110, "party_members", {"party_members": "-3"}, "must be a whole number from 0"),
    (1211, "name", {"name": "  "}, "must be given"),
    (1312, "name", {"name": "测试社会组织0000", "site": "main"}, "is in row 2 too"),
    (
        1413,
        "reviewed_on",
        {
            "stage": "后续服务",
            "applied_on": "2024-11-04",
            "entered_on": "2025-01-06",
            "exit_on": "2025-11-03",
            "reviewed_on": None,
            "inspected_on": None,
            "submitted_on": None,
        },
        "needs the date of the last growth review",
    ),
    (
        1514,
        "workspace",
        {
            "workspace": "M-01",
            "stage": "壳内孵化",
            "entered_on": "2026-03-02",
            "applied_on": "2026-01-05",
            "inspected_on": None,
            "submitted_on": None,
        },
        "workspace 'M-01' at site 'main' is held by 测试社会组织0000",
    ),
]


def planted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [dict(r) for r in rows]
    for sheet_row, _, change, _ in PLANTED:
        rows[sheet_row - 2] |= change
    return rows


# ---- through the command line: 2,000 rows ---------------------------------------------------


@pytest.mark.slow
def test_two_thousand_rows_fifteen_problems_then_one_import_then_none(tmp_path: Path) -> None:
    sh = Shell(f"sqlite:///{tmp_path / 'park.sqlite3'}")
    good = park_records(2000)
    bad = write_xlsx(tmp_path / "records.xlsx", planted(good))

    dry = sh.run("import", str(bad), "--dry-run", "--json", ok=False)
    assert dry.returncode == 1, dry.stderr
    said = json.loads(dry.stdout)
    found = {(p["row"], p["column"]): p["problem"] for p in said["problems"]}
    expected = {(row, HEADERS[field]): text for row, field, _, text in PLANTED}
    assert set(found) == set(expected), sorted(set(found) ^ set(expected))
    for where, text in expected.items():
        assert text in found[where], (where, found[where])
    assert said["recorded"] == 0 and sh.json("org", "list") == []

    # a real import of the same file records nothing either
    refused = sh.run("import", str(bad), ok=False)
    assert refused.returncode == 1 and "nothing was recorded" in refused.stdout
    assert sh.json("org", "list") == []

    fixed = write_xlsx(tmp_path / "records-fixed.xlsx", good)
    checked = json.loads(sh.run("import", str(fixed), "--dry-run", "--json").stdout)
    assert (checked["would_record"], checked["problems"]) == (2000, [])
    assert sh.json("org", "list") == []
    done = json.loads(sh.run("import", str(fixed), "--json").stdout)
    assert (done["recorded"], done["already_imported"]) == (2000, 0)
    caseload = sh.json("org", "list")
    assert len(caseload) == 2000
    stages = {s: sum(1 for c in caseload if c["stage"] == s) for s in BY_STAGE}
    assert stages == {
        "applied": 485,
        "inspecting": 485,
        "entry_review": 485,
        "incubating": 40,
        "follow_up": 485,
        "resident": 20,
    }
    occupancy = sh.json("report", "occupancy")
    assert sum(s["held"] for s in occupancy["sites"]) == 60

    again = json.loads(sh.run("import", str(fixed), "--json").stdout)
    assert (again["recorded"], again["already_imported"]) == (0, 2000)
    assert len(sh.json("org", "list")) == 2000
    # where a case came from: the file's sha256 and its row
    first = next(c for c in caseload if c["name"] == "测试社会组织0000")
    [imported] = [e for e in sh.events(first["id"]) if e["type"] == "CaseImported"]
    assert imported["data"]["source_row"] == 2
    assert imported["data"]["source_sha256"] == done["sha256"]
    assert imported["data"]["source_file"] == "records-fixed.xlsx"


@pytest.mark.slow
def test_a_file_wrong_half_way_records_nothing(tmp_path: Path) -> None:
    sh = Shell(f"sqlite:///{tmp_path / 'park.sqlite3'}")
    rows = park_records(300)
    rows[200]["applied_on"] = "二〇二六年"
    path = write_csv(tmp_path / "records.csv", rows)
    result = sh.run("import", str(path), ok=False)
    assert result.returncode == 1 and "202" in result.stdout and "申请日期" in result.stdout
    assert sh.json("org", "list") == []
    assert sh.json("report", "occupancy")["held"] == []


# ---- through the service --------------------------------------------------------------------


@pytest.fixture
def park(database_url: str) -> Iterator[Incubator]:
    clock = FixedClock(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    system = bootstrap(database_url, clock=clock)
    yield system
    system.close_all()


def imported(system: Incubator, path: Path, dry_run: bool = False) -> Any:
    return system.importing.import_table(Who("李娜"), read_table(path), dry_run=dry_run)


def test_a_save_that_fails_half_way_records_nothing(
    park: Incubator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another command takes a workspace of the file while it is being imported: the single
    transaction fails at that workspace, after the cases before it were written: none stays."""
    path = write_xlsx(tmp_path / "records.xlsx", park_records(120))
    real_save = park.log.save

    def raced(*aggregates: Any) -> Any:
        other = Workspace.register("branch", "B-10", _step())  # the last workspace of the file
        real_save(other)
        return real_save(*aggregates)

    monkeypatch.setattr(park.log, "save", raced)
    with pytest.raises(Conflict, match="nothing was recorded: import it again"):
        imported(park, path)
    monkeypatch.undo()
    park.read_models.catch_up()
    assert park.read_models.caseload() == []
    # once the park is quiet, the same file imports whole
    assert len(imported(park, path).imported) == 120


def _step() -> Any:
    from lifecycle.step import Step

    return Step(actor="王芳", on=date(2026, 12, 7), recorded_at=datetime.now(UTC))


def test_imported_cases_take_ordinary_commands_with_the_right_deadlines(
    park: Incubator, tmp_path: Path
) -> None:
    rows = [
        record(0, "applied", site="main"),
        record(1, "entry_review", site="main"),
        record(2, "incubating", site="main", workspace="M-01", reviewed_on="2026-08-03"),
        record(3, "follow_up", site="main"),
        record(4, "resident", site="branch", workspace="B-01"),
    ]
    path = write_csv(tmp_path / "records.csv", rows, encoding="gb18030")  # Excel's Chinese CSV
    report = imported(park, path)
    assert report.problems == [] and len(report.imported) == 5
    applied, review, shell, follow, resident = report.imported
    service, today = park.service, date(2026, 12, 7)

    def deadlines(case_id: UUID) -> dict[str, tuple[str, str]]:
        view = case_view(service.case(case_id), park.park, today)
        return {d["kind"]: (d["due_on"], d["status"]) for d in view["deadlines"]}

    # applied 2026-11-02: the inspection within 14 days, 11-16 (a Monday)
    assert deadlines(applied) == {"inspection": ("2026-11-16", "overdue")}
    # inspected 09-08, within 14 days of 09-01; submitted 11-16: evaluation within 30 days
    assert deadlines(review) == {
        "inspection": ("2026-09-15", "done"),
        "entry_evaluation": ("2026-12-16", "pending"),
    }
    # submitted 02-02, entered 03-02 (no inspection date: no inspection clock); the growth
    # review due Sunday 08-02 (Monday 08-03) was met on 08-03; the exit is due 2027-01-02, a
    # Saturday (Monday 01-04: 2027 counts weekends only so far)
    assert deadlines(shell) == {
        "entry_evaluation": ("2026-03-04", "done"),
        "growth_review": ("2026-08-03", "done"),
        "exit_evaluation": ("2027-01-04", "pending"),
    }
    # entered 2025-01-06, exited 2025-11-03: the follow-up year ended 2026-11-03
    assert deadlines(follow) == {
        "growth_review": ("2025-06-06", "done"),
        "exit_evaluation": ("2025-11-06", "done"),
        "follow_up_end": ("2026-11-03", "overdue"),
    }
    assert deadlines(resident) == {}
    park.read_models.catch_up()
    due = {(r["case_id"], r["kind"]): r["due_on"] for r in park.read_models.due()}
    assert due == {
        (str(applied), "inspection"): date(2026, 11, 16),
        (str(review), "entry_evaluation"): date(2026, 12, 16),
        (str(shell), "exit_evaluation"): date(2027, 1, 4),
        (str(follow), "follow_up_end"): date(2026, 11, 3),
    }

    # the ordinary commands, from where each stands
    on = Who("王芳", today)
    service.start_inspection(applied, on)
    with pytest.raises(WorkspaceTaken, match="held by 测试社会组织0002"):
        service.evaluate_entry(review, on, ["王芳=78", "李强=82", "张敏=70"], "M-01")
    service.evaluate_entry(review, on, ["王芳=78", "李强=82", "张敏=70"], "M-02")
    exit_case = service.evaluate_exit(shell, on, ["王芳=78", "李强=82", "张敏=70"])
    assert (exit_case.stage, exit_case.workspace) == ("follow_up", None)
    service.close_case(follow, on)  # the follow-up year has passed: no reason needed
    service.depart(resident, Who("王芳", today, "迁至新址"))
    track = park.party.start_missing(shell, on)  # an imported case's party track, by hand
    assert (track.stage, track.started_on) == ("entry_inspection", today)
    park.read_models.catch_up()
    stages = {r["id"]: r["stage"] for r in park.read_models.caseload()}
    assert stages == {
        str(applied): "inspecting",
        str(review): "incubating",
        str(shell): "follow_up",
        str(follow): "closed",
        str(resident): "departed",
    }
    held = {(h["site"], h["code"]) for h in park.read_models.occupancy()}
    assert held == {("main", "M-02")}  # M-01 released at the exit, B-01 at the departure
    assert deadlines(shell)["exit_evaluation"] == ("2027-01-04", "done")
    assert deadlines(shell)["follow_up_end"] == ("2027-12-07", "pending")


def test_problems_of_one_row_are_each_named(park: Incubator, tmp_path: Path) -> None:
    row = record(0, "incubating", site="main", workspace="B-01")
    row |= {"field": "未知", "party_members": "很多", "caseworker": "x" * 101}
    report = imported(park, write_csv(tmp_path / "r.csv", [row]))
    columns = sorted(p.column for p in report.problems)
    assert columns == ["正式党员人数", "负责社工", "领域"]  # each malformed cell, then the rules
    report = imported(
        park, write_csv(tmp_path / "r.csv", [record(0, "incubating", workspace="B-01")])
    )
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "工位")
    assert "workspace 'B-01' is not at site 'main'" in problem.said


def test_the_headers_are_checked_first(park: Incubator, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("机构名称,领域,备注\n甲,公益慈善,x\n", encoding="utf-8")
    report = imported(park, path)
    said = {(p.row, p.column, p.said.split(";")[0]) for p in report.problems}
    assert (1, "备注", "unknown column") in said
    assert (1, "阶段", "this column is missing") in said
    assert report.imported == []


def test_a_case_already_in_the_park_is_not_imported_again(park: Incubator, tmp_path: Path) -> None:
    park.service.apply(
        Who("王芳", date(2026, 11, 2)),
        name="测试社会组织0000",
        field="公益慈善",
        legal_status="unregistered",
        track="incubation",
        site="main",
    )
    report = imported(park, write_csv(tmp_path / "r.csv", [record(0, "applied")]))
    [problem] = report.problems
    assert (problem.row, problem.column) == (2, "机构名称")
    assert "has an open case at site main already" in problem.said


# ---- the template ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_template_offers_the_allowed_values_and_imports_when_filled(tmp_path: Path) -> None:
    sh = Shell(f"sqlite:///{tmp_path / 'park.sqlite3'}")
    template = tmp_path / "template.xlsx"
    sh.run("import", "--template", str(template))
    book = load_workbook(template)
    assert book.sheetnames == ["机构", "可选值"]
    records = book["机构"]
    assert [c.value for c in records[1]] == [HEADERS[f] for f in FIELDS]
    assert records.max_row == 1  # no example row that could be imported by mistake
    values = {c.value: i for i, c in enumerate(book["可选值"][1])}
    column = [r[values["领域"]].value for r in book["可选值"].iter_rows(min_row=2)]
    assert "公益慈善" in column and "专业调处" in column
    assert records.data_validations.dataValidation  # the columns offer the allowed values
    for row in park_records(3)[:2]:
        records.append([_typed(f, row.get(f)) for f in FIELDS])
    book.save(template)
    assert "2 case(s) imported" in sh.run("import", str(template)).stdout
    assert {c["workspace"] for c in sh.json("org", "list")} == {"M-01", "M-02"}
