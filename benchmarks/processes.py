"""Several writer processes on one PostgreSQL database, next to the eventsourcing library's own
application with the same number of processes, measured back to back in the same run.

    .venv/bin/python -m benchmarks.processes --out benchmarks/results/processes.json  # ~14 min
    .venv/bin/python -m benchmarks.processes --quick                                   # ~1 min

N writer processes (1, 2, 4), spawned, each bootstrapping its own system on one database, meet at
a barrier and then, for a fixed time each:

- creates: `service.apply`, one new case a command;
- visits: `service.record_visit` on cases of its own (load, decide, save one event), round robin
  over many cases made beforehand, so a case's history stays a few events long;
- contended: all N writers `record_visit` on the same 4 cases. The 4 hot cases change every
  quarter second, so the race is as hot as ever but no history grows to thousands of events.
  A lost race is decided again on the fresh state (a safe retry); after 3 the command is a
  `Conflict`.

The baseline is the library's plain `Application` on `eventsourcing.postgres` (a schema of its
own, the same pool settings) with an aggregate whose events carry the same fields, the same
number of processes, barrier and time. For each N both sets of processes are started and take
turns, workload by workload (ours creates, raw creates, ours visits, ...; raw first in every
second round), so each ratio compares runs seconds apart; the best of the rounds counts.

Every command carries a unique label (the name of a new case, the note of a visit). Afterwards
the log is read back: each accepted label must be there exactly once, no rejected one at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import queue
import random
import statistics
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from sqlalchemy.pool import QueuePool

from benchmarks.baseline import RawCase, new_raw_case, open_raw_log
from benchmarks.common import POSTGRES_URL, database, machine
from commands.bootstrap import Incubator, bootstrap
from commands.service import ATTEMPTS, Who
from lifecycle.errors import Conflict
from lifecycle.organization import OrganizationCase
from lifecycle.step import Step
from schedules.clock import local_today

CONTEXT = multiprocessing.get_context("spawn")
PROCESSES = (1, 2, 4)
WORKLOADS = ("creates", "visits", "contended")
SYSTEMS = ("ours", "raw")
HOT = 4  # cases all writers race on at once
HOT_SECONDS = 0.25  # how long a set of hot cases stays hot
ACTOR = "王芳"
BARRIER_TIMEOUT = 120.0  # seconds to wait for the others (spawning 8 on 2 busy cores), or more


# ---- the raw library's side ------------------------------------------------------------------


# ---- one writer process ----------------------------------------------------------------------


class Writer(Protocol):
    lost_races: int  # saves that lost an optimistic-concurrency race, so far

    def create(self, label: str) -> None: ...

    def visit(self, case_id: UUID, label: str) -> None:
        """Raises `Conflict` when every attempt lost its race."""

    def connections(self) -> dict[str, int]:
        """The connections this process holds open now, by pool."""

    def close(self) -> None: ...


class OursWriter:
    """Commands through the application service, as the command line issues them."""

    def __init__(self, url: str) -> None:
        self.system = bootstrap(url)
        self.service, self.lost_races = self.system.service, 0
        save = self.system.log.save

        def counting_save(*objs: Any, **kwargs: Any) -> Any:
            try:
                return save(*objs, **kwargs)
            except IntegrityError:
                self.lost_races += 1
                raise

        self.system.log.save = counting_save  # type: ignore[method-assign]

    def create(self, label: str) -> None:
        self.service.apply(
            Who(ACTOR),
            name=label,
            field="公益慈善",
            legal_status="registered",
            track="incubation",
            site="main",
        )

    def visit(self, case_id: UUID, label: str) -> None:
        self.service.record_visit(case_id, Who(ACTOR), label)

    def connections(self) -> dict[str, int]:
        pool = self.system.read_models.engine.pool
        assert isinstance(pool, QueuePool)
        return {
            "event_store": event_store_connections(self.system.log),
            "sqlalchemy": pool.checkedin() + pool.checkedout(),
        }

    def close(self) -> None:
        self.system.close_all()


class RawWriter:
    """The library's load, call, save; a lost race is tried again as our service does."""

    def __init__(self, url: str) -> None:
        # The parent made the tables: writers starting together need not race to make them.
        self.app = open_raw_log(url, create=False)
        self.lost_races = 0

    def create(self, label: str) -> None:
        self.app.save(new_raw_case(label, ACTOR, date.today()))

    def visit(self, case_id: UUID, label: str) -> None:
        for _ in range(ATTEMPTS):
            case: RawCase = self.app.repository.get(case_id)
            case.record_visit(date.today(), ACTOR, None, label)
            try:
                self.app.save(case)
            except IntegrityError:
                self.lost_races += 1
                continue
            return
        raise Conflict(f"{case_id} kept changing")

    def connections(self) -> dict[str, int]:
        return {"event_store": event_store_connections(self.app)}

    def close(self) -> None:
        self.app.close()


