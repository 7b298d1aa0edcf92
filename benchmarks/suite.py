"""The benchmark suite: every figure issue #7 holds the system to, measured in one run, written
as JSON and printed as a table next to its goal.

    .venv/bin/python -m benchmarks --quick                 # a few minutes, small sizes
    .venv/bin/python -m benchmarks --out benchmarks/results/suite.json    # the full run, ~30 min
    .venv/bin/python -m benchmarks --only history,startup --out benchmarks/results/suite.json

`--only` runs some sections and keeps the others of an existing `--out` file, so a section can be
measured again without the hour. Absolute figures on a shared machine are noisy: every figure
that matters is a ratio measured in the same run (ours against the raw eventsourcing library,
interleaved), under a key whose name contains `ratio`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import BACKENDS, machine

SECTIONS = (
    "startup",
    "calls",
    "commands",
    "history",
    "scan",
    "rebuild",
    "audit",
    "processes",
    "api",
    "web",
    "backup",
)


def startup(quick: bool) -> dict[str, Any]:
    """Wall time of `incubator --help`, next to a Python that only starts (the floor)."""
    samples = 10 if quick else 30
    script = Path(sys.executable).parent / "incubator"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]

    def timed(argv: list[str]) -> list[float]:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
        return times

    bare, help_ = timed([sys.executable, "-c", "pass"]), timed([*command, "--help"])
    return {
        "samples": samples,
        "help_median_s": round(statistics.median(help_), 3),
        "help_max_s": round(max(help_), 3),
        "bare_python_median_s": round(statistics.median(bare), 3),
    }


# The park whose command-line calls are timed (benchmarks/calls.py): the 20,000-organization
# log of benchmarks/generate.py, made beforehand (40 minutes); without it a small one is made.
PARK_URL_ENV, PARK_SETTINGS_ENV = "INCUBATOR_BENCH_PARK_URL", "INCUBATOR_BENCH_PARK_SETTINGS"


def whole_calls(quick: bool) -> dict[str, Any]:
    import os
    import tempfile

    from benchmarks import calls

    rounds = 5 if quick else 20
    url = os.environ.get(PARK_URL_ENV)
    if url:
        return calls.run(calls.Park(url, os.environ.get(PARK_SETTINGS_ENV)), rounds)
    with tempfile.TemporaryDirectory(prefix="incubator-bench-calls-") as folder:
        return calls.run(calls.small_park(Path(folder), 300 if quick else 2000), rounds)


def run_section(name: str, quick: bool) -> Any:
    """One section's figures: a run per backend where it has both."""
    from benchmarks import api, audit, backup, commands, history, processes, rebuild, scan, web

    sizes: dict[str, Callable[[str], Any]] = {
        "commands": lambda b: commands.run(b, *((300, 3) if quick else (1000, 5))),
        "history": lambda b: history.run(b, *((10, 1000, 300) if quick else (50, 20_000, 2000))),
        "scan": lambda b: scan.run(b, *((5000, 11) if quick else (100_000, 21))),
        # a million events where the goals are held (SQLite: rebuild rate and flat memory); a
        # quarter of that elsewhere keeps the full run to half an hour on two cores
        "rebuild": lambda b: rebuild.run(
            b, 30_000 if quick else 1_000_000 if b == "sqlite" else 250_000, 1
        ),
        # two rounds, ours first in one and the plain read first in the other
        "audit": lambda b: audit.run(b, 30_000 if quick else 250_000, 2),
        "api": lambda b: api.run(b, 2000, 120, 600) if quick else api.run(b),
        # the million-event log of issue #17 on both backends
        "backup": lambda b: backup.run(b, 30_000 if quick else 1_000_000),
    }
    if name == "startup":
        return startup(quick)
    if name == "calls":  # SQLite: the park a person opens on their own machine
        return whole_calls(quick)
    if name == "processes":  # PostgreSQL only: several processes on one database
        return processes.run(quick, seconds=None if quick else 10.0)
    if name == "web":  # SQLite only: the goal is the embedded database's
        return [web.run("sqlite", 2000, 300, weighed=20) if quick else web.run("sqlite")]
    return [sizes[name](backend) for backend in BACKENDS]


