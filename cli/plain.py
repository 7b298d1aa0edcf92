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

from rich.cells import (
    cell_len,
    set_cell_size,
)  # rich's own widths (a wide character takes two columns)

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
    laid = [[_wrapped(c, w) for c, w in zip(r, fitted, strict=True)] for r in cells]
    return fitted, laid


def _fitted(widths: list[int], room: int) -> list[int] | None:
    """The widths of the columns (text, without padding) in `room` columns with their
    padding: as they are when they fit; else the widest narrowed towards the next widest, as
    rich's table does (`_collapse_widths`); None where that is not enough (rich then narrows
    every column)."""
    padded = [w + 2 for w in widths]
    excess = sum(padded) - room
    while excess > 0:
        widest = max(padded)
        second = max((w for w in padded if w != widest), default=0)
        if not widest - second:
            break
        padded = _reduced(excess, [int(w == widest) for w in padded], widest - second, padded)
        excess = sum(padded) - room
    return None if excess > 0 else [w - 2 for w in padded]


def _reduced(total: int, ratios: list[int], most: int, values: list[int]) -> list[int]:
    """`total` taken from the values whose ratio is 1, at most `most` from each, rounded as
    rich's `ratio_reduce` rounds."""
    most = min(total, most)
    left, share = total, sum(ratios)
    result = []
    for ratio, value in zip(ratios, values, strict=True):
        if ratio and share > 0:
            taken = min(most, round(ratio * left / share))
            result.append(value - taken)
            left -= taken
            share -= ratio
        else:
            result.append(value)
    return result


def _wrapped(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns, broken between words as rich breaks a
    table's cell: a word longer than a line on a line of its own, cut with an ellipsis."""
    if cell_len(text) <= width:
        return [text]
    starts, offset = [0], 0
    for word in _WORD.finditer(text):
        length = cell_len(word.group().rstrip())
        if width - offset >= length:
            offset += cell_len(word.group())
        elif (length > width or offset) and word.start():
            starts.append(word.start())
            offset = cell_len(word.group())
        elif length > width:
            offset = cell_len(word.group())
    lines = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [_cut(_cropped(line, width), width) for line in lines]


def _cropped(line: str, width: int) -> str:
    """A line with the trailing space rich crops: as many characters past `width` (not
    columns: a wide character counts one) as there are spaces at its end."""
    excess = len(line) - width
    spaces = len(line) - len(line.rstrip())
    return line[: len(line) - min(spaces, excess)] if excess > 0 else line


def _cut(line: str, width: int) -> str:
    """A line longer than `width` columns cut to fit, ending in an ellipsis (as rich's
    "ellipsis" overflow, a table column's default)."""
    return line if cell_len(line) <= width else set_cell_size(line, width - 1) + "…"


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