def event_store_connections(app: Application[UUID]) -> int:
    stats: dict[str, int] = app.recorder.datastore.pool.get_stats()  # type: ignore[attr-defined]
    return stats["pool_size"]


@dataclass(frozen=True)
class Cases:
    """What one writer works on in one round."""

    own: tuple[UUID, ...]  # visits: this writer's cases
    hot: tuple[tuple[UUID, ...], ...]  # contended: the hot cases, a set per HOT_SECONDS


@dataclass(frozen=True)
class Job:
    system: str  # ours or raw
    url: str
    writer: int
    seconds: float  # of each workload
    rounds: tuple[Cases, ...]
    workloads: tuple[str, ...] = WORKLOADS


@dataclass
class Tally:
    attempted: int = 0
    accepted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    safe_retries: int = 0  # commands accepted after losing a race and deciding again
    lost_races: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's own CPU time: the rest is waiting on PostgreSQL


@dataclass
class Report:
    writer: int
    tallies: dict[str, Tally]  # by "round:workload"
    connections: dict[str, int]
    error: str | None = None


def write(job: Job, barrier: Barrier, results: Queue[Report]) -> None:
    """A writer process: bootstrap, then each workload of each round when the parent says, all
    writers at once (the parent is a party to the barrier: in between, the other system's
    writers have their turn while these wait)."""
    try:
        writer: Writer = OursWriter(job.url) if job.system == "ours" else RawWriter(job.url)
    except BaseException:
        barrier.abort()  # nobody need wait for one that will never come
        results.put(Report(job.writer, {}, {}, traceback.format_exc()))
        return
    try:
        tallies, patience = {}, BARRIER_TIMEOUT + 2 * job.seconds  # the others' turn too
        for round_, cases in enumerate(job.rounds, 1):
            for workload in job.workloads:
                barrier.wait(patience)
                tallies[f"{round_}:{workload}"] = drive(writer, job, cases, f"{round_}:{workload}")
                barrier.wait(patience)
        results.put(Report(job.writer, tallies, writer.connections()))
    except BaseException:
        barrier.abort()
        results.put(Report(job.writer, {}, {}, traceback.format_exc()))
    finally:
        writer.close()


def drive(writer: Writer, job: Job, cases: Cases, turn: str) -> Tally:
    """Commands for `job.seconds`, each labelled `turn:wWRITER-N`."""
    workload = turn.split(":")[1]
    tally, rng, races = Tally(), random.Random(job.writer), writer.lost_races
    started, cpu = time.perf_counter(), time.process_time()
    while (now := time.perf_counter()) - started < job.seconds:
        label = f"{turn}:w{job.writer}-{tally.attempted}"
        tally.attempted += 1
        if workload == "creates":
            writer.create(label)
            tally.accepted.append(label)
            continue
        if workload == "visits":
            case_id = cases.own[tally.attempted % len(cases.own)]
        else:
            hot = cases.hot[min(int((now - started) / HOT_SECONDS), len(cases.hot) - 1)]
            case_id = rng.choice(hot)
        before = writer.lost_races
        try:
            writer.visit(case_id, label)
        except Conflict:
            tally.conflicts.append(label)
            continue
        tally.accepted.append(label)
        tally.safe_retries += writer.lost_races > before
    tally.seconds = time.perf_counter() - started
    tally.cpu_seconds = time.process_time() - cpu
    tally.lost_races = writer.lost_races - races
    return tally


