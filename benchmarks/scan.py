"""One reminder scan over many open cases: how long it takes when nothing is due (the goal is
under 100 ms at 100,000 open cases), and when some reminders are due.

    .venv/bin/python -m benchmarks.scan --cases 100000 --out benchmarks/results/scan.json
    .venv/bin/python -m benchmarks.scan --quick            # 10,000 cases, both backends

The open cases are a mix a park would have on one day: applications of the last days (their
inspection is due within 14 days), submissions of the last weeks (entry evaluation due within 30
days), and organizations that entered in the last three weeks (growth review, exit evaluation and
member discovery ahead). A scan reads the due-dates read model for deadlines whose next reminder
time has come, so its cost should follow what is due, not how many cases are open.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate

from benchmarks.cohorts import CASEWORKERS, EXPERTS, FIELDS, RULES, SITES
from benchmarks.common import database, run_backends, section_arguments
from commands.bootstrap import bootstrap
from lifecycle.holdings import move_in
from lifecycle.organization import OrganizationCase
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from schedules.clock import FixedClock

# 10:00 in Shanghai on a Wednesday: a day's reminders (from 08:00) are out by then.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)


def open_case(rng: random.Random, number: int) -> list[Aggregate]:
    """An open incubation case whose deadlines' next reminders all lie after NOW."""

    def step(on: date) -> Step:
        return Step(actor=rng.choice(CASEWORKERS), on=on, recorded_at=NOW)

    kind = rng.random()
    site = rng.choice(SITES)
    applied = TODAY - timedelta(days=rng.randint(0, 5) if kind < 0.3 else rng.randint(30, 60))
    case = OrganizationCase.apply_for(
        step(applied),
        name=f"社会组织{number:06d}",
        field=rng.choice(FIELDS),
        legal_status="registered",
        track="incubation",
        site=site,
        party_members=rng.randint(0, 5),
    )
    case.assign_caseworker(step(applied), rng.choice(CASEWORKERS))
    if kind < 0.3:
        return [case]  # inspection due in 9-14 days: its remind-7 is ahead
    case.start_inspection(step(applied + timedelta(days=2)))
    submitted = TODAY - timedelta(days=rng.randint(0, 20))
    case.submit_for_entry(step(submitted))
    if kind < 0.6:
        return [case]  # entry evaluation due in 10-30 days: its remind-7 is ahead
    workspace = Workspace.register(site, f"W{number:06d}", step(submitted))
    panel = Panel({e: Decimal(rng.randint(60, 95)) for e in rng.sample(EXPERTS, 3)})
    entered = submitted + timedelta(days=rng.randint(0, (TODAY - submitted).days))
    assert case.evaluate_entry(step(entered), panel, RULES, workspace.code)
    return [
        case,
        workspace,
        move_in(case, workspace, step(entered)),
    ]  # member discovery's remind-7 is 23 days after entry


def fill(system: Any, cases: int, seed: int, chunk: int = 300) -> int:
    rng, written, pending = random.Random(seed), 0, []
    for number in range(cases):
        pending.extend(open_case(rng, number))
        if len(pending) >= chunk:
            written += sum(len(a.pending_events) for a in pending)
            system.log.save(*pending)
            pending = []
    if pending:
        written += sum(len(a.pending_events) for a in pending)
        system.log.save(*pending)
    return int(written)


def timed(call: Any, rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def run(backend: str, cases: int, rounds: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="incubator-scan-"))
    url, drop = database(backend, folder)
    try:
        system = bootstrap(url, clock=FixedClock(NOW))
        started = time.perf_counter()
        events = fill(system, cases, seed=7)
        fill_s = time.perf_counter() - started
        started = time.perf_counter()
        system.read_models.catch_up()
        catch_up_s = time.perf_counter() - started
        pending = len(system.read_models.due())
        nothing_ms, recorded = timed(system.reminders.scan, rounds)
        assert recorded == [], f"the benchmark's cases should have nothing due, got {recorded[:3]}"
        # three days later some reminders come due: one scan records them, the next finds none
        later = NOW + timedelta(days=3)
        system.clock = system.reminders.clock = FixedClock(later)
        started = time.perf_counter()
        due_now = system.reminders.scan()
        due_ms = (time.perf_counter() - started) * 1000
        after_ms, again = timed(system.reminders.scan, rounds)
        assert again == []
        system.close_all()
    finally:
        drop()
    return {
        "backend": backend,
        "open_cases": cases,
        "events": events,
        "pending_deadlines": pending,
        "fill_s": round(fill_s, 1),
        "catch_up_s": round(catch_up_s, 1),
        "scan_nothing_due_ms_median": round(nothing_ms, 2),
        "scan_rounds": rounds,
        "three_days_later_recorded": len(due_now),
        "three_days_later_scan_ms": round(due_ms, 1),
        "three_days_later_rescan_ms_median": round(after_ms, 2),
    }


def main() -> None:
    parser = section_arguments(__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="10,000 cases")
    args = parser.parse_args()
    cases = 10_000 if args.quick else args.cases
    runs = run_backends(args, lambda b: run(b, cases, args.rounds))
    for r in runs:
        print(
            f"{r['backend']:<10} {r['open_cases']:>7,} open cases, {r['pending_deadlines']:,} "
            f"pending deadlines | scan, nothing due: {r['scan_nothing_due_ms_median']} ms "
            f"(median of {r['scan_rounds']}) | 3 days later: {r['three_days_later_recorded']:,} "
            f"recorded in {r['three_days_later_scan_ms']} ms, "
            f"rescan {r['three_days_later_rescan_ms_median']} ms"
        )


if __name__ == "__main__":
    main()
