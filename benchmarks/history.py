"""How long a caseworker or an auditor waits for one case: its history (every event with what it
changed, its reminders among them) and its state as of a date, for cases of about 20 and of
about 200 events, among thousands of other cases.

    .venv/bin/python -m benchmarks.history --quick       # both backends, under a minute

The cases are driven through the application service (inspection visits, entry, growth reviews,
exit, follow-up services) with dates a caseworker would use; the log around them is filled with
benchmarks.cohorts. Each sample picks a case at random and times what `org history` and
`org show --as-of` do before they render: `reminders_of` + `history`, and `case_as_of` +
`case_view`. Every read is timed while another process writes (new cases and their events,
about a hundred commands a second at most), as on a working day.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from benchmarks.cohorts import fill
from benchmarks.common import (
    database,
    percentiles,
    run_backends,
    section_arguments,
)
from commands.as_of import case_as_of
from commands.bootstrap import Incubator, bootstrap
from commands.queries import case_view, history
from commands.service import IncubatorService, Who
from schedules.clock import FixedClock

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
PANEL = ["王芳=78", "李强=82", "张敏=70"]
SIZES = (20, 200)
WORKSPACES = 30  # of the main site, in the default settings


def drive(service: IncubatorService, number: int, events: int) -> tuple[UUID, date]:
    """A case of about `events` events (visits during inspection and follow-up services after
    exit make up the count); returns it and a day in the middle of its life.

    The cases of each size take the workspaces of half the main site in turn, a round of them
    every 600 days: a case has left its workspace (exit) before the next one enters it."""
    extra = max(0, events - 10)  # what the other steps write: apply to exit, and two reviews
    visits, services = extra // 2, extra - extra // 2
    half = WORKSPACES // 2
    workspace = number % half + 1 + (half if events > SIZES[0] else 0)
    on = date(2016, 1, 4) + timedelta(days=number // half * 600 + number % half)

    def who() -> Who:
        return Who("李娜", on=on)

    case = service.apply(
        who(),
        name=f"历史{events}-{number:04d}",
        field="charity",
        legal_status="registered",
        track="incubation",
        site="main",
    )
    case_id = UUID(str(case.id))
    service.assign(case_id, who(), "王芳")
    service.start_inspection(case_id, who())
    for n in range(visits):
        on += timedelta(days=1 if n % 3 else 0)
        service.record_visit(case_id, who(), f"第{n + 1}次走访辅导：章程、财务制度与项目设计")
    on += timedelta(days=5)
    service.submit_for_entry(case_id, who())
    on += timedelta(days=10)
    service.evaluate_entry(case_id, who(), PANEL, f"M-{workspace:02d}")
    middle = on + timedelta(days=100)
    for days in (120, 120):
        on += timedelta(days=days)
        service.record_growth_review(case_id, who(), ["王芳=75", "李强=80"])
    on += timedelta(days=80)
    service.evaluate_exit(case_id, who(), PANEL)
    for n in range(services):
        on += timedelta(days=1 if n % 4 else 0)
        service.record_follow_up(case_id, who(), f"协助申报政府购买服务项目（第{n + 1}次）")
    return case_id, middle


def sample(call: Callable[[UUID], object], cases: list[UUID], count: int) -> dict[str, float]:
    """Wall-time percentiles of `call`, and the CPU time it took on average (this process's:
    on a shared two-core machine the wall time is mostly waiting for a core)."""
    rng, times, cpu = random.Random(count), [], 0.0
    for _ in range(count):
        case_id = rng.choice(cases)
        started, cpu_started = time.perf_counter(), time.process_time()
        call(case_id)
        times.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - cpu_started
    return percentiles(times) | {"cpu_ms_mean": round(cpu * 1000 / count, 3)}


WRITES_APART = 0.01  # seconds between the writer's commands: at most about 100 a second


def write_meanwhile(url: str) -> None:
    """Another process's caseworker, writing until it is stopped: new cases, then visits to
    them, one command at a time (`--write-into URL`)."""
    system = bootstrap(url, clock=FixedClock(NOW))
    service, who = system.service, Who("李娜", on=date(2025, 1, 2))
    for number in range(1_000_000):
        case = service.apply(
            who,
            name=f"另一进程{number:06d}",
            field="charity",
            legal_status="registered",
            track="incubation",
            site="main",
        )
        case_id = UUID(str(case.id))
        service.start_inspection(case_id, who)
        for n in range(20):
            time.sleep(WRITES_APART)
            service.record_visit(case_id, who, f"另一进程的走访 {n}")


def _writer(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.history", "--write-into", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(backend: str, cases: int, background: int, samples: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="incubator-bench-history-"))
    url, drop = database(backend, folder)
    result: dict[str, Any] = {"backend": backend, "other_cases": background}
    try:
        system: Incubator = bootstrap(url, clock=FixedClock(NOW))
        result["other_events"] = fill(system.log, background, seed=3)
        made: dict[int, list[tuple[UUID, date]]] = {}
        for size in SIZES:
            made[size] = [drive(system.service, n, size) for n in range(cases)]
        system.read_models.catch_up()
        middle = {case_id: day for found in made.values() for case_id, day in found}

        def show_history(case_id: UUID) -> object:
            reminders = system.read_models.reminders_of(str(case_id))
            return history(system.log, case_id, [UUID(r["reminder_id"]) for r in reminders])

        def show_as_of(case_id: UUID) -> object:
            day = middle[case_id]
            case, track = case_as_of(system.log, case_id, day, None)
            assert case is not None
            return case_view(case, system.park, day, track)

        writer = _writer(url)  # the reads are timed while another process writes
        try:
            time.sleep(2.0)  # it has started and writes
            written_before = system.read_models.head()
            for size in SIZES:
                ids = [case_id for case_id, _ in made[size]]
                lengths = [len(list(system.log.events.get(i))) for i in ids]
                result[f"cases_of_{size}"] = {
                    "cases": len(ids),
                    "events_per_case": round(sum(lengths) / len(lengths), 1),
                    "history": sample(show_history, ids, samples),
                    "as_of": sample(show_as_of, ids, samples),
                }
            result["written_meanwhile"] = system.read_models.head() - written_before
        finally:
            writer.terminate()
            writer.wait()
        system.close_all()
    finally:
        drop()
    return result


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-into":
        write_meanwhile(sys.argv[2])
        return
    parser = section_arguments(__doc__)
    parser.add_argument("--cases", type=int, default=50, help="cases of each size")
    parser.add_argument("--background", type=int, default=20_000, help="other cases in the log")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="10 cases, 2,000 others, 300 samples")
    args = parser.parse_args()
    cases, background, samples = (
        (10, 2000, 300) if args.quick else (args.cases, args.background, args.samples)
    )
    runs = run_backends(args, lambda b: run(b, cases, background, samples))
    for r in runs:
        for size in SIZES:
            figures = r[f"cases_of_{size}"]
            print(
                f"{r['backend']:<10} {figures['events_per_case']:>5} events | history p50 "
                f"{figures['history']['p50_ms']} ms, p99 {figures['history']['p99_ms']} ms, CPU "
                f"{figures['history']['cpu_ms_mean']} ms | as of p50 {figures['as_of']['p50_ms']}"
                f" ms, p99 {figures['as_of']['p99_ms']} ms, "
                f"CPU {figures['as_of']['cpu_ms_mean']} ms"
            )


if __name__ == "__main__":
    main()