class Writers:
    """One system's writer processes, spawned together; a `turn` runs one workload in all of
    them at once. Leaving the block ends any process still alive (on failure too)."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.barrier = CONTEXT.Barrier(len(jobs) + 1)  # the writers and the parent
        self.results: Queue[Report] = CONTEXT.Queue()
        self.children = [
            CONTEXT.Process(target=write, args=(job, self.barrier, self.results), daemon=True)
            for job in jobs
        ]
        self.received: list[Report] = []
        self.done = threading.Event()
        self.watchdog = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Writers:
        for child in self.children:
            child.start()
        self.watchdog.start()
        return self

    def _watch(self) -> None:
        """A writer that dies (rather than report its error) would leave the others waiting at
        the barrier until it times out: break it at once."""
        while not self.done.wait(0.5):
            if any(child.exitcode not in (None, 0) for child in self.children):
                self.barrier.abort()
                return

    def turn(self, seconds: float) -> None:
        try:
            self.barrier.wait(BARRIER_TIMEOUT)  # every writer is ready: go
            self.barrier.wait(seconds + BARRIER_TIMEOUT)  # every writer is done
        except threading.BrokenBarrierError:
            self.barrier.abort()
            raise self.failure() from None

    def reports(self, timeout: float = BARRIER_TIMEOUT) -> list[Report]:
        deadline = time.monotonic() + timeout
        while len(self.received) < len(self.children) and time.monotonic() < deadline:
            try:
                self.received.append(self.results.get(timeout=0.5))
            except queue.Empty:
                if not any(child.is_alive() for child in self.children):
                    break  # a writer died without reporting: nothing more will come
        if len(self.received) < len(self.children) or any(r.error for r in self.received):
            raise self.failure()
        return sorted(self.received, key=lambda r: r.writer)

    def failure(self) -> RuntimeError:
        with contextlib.suppress(queue.Empty):
            while True:
                self.received.append(self.results.get(timeout=1.0))
        errors = [r.error for r in self.received if r.error]
        codes = [child.exitcode for child in self.children]
        return RuntimeError(f"writers failed (exit codes {codes}): {errors or 'no report'}")

    def __exit__(self, *_: object) -> None:
        self.done.set()
        if len(self.received) < len(self.children):
            self.barrier.abort()  # writers still waiting for a turn that will not come
        for child in self.children:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
        self.results.close()
        self.results.join_thread()


# ---- the parent: cases to work on, and the log read back ---------------------------------------


class Side:
    """One system's database as the parent sees it: cases made beforehand, the log read back."""

    def __init__(self, system: str, url: str) -> None:
        self.system, self.url = system, url
        self.incubator: Incubator | None = None
        if system == "ours":
            self.incubator = bootstrap(url)
            self.app: Application[UUID] = self.incubator.log
        else:
            self.app = open_raw_log(url)

    def cases(self, count: int, chunk: int = 500) -> list[UUID]:
        """`count` cases in inspection (where visits are recorded), saved many a transaction."""
        made: list[UUID] = []
        for start in range(0, count, chunk):
            batch = [self._inspected(f"case-{start + i}") for i in range(min(chunk, count - start))]
            self.app.save(*batch)
            made += [UUID(str(case.id)) for case in batch]
        return made

    def _inspected(self, name: str) -> Aggregate:
        if self.incubator is None:
            raw = new_raw_case(name, ACTOR, date.today())
            raw.start_inspection(date.today(), ACTOR, None, "inspecting")
            return raw
        clock, park = self.incubator.clock, self.incubator.park
        step = Step(ACTOR, local_today(clock, park.timezone), clock.now())
        case = OrganizationCase.apply_for(
            step,
            name=name,
            field="charity",
            legal_status="registered",
            track="incubation",
            site="main",
        )
        case.start_inspection(step)
        return case

    def plan(self, processes: int, seconds: float, workloads: tuple[str, ...]) -> list[Cases]:
        """Each writer's cases for one round of `workloads`."""
        per_writer = max(200, int(seconds * 150))  # visits come round to a case every so often
        own = self.cases(per_writer * processes) if "visits" in workloads else []
        sets = math.ceil(seconds / HOT_SECONDS) + 4  # a writer may run a little past its time
        hot = self.cases(sets * HOT) if "contended" in workloads else []
        hot_sets = tuple(tuple(hot[i : i + HOT]) for i in range(0, len(hot), HOT))
        return [
            Cases(tuple(own[w * per_writer : (w + 1) * per_writer]), hot_sets)
            for w in range(processes)
        ]

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def labels_after(self, position: int, batch: int = 5000) -> Iterator[str]:
        """The label of every command recorded after `position`: a new case's name, a note."""
        while notifications := self.app.recorder.select_notifications(
            start=position, limit=batch, inclusive_of_start=False
        ):
            for notification in notifications:
                recorded = self.app.mapper.to_domain_event(notification)
                label = getattr(recorded, "note", None) or getattr(recorded, "name", None)
                if isinstance(label, str):
                    yield label
            position = notifications[-1].id

    def close(self) -> None:
        if self.incubator is not None:
            self.incubator.close_all()
        else:
            self.app.close()


