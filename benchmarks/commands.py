"""Command throughput of the application service next to a baseline written directly on the
eventsourcing library, with its own module for the backend, that records the same events.

    .venv/bin/python -m benchmarks.commands --quick      # both backends, about a minute

Two workloads, each a command in its own transaction as a caseworker issues it:
- create: `IncubatorService.apply` (the park's settings checked, one ApplicationReceived event)
  against the library saving a new aggregate whose created event carries the same fields;
- load + 1 event: `IncubatorService.record_visit` (load the case, check the stage and the date,
  append SiteVisitRecorded, a lost race decided again) against the library getting the aggregate
  from its repository, triggering the same event and saving it.

Ours and the baseline write to databases of their own on the same disk or server, in blocks that
alternate (ours, raw, ours, raw...), so each ratio compares runs that saw the same machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from benchmarks.baseline import APPLICATION, RawCase, new_raw_case, open_raw_log
from benchmarks.common import database, run_backends, section_arguments
from commands.bootstrap import Incubator, bootstrap
from commands.service import Who

ACTOR = "李娜"


class Raw:
    """The baseline: the library's application, repository and save, nothing of ours."""

    def __init__(self, url: str) -> None:
        self.app = open_raw_log(url)

    def apply(self, number: int) -> UUID:
        case = new_raw_case(f"社会组织{number:06d}", ACTOR, date.today())
        self.app.save(case)
        return UUID(str(case.id))

    def start_inspection(self, case_id: UUID) -> None:
        case: RawCase = self.app.repository.get(case_id)
        case.start_inspection(on=date.today(), actor=ACTOR, reason=None, stage="inspecting")
        self.app.save(case)

    def record_visit(self, case_id: UUID, note: str) -> None:
        case: RawCase = self.app.repository.get(case_id)
        case.record_visit(on=date.today(), actor=ACTOR, reason=None, note=note)
        self.app.save(case)

    def close(self) -> None:
        self.app.close()


class Ours:
    """The application service, as the command line and the web call it."""

    def __init__(self, url: str) -> None:
        self.system: Incubator = bootstrap(url)
        self.service = self.system.service

    def apply(self, number: int) -> UUID:
        case = self.service.apply(Who(ACTOR), name=f"社会组织{number:06d}", **APPLICATION)
        return UUID(str(case.id))

    def start_inspection(self, case_id: UUID) -> None:
        self.service.start_inspection(case_id, Who(ACTOR))

    def record_visit(self, case_id: UUID, note: str) -> None:
        self.service.record_visit(case_id, Who(ACTOR), note)

    def close(self) -> None:
        self.system.close_all()


Side = Ours | Raw


def _creates(side: Side, count: int, first: int) -> tuple[float, list[UUID]]:
    """Creates/s, and the cases created."""
    started = time.perf_counter()
    made = [side.apply(first + n) for n in range(count)]
    return count / (time.perf_counter() - started), made


def _visits(side: Side, cases: list[UUID]) -> float:
    """Load + 1 event commands/s, one visit to each case."""
    started = time.perf_counter()
    for n, case_id in enumerate(cases):
        side.record_visit(case_id, f"走访辅导 {n}")
    return len(cases) / (time.perf_counter() - started)


def run(backend: str, block: int, rounds: int) -> dict[str, Any]:
    """`rounds` alternating blocks of `block` commands of each workload, ours then raw in one
    round and raw then ours in the next."""
    folder = Path(tempfile.mkdtemp(prefix="incubator-bench-commands-"))
    ours_url, drop_ours = database(backend, folder)
    raw_url, drop_raw = database(backend, folder)
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {"create": [], "visit": []}
    try:
        sides: dict[str, Side] = {"ours": Ours(ours_url), "raw": Raw(raw_url)}
        for round_ in range(rounds):
            # Ours first in even rounds, raw first in odd ones: neither side always runs on a
            # machine the other has just warmed (or loaded).
            order = list(sides.items()) if round_ % 2 == 0 else list(sides.items())[::-1]
            created: dict[str, float] = {}
            cases: dict[str, list[UUID]] = {}
            for name, side in order:
                created[name], cases[name] = _creates(side, block, round_ * block)
            for name, side in order:
                for case_id in cases[name]:
                    side.start_inspection(case_id)  # a visit needs a case under inspection
            visited = {name: _visits(side, cases[name]) for name, side in order}
            for workload, figures in (("create", created), ("visit", visited)):
                rates[f"{workload}_ours"] = [*rates.get(f"{workload}_ours", []), figures["ours"]]
                rates[f"{workload}_raw"] = [*rates.get(f"{workload}_raw", []), figures["raw"]]
                ratios[workload].append(figures["ours"] / figures["raw"])
        for side in sides.values():
            side.close()
    finally:
        drop_ours()
        drop_raw()
    result: dict[str, Any] = {"backend": backend, "commands_per_block": block, "rounds": rounds}
    for workload in ("create", "visit"):
        result |= {
            f"{workload}_ours_per_s": round(statistics.median(rates[f"{workload}_ours"])),
            f"{workload}_raw_per_s": round(statistics.median(rates[f"{workload}_raw"])),
            f"{workload}_ratio_to_raw": round(statistics.median(ratios[workload]), 2),
            f"{workload}_ratio_each_round": [round(x, 2) for x in ratios[workload]],
            f"{workload}_ratio_spread": [
                round(min(ratios[workload]), 2),
                round(max(ratios[workload]), 2),
            ],
        }
    return result


def main() -> None:
    parser = section_arguments(__doc__)
    parser.add_argument("--block", type=int, default=1000, help="commands per block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="blocks of 300, 3 rounds")
    args = parser.parse_args()
    block, rounds = (300, 3) if args.quick else (args.block, args.rounds)
    runs = run_backends(args, lambda b: run(b, block, rounds))
    for r in runs:
        print(
            f"{r['backend']:<10} create {r['create_ours_per_s']:>6,}/s vs raw "
            f"{r['create_raw_per_s']:>6,}/s ({r['create_ratio_to_raw']}) | load + 1 event "
            f"{r['visit_ours_per_s']:>6,}/s vs raw {r['visit_raw_per_s']:>6,}/s "
            f"({r['visit_ratio_to_raw']})"
        )


if __name__ == "__main__":
    main()
