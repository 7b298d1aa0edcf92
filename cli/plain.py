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
    cells = [list(header), *rows] if header is not None else [list(r) for r in rows]
    if not cells or any(len(r) != len(cells[0]) for r in cells):
        return None
    if not all(_laid_out_as_is(c) for r in cells for c in r if c):
        return None
    widths = [max(cell_len(c) for c in column) for column in zip(*cells, strict=True)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > WIDTH or 0 in widths:
        return None
    lines = []
    if title is not None:
        if not title or not _laid_out_as_is(title) or cell_len(title) > total:
            return None
        left = (total - cell_len(title)) // 2
        lines.append(" " * left + title + " " * (total - left - cell_len(title)))
    lines.append(" " * total)
    body = [_row(r, widths) for r in cells]
    if header is not None:
        lines.append(body.pop(0))
        lines.append(" " + "─" * (total - 2) + " ")
    lines.extend(body)
    lines.append(" " * total)
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str], widths: list[int]) -> str:
    padded = (f" {c}{' ' * (w - cell_len(c))} " for c, w in zip(cells, widths, strict=True))
    return f" {' '.join(padded)} "


def line(text: str, soft_wrap: bool = False) -> str | None:
    """A line as rich prints it, or None where rich might change it (`soft_wrap`: rich does
    not wrap it; else one longer than the width would be)."""
    if not _laid_out_as_is(text) or not (soft_wrap or cell_len(text) <= WIDTH):
        return None
    return f"{text}\n"
