"""Importing a park's existing records (`incubator import FILE.xlsx|FILE.csv`).

Each row is one case: its cells are bounded by the `ImportCase` message, as a command's options
are, and the case is decided by the domain (`OrganizationCase.import_case`: the stage, its
dates in order, the workspace, the legal status), the workspace by its own aggregate (held by
one case at a time), the field, site and workspace by the park: the rules of the commands, not
a copy of them. Every problem of every row is reported with its row, its column, what is wrong
and what is allowed. A real import records all rows or none, in one transaction, as
`CaseImported` events that name the file's sha256 and the row: the same file again finds its
cases and records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands import messages as m
from commands.service import Commands, Who
from commands.workbooks import ROW_LIMIT, Table, WorkbookError, save_whole
from lifecycle.bounds import Invalid
from lifecycle.errors import Conflict, Refused
from lifecycle.organization import ImportedRecord, ImportSource, OrganizationCase
from lifecycle.park import LEGAL_STATUSES, Park
from lifecycle.stages import STAGE_NAMES_ZH, TRACKS
from lifecycle.step import Step
from lifecycle.workspace import Workspace

# The columns of the template, in order: the message's field, the header, a note for people.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "机构名称", "必填"),
    ("field", "领域", "必填: 见“可选值”表"),
    ("track", "孵化方式", "必填: 孵化 或 入驻"),
    ("site", "场地", "必填: 场地名称或代号"),
    (
        "stage",
        "阶段",
        "必填: 项目申请, 考察辅导, 入壳评估, 壳内孵化, 后续服务; 入驻机构: 项目申请, 入驻",
    ),
    ("applied_on", "申请日期", "必填, 如 2024-03-01"),
    ("inspected_on", "考察开始日期", "考察辅导及以后"),
    ("submitted_on", "提交入壳评估日期", "入壳评估及以后"),
    ("entered_on", "入壳日期", "壳内孵化, 后续服务, 入驻: 入壳或入驻的日期"),
    ("reviewed_on", "最近成长评估日期", "后续服务必填(出壳前须有成长评估)"),
    ("exit_on", "出壳日期", "后续服务必填"),
    ("workspace", "工位", "壳内孵化和入驻必填; 每个工位只能一家"),
    ("caseworker", "负责社工", ""),
    ("contact", "联系人", ""),
    ("legal_status", "登记状态", "必填: 未登记, 备案, 登记"),
    ("filing_number", "备案编号", "备案或登记的机构"),
    ("filing_authority", "备案机关", "与备案编号一起"),
    ("credit_code", "统一社会信用代码", "登记的机构: 18 位, 请设为文本格式"),
    ("registration_authority", "登记管理机关", "与统一社会信用代码一起"),
    ("party_members", "正式党员人数", "整数"),
)
HEADERS = {name: header for name, header, _ in COLUMNS}
SHEET = "机构"  # the sheet of the records; the first sheet when there is none of that name
TRACK_NAMES_ZH = {"incubation": "孵化", "residency": "入驻"}
LEGAL_STATUS_NAMES_ZH = {"unregistered": "未登记", "filed": "备案", "registered": "登记"}
# A value typed in Chinese, for the fields whose values are English keys.
_CHOICES: dict[str, dict[str, str]] = {
    "track": {v: k for k, v in TRACK_NAMES_ZH.items()},
    "legal_status": {v: k for k, v in LEGAL_STATUS_NAMES_ZH.items()},
    "stage": {v: k for k, v in STAGE_NAMES_ZH.items()},
}
_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")


@dataclass(frozen=True)
class Problem:
    row: int  # as the spreadsheet numbers it: the headers are row 1
    column: str  # the header
    said: str  # what is wrong and what is allowed
    refusal: Refused | None = None  # its template and values, for another language

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "problem": self.said}


@dataclass
class ImportReport:
    file: str
    sha256: str
    rows: int = 0  # rows of records in the file
    imported: list[UUID] = field(default_factory=list)  # recorded now (or, dry, would be)
    already: int = 0  # rows whose case this file recorded before
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "rows": self.rows,
            "dry_run": self.dry_run,
            "recorded": 0 if self.dry_run or self.problems else len(self.imported),
            "would_record": len(self.imported) if self.dry_run and not self.problems else 0,
            "already_imported": self.already,
            "problems": [p.as_json() for p in self.problems],
            "cases": [str(i) for i in self.imported] if not self.problems else [],
        }


Progress = Callable[[int], None]


class ImportService(Commands):
    """Decides every row, then saves every case (and the workspaces they hold) at once."""

    def __init__(self, *args: Any, open_names: Callable[[], Iterable[dict[str, Any]]]) -> None:
        super().__init__(*args)
        self.open_names = open_names  # the open cases of the park, to find one imported twice

    def import_table(
        self, who: Who, table: Table, *, dry_run: bool = False, progress: Progress | None = None
    ) -> ImportReport:
        report = ImportReport(table.name, table.sha256, rows=len(table.rows), dry_run=dry_run)
        step = self._step(who)
        columns = _columns(table.header, report)
        if report.problems:
            return report
        known = {(r["site"], r["name"]): r for r in self.open_names()}
        seen: dict[tuple[str, str], int] = {}
        workspaces: dict[UUID, Workspace] = {}
        decided: list[Aggregate] = []
        for number, cells in table.rows:
            source = ImportSource(table.name, table.sha256, number)
            if self._find(source.case_id) is not None:
                report.already += 1
            else:
                row = Row(
                    number,
                    {name: cells[i] if i < len(cells) else None for name, i in columns.items()},
                )
                case = self._decide(row, step, source, workspaces, report)
                if case is not None and self._unique(case, number, seen, known, report):
                    decided.append(case)
                    report.imported.append(source.case_id)
            if progress is not None:
                progress(1)
        if dry_run or report.problems or not decided:
            return report
        self._save(decided, workspaces)
        return report

    def _decide(
        self,
        row: Row,
        step: Step,
        source: ImportSource,
        workspaces: dict[UUID, Workspace],
        report: ImportReport,
    ) -> OrganizationCase | None:
        values = row.values(self.park, report)
        if values is None:
            return None
        try:
            record = _record(m.ImportCase(**values), self.park)
            case = OrganizationCase.import_case(step, record, self.park.rules, source)
            if record.workspace is not None and record.entered_on is not None:
                self.park.workspace(record.site, record.workspace)
                held = self._held_at(record.site, record.workspace, step, workspaces)
                held.allocate(source.case_id, record.name, replace(step, on=record.entered_on))
        except Refused as refusal:
            report.problems.append(row.problem(refusal))
            return None
        return case

    def _held_at(
        self, site: str, code: str, step: Step, workspaces: dict[UUID, Workspace]
    ) -> Workspace:
        """The workspace as the rows before left it (one case at a time holds it)."""
        key = Workspace.id_for(site, code)
        if key not in workspaces:
            found = self._find(key)
            assert found is None or isinstance(found, Workspace)
            workspaces[key] = found or Workspace.register(site, code, step)
        return workspaces[key]

    def _unique(
        self,
        case: OrganizationCase,
        number: int,
        seen: dict[tuple[str, str], int],
        known: dict[tuple[str, str], dict[str, Any]],
        report: ImportReport,
    ) -> bool:
        """One open case per organization and site: a row of the file, or a case already in
        the park, with the same name is the same organization."""
        key = (case.site, case.name)
        said = None
        if key in seen:
            said = f"{case.name} is in row {seen[key]} too, at the same site; one row per case"
        elif key in known:
            other = known[key]
            said = (
                f"{case.name} has an open case at site {case.site} already ({other['id']}, "
                f"{other['stage']}); an organization has one open case"
            )
        if said is not None:
            report.problems.append(Problem(number, HEADERS["name"], said))
            return False
        seen[key] = number
        return True

    def _save(self, cases: list[Aggregate], workspaces: dict[UUID, Workspace]) -> None:
        """Every case and workspace in one transaction: all rows or none."""
        changed = [w for w in workspaces.values() if w.pending_events]
        try:
            self.log.save(*cases, *changed)
        except IntegrityError:
            raise Conflict(
                "another command changed a workspace (or imported this file) while the file "
                "was being imported; nothing was recorded: import it again"
            ) from None


@dataclass(frozen=True)
class Row:
    number: int
    cells: dict[str, Any]  # by the message's field names

    def values(self, park: Park, report: ImportReport) -> dict[str, Any] | None:
        """The row's values, each checked by its parameter's bounds; None when any is wrong
        (each wrong cell is a problem of the report)."""
        values: dict[str, Any] = {}
        wrong = False
        for name, spec in m.params(m.ImportCase):
            if name in ("on", "reason"):
                continue
            try:
                value = _cell(self.cells.get(name), name, spec, park)
                if value is None and m.required(m.ImportCase, name):
                    raise Invalid(HEADERS[name], "", "must be given")
            except Refused as refusal:
                report.problems.append(self.problem(refusal, name))
                wrong = True
                continue
            if value is not None:
                values[name] = value
        return None if wrong else values

    def problem(self, refusal: Refused, name: str | None = None) -> Problem:
        column = HEADERS.get(name or refusal.field or "", "")
        said = refusal.detail if isinstance(refusal, Invalid) else str(refusal)
        return Problem(self.number, column or (refusal.field or "—"), said, refusal)


def _columns(header: list[str], report: ImportReport) -> dict[str, int]:
    """Which cell of a row holds which field: headers in Chinese (the template's) or as the
    message names them."""
    by_header = {h: n for n, h in HEADERS.items()} | {n: n for n in HEADERS}
    found: dict[str, int] = {}
    for i, text in enumerate(header):
        if not text:
            continue
        name = by_header.get(text)
        if name is None:
            report.problems.append(
                Problem(1, text, f"unknown column; the columns are: {', '.join(HEADERS.values())}")
            )
        elif name in found:
            report.problems.append(Problem(1, text, "this column is given twice"))
        else:
            found[name] = i
    for name in ("name", "field", "track", "site", "stage", "applied_on", "legal_status"):
        if name not in found:
            report.problems.append(
                Problem(1, HEADERS[name], "this column is missing; it is required")
            )
    return found


def _cell(value: Any, name: str, spec: m.Param, park: Park) -> Any:
    """A cell as its parameter takes it: text parsed by the parameter, a number or a date
    from the spreadsheet checked by it."""
    header = HEADERS[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if spec.kind is m.DAY:
        return spec.kind.check(_day(value, header), header)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if spec.kind is m.MEMBERS:
        return (
            spec.kind.check(value, header)
            if isinstance(value, int)
            else spec.kind.parse(str(value), header)
        )
    text = str(value).strip()
    text = _CHOICES.get(name, {}).get(text, text)
    if name == "site":
        text = park.site_key(text)
    elif name == "field":
        text = park.field_key(text)
    try:
        return spec.kind.parse(text, header)
    except Invalid:
        if name not in _CHOICES:
            raise
        names = {k: v for v, k in _CHOICES[name].items() if k in spec.kind.choices}
        raise Invalid(
            header,
            value,
            "must be one of {options}",
            options=", ".join(f"{v} ({k})" for k, v in names.items()),
        ) from None


def _day(value: Any, header: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = _DATE.fullmatch(str(value).strip())
    if found is None:
        raise Invalid(header, value, "must be a date like 2024-03-01 (or 2024/3/1, 2024年3月1日)")
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        raise Invalid(header, value, "must be a date that exists, like 2024-03-01") from None


def _record(message: m.ImportCase, park: Park) -> ImportedRecord:
    return ImportedRecord(
        name=message.name,
        field=park.field_key(message.field),
        legal_status=message.legal_status,
        track=message.track,
        site=park.site(message.site).key,
        stage=message.stage,
        applied_on=message.applied_on,
        inspected_on=message.inspected_on,
        submitted_on=message.submitted_on,
        entered_on=message.entered_on,
        reviewed_on=message.reviewed_on,
        exit_on=message.exit_on,
        workspace=message.workspace,
        caseworker=message.caseworker,
        contact=message.contact,
        party_members=message.party_members,
        filing_number=message.filing_number,
        filing_authority=message.filing_authority,
        credit_code=message.credit_code,
        registration_authority=message.registration_authority,
    )


# ---- the template -----------------------------------------------------------------------------


def write_template(path: Path, park: Park) -> None:
    """An empty records sheet, its headers noted and its columns offering the allowed values,
    and a sheet of the allowed values (the park's fields, sites and workspaces)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path.name}: the template is an .xlsx file; name it so")
    book = Workbook()
    records = book.active
    assert records is not None
    records.title = SHEET
    lists = book.create_sheet("可选值")
    choices = _allowed(park)
    for col, (title, values) in enumerate(choices.items(), start=1):
        letter = get_column_letter(col)
        lists.cell(1, col, title).font = Font(bold=True)
        lists.column_dimensions[letter].width = 22
        for row, value in enumerate(values, start=2):
            lists.cell(row, col, value).data_type = "s"
    offered = {"field": "领域", "track": "孵化方式", "stage": "阶段", "site": "场地"}
    offered |= {"legal_status": "登记状态", "workspace": "工位"}
    for col, (name, header, note) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(col)
        cell = records.cell(1, col, header)
        cell.font = Font(bold=True)
        if note:
            cell.comment = Comment(note, "incubator")
        records.column_dimensions[letter].width = max(12, len(header) * 2 + 4)
        if name in DATE_FIELDS:
            records.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif name not in ("party_members",):
            records.column_dimensions[letter].number_format = "@"  # text: 18-digit codes stay
        if name in offered:
            source = list(choices).index(offered[name]) + 1
            values = choices[offered[name]]
            ref = f"'可选值'!${get_column_letter(source)}$2:${get_column_letter(source)}$"
            check = DataValidation(
                type="list", formula1=f"{ref}{len(values) + 1}", allow_blank=True
            )
            check.error = f"{header}: 请从“可选值”表中选择"
            check.showErrorMessage = name != "site"  # a site's key is taken too
            records.add_data_validation(check)
            check.add(f"{letter}2:{letter}{ROW_LIMIT}")
    records.freeze_panes = "A2"
    save_whole(book, path)


DATE_FIELDS = ("applied_on", "inspected_on", "submitted_on", "entered_on", "reviewed_on", "exit_on")


def _allowed(park: Park) -> dict[str, list[str]]:
    stages = ("applied", "inspecting", "entry_review", "incubating", "follow_up", "resident")
    return {
        "领域": list(park.fields.values()),
        "孵化方式": [TRACK_NAMES_ZH[t] for t in TRACKS],
        "阶段": [STAGE_NAMES_ZH[s] for s in stages],
        "场地": [s.name for s in park.sites.values()],
        "登记状态": [LEGAL_STATUS_NAMES_ZH[s] for s in LEGAL_STATUSES],
        "工位": [w for s in park.sites.values() for w in s.workspaces],
    }