# ---- the figures and their goals ------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    section: str
    label: str
    value: Callable[[Any], float | None]  # from one backend's run (or the section's figures)
    unit: str = ""
    goal: str = ""
    met: Callable[[float], bool] | None = None
    per_run: bool = True  # a figure of each backend's run, or of the whole section
    backends: tuple[str, ...] = BACKENDS


def _run_of(section: Any, backend: str) -> Any:
    if isinstance(section, list):
        return next((r for r in section if r.get("backend") == backend), None)
    return section


def _processes(processes: int, workload: str) -> Callable[[Any], float | None]:
    """Ours ÷ raw with `processes` writers on `workload`: the median of the rounds' ratios (each
    round's two sides ran seconds apart)."""

    def value(section: Any) -> float | None:
        for row in section["summary"]:
            if (row["processes"], row["workload"]) == (processes, workload):
                return float(row[f"{workload}_ratio_to_raw_median_of_rounds"])
        return None

    return value


def _api_read(key: str, workers: int, percentile: int) -> Callable[[Any], float | None]:
    """p50 or p99 of a read of the API section (`case` or `page_of_50`) with 1 or 2 workers."""

    def value(run: Any) -> float | None:
        reads = run[f"reads_{workers}_worker{'s' if workers > 1 else ''}"]
        return float(reads[key][f"p{percentile}_ms"])

    return value


def _page(key: str, workers: int, percentile: int) -> Callable[[Any], float | None]:
    """Time to first byte, p50 or p99, of a page of the web section (`case_page` or
    `caseload_page`) with 1 or 2 workers."""

    def value(run: Any) -> float | None:
        pages = run[f"pages_{workers}_worker{'s' if workers > 1 else ''}"]
        return float(pages[key]["ttfb"][f"p{percentile}_ms"])

    return value


def _cpu(reads: str, key: str) -> Callable[[Any], float | None]:
    """The server's CPU time per request of a read of the API or web section."""

    def value(run: Any) -> float | None:
        return float(run[reads][key]["server_cpu_ms_per_request"])

    return value


def _call(name: str) -> Figure:
    from benchmarks.calls import GOALS

    return Figure(
        "calls",
        f"`incubator {name}`, whole process (median)",
        lambda s: s["calls"][name]["median_s"],
        "s",
        f"≤ {GOALS[name]} s",
        lambda v: v <= GOALS[name],
        per_run=False,
        backends=("sqlite",),
    )


