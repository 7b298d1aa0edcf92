"""Rebuild throughput next to the eventsourcing library's raw read-and-decode rate (the contact
left sealed, as the read models decode), measured in the same run on the same log, alternating;
the rebuild of every read model in one process and in two (REBUILT_APART in its own); CPU time
of each; and the peak memory of a rebuild process as the log grows.

    .venv/bin/python -m benchmarks.rebuild --events 1000000 --backend sqlite
    .venv/bin/python -m benchmarks.rebuild --quick            # about 60,000 events, both backends

Absolute rates on a shared machine are noisy; the ratios, measured back to back, are the point.
"""

from __future__ import annotations

import os
import resource
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
from store.personal import sealed_decoder


def timed_rebuild(system: Incubator, names: list[str] | None, *, apart: bool = True) -> float:
    events = system.read_models.head()
    started = time.perf_counter()
    system.read_models.rebuild(names, apart=apart)
    return events / (time.perf_counter() - started)


def cpu_seconds() -> float:
    """CPU time of this process and of its children waited for (a rebuild's forked ones)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Sealed:
    """The library's decoding with the contact left sealed, as the read models decode (opening
    it costs a query for its key per event, which no read model needs)."""

    def __init__(self, system: Incubator) -> None:
        self.to_domain_event = sealed_decoder(system.log)


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
        cpu: dict[str, float] = {"raw": 0.0, "one": 0.0, "every": 0.0}

        def timed(kind: str, rates: list[float], measure: Callable[[], float]) -> None:
            before = cpu_seconds()
            rates.append(measure())
            cpu[kind] += cpu_seconds() - before

        sealed = Sealed(system)
        steps: list[Callable[[], None]] = [
            lambda: timed("raw", raw, lambda: raw_read_and_decode(system.log.recorder, sealed)),
            lambda: timed("one", one, lambda: timed_rebuild(system, None, apart=False)),
            lambda: timed("raw", raw, lambda: raw_read_and_decode(system.log.recorder, sealed)),
            lambda: timed("every", every, lambda: timed_rebuild(system, None)),
        ]
        for round_ in range(rounds):  # interleaved, so each rate sees the same machine;
            for step in steps if round_ % 2 == 0 else steps[::-1]:  # raw first, then last
                step()
        opened = raw_read_and_decode(system.log.recorder, system.log.mapper)
        each = {
            p.name: timed_rebuild(system, [p.name], apart=False)
            for p in system.read_models.named(None)
        }  # one round: each read model alone, to see which ones cost what
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
        "raw_read_decode_opening_contacts_events_per_s": round(opened),
        "rebuild_all_one_process_events_per_s": round(max(one)),
        "rebuild_all_events_per_s": round(max(every)),
        "rebuild_all_one_process_ratio_to_raw": round(max(one) / best_raw, 2),
        "rebuild_all_ratio_to_raw": round(max(every) / best_raw, 2),
        # CPU seconds per million events, every process counted (the rebuild's forked ones too)
        "cpu_s_per_million_events": {
            kind: round(seconds / (len(rates) * written) * 1e6, 1)
            for kind, seconds, rates in (
                ("raw_read_decode", cpu["raw"], raw),
                ("rebuild_all_one_process", cpu["one"], one),
                ("rebuild_all", cpu["every"], every),
            )
        },
        "load_average": [round(v, 2) for v in os.getloadavg()],
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
            f"{r['raw_read_decode_events_per_s']:>7,}/s | rebuild all in one process "
            f"{r['rebuild_all_one_process_events_per_s']:>7,}/s "
            f"({r['rebuild_all_one_process_ratio_to_raw']}) "
            f"| rebuild all {r['rebuild_all_events_per_s']:>7,}/s "
            f"({r['rebuild_all_ratio_to_raw']}) | peak RSS "
            f"{r['peak_rss_mib_rebuild_all_small_log']} MiB at {r['small_log_events']:,} events, "
            f"{r['peak_rss_mib_rebuild_all_full_log']} MiB at {r['events']:,}"
        )
        print(f"{'':10} CPU s per million events: {r['cpu_s_per_million_events']}")
        print(f"{'':10} load average {r['load_average']}")
        for name, figures in r["rebuild_each"].items():
            print(f"{'':10} {name:<14} {figures['events_per_s']:>7,}/s ({figures['ratio']})")


if __name__ == "__main__":
    main()