def measure(
    sides: Sequence[Side],
    processes: int,
    seconds: float,
    rounds: int = 1,
    workloads: tuple[str, ...] = WORKLOADS,
) -> list[dict[str, Any]]:
    """`processes` writers of each side, the sides taking turns on each workload of each round
    (in the other order every second round); the figures of each side and round."""
    jobs, starts = {}, {}
    for side in sides:
        per_round = [side.plan(processes, seconds, workloads) for _ in range(rounds)]
        jobs[side.system] = [
            Job(
                side.system,
                side.url,
                writer,
                seconds,
                tuple(plan[writer] for plan in per_round),
                workloads,
            )
            for writer in range(processes)
        ]
        starts[side.system] = side.head()
    with ExitStack() as stack:
        writers = {s.system: stack.enter_context(Writers(jobs[s.system])) for s in sides}
        for round_ in range(rounds):
            order = sides if round_ % 2 == 0 else sides[::-1]
            for _ in workloads:  # the writers know which workload comes next
                for side in order:
                    writers[side.system].turn(seconds)
        reports = {system: group.reports() for system, group in writers.items()}
    runs = []
    for side in sides:
        found = Counter(side.labels_after(starts[side.system]))
        for round_ in range(1, rounds + 1):
            figures: dict[str, Any] = {
                "system": side.system,
                "processes": processes,
                "round": round_,
            }
            for workload in workloads:
                turn = f"{round_}:{workload}"
                tallies = [r.tallies[turn] for r in reports[side.system]]
                figures[workload] = tallied(tallies, found, turn)
            figures["connections"] = [r.connections for r in reports[side.system]]
            runs.append(figures)
    return runs


def tallied(tallies: list[Tally], found: Counter[str], turn: str) -> dict[str, Any]:
    """One workload's figures, and the log checked against what the writers were told."""
    accepted = Counter(label for t in tallies for label in t.accepted)
    rejected = {label for t in tallies for label in t.conflicts}
    recorded = Counter({k: v for k, v in found.items() if k.startswith(f"{turn}:")})
    seconds, cpu = sum(t.seconds for t in tallies), sum(t.cpu_seconds for t in tallies)
    return {
        "commands_per_s": round(sum(len(t.accepted) / t.seconds for t in tallies)),
        "attempted": sum(t.attempted for t in tallies),
        "accepted": sum(accepted.values()),
        "conflicts": len(rejected),
        "safe_retries": sum(t.safe_retries for t in tallies),
        "lost_races": sum(t.lost_races for t in tallies),
        # accepted, but not in the log: a lost update
        "lost_updates": sum((accepted - recorded).values()),
        "duplicates": sum(n - 1 for n in recorded.values() if n > 1),
        # in the log, but never accepted (a rejected one, or one nobody reported)
        "unexpected": sum(1 for label in recorded if label not in accepted),
        "rejected_but_recorded": sum(1 for label in rejected if label in recorded),
        "client_cpu_share": round(cpu / seconds, 2),
    }


