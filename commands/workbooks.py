"""Spreadsheets in and out: a park's records read from .xlsx or .csv, and workbooks written for
people (exports for the civil-affairs bureau, the import template).

Reading keeps each row's number as the spreadsheet shows it (the header is row 1), so a problem
can be found where it is. Writing never lets a value act: text that looks like a formula stays
text, characters XML cannot hold are shown escaped, and a file is written whole or not at all
(a temporary file beside it, renamed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FILE_LIMIT = 20 * 1024 * 1024  # bytes: 20,000 rows of a park's records take about 2 MiB
ROW_LIMIT = 100_000
SUFFIXES = (".xlsx", ".csv")


class WorkbookError(Exception):
    """The file cannot be read as a spreadsheet of records: what is wrong and what is allowed."""


@dataclass(frozen=True)
class Table:
    """The first sheet (or the one named `sheet`) of a file: its header and its rows, each with
    its row number; empty rows left out."""

    name: str  # the file's name
    sha256: str  # of its bytes
    header: list[str]
    rows: list[tuple[int, list[Any]]]


def read_table(path: Path, sheet: str | None = None) -> Table:
    data = _read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        lines = _xlsx_rows(data, sheet, path)
    elif suffix == ".csv":
        lines = _csv_rows(data, path)
    else:
        raise WorkbookError(f"{path.name}: give an .xlsx or a .csv file, not '{path.suffix}'")
    numbered = [(n, row) for n, row in enumerate(lines, start=1) if any(_filled(v) for v in row)]
    if not numbered:
        raise WorkbookError(f"{path.name} is empty: its first row must be the column headers")
    (first, header), *rows = numbered
    if first != 1:
        raise WorkbookError(f"{path.name}: the column headers must be in row 1")
    if len(rows) > ROW_LIMIT:
        raise WorkbookError(f"{path.name} has {len(rows):,} rows; at most {ROW_LIMIT:,} at once")
    return Table(path.name, digest, [_text(h) for h in header], rows)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise WorkbookError(f"{path} does not exist") from None
    if not path.is_file():
        raise WorkbookError(f"{path} is not a regular file")
    if size > FILE_LIMIT:
        raise WorkbookError(
            f"{path.name} is {size / 1024 / 1024:.0f} MiB; at most {FILE_LIMIT // 1024 // 1024} "
            f"MiB at once (split it)"
        )
    return path.read_bytes()


def _xlsx_rows(data: bytes, sheet: str | None, path: Path) -> Iterator[list[Any]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as e:
        raise WorkbookError(f"{path.name} is not an .xlsx workbook that can be read ({e})") from e
    names = book.sheetnames
    chosen = sheet if sheet in names else names[0]
    for row in book[chosen].iter_rows(values_only=True):
        yield list(row)


def _csv_rows(data: bytes, path: Path) -> Iterator[list[Any]]:
    # Excel writes UTF-8 with a BOM, or the Chinese Windows code page (GBK, within GB 18030).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any bytes
        raise WorkbookError(f"{path.name} is neither UTF-8 nor GB 18030 text")
    if "\x00" in text:
        raise WorkbookError(f"{path.name} is not a text file (it holds NUL characters)")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as e:
        raise WorkbookError(f"{path.name} is not CSV that can be read: {e}") from e


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# ---- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # in Chinese: for the bureau
    kind: str = "text"  # text, date, moment, number, money
    width: int = 14
    names: dict[str, str] | None = None  # a value's name for people (stage → 壳内孵化)


@dataclass
class Sheet:
    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None  # a line above the header: what the sheet shows, as of when


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> None:
    """The sheets as one .xlsx file: bold headers, frozen and filtered, dates as dates."""
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path.name}: an export is an .xlsx file; name it so")
    with whole(path) as temporary:
        _written(sheets).save(temporary)


def _written(sheets: Sequence[Sheet]) -> Any:
    """The workbook (write-only: its rows stream to the file as it is saved)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    titles: set[str] = set()
    bold = Font(bold=True)
    for sheet in sheets or [Sheet("空", [])]:
        ws = book.create_sheet(_sheet_title(sheet.title, titles))
        for i, column in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = column.width
        top = 1
        if sheet.note:
            ws.append([_cell(ws, sheet.note, "text", WriteOnlyCell)])
            top = 2
        ws.freeze_panes = f"A{top + 1}"
        if sheet.columns:
            last = get_column_letter(len(sheet.columns))
            ws.auto_filter.ref = f"A{top}:{last}{top + max(len(sheet.rows), 1)}"
        header = []
        for column in sheet.columns:
            cell = WriteOnlyCell(ws, value=column.header)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in sheet.rows:
            ws.append(
                [_cell(ws, _value(row.get(c.key), c), c.kind, WriteOnlyCell) for c in sheet.columns]
            )
    return book


def save_whole(book: Any, path: Path) -> None:
    with whole(path) as temporary:
        book.save(temporary)


@contextmanager
def whole(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` (made first: a folder that cannot take it fails before
    anything is built), renamed to `path` when the block ends well, removed when not."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _sheet_title(title: str, taken: set[str]) -> str:
    """A title Excel takes: at most 31 characters, none of []:*?/\\, unique in the book."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in title).strip("'") or "表"
    clean = clean[:31]
    candidate, n = clean, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def _value(value: Any, column: Column) -> Any:
    """A value as a cell holds it: a name for people, a date, a local time, a number."""
    if column.names is not None and isinstance(value, str):
        value = column.names.get(value, value)
    elif column.kind == "date" and isinstance(value, str):
        value = date.fromisoformat(value[:10])
    elif column.kind == "moment" and isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones: the park's local time
    elif isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    elif isinstance(value, bool):
        value = "是" if value else "否"
    elif isinstance(value, list | dict):
        value = str(value)
    return value


def _cell(ws: Any, value: Any, kind: str, cell_type: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = cell_type(ws, value=None)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
        cell.value = value
        cell.data_type = "s"  # text, even when it begins with '=': never a formula
    else:
        cell.value = value
    if kind == "date" and isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif kind == "moment" and isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif kind == "money":
        cell.number_format = "#,##0.00"
    return cell
