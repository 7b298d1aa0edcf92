"""A table as rich prints it (box.SIMPLE) where the output is not a terminal, without rich.

Piped or redirected, rich prints no colours and no styles and cuts nothing under 160
columns, so a table that fits is plain text: a column as wide as its widest cell, cells padded
by a space, columns three spaces apart. Laying that out directly costs a page of 50 rows a
millisecond, against a tenth of a second in rich (and rich's import). Whatever rich might lay
out otherwise (a table wider than that, text rich would turn into an emoji, a cell with
characters of no fixed width) returns None: the caller prints it with rich.
tests/test_plain.py checks the two give the same text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

from rich.cells import cell_len  # rich's own widths (a wide character takes two columns)

WIDTH = 160  # the width rich is given when the output is not a terminal (cli/render.py)
_EMOJI = re.compile(r":\S*?:")  # what rich might replace by an emoji (":smile:")


def wanted() -> bool:
    """Whether the output is one rich would print without styles: not a terminal, nor forced
    to be taken for one (FORCE_COLOR, TTY_COMPATIBLE)."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return False
    try:
        return not sys.stdout.isatty()
    except ValueError:  # closed
        return False


def _laid_out_as_is(text: str) -> bool:
    return (
        text.isprintable()
        and text == text.strip()
        and _EMOJI.search(text) is None
        and "\\" not in text
    )


def table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] | None = None,
    title: str | None = None,
) -> str | None:
    """The lines rich prints for a box.SIMPLE table of these cells (text as shown, not
    markup), ending with a newline; None where rich might lay it out otherwise."""
    cells = [list(r) for r in ([header, *rows] if header is not None else rows)]
    layout = _layout(cells)
    if layout is None:
        return None
    widths, laid = layout
    total = sum(widths) + 3 * len(widths) + 1
    lines = []
    if title is not None:
        if not title or not _laid_out_as_is(title) or cell_len(title) > total:
            return None
        left = (total - cell_len(title)) // 2
        lines.append(" " * left + title + " " * (total - left - cell_len(title)))
    lines.append(" " * total)
    body = [_row(r, widths) for r in laid]
    if header is not None:
        lines.extend(body.pop(0))
        lines.append(" " + "─" * (total - 2) + " ")
    lines.extend(line for row in body for line in row)
    lines.append(" " * total)
    return "\n".join(lines) + "\n"


def _layout(cells: list[list[str]]) -> tuple[list[int], list[list[list[str]]]] | None:
    """Each column's width and each cell's lines, as rich lays them out; None where rich
    might lay them out otherwise."""
    if not cells or any(len(r) != len(cells[0]) for r in cells):
        return None
    if not all(_laid_out_as_is(c) for r in cells for c in r if c):
        return None
    widths = [max(cell_len(c) for c in column) for column in zip(*cells, strict=True)]
    fitted = None if 0 in widths else _fitted(widths, WIDTH - 2 - (len(widths) - 1))
    if fitted is None:
        return None
    laid = []
    for r in cells:
        row = [_wrapped(c, w) for c, w in zip(r, fitted, strict=True)]
        if any(lines is None for lines in row):
            return None
        laid.append([lines for lines in row if lines is not None])
    return fitted, laid


def _fitted(widths: list[int], room: int) -> list[int] | None:
    """The widths of the columns (text, without padding) in `room` columns with their
    padding: as they are when they fit; else the one widest column narrowed, as rich does
    first (None where rich would go on to narrow others)."""
    padded = [w + 2 for w in widths]
    excess = sum(padded) - room
    if excess <= 0:
        return widths
    widest = max(padded)
    second = max((w for w in padded if w != widest), default=0)
    if padded.count(widest) != 1 or excess > widest - second:
        return None
    return [w - excess if p == widest else w for w, p in zip(widths, padded, strict=True)]


def _wrapped(text: str, width: int) -> list[str] | None:
    """`text` in lines of at most `width` columns, broken between words as rich breaks them;
    None where rich would cut a line (a word longer than the line, or a line whose trailing
    space rich leaves for counting characters, not columns)."""
    if cell_len(text) <= width:
        return [text]
    starts, offset = [0], 0
    for word in _WORD.finditer(text):
        length = cell_len(word.group().rstrip())
        if length > width:
            return None
        if width - offset >= length:
            offset += cell_len(word.group())
        elif offset and word.start():
            starts.append(word.start())
            offset = cell_len(word.group())
    lines = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return None if any(cell_len(_cropped(line, width)) > width for line in lines) else lines


def _cropped(line: str, width: int) -> str:
    """A line with the trailing space rich crops: as many characters past `width` (not
    columns: a wide character counts one) as there are spaces at its end."""
    excess = len(line) - width
    spaces = len(line) - len(line.rstrip())
    return line[: len(line) - min(spaces, excess)] if excess > 0 else line


_WORD = re.compile(r"\s*\S+\s*")


def _row(cells: Sequence[list[str]], widths: list[int]) -> list[str]:
    """The lines of a row: each cell's lines, and blank ones under a cell with fewer."""
    height = max(len(lines) for lines in cells)
    return [
        " "
        + " ".join(
            f" {c.rstrip()}{' ' * (w - cell_len(c.rstrip()))} "
            for c, w in (
                (lines[i] if i < len(lines) else "", w)
                for lines, w in zip(cells, widths, strict=True)
            )
        )
        + " "
        for i in range(height)
    ]


def line(text: str, soft_wrap: bool = False) -> str | None:
    """A line as rich prints it, or None where rich might change it (`soft_wrap`: rich does
    not wrap it; else one longer than the width would be)."""
    if not _laid_out_as_is(text) or not (soft_wrap or cell_len(text) <= WIDTH):
        return None
    return f"{text}\n"