def contended(url: str, processes: int, seconds: float) -> dict[str, Any]:
    """Our writers racing on the same cases at `url`: the contended workload's figures."""
    side = Side("ours", url)
    try:
        [figures] = measure([side], processes, seconds, workloads=("contended",))
        found: dict[str, Any] = figures["contended"]
        return found
    finally:
        side.close()


# ---- the whole run ---------------------------------------------------------------------------


def run(quick: bool, seconds: float | None = None, rounds: int | None = None) -> dict[str, Any]:
    """Quick: 2 s a measurement, one round; full: 15 s, three rounds (on a shared machine a
    system can miss its quiet moments in two)."""
    seconds = seconds or (2.0 if quick else 15.0)
    rounds = rounds or (1 if quick else 3)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sides: dict[str, Side] = {}
        for system in SYSTEMS:
            url, drop = database("postgresql", folder)
            stack.callback(drop)
            sides[system] = Side(system, url)
            stack.callback(sides[system].close)
        for processes in PROCESSES:
            measured = measure([sides[s] for s in SYSTEMS], processes, seconds, rounds)
            for figures in measured:
                progress(figures)
            runs += measured
        pools = pool_settings(sides["ours"], runs)
    return {
        "machine": machine(),
        "mode": "quick" if quick else "full",
        "seconds_per_measurement": seconds,
        "rounds": rounds,
        "summary": summary(runs),
        "lost_updates": sum(r[w]["lost_updates"] for r in runs for w in WORKLOADS),
        "log_mismatches": sum(
            r[w][k] for r in runs for w in WORKLOADS for k in ("duplicates", "unexpected")
        ),
        "conflicts": {
            system: sum(r["contended"]["conflicts"] for r in runs if r["system"] == system)
            for system in SYSTEMS
        },
        "connections": pools,
        "runs": runs,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per number of processes and workload: the best rate of each system and their ratio, and
    the median of the rounds' own ratios. A shared machine has quiet and busy spells; the best
    of a few rounds can catch one system in a quiet spell the other missed, while ours and raw
    of the same round ran seconds apart."""
    rows = []
    for processes in PROCESSES:
        for workload in WORKLOADS:
            ours, raw = (best(runs, system, processes, workload) for system in SYSTEMS)
            rows.append(
                {
                    "processes": processes,
                    "workload": workload,
                    "ours_per_s": ours["commands_per_s"],
                    "raw_per_s": raw["commands_per_s"],
                    f"{workload}_ratio_to_raw": round(
                        ours["commands_per_s"] / raw["commands_per_s"], 2
                    ),
                    f"{workload}_ratio_to_raw_median_of_rounds": paired(runs, processes, workload),
                    "ours_conflicts": ours["conflicts"],
                    "ours_safe_retries": ours["safe_retries"],
                    "ours_lost_races": ours["lost_races"],
                    "raw_conflicts": raw["conflicts"],
                    "raw_lost_races": raw["lost_races"],
                    "ours_client_cpu_share": ours["client_cpu_share"],
                    "raw_client_cpu_share": raw["client_cpu_share"],
                }
            )
    return rows


def best(runs: list[dict[str, Any]], system: str, processes: int, workload: str) -> dict[str, Any]:
    """The figures of the fastest round."""
    mine = [r[workload] for r in runs if (r["system"], r["processes"]) == (system, processes)]
    figures: dict[str, Any] = max(mine, key=lambda f: f["commands_per_s"])
    return figures


def paired(runs: list[dict[str, Any]], processes: int, workload: str) -> float:
    """The median over rounds of ours / raw in that round."""
    rate: dict[tuple[str, int], int] = {
        (r["system"], r["round"]): r[workload]["commands_per_s"]
        for r in runs
        if r["processes"] == processes
    }
    rounds = sorted({r for _, r in rate})
    return round(statistics.median(rate["ours", r] / rate["raw", r] for r in rounds), 2)


def pool_settings(side: Side, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """What each of our processes may open, what our writers held, and what the server allows."""
    import psycopg

    assert side.incubator is not None
    env = side.incubator.database.event_store_env
    # The pool as built: the library lets INCUBATOR_POSTGRES_POOL_SIZE (and _MAX_OVERFLOW) in
    # the environment override what commands/database.py sets.
    live = side.incubator.log.recorder.datastore.pool.get_stats()  # type: ignore[attr-defined]
    engine = side.incubator.read_models.engine.pool
    assert isinstance(engine, QueuePool)
    per_process = live["pool_max"] + engine.size() + engine._max_overflow
    with psycopg.connect(POSTGRES_URL) as conn:
        server: dict[str, int] = dict(
            conn.execute(
                "SELECT name, setting::int FROM pg_settings WHERE name IN "
                "('max_connections', 'superuser_reserved_connections')"
            ).fetchall()
        )
    held = [sum(c.values()) for r in runs if r["system"] == "ours" for c in r["connections"]]
    return {
        "event_store": {
            "POSTGRES_POOL_SIZE": int(env["POSTGRES_POOL_SIZE"]),
            "POSTGRES_MAX_OVERFLOW": int(env["POSTGRES_MAX_OVERFLOW"]),
            "pool_min": live["pool_min"],
            "pool_max": live["pool_max"],
        },
        "sqlalchemy_engine": {"pool_size": engine.size(), "max_overflow": engine._max_overflow},
        "per_process_at_most": per_process,
        "at_most_by_processes": {n: n * per_process for n in PROCESSES},
        "held_by_a_writer_at_most": max(held, default=0),
        "max_connections": server["max_connections"],
        "superuser_reserved_connections": server["superuser_reserved_connections"],
        "processes_the_server_allows": (
            server["max_connections"] - server["superuser_reserved_connections"]
        )
        // per_process,
    }


# ---- output ----------------------------------------------------------------------------------


def progress(figures: dict[str, Any]) -> None:
    rates = ", ".join(f"{w} {figures[w]['commands_per_s']:,}/s" for w in WORKLOADS)
    print(f"  round {figures['round']} {figures['system']:<4} N={figures['processes']}: {rates}")


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{results['machine']}; {results['mode']}: {results['seconds_per_measurement']:g} s "
        f"a measurement, best of {results['rounds']} round(s), {results['total_seconds']} s in all",
        "ratio: best ours / best raw; paired: the median of each round's ours / raw",
        f"{'N':>2}  {'workload':<10} {'ours/s':>7} {'raw/s':>7} {'ratio':>6} {'paired':>6} "
        f"{'conflicts':>9} {'retried':>8} {'lost races':>10} {'raw lost':>9}",
    ]
    for row in results["summary"]:
        workload = row["workload"]
        lines.append(
            f"{row['processes']:>2}  {workload:<10} {row['ours_per_s']:>7,} "
            f"{row['raw_per_s']:>7,} {row[f'{workload}_ratio_to_raw']:>6.2f} "
            f"{row[f'{workload}_ratio_to_raw_median_of_rounds']:>6.2f} "
            f"{row['ours_conflicts']:>9,} {row['ours_safe_retries']:>8,} "
            f"{row['ours_lost_races']:>10,} {row['raw_lost_races']:>9,}"
        )
    pools = results["connections"]
    lines += [
        f"lost updates: {results['lost_updates']}; duplicates or unexpected in the log: "
        f"{results['log_mismatches']}; conflicts in all runs: {results['conflicts']}",
        f"connections a process may open: {pools['per_process_at_most']} (event store "
        f"{pools['event_store']}, SQLAlchemy {pools['sqlalchemy_engine']}); a writer held "
        f"{pools['held_by_a_writer_at_most']}; "
        f"max_connections {pools['max_connections']} "
        f"({pools['superuser_reserved_connections']} reserved): "
        f"{pools['processes_the_server_allows']} such processes at most",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s a measurement, one round")
    parser.add_argument("--out", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--seconds", type=float, help="of each measurement (default 2 or 15)")
    parser.add_argument("--rounds", type=int, help="default 1 (quick) or 3")
    args = parser.parse_args(argv)
    results = run(args.quick, args.seconds, args.rounds)
    out(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    # Through the module's own name: spawned writers import it as benchmarks.processes, and the
    # raw aggregate's event topics must name the same module in every process.
    from benchmarks.processes import main as run_main

    run_main()
