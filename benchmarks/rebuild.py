"""Rebuild throughput next to the eventsourcing library's raw read-and-decode rate, measured in
the same run on the same log, and the peak memory of a rebuild process as the log grows.

    .venv/bin/python -m benchmarks.rebuild --events 1000000 --backend sqlite
    .venv/bin/python -m benchmarks.rebuild --quick            # about 60,000 events, both backends

Absolute rates on a shared machine are noisy; the ratios, measured back to back, are the point.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.cohorts import fill_up_to
from benchmarks.common import (
    database,
    incubator,
    measured,
    raw_read_and_decode,
    run_backends,
    section_arguments,
)
from commands.bootstrap import Incubator, bootstrap


def timed_rebuild(system: Incubator, names: list[str] | None) -> float:
    events = system.read_models.head()
    started = time.perf_counter()
    system.read_models.rebuild(names)
    return events / (time.perf_counter() - started)


def peak_rss_of_rebuild(url: str) -> float:
    """MiB: the peak resident memory of an `incubator projections rebuild` process."""
    figures = measured(incubator("projections", "rebuild"), {"INCUBATOR_DATABASE_URL": url})
    return float(figures["peak_rss_mib"])


def run(backend: str, events: int, rounds: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="incubator-bench-"))
    url, drop = database(backend, folder)
    try:
        system = bootstrap(url)
        started = time.perf_counter()
        small, _ = fill_up_to(system.log, events // 10, seed=1)
        small_rss = peak_rss_of_rebuild(url)
        rest, _ = fill_up_to(system.log, events - small, seed=2, first=10_000_000)
        written = small + rest
        fill_seconds = time.perf_counter() - started
        system.read_models.catch_up()
        raw: list[float] = []
        one: list[float] = []
        every: list[float] = []
        steps: list[Callable[[], None]] = [
            lambda: raw.append(raw_read_and_decode(system.log.recorder, system.log.mapper)),
            lambda: one.append(timed_rebuild(system, ["caseload"])),
            lambda: raw.append(raw_read_and_decode(system.log.recorder, system.log.mapper)),
            lambda: every.append(timed_rebuild(system, None)),
        ]
        for round_ in range(rounds):  # interleaved, so each rate sees the same machine;
            for step in steps if round_ % 2 == 0 else steps[::-1]:  # raw first, then last
                step()
        each = {
            p.name: timed_rebuild(system, [p.name]) for p in system.read_models.named(None)
        }  # one round: each read model alone, to see which ones cost what
        raw.append(raw_read_and_decode(system.log.recorder, system.log.mapper))
        system.close_all()
        large_rss = peak_rss_of_rebuild(url)
    finally:
        drop()
    best_raw = max(raw)
    return {
        "backend": backend,
        "events": written,
        "fill_events_per_s": round(written / fill_seconds),
        "raw_read_decode_events_per_s": round(best_raw),
        "rebuild_caseload_events_per_s": round(max(one)),
        "rebuild_all_events_per_s": round(max(every)),
        "rebuild_caseload_ratio_to_raw": round(max(one) / best_raw, 2),
        "rebuild_all_ratio_to_raw": round(max(every) / best_raw, 2),
        # every round's rates: how far apart they were on this machine
        "raw_read_decode_spread": [round(min(raw)), round(max(raw))],
        "rebuild_all_spread": [round(min(every)), round(max(every))],
        "rebuild_each": {
            name: {"events_per_s": round(rate), "ratio": round(rate / best_raw, 2)}
            for name, rate in each.items()
        },
        "peak_rss_mib_rebuild_all_small_log": round(small_rss, 1),
        "peak_rss_mib_rebuild_all_full_log": round(large_rss, 1),
        "small_log_events": small,
    }


def main() -> None:
    parser = section_arguments(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="about 60,000 events, one round")
    args = parser.parse_args()
    events, rounds = (60_000, 1) if args.quick else (args.events, args.rounds)
    runs = run_backends(args, lambda b: run(b, events, rounds))
    for r in runs:
        print(
            f"{r['backend']:<10} {r['events']:>9,} events | raw read+decode "
            f"{r['raw_read_decode_events_per_s']:>7,}/s | rebuild caseload "
            f"{r['rebuild_caseload_events_per_s']:>7,}/s ({r['rebuild_caseload_ratio_to_raw']}) "
            f"| rebuild all {r['rebuild_all_events_per_s']:>7,}/s "
            f"({r['rebuild_all_ratio_to_raw']}) | peak RSS "
            f"{r['peak_rss_mib_rebuild_all_small_log']} MiB at {r['small_log_events']:,} events, "
            f"{r['peak_rss_mib_rebuild_all_full_log']} MiB at {r['events']:,}"
        )
        for name, figures in r["rebuild_each"].items():
            print(f"{'':10} {name:<14} {figures['events_per_s']:>7,}/s ({figures['ratio']})")


if __name__ == "__main__":
    main()
