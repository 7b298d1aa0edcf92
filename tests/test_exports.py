"""Exports for the civil-affairs bureau: each .xlsx opened with openpyxl holds what `--json`
prints, under Chinese headers, dates as dates, a sheet per site where the rows have one."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from commands.importing import LEGAL_STATUS_NAMES_ZH, TRACK_NAMES_ZH
from commands.settings import load_settings
from lifecycle.deadlines import KIND_NAMES_ZH
from lifecycle.stages import STAGE_NAMES_ZH
from tests.test_cli import Shell
from tests.test_import import park_records, write_xlsx

PARK = load_settings(None)
SITE_NAMES = {s.key: s.name for s in PARK.sites.values()}


def sheets(path: Path, skip: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Each sheet's rows as dicts by header (`skip`: title rows above the header)."""
    book = load_workbook(path)
    found: dict[str, list[dict[str, Any]]] = {}
    for ws in book.worksheets:
        rows: list[list[Any]] = [[c.value for c in row] for row in ws.iter_rows()][skip:]
        header, *body = rows
        found[ws.title] = [dict(zip(map(str, header), r, strict=True)) for r in body]
    return found


def day(value: Any) -> date | None:
    """A date cell as openpyxl reads it (a datetime at midnight), or a JSON date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        assert (value.hour, value.minute) == (0, 0)
        return value.date()
    return date.fromisoformat(value)


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Shell:
    """A park of 120 imported cases at three sites, a few moved on by ordinary commands."""
    folder = tmp_path_factory.mktemp("exports")
    shell = Shell(f"sqlite:///{folder / 'park.sqlite3'}")
    shell.run("import", str(write_xlsx(folder / "records.xlsx", park_records(120))))
    cases = {c["name"]: c["id"] for c in shell.json("org", "list")}
    shell.run(
        "org", "record-filing", cases["测试社会组织0000"], "--number", "12", "--authority", "镇"
    )
    shell.run("party", "start", cases["测试社会组织0001"])
    shell.run("org", "assign", cases["测试社会组织0061"], "--caseworker", '=HYPERLINK("x")')
    return shell


def export(sh: Shell, *args: str, tmp: Path) -> Path:
    path = tmp / "export.xlsx"
    result = sh.run(*args, "--xlsx", str(path))
    assert result.stdout == "" and f"written: {path}" in result.stderr
    return path


@pytest.mark.slow
def test_the_caseload_a_sheet_per_site(sh: Shell, tmp_path: Path) -> None:
    book = sheets(export(sh, "org", "list", tmp=tmp_path))
    listed = sh.json("org", "list")
    assert list(book) == [  # the park's order; sites without cases have no sheet
        "主园区",
        "大学生创业孵化园分园",
        "第一社区孵化器",
        "第二社区孵化器",
        "第三社区孵化器",
        "第四社区孵化器",
    ]
    for title, rows in book.items():
        assert {r["场地"] for r in rows} == {title}
    exported = {r["编号"]: r for rows in book.values() for r in rows}
    assert len(exported) == len(listed) == 120
    for case in listed:
        row = exported[case["id"]]
        assert row["机构名称"] == case["name"]
        assert row["阶段"] == STAGE_NAMES_ZH[case["stage"]]
        assert row["孵化方式"] == TRACK_NAMES_ZH[case["track"]]
        assert row["登记状态"] == LEGAL_STATUS_NAMES_ZH[case["legal_status"]]
        assert row["领域"] == PARK.fields[case["field"]]
        assert row["场地"] == SITE_NAMES[case["site"]]
        assert (row["工位"], row["负责社工"]) == (case["workspace"], case["caseworker"])
        assert day(row["申请日期"]) == day(case["applied_on"])
        assert day(row["入壳日期"]) == day(case["entered_on"])
    # a name that looks like a formula stays text
    book_cells = load_workbook(tmp_path / "export.xlsx")["大学生创业孵化园分园"]
    shown = [c for row in book_cells.iter_rows() for c in row if c.value == '=HYPERLINK("x")']
    assert shown and all(c.data_type == "s" for c in shown)


@pytest.mark.slow
def test_the_due_dates_and_the_occupancy(sh: Shell, tmp_path: Path) -> None:
    book = sheets(export(sh, "report", "due", tmp=tmp_path))
    pending = sh.json("report", "due")
    names = {c["id"]: c["name"] for c in sh.json("org", "list")}
    exported = sorted(
        (r["编号"], r["期限"], day(r["起算日期"]), day(r["到期日期"]), r["场地"], r["机构名称"])
        for rows in book.values()
        for r in rows
    )
    assert exported == sorted(
        (
            d["case_id"],
            KIND_NAMES_ZH[d["kind"]],
            day(d["start_on"]),
            day(d["due_on"]),
            SITE_NAMES[d["site"]],
            names[d["case_id"]],
        )
        for d in pending
    )
    assert len(exported) > 100

    book = sheets(export(sh, "report", "occupancy", tmp=tmp_path))
    figures = sh.json("report", "occupancy")
    assert [(r["场地名称"], r["工位总数"], r["已占用"], r["空闲"]) for r in book["工位汇总"]] == [
        (s["name"], s["workspaces"], s["held"], s["free"]) for s in figures["sites"]
    ]
    held = sorted(
        (r["工位"], r["编号"], day(r["占用起始日期"]))
        for title, rows in book.items()
        if title != "工位汇总"
        for r in rows
    )
    assert held == sorted((h["code"], h["case_id"], day(h["since"])) for h in figures["held"])
    assert len(held) == 60


@pytest.mark.slow
def test_the_reports(sh: Shell, tmp_path: Path) -> None:
    book = sheets(export(sh, "report", "legal-status", tmp=tmp_path))
    statuses = sh.json("report", "legal-status")
    assert [
        (r["场地"], r["在园机构"], r["未登记"], r["备案"], r["登记"], r["孵化期间登记或备案"])
        for r in book["登记备案情况"]
    ] == [
        (
            SITE_NAMES[s["site"]],
            s["organizations"],
            s["unregistered"],
            s["filed"],
            s["registered"],
            s["moved"],
        )
        for s in statuses
    ]
    assert sum(s["moved"] for s in statuses) == 1

    book = sheets(export(sh, "report", "assignments", tmp=tmp_path))
    assigned = sh.json("report", "assignments")
    assert sorted((r["编号"], r["负责社工"]) for rows in book.values() for r in rows) == sorted(
        (a["case_id"], a["caseworker"]) for a in assigned
    )

    book = sheets(export(sh, "report", "stages", tmp=tmp_path))
    stats = sh.json("report", "stages")
    assert sorted(
        (r["场地"], r["月份"], r["阶段"], r["进入"], r["离开"], r["月末在该阶段"])
        for rows in book.values()
        for r in rows
    ) == sorted(
        (
            SITE_NAMES[s["site"]],
            s["month"],
            STAGE_NAMES_ZH[s["stage"]],
            s["entered"],
            s["left"],
            s["at_month_end"],
        )
        for s in stats
    )

    book = sheets(export(sh, "report", "awards", tmp=tmp_path))
    assert book["资助汇总"] == [{"资助项目数": 0, "资助金额(元)": 0}]
    book = sheets(export(sh, "report", "time-in-stage", tmp=tmp_path))
    assert [(r["申请年份"], r["阶段"], r["案卷数"]) for r in book["各阶段用时"]] == [
        (t["cohort"], STAGE_NAMES_ZH[t["stage"]], t["cases"])
        for t in sh.json("report", "time-in-stage")
    ]


@pytest.mark.slow
def test_party_coverage_a_row_per_site_and_the_total(sh: Shell, tmp_path: Path) -> None:
    [rows] = sheets(export(sh, "party", "coverage", tmp=tmp_path)).values()
    by_site = {r["场地"]: r for r in rows}
    assert list(by_site) == [*SITE_NAMES.values(), "全园"]
    for key, name in SITE_NAMES.items():
        figures = sh.json("party", "coverage", "--site", key)
        row = by_site[name]
        assert (row["在园机构"], row["已覆盖"], row["正式党员"], row["覆盖率"]) == (
            figures["organizations"],
            figures["covered"],
            figures["formal_members"],
            figures["ratio"],
        )
    total = sh.json("party", "coverage")
    assert (by_site["全园"]["在园机构"], by_site["全园"]["已覆盖"]) == (
        total["organizations"],
        total["covered"],
    )
    assert total["covered"] == 1


@pytest.mark.slow
def test_a_cases_history(sh: Shell, tmp_path: Path) -> None:
    case = next(c for c in sh.json("org", "list") if c["name"] == "测试社会组织0000")
    book = sheets(export(sh, "org", "history", case["id"], tmp=tmp_path), skip=1)
    [rows] = book.values()
    events = sh.events(case["id"])
    assert [(r["序号"], r["事件"], day(r["业务日期"]), r["操作人"], r["原因"]) for r in rows] == [
        (e["version"], e["type"], day(e["on"]), e["actor"], e["reason"]) for e in events
    ]
    assert [r["事件"] for r in rows] == ["CaseImported", "FilingRecorded"]
    assert "legal_status: unregistered → filed" in rows[1]["变更"]
    title = load_workbook(tmp_path / "export.xlsx").worksheets[0]["A1"].value
    assert title == "测试社会组织0000"


def test_an_export_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    sh = Shell(f"sqlite:///{tmp_path / 'park.sqlite3'}")
    result = sh.run("org", "list", "--xlsx", str(tmp_path / "nowhere" / "x.xlsx"), ok=False)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "cannot use" in result.stderr
    wrong = sh.run("org", "list", "--xlsx", str(tmp_path / "x.csv"), ok=False)
    assert wrong.returncode == 4 and "an export is an .xlsx file" in wrong.stderr