CALLS = (
    "--help",
    "org show",
    "org record-service-evaluation",
    "org list",
    "org list --stage",
    "org find",
    "report due",
    "report assignments",
    "party branches",
    "org list --all --json",
)
FIGURES = [
    *(_call(name) for name in CALLS),
    Figure(
        "startup",
        "`incubator --help` start-up (median)",
        lambda s: s["help_median_s"],
        "s",
        "< 0.4 s",
        lambda v: v < 0.4,
        per_run=False,
    ),
    Figure(
        "commands",
        "create: ours ÷ raw library",
        lambda r: r["create_ratio_to_raw"],
        "",
        "≥ 0.8",
        lambda v: v >= 0.8,
    ),
    Figure("commands", "create, ours", lambda r: r["create_ours_per_s"], "/s"),
    Figure(
        "commands",
        "load + 1 event: ours ÷ raw library",
        lambda r: r["visit_ratio_to_raw"],
        "",
        "≥ 0.8",
        lambda v: v >= 0.8,
    ),
    Figure("commands", "load + 1 event, ours", lambda r: r["visit_ours_per_s"], "/s"),
    Figure(
        "history",
        "history p99, 200 events",
        lambda r: r["cases_of_200"]["history"]["p99_ms"],
        "ms",
        "< 5 ms",
        lambda v: v < 5,
    ),
    Figure(
        "history",
        "as-of p99, 200 events",
        lambda r: r["cases_of_200"]["as_of"]["p99_ms"],
        "ms",
        "< 5 ms",
        lambda v: v < 5,
    ),
    Figure(
        "history",
        "history CPU per read, 200 events (mean)",
        lambda r: r["cases_of_200"]["history"]["cpu_ms_mean"],
        "ms",
    ),
    Figure(
        "history",
        "as-of CPU per read, 200 events (mean)",
        lambda r: r["cases_of_200"]["as_of"]["cpu_ms_mean"],
        "ms",
    ),
    Figure(
        "history",
        "history p50, 20 events",
        lambda r: r["cases_of_20"]["history"]["p50_ms"],
        "ms",
    ),
    Figure(
        "scan",
        "reminder scan, nothing due (median)",
        lambda r: r["scan_nothing_due_ms_median"],
        "ms",
        "< 100 ms",
        lambda v: v < 100,
    ),
    Figure(
        "rebuild",
        "rebuild, all read models",
        lambda r: r["rebuild_all_events_per_s"],
        "events/s",
        "≥ 60,000 (SQLite)",
        None,
    ),
    Figure(
        "rebuild",
        "rebuild, all read models in one process",
        lambda r: r.get("rebuild_all_one_process_events_per_s"),
        "events/s",
    ),
    Figure(
        "rebuild",
        "rebuild all ÷ raw read + decode",
        lambda r: r["rebuild_all_ratio_to_raw"],
        "",
        "≥ 0.8",
        lambda v: v >= 0.8,
    ),
    Figure(
        "rebuild",
        "peak RSS of a rebuild process (whole log)",
        lambda r: r["peak_rss_mib_rebuild_all_full_log"],
        "MiB",
    ),
    Figure(
        "rebuild",
        "peak RSS, whole log ÷ a tenth of it",
        lambda r: r["peak_rss_mib_rebuild_all_full_log"] / r["peak_rss_mib_rebuild_all_small_log"],
        "",
        "flat (≤ 1.2)",
        lambda v: v <= 1.2,
    ),
    Figure("audit", "`audit verify`", lambda r: r["verify_events_per_s"], "events/s"),
    Figure("audit", "verify ÷ raw read + decode", lambda r: r["verify_ratio_to_raw"]),
    Figure(
        "audit",
        "verify ÷ raw plain read (#19)",
        lambda r: r["verify_ratio_to_plain_read"],
        "",
        "≥ 0.7",
        lambda v: v >= 0.7,
    ),
    *(
        Figure(
            "processes",
            f"{n} process{'es' if n > 1 else ''}: ours ÷ raw, {workload}",
            _processes(n, workload),
            goal="≥ 0.8" if n > 1 else "",
            met=(lambda v: v >= 0.8) if n > 1 else None,
            per_run=False,
            backends=("postgresql",),
        )
        for workload in ("creates", "visits", "contended")
        for n in (1, 2, 4)
    ),
    Figure(
        "api",
        "commands over HTTP ÷ through the service",
        lambda r: r["commands"]["http_ratio_to_service"],
        "",
        "< 1.3",
        lambda v: v < 1.3,
    ),
    Figure(
        "api",
        "commands: server CPU over HTTP ÷ CPU through the service",
        lambda r: (
            r["commands"]["server_cpu_ms_per_http_command"]
            / r["commands"]["service_cpu_ms_per_command"]
        ),
    ),
    *(
        Figure(
            "api",
            f"{label} p{p}, {n} worker{'s' if n > 1 else ''}",
            _api_read(key, n, p),
            "ms",
            "< 20 ms" if p == 99 and key == "case" else "",
            (lambda v: v < 20) if p == 99 and key == "case" else None,
        )
        for key, label in (("case", "GET /api/orgs/{id}"), ("page_of_50", "GET /api/orgs?limit=50"))
        for n in (1, 2)
        for p in (50, 99)
    ),
    *(
        Figure(
            "api",
            f"{label}: server CPU per request, 1 worker",
            _cpu("reads_1_worker", key),
            "ms",
        )
        for key, label in (("case", "GET /api/orgs/{id}"), ("page_of_50", "GET /api/orgs?limit=50"))
    ),
    *(
        Figure(
            "web",
            f"{label} TTFB p{p}, {n} worker{'s' if n > 1 else ''}",
            _page(key, n, p),
            "ms",
            "< 100 ms" if p == 99 else "",
            (lambda v: v < 100) if p == 99 else None,
            backends=("sqlite",),
        )
        for key, label in (("case_page", "case page /orgs/{id}"), ("caseload_page", "/orgs"))
        for n in (1, 2)
        for p in (50, 99)
    ),
    *(
        Figure(
            "web",
            f"{label}: server CPU per request, 1 worker",
            _cpu("pages_1_worker", key),
            "ms",
            backends=("sqlite",),
        )
        for key, label in (("case_page", "case page /orgs/{id}"), ("caseload_page", "/orgs"))
    ),
    Figure(
        "web",
        "case page weight (HTML + CSS + JS, heaviest of a sample)",
        lambda r: r["case_page_weight"]["heaviest_kb"],
        "KB",
        "< 300 KB",
        lambda v: v < 300,
        backends=("sqlite",),
    ),
    Figure("backup", "`incubator backup`", lambda r: r["backup_s"], "s"),
    Figure("backup", "backup", lambda r: r["backup_events_per_s"], "events/s"),
    Figure("backup", "backup file", lambda r: r["backup_file_mb"], "MB"),
    Figure("backup", "backup file ÷ the database", lambda r: r["file_to_database_ratio"]),
    Figure("backup", "`incubator restore` with its checks", lambda r: r["restore_s"], "s"),
    Figure("backup", "restore with its checks", lambda r: r["restore_events_per_s"], "events/s"),
    Figure(
        "processes",
        "lost updates, every N and workload",
        lambda s: float(s["lost_updates"]),
        goal="0",
        met=lambda v: v == 0,
        per_run=False,
        backends=("postgresql",),
    ),
]


