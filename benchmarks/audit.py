"""Audit throughput: how fast `incubator audit verify` walks the whole log, its links and the
writers' signatures, next to the eventsourcing library's raw plain read (and read-and-decode)
rate measured in the same run on the same log, and the peak memory of a verify process as the
log grows. (Events are linked and signed as they are written: the fill rate includes it; the
commands benchmark sets it against the raw library.)

    .venv/bin/python -m benchmarks.audit --quick        # about 60,000 events, both backends, 30 s
    .venv/bin/python -m benchmarks.audit --events 1000000 --out benchmarks/results/audit.json
                                                        # both backends, ~10 min on 2 cores

The log is filled with benchmarks.cohorts and nothing else runs on it (no read models); the
verifies and the raw reads alternate, ours first in one round and second in the next, so each
rate sees the same machine. Absolute rates on a shared machine are noisy; the ratios, measured
back to back, are the point. Every verify must come back ok, every event linked and signed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
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
from store.audit import Verdict, verify


def timed_verify(system: Incubator, events: int) -> tuple[float, Verdict]:
    started = time.perf_counter()
    verdict = verify(system.read_models.engine, system.trust())
    rate = verdict.events / (time.perf_counter() - started)
    assert verdict.ok, f"the untouched log should verify: {verdict.problem}"
    assert verdict.events == verdict.sealed == events, verdict
    return rate, verdict


def verify_process(url: str, events: int) -> tuple[float, float]:
    """`incubator audit verify --json` as a process of its own: its peak resident memory (MiB)
    and its wall time (s, start-up included)."""
    figures = measured(incubator("audit", "verify", "--json"), {"INCUBATOR_DATABASE_URL": url})
    answer = json.loads(figures["stdout"])
    assert answer["ok"], answer
    assert answer["events"] == answer["sealed"] == events, answer
    return figures["peak_rss_mib"], figures["seconds"]


def run(backend: str, events: int, rounds: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="incubator-bench-audit-"))
    url, drop = database(backend, folder)
    try:
        system = bootstrap(url)
        started = time.perf_counter()
        small, _ = fill_up_to(system.log, events // 10, seed=1)
        fill_seconds = time.perf_counter() - started
        small_rss, _ = verify_process(url, small)
        started = time.perf_counter()
        rest, _ = fill_up_to(system.log, events - small, seed=2, first=10_000_000)
        written = small + rest
        fill_seconds += time.perf_counter() - started
        raw, read, checked, ratios = [], [], [], []
        verdict = Verdict()
        for round_ in range(rounds):  # interleaved, alternating who goes first
            ours_first = round_ % 2 == 0
            if not ours_first:
                read.append(raw_read_and_decode(system.log.recorder, None))
            rate, verdict = timed_verify(system, written)
            checked.append(rate)
            if ours_first:
                read.append(raw_read_and_decode(system.log.recorder, None))
            ratios.append(checked[-1] / read[-1])
            raw.append(raw_read_and_decode(system.log.recorder, system.log.mapper))
        system.close_all()
        large_rss, cli_seconds = verify_process(url, written)
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)  # a million events on SQLite: 0.7 GB
    best_raw, best_verify = max(raw), max(checked)
    return {
        "backend": backend,
        "events": written,
        "aggregates": len(verdict.cases),
        "fill_events_per_s": round(written / fill_seconds),
        "raw_read_decode_events_per_s": round(best_raw),
        "raw_read_events_per_s": round(max(read)),
        "verify_events_per_s": round(best_verify),
        "verify_ratio_to_raw": round(best_verify / best_raw, 2),
        "verify_ratio_to_plain_read": round(best_verify / max(read), 2),
        "verify_ratio_to_plain_read_per_round": [round(r, 2) for r in ratios],
        "signatures": verdict.signatures,
        "verify_spread": [round(min(checked)), round(max(checked))],
        "verify_s": round(written / best_verify, 1),
        "verify_rounds": len(checked),
        "cli_verify_s": round(cli_seconds, 1),
        "peak_rss_mib_verify_small_log": round(small_rss, 1),
        "peak_rss_mib_verify_full_log": round(large_rss, 1),
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
            f"{r['backend']:<10} {r['events']:>9,} events of {r['aggregates']:,} aggregates | "
            f"fill (linked, signed) {r['fill_events_per_s']:>7,}/s | verify "
            f"{r['verify_events_per_s']:>7,}/s, {r['signatures']:,} signatures "
            f"({r['verify_ratio_to_plain_read']} of the plain read "
            f"{r['raw_read_events_per_s']:,}/s, by round "
            f"{r['verify_ratio_to_plain_read_per_round']}; "
            f"{r['verify_ratio_to_raw']} of read+decode {r['raw_read_decode_events_per_s']:,}/s)"
            f" | `audit verify` {r['cli_verify_s']} s, "
            f"peak RSS {r['peak_rss_mib_verify_small_log']} MiB at "
            f"{r['small_log_events']:,} events, {r['peak_rss_mib_verify_full_log']} MiB at "
            f"{r['events']:,}"
        )


if __name__ == "__main__":
    main()
