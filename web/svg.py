"""What every picture of the web is made of: an SVG drawn on the server (no script, nothing
from a CDN), readable in Chinese, named for screen readers, and the table behind it."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

SVG = "http://www.w3.org/2000/svg"
FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "Source Han Sans SC", sans-serif'
# Colours: dark enough on white for text (WCAG AA), told apart by more than hue where it matters.
INK, MUTED, GRID = "#222222", "#595959", "#d0d0d0"
BLUE, GREEN, GREY, RED, ORANGE = "#1f5fa8", "#2e7d32", "#8a8a8a", "#c62828", "#b34700"
PALE_BLUE, PALE_GREEN, PALE = "#dbe8f6", "#e3f1e4", "#f2f2f2"


@dataclass(frozen=True)
class Picture:
    """A picture and the table behind it, both in the page's language: a page shows the SVG
    and offers the table ("表格") one click away."""

    title: str
    svg: Markup  # an inline <svg role="img">, safe to put in a page as it is
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def canvas(width: float, height: float, title: str, kind: str) -> ET.Element:
    """An empty picture of that size, named `title` (its <title> and aria-label); it scales
    down to a phone's width."""
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG,
            "class": f"picture {kind}",
            "role": "img",
            "aria-label": title,
            "viewBox": f"0 0 {_n(width)} {_n(height)}",
            "width": _n(width),
            "height": _n(height),
            "style": "max-width:100%;height:auto",
            "font-family": FONT,
            "font-size": "13",
            "fill": INK,
        },
    )
    ET.SubElement(root, "title").text = title
    return root


def picture(
    root: ET.Element,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
) -> Picture:
    return Picture(
        title,
        Markup(ET.tostring(root, encoding="unicode")),
        tuple(columns),
        tuple(tuple(str(cell) for cell in row) for row in rows),
    )


def add(
    parent: ET.Element, tag: str, text: str | None = None, /, **attributes: object
) -> ET.Element:
    """A child element; attribute names with `_` are written with `-` (font_size)."""
    element = ET.SubElement(
        parent,
        tag,
        {
            name.rstrip("_").replace("_", "-"): _value(v)
            for name, v in attributes.items()
            if v is not None
        },
    )
    if text is not None:
        element.text = text
    return element


def tooltip(element: ET.Element, text: str) -> None:
    """What a pointer resting on the element, or a screen reader, is told."""
    ET.SubElement(element, "title").text = text


def text_width(text: str, size: float = 13) -> float:
    """About how wide `text` is drawn: a Chinese character is a full em, a Latin one about
    0.6."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


def shortened(text: str, width: float, size: float = 13) -> str:
    """`text`, cut with … to fit `width`."""
    if text_width(text, size) <= width:
        return text
    cut = text
    while cut and text_width(cut + "…", size) > width:
        cut = cut[:-1]
    return cut + "…"


def no_data(width: float, title: str, kind: str, message: str) -> ET.Element:
    root = canvas(width, 60, title, kind)
    add(root, "text", message, x=width / 2, y=34, text_anchor="middle", fill=MUTED)
    return root


def _value(value: object) -> str:
    return (
        _n(value) if isinstance(value, float | int) and not isinstance(value, bool) else str(value)
    )


def _n(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    rounded = round(float(value), 1)
    return str(int(rounded)) if rounded.is_integer() else str(rounded)