def goals(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of the sections measured, per backend, with its goal and whether it holds."""
    rows = []
    for figure in FIGURES:
        section = sections.get(figure.section)
        if section is None:
            continue
        figures = section["figures"]
        values: dict[str, float | None] = {}
        for backend in figure.backends:
            run = _run_of(figures, backend) if figure.per_run else figures
            try:
                values[backend] = None if run is None else figure.value(run)
            except (KeyError, TypeError, ZeroDivisionError):
                values[backend] = None
        if figure.section == "rebuild" and figure.label == "rebuild, all read models":
            sqlite = values.get("sqlite")  # the goal is SQLite's alone (#19)
            met: bool | None = None if sqlite is None else sqlite >= 60_000
        elif figure.met is None:
            met = None
        else:
            checked = [v for v in values.values() if v is not None]
            met = bool(checked) and all(figure.met(v) for v in checked)
        rows.append(
            {
                "section": figure.section,
                "figure": figure.label,
                "unit": figure.unit,
                **{b: (round(v, 3) if v is not None else None) for b, v in values.items()},
                "goal": figure.goal,
                "met": met,
            }
        )
    return rows


def show(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"incubator benchmarks — {results['machine']}")
    for column in ("figure", "SQLite", "PostgreSQL", "goal", ""):
        table.add_column(column, justify="left" if column in ("figure", "goal") else "right")
    for row in results["goals"]:
        mark = {True: "[green]met", False: "[red]missed", None: ""}[row["met"]]
        table.add_row(
            row["figure"],
            _number(row.get("sqlite"), row["unit"]),
            _number(row.get("postgresql"), row["unit"]),
            row["goal"],
            mark,
        )
    console = Console()
    if not console.is_terminal:
        console.width = 120  # a file or a pipe: one line a figure
    console.print(table)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--only", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="write (or update) the results as JSON here")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    results: dict[str, Any] = {"machine": machine(), "sections": {}}
    if args.out and args.out.exists() and args.only:  # the sections not run again stay
        results["sections"] = json.loads(args.out.read_text(encoding="utf-8"))["sections"]
    for name in chosen:
        print(f"… {name}", file=sys.stderr, flush=True)
        started, load_before = time.perf_counter(), os.getloadavg()
        figures = run_section(name, args.quick)
        results["sections"][name] = {
            "mode": "quick" if args.quick else "full",
            "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "seconds": round(time.perf_counter() - started, 1),
            # the machine's 1-, 5- and 15-minute load as the section started and ended: two
            # cores, shared with other work, so a figure is read beside it
            "load_average": [
                [round(x, 2) for x in load_before],
                [round(x, 2) for x in os.getloadavg()],
            ],
            "figures": figures,
        }
        print(f"  {name}: {results['sections'][name]['seconds']} s", file=sys.stderr, flush=True)
        if args.out:  # after each section: an hour's run that fails late keeps what it measured
            _write(args.out, results)
    show(_write(args.out, results) if args.out else _with_goals(results))


def _with_goals(results: dict[str, Any]) -> dict[str, Any]:
    sections = results["sections"]
    results["sections"] = {s: sections[s] for s in SECTIONS if s in sections}
    results["goals"] = goals(results["sections"])
    return results


def _write(out: Path, results: dict[str, Any]) -> dict[str, Any]:
    results = _with_goals(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return results
