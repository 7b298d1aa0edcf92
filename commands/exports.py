"""Exports a director hands to the civil-affairs bureau: the caseload, the reports, the party
coverage and a case's history as .xlsx workbooks (commands/workbooks.py writes them).

Headers are in Chinese, the domain's values are named as people say them (壳内孵化, 登记), dates
are dates and times the park's local times; a list that has a site has a sheet per site. The
rows are the ones `--json` prints: an export shows what the command line shows, no more.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from commands.importing import LEGAL_STATUS_NAMES_ZH, TRACK_NAMES_ZH
from commands.workbooks import Column, Sheet
from lifecycle import bounds
from lifecycle.deadlines import KIND_NAMES_ZH
from lifecycle.park import Park
from lifecycle.stages import STAGE_NAMES_ZH

Rows = list[dict[str, Any]]


def _common(park: Park) -> dict[str, Column]:
    sites = {s.key: s.name for s in park.sites.values()}
    return {
        "id": Column("id", "编号", width=38),
        "case_id": Column("case_id", "编号", width=38),
        "name": Column("name", "机构名称", width=28),
        "organization": Column("organization", "机构名称", width=28),
        "track": Column("track", "孵化方式", names=TRACK_NAMES_ZH),
        "field": Column("field", "领域", names=dict(park.fields)),
        "legal_status": Column("legal_status", "登记状态", names=LEGAL_STATUS_NAMES_ZH),
        "site": Column("site", "场地", width=22, names=sites),
        "stage": Column("stage", "阶段", names=STAGE_NAMES_ZH),
        "workspace": Column("workspace", "工位"),
        "caseworker": Column("caseworker", "负责社工"),
        "applied_on": Column("applied_on", "申请日期", "date"),
        "entered_on": Column("entered_on", "入壳日期", "date"),
    }


def _columns(
    park: Park, keys: Sequence[str], more: dict[str, Column] | None = None
) -> list[Column]:
    known = _common(park) | (more or {})
    return [known[key] for key in keys]


def per_site(
    title: str, park: Park, columns: list[Column], rows: Rows, key: str = "site"
) -> list[Sheet]:
    """A sheet per site of the park that has rows, in the park's order; one empty sheet when
    none has."""
    sheets = [
        Sheet(site.name, columns, [r for r in rows if r.get(key) == site.key])
        for site in park.sites.values()
    ]
    found = [s for s in sheets if s.rows]
    others = [r for r in rows if r.get(key) not in park.sites]  # a site since removed
    if others:
        found.append(Sheet("其他场地", columns, others))
    return found or [Sheet(title, columns, [])]


def caseload(park: Park, rows: Rows) -> list[Sheet]:
    keys = ("id", "name", "track", "field", "legal_status", "site", "stage", "workspace")
    columns = _columns(park, (*keys, "caseworker", "applied_on", "entered_on"))
    return per_site("机构名单", park, columns, rows)


def due(park: Park, rows: Rows, names: dict[str, str]) -> list[Sheet]:
    """Pending deadlines; `names`: each case's organization (the read model keeps ids)."""
    more = {
        "kind": Column("kind", "期限", width=20, names=KIND_NAMES_ZH),
        "start_on": Column("start_on", "起算日期", "date"),
        "due_on": Column("due_on", "到期日期", "date"),
    }
    named = [r | {"organization": names.get(r["case_id"])} for r in rows]
    keys = ("case_id", "organization", "kind", "start_on", "due_on", "site")
    return per_site("待办期限", park, _columns(park, keys, more), named)


def occupancy(park: Park, figures: dict[str, Any]) -> list[Sheet]:
    summary = Sheet(
        "工位汇总",
        _columns(
            park,
            ("site", "site_name", "workspaces", "held", "free"),
            {
                "site_name": Column("name", "场地名称", width=22),
                "workspaces": Column("workspaces", "工位总数", "number"),
                "held": Column("held", "已占用", "number"),
                "free": Column("free", "空闲", "number"),
            },
        ),
        figures["sites"],
    )
    held = _columns(
        park,
        ("site", "code", "case_name", "case_id", "since"),
        {
            "code": Column("code", "工位"),
            "case_name": Column("case_name", "机构名称", width=28),
            "since": Column("since", "占用起始日期", "date"),
        },
    )
    return [summary, *per_site("占用的工位", park, held, figures["held"])]


def assignments(park: Park, rows: Rows) -> list[Sheet]:
    more = {"since": Column("since", "负责起始日期", "date")}
    keys = ("caseworker", "case_id", "name", "site", "stage", "since")
    return per_site("社工负责的案卷", park, _columns(park, keys, more), rows)


def stage_stats(park: Park, rows: Rows) -> list[Sheet]:
    more = {
        "month": Column("month", "月份"),
        "entered": Column("entered", "进入", "number"),
        "left": Column("left", "离开", "number"),
        "at_month_end": Column("at_month_end", "月末在该阶段", "number"),
    }
    keys = ("site", "month", "stage", "entered", "left", "at_month_end")
    return per_site("阶段统计", park, _columns(park, keys, more), rows)


def time_in_stage(park: Park, rows: Rows) -> list[Sheet]:
    more = {
        "cohort": Column("cohort", "申请年份"),
        "cases": Column("cases", "案卷数", "number"),
        "mean_days": Column("mean_days", "平均天数", "number"),
        "max_days": Column("max_days", "最长天数", "number"),
    }
    keys = ("cohort", "stage", "cases", "mean_days", "max_days")
    return [Sheet("各阶段用时", _columns(park, keys, more), rows)]


