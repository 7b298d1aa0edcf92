"""Tables laid out without rich (cli/plain.py) are the text rich prints, to the character,
or are left to rich."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence

import pytest
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli import plain

WORDS = [
    "南京紫金银龄禁毒宣传工作室",
    "incubating 壳内孵化",
    "—",
    "2019-01-08",
    "f0534ea6 ⚠",
    "registered 登记 91320100MA1X (民政局, 2019-02-11)",
    "[bold]not markup[/]",
    "a [link] in brackets",
    "★★★",
    "x",
    "1,000.00 元",
    "two  spaces",
    "café",
    "10:00 to 11:00",
    "Ｆｕｌｌｗｉｄｔｈ",
]
# Text rich might lay out otherwise: left to rich
TRICKY = ["10:00:00", ":smile:", "back\\slash", " leading space", "tab\there"]


def _word(pick: random.Random) -> str:
    return pick.choice(TRICKY) if pick.random() < 0.02 else pick.choice(WORDS)


def _rich(
    rows: Sequence[Sequence[str]], header: Sequence[str] | None, title: str | None, keys: bool
) -> str:
    out = io.StringIO()
    console = Console(file=out, width=plain.WIDTH, highlight=False)
    table = Table(
        *(header or ()),
        box=box.SIMPLE,
        show_header=header is not None,
        title=escape(title) if title else None,
    )
    if keys:
        table.add_column(style="bold")
        table.add_column()
    for r in rows:
        table.add_row(*(escape(c) for c in r))
    console.print(table)
    return out.getvalue()


@pytest.mark.parametrize("seed", range(200))
def test_a_table_is_what_rich_prints_or_left_to_rich(seed: int) -> None:
    pick = random.Random(seed)
    columns = pick.randint(1, 7) if seed % 3 else 2
    rows = [[_word(pick) for _ in range(columns)] for _ in range(pick.randint(1, 12))]
    header = None if seed % 3 == 0 else [f"col {i}" for i in range(columns)]
    title = pick.choice([None, "caseload: 1–50 of 20,000 cases", _word(pick)])
    text = plain.table(rows, header, title)
    if text is not None:
        assert text == _rich(rows, header, title, keys=header is None)


def test_a_page_of_cases_is_laid_out_without_rich() -> None:
    rows = [["f0534ea6", "南京北苑暖心环境保护服务队", "residency", "resident 入驻", "—"]] * 50
    header = ["id", "name", "track", "stage", "entered on"]
    text = plain.table(rows, header, "caseload: 1–50 of 20,000 cases")
    assert text is not None
    assert text == _rich(rows, header, "caseload: 1–50 of 20,000 cases", keys=False)
    assert len(text.splitlines()) == 50 + 5  # title, top, header, rule, rows, bottom


def test_columns_too_wide_are_narrowed_wrapped_and_cut_as_rich_does() -> None:
    ids = [f"{n:08x}-0038-4e70-be56-781aac2f41de" for n in range(3)]
    rows = [
        [i, "南京紫金银龄禁毒宣传工作室南京紫金银龄禁毒宣传工作室", w.strip(), "resident 入驻"]
        for i, w in zip(ids, ["a few words " * 6, "x" * 70, "two  spaces " * 5], strict=True)
    ]
    header = ["id", "name", "words", "stage"]
    text = plain.table(rows, header, "a wide page")
    assert text is not None
    assert "…" in text  # a word longer than its narrowed column is cut
    assert text == _rich(rows, header, "a wide page", keys=False)


def test_what_rich_would_lay_out_otherwise_is_left_to_it() -> None:
    wide = [["x" * 100, "y" * 100]]
    assert plain.table(wide, ["a", "b"]) == _rich(wide, ["a", "b"], None, keys=False)
    assert plain.table([["at 10:00:00"]], ["at"]) is None  # ":00:" might be an emoji
    assert plain.table([["tab\there"]], ["a"]) is None
    assert plain.line("next page: --page 2; every row: --all") == (
        "next page: --page 2; every row: --all\n"
    )
    assert plain.line("z" * 200) is None
    assert plain.line("z" * 200, soft_wrap=True) == "z" * 200 + "\n"
