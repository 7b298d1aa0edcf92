"""Long lists on the command line show a page (commands/paging.py): 50 rows in the list's
order, the total, and how to see more; --json and --csv write every row unless a page is
named; bad paging is refused in a line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cohorts import fill
from commands.bootstrap import bootstrap
from commands.paging import PAGE_LIMIT, Page, Paging, chunks, keyset
from schedules.clock import FixedClock
from tests.conftest import NOW
from tests.test_cli import Shell

CASES = 130


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    url = f"sqlite:///{tmp_path_factory.mktemp('paging') / 'paging.sqlite3'}"
    system = bootstrap(url, clock=FixedClock(NOW))
    fill(system.log, CASES, seed=19)
    system.read_models.catch_up()
    system.close_all()
    yield Shell(url)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Shell:
    """A small park driven through every stage (deadlines pending, party branches)."""
    from tests.test_generate import generated

    url = f"sqlite:///{tmp_path_factory.mktemp('network') / 'network.sqlite3'}"
    system = generated(url).system
    system.read_models.catch_up()
    system.close_all()
    return Shell(url)


def _json(shell: Shell, *args: str) -> Any:
    return json.loads(shell.run(*args, "--json").stdout)


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["applied_on"], row["name"], row["id"])


def test_json_writes_every_case_in_order_and_pages_take_their_share(shell: Shell) -> None:
    every = _json(shell, "org", "list")
    assert len(every) == CASES
    assert [_key(r) for r in every] == sorted(_key(r) for r in every)
    assert _json(shell, "org", "list", "--all") == every
    assert _json(shell, "org", "list", "--page", "2") == every[50:100]
    assert _json(shell, "org", "list", "--limit", "20", "--page", "7") == every[120:130]
    assert _json(shell, "org", "list", "--limit", "20", "--page", "8") == []
    site = every[0]["site"]
    of_site = [r for r in every if r["site"] == site]
    assert _json(shell, "org", "list", "--site", site, "--limit", "3") == of_site[:3]


def test_the_table_shows_the_first_page_the_total_and_how_to_see_more(shell: Shell) -> None:
    every = _json(shell, "org", "list")
    table = shell.run("org", "list").stdout
    assert f"1–50 of {CASES} cases" in table
    assert "next page: --page 2" in table and "--all" in table
    shown = [r for r in every if r["id"][:8] in table]
    assert shown == every[:50]
    last = shell.run("org", "list", "--page", "3").stdout
    assert f"101–{CASES} of {CASES} cases" in last
    assert "next page" not in last
    assert every[-1]["id"][:8] in last and every[0]["id"][:8] not in last
    whole = shell.run("org", "list", "--all").stdout
    assert f"{CASES} cases" in whole and "next page" not in whole
    assert all(r["id"][:8] in whole for r in every)


def test_csv_writes_every_row_with_a_header(shell: Shell) -> None:
    every = _json(shell, "org", "list")
    rows = list(csv.DictReader(io.StringIO(shell.run("org", "list", "--csv").stdout)))
    assert [r["id"] for r in rows] == [r["id"] for r in every]
    assert rows[0]["applied_on"] == every[0]["applied_on"]


def test_find_pages_by_name(shell: Shell) -> None:
    every = _json(shell, "org", "find", "社")
    assert len(every) > 50
    assert [(r["name"], r["id"]) for r in every] == sorted((r["name"], r["id"]) for r in every)
    assert _json(shell, "org", "find", "社", "--page", "2", "--limit", "10") == every[10:20]
    table = shell.run("org", "find", "社").stdout
    assert f"1–50 of {len(every)} rows" in table


def test_reports_and_branches_page_too(shell: Shell) -> None:
    stages = _json(shell, "report", "stages")
    assert len(stages) > 10
    assert _json(shell, "report", "stages", "--limit", "5", "--page", "2") == stages[5:10]
    assert "1–50 of" in shell.run("report", "stages").stdout or len(stages) <= 50
    assert (
        _json(shell, "party", "branches", "--limit", "1") == _json(shell, "party", "branches")[:1]
    )


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (
            ["report", "assignments"],
            lambda r: (r["caseworker"] is None, r["caseworker"] or "", r["name"], r["case_id"]),
        ),
        (["party", "branches"], lambda r: (r["site"], r["kind"], r["name"], r["id"])),
    ],
)
def test_long_reports_are_cut_by_the_database_in_their_order(
    network: Shell, args: list[str], key: Any
) -> None:
    shell = network
    every = _json(shell, *args)
    assert len(every) >= 2
    assert [key(r) for r in every] == sorted(key(r) for r in every)
    assert _json(shell, *args, "--all") == every
    assert _json(shell, *args, "--limit", "1", "--page", "2") == every[1:2]
    assert _json(shell, *args, "--limit", "1", "--page", str(len(every) + 1)) == []
    rows = list(csv.DictReader(io.StringIO(shell.run(*args, "--csv").stdout)))
    assert len(rows) == len(every)
    table = shell.run(*args, "--limit", "1").stdout
    assert f"1–1 of {len(every)} rows" in table
    assert "next page: --page 2" in table


def test_a_sorted_list_is_read_a_page_and_a_count_at_a_time() -> None:
    from commands.lists import sorted_page, sorted_rows

    rows = [{"n": n} for n in range(2_345)]
    asked: list[tuple[int | None, int]] = []

    def read(*, site: str, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        assert site == "main"
        asked.append((limit, offset))
        return rows[offset : None if limit is None else offset + limit]

    page = sorted_page(read, lambda site: len(rows), Paging(limit=50, page=3), site="main")
    assert (page.rows, page.total, asked) == (rows[100:150], 2_345, [(50, 100)])
    asked.clear()
    assert list(sorted_rows(read, site="main")) == rows
    assert asked == [(1_000, 0), (1_000, 1_000), (1_000, 2_000)]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--page", "0"], "'--page': 0 is not in the range 1<=x<="),
        (["--limit", "-1"], "'--limit': -1 is not in the range 1<=x<=200"),
        (["--limit", "100000"], "'--limit': 100000 is not in the range 1<=x<=200"),
        (["--all", "--page", "2"], "give --all, or --limit and --page, not both"),
        (["--json", "--csv"], "give --json or --csv, not both"),
    ],
)
def test_bad_paging_is_refused_in_a_line(shell: Shell, args: list[str], said: str) -> None:
    result = shell.run("org", "list", *args, ok=False)
    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_page_says_which_rows_of_how_many() -> None:
    rows = [{"n": n} for n in range(7)]
    page = Page(rows[2:4], 7, Paging(limit=2, page=2))
    assert page.shown("cases") == "3–4 of 7 cases"
    assert page.more() == (
        f"next page: --page 3; rows a page: --limit N (1 to {PAGE_LIMIT}); every row: --all"
    )
    assert Page(rows, 7, Paging()).shown() == "7 rows" and Page(rows, 7, Paging()).more() is None
    assert Paging(limit=2, page=4).take(rows) == [{"n": 6}]


def test_every_row_is_read_a_chunk_at_a_time() -> None:
    rows = list(range(23))
    asked: list[tuple[int, int]] = []

    def read(limit: int, offset: int) -> list[int]:
        asked.append((limit, offset))
        return rows[offset : offset + limit]

    assert list(chunks(read, size=10)) == rows
    assert asked == [(10, 0), (10, 10), (10, 20)]
    after_asked: list[Any] = []

    def after(last: Any, limit: int) -> list[int]:
        after_asked.append(last)
        start = 0 if last is None else last + 1
        return rows[start : start + limit]

    assert list(keyset(after, lambda r: r, size=10)) == rows
    assert after_asked == [None, 9, 19]


def test_module_is_light(tmp_path: Path) -> None:
    """The command line imports the paging rule before it opens anything."""
    import subprocess
    import sys

    code = "import sys, commands.paging; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