def awards(park: Park, figures: dict[str, Any]) -> list[Sheet]:
    money = {
        "projects": Column("projects", "资助项目数", "number"),
        "awarded": Column("awarded", "资助金额(元)", "money"),
        "disbursed": Column("disbursed", "已拨付(元)", "money"),
        "category": Column("category", "项目类别", width=20),
    }
    total = Sheet(
        "资助汇总",
        _columns(park, ("projects", "awarded"), money),
        [{"projects": figures["projects"], "awarded": figures["awarded"]}],
    )
    by_category = Sheet(
        "按类别",
        _columns(park, ("category", "projects", "awarded", "disbursed"), money),
        figures["by_category"],
    )
    by_site = Sheet(
        "按场地",
        _columns(park, ("site", "projects", "awarded", "disbursed"), money),
        figures["by_site"],
    )
    return [total, by_category, by_site]


def legal_status(park: Park, rows: Rows) -> list[Sheet]:
    count = {
        "organizations": Column("organizations", "在园机构", "number"),
        "unregistered": Column("unregistered", "未登记", "number"),
        "filed": Column("filed", "备案", "number"),
        "registered": Column("registered", "登记", "number"),
        "moved": Column("moved", "孵化期间登记或备案", "number", width=20),
        "moved_to_filed": Column("moved_to_filed", "其中: 备案", "number"),
        "moved_to_registered": Column("moved_to_registered", "其中: 登记", "number"),
    }
    keys = ("site", *count)
    return [Sheet("登记备案情况", _columns(park, keys, count), rows)]


def party_coverage(
    park: Park, figures: Callable[[str | None], dict[str, Any]], site: str | None
) -> list[Sheet]:
    """One row per site (or the one asked for), and the park's total."""
    more = {
        "organizations": Column("organizations", "在园机构", "number"),
        "covered": Column("covered", "已覆盖", "number"),
        "ratio": Column("ratio", "覆盖率", "number"),
        "formal_members": Column("formal_members", "正式党员", "number"),
        "independent": Column("independent", "独立党支部", "number"),
        "joint": Column("joint", "已组建的联合党支部", "number", width=20),
    }
    keys = [s.key for s in park.sites.values()] if site is None else [site]
    rows = [_flat(figures(key)) | {"site": key} for key in keys]
    if site is None:
        rows.append(_flat(figures(None)) | {"site": "全园"})
    columns = _columns(park, ("site", *more), more)
    return [Sheet("党组织覆盖", columns, rows)]


def _flat(figures: dict[str, Any]) -> dict[str, Any]:
    branches: dict[str, Any] = figures["branches"]
    return {k: v for k, v in figures.items() if k != "branches"} | branches


def history(park: Park, title: str, events: Rows) -> list[Sheet]:
    """A case's events, oldest first, with what each changed: as `org history` shows them."""
    zone = ZoneInfo(park.timezone)
    rows = [
        {
            "version": e["version"],
            "aggregate": e.get("of", {}).get("aggregate", ""),
            "type": e["type"],
            "on": e["on"],
            "recorded_at": datetime.fromisoformat(e["recorded_at"]).astimezone(zone),
            "actor": e["actor"],
            "reason": e["reason"],
            "changed": "; ".join(
                f"{name}: {_plain(c['before'])} → {_plain(c['after'])}"
                for name, c in e["changed"].items()
            ),
            "data": json.dumps(e["data"], ensure_ascii=False, default=str),
        }
        for e in events
    ]
    columns = [
        Column("version", "序号", "number", width=8),
        Column("aggregate", "所属", width=10),
        Column("type", "事件", width=24),
        Column("on", "业务日期", "date"),
        Column("recorded_at", "记录时间", "moment", width=20),
        Column("actor", "操作人"),
        Column("reason", "原因", width=30),
        Column("changed", "变更", width=60),
        Column("data", "数据", width=60),
    ]
    return [Sheet("历史记录", columns, rows, note=title)]


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(map(_plain, value)) + "]"
    return str(value)


def json_default(value: Any) -> Any:
    """How --json and the API write what JSON has no type for: amounts as numbers exact to the
    cent, dates and ids as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def history_csv(events: Rows) -> str:
    """A history as CSV (UTF-8): one row per event, who in which role, what it changed in
    words, its data as JSON; every cell neutralised so a spreadsheet never runs it as a
    formula."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(
        [
            *("version", "aggregate", "type", "on", "recorded_at"),
            *("actor", "role", "reason", "changed", "data"),
        ]
    )
    for e in events:
        changed = "; ".join(
            f"{name}: {_plain(c['before'])} → {_plain(c['after'])}"
            for name, c in e["changed"].items()
        )
        fields = [
            e["version"],
            e.get("of", {}).get("aggregate", ""),
            e["type"],
            e["on"] or "",
            e["recorded_at"],
            e["actor"],
            e.get("role") or "",
            e["reason"] or "",
            changed,
            json.dumps(e["data"], ensure_ascii=False, default=json_default),
        ]
        out.writerow([csv_cell(str(f)) for f in fields])
    return buffer.getvalue()


# What a spreadsheet takes as the start of a formula in a cell it opens from CSV (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Text as a CSV cell that a spreadsheet shows and never runs: what a terminal would act
    on made visible, and text that begins like a formula led by an apostrophe (which a
    spreadsheet takes as "this is text")."""
    shown = bounds.neutral(text, keep_newlines=True)
    return "'" + shown if shown.startswith(FORMULA_STARTS) else shown
