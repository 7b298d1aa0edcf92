"""Scanners and senders racing as real OS processes on one database, SQLite and PostgreSQL.

Thirty cases applied on 2024-02-20 (caseworker 李强) have their inspection due on 2024-03-05; at
noon in Shanghai on 2024-03-06 three steps of each have come: remind-7, remind-1 and escalate-1,
ninety reminders in all. Each child process bootstraps the system on the same URL with a clock
standing at that moment and runs one scan or one delivery. The children meet at a barrier in
front of their first save, so both have read everything (the due dates, the outbox, the first
reminder) before either writes: the race is certain. The log is read back in the parent.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from commands.bootstrap import Incubator, bootstrap
from lifecycle.deadlines import INSPECTION
from lifecycle.reminder import Reminder
from schedules.clock import FixedClock
from schedules.mail import SmtpMailer
from tests.processes import at_once
from tests.test_reminder_mail import DUE_ON, SmtpServer, apply_case, settings_file

pytestmark = pytest.mark.slow

BARRIER_TIMEOUT = 30.0  # seconds a child waits for the other one in front of its first save
RACE_TIMEOUT = 90.0  # seconds for a whole race: start, bootstrap, scan or delivery, report, exit
CASES = 30
# Noon in Shanghai on 2024-03-06: remind-7, remind-1 and escalate-1 of every case have come.
AT = datetime(2024, 3, 6, 4, 0, tzinfo=UTC)
STEPS = ("remind-7", "remind-1", "escalate-1")
# Noon on 2024-03-13: escalate-2 has come too.
LATER = datetime(2024, 3, 13, 4, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    name: str
    command: str  # scan or deliver
    url: str
    settings: str
    at: str  # the clock, ISO 8601
    smtp_url: str | None = None


@dataclass(frozen=True)
class Report:
    name: str
    kind: str  # ok or error
    done: list[tuple[str, str]] = field(default_factory=list)  # (reminder id, step or outcome)
    saves: int = 0
    message: str = ""


def run_job(job: Job, barrier: Barrier, results: Queue[Report]) -> None:
    """The child process: bootstrap on the URL, scan or deliver once, report what it did."""
    saves = 0
    try:
        mailer = SmtpMailer.from_url(job.smtp_url) if job.smtp_url else None
        clock = FixedClock(datetime.fromisoformat(job.at))
        system = bootstrap(job.url, settings_path=job.settings, clock=clock, mailer=mailer)
    except BaseException:
        barrier.abort()
        results.put(Report(job.name, "error", message=traceback.format_exc()))
        return
    try:
        save = system.log.save

        def save_after_barrier(*objs: Any, **kwargs: Any) -> Any:
            nonlocal saves
            saves += 1
            if saves == 1:  # the first save only; the rest race freely
                barrier.wait(BARRIER_TIMEOUT)
            return save(*objs, **kwargs)

        system.log.save = save_after_barrier  # type: ignore[method-assign]
        if job.command == "scan":
            done = [(r["id"], r["step"]) for r in system.reminders.scan()]
        elif job.command == "deliver":
            done = [(d.reminder_id, d.outcome) for d in system.reminders.deliver()]
        else:
            raise ValueError(f"unknown command {job.command!r}")
        if saves == 0:
            barrier.abort()  # nothing to write: the other child would wait for nothing
        results.put(Report(job.name, "ok", done, saves))
    except BaseException:
        barrier.abort()
        results.put(Report(job.name, "error", saves=saves, message=traceback.format_exc()))
    finally:
        system.close_all()


def race(jobs: Sequence[Job]) -> dict[str, Report]:
    """Run `jobs` in child processes at the same moment; their reports by name."""
    received: list[Report]
    received, exits = at_once(
        run_job, [(job,) for job in jobs], [job.name for job in jobs], RACE_TIMEOUT
    )
    reports: dict[str, Report] = {r.name: r for r in received}
    assert len(reports) == len(jobs), f"only {len(reports)} of {len(jobs)} reported: {exits}"
    errors = "\n".join(r.message for r in reports.values() if r.kind == "error")
    assert not errors, f"a child failed:\n{errors}"
    assert all(code == 0 for code in exits.values()), f"children exited with {exits}"
    return reports


# ---- the park ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    url: str
    settings: str
    cases: list[UUID]

    def open(self, at: datetime = AT, mailer: Any = None) -> Incubator:
        return bootstrap(self.url, settings_path=self.settings, clock=FixedClock(at), mailer=mailer)

    def jobs(self, command: str, at: datetime = AT, smtp_url: str | None = None) -> list[Job]:
        return [
            Job(f"{command}-{n}", command, self.url, self.settings, at.isoformat(), smtp_url)
            for n in (1, 2)
        ]

    def expected(self, steps: Sequence[str] = STEPS) -> set[str]:
        return {
            str(Reminder.id_for(case_id, INSPECTION, DUE_ON, step))
            for case_id in self.cases
            for step in steps
        }


@pytest.fixture
def park(database_url: str, tmp_path: Path) -> Setup:
    """Thirty cases with a caseworker, created in the parent and closed before any race."""
    settings = settings_file(tmp_path)
    system = bootstrap(database_url, settings_path=settings, clock=FixedClock(AT))
    try:
        cases = [apply_case(system, name=f"第{n:02d}志愿者协会") for n in range(1, CASES + 1)]
        system.read_models.catch_up()
    finally:
        system.close_all()
    return Setup(database_url, str(settings), cases)


def reminder_log(park: Setup) -> dict[str, list[str]]:
    """Every reminder's events in the log, in order, by reminder id (read on fresh connections)."""
    system = park.open()
    try:
        head = system.read_models.head()
        # Every id is at most the head (PostgreSQL leaves gaps where a losing insert rolled back).
        notifications = system.log.recorder.select_notifications(start=1, limit=head)
        by_id: dict[str, list[tuple[int, str]]] = {}
        for n in notifications:
            if "Reminder" in n.topic:
                by_id.setdefault(str(n.originator_id), []).append(
                    (n.originator_version, n.topic.rsplit(".", 1)[-1])
                )
    finally:
        system.close_all()
    for rid, versions in by_id.items():
        assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), (rid, versions)
    return {rid: [name for _, name in versions] for rid, versions in by_id.items()}


def created(log: dict[str, list[str]]) -> Counter[str]:
    """How often each reminder was recorded (ReminderIssued or DeadlineEscalated)."""
    return Counter(
        rid
        for rid, names in log.items()
        for name in names
        if name in ("ReminderIssued", "DeadlineEscalated")
    )


# ---- two scanners ------------------------------------------------------------------------------


def test_two_scanner_processes_record_each_reminder_exactly_once(park: Setup) -> None:
    reports = race(park.jobs("scan"))

    expected = park.expected()
    assert len(expected) == CASES * len(STEPS)
    by_scanner = {name: [rid for rid, _ in r.done] for name, r in reports.items()}
    everything = [rid for ids in by_scanner.values() for rid in ids]
    assert sorted(everything) == sorted(expected), "recorded twice, or not at all"
    assert all(r.saves >= 1 for r in reports.values()), reports  # both really tried
    log = reminder_log(park)
    assert created(log) == dict.fromkeys(expected, 1)
    assert all(len(names) == 1 for names in log.values())  # nothing mailed: no mailer

    # A rerun, in the parent: nothing more to record, and the read models agree.
    system = park.open()
    try:
        assert system.reminders.scan() == []
        assert list(system.read_models.coming(AT)) == []
        for case_id in park.cases:
            rows = system.read_models.reminders_of(str(case_id))
            assert sorted(row["step"] for row in rows) == sorted(STEPS)
            assert {row["delivery"] for row in rows} == {"waiting"}
    finally:
        system.close_all()

    # A week later, two scanners again: each case's second escalation, once.
    reports = race(park.jobs("scan", at=LATER))
    later = [(rid, step) for r in reports.values() for rid, step in r.done]
    assert sorted(later) == sorted((rid, "escalate-2") for rid in park.expected(["escalate-2"]))
    assert created(reminder_log(park)) == dict.fromkeys(park.expected([*STEPS, "escalate-2"]), 1)
    rerun = race(park.jobs("scan", at=LATER))
    assert [r.done for r in rerun.values()] == [[], []]
    assert [r.saves for r in rerun.values()] == [0, 0]


# ---- two senders -------------------------------------------------------------------------------


def test_two_sender_processes_mail_each_reminder_exactly_once(
    park: Setup, smtp: SmtpServer
) -> None:
    system = park.open()
    try:
        assert len(system.reminders.scan()) == CASES * len(STEPS)
    finally:
        system.close_all()
    # One late scan recorded remind-7 and remind-1 of each deadline: only the latest reminder is
    # mailed, the other is withdrawn (and the escalation goes to the director).
    expected = park.expected(["remind-1", "escalate-1"])
    superseded = park.expected(["remind-7"])

    reports = race(park.jobs("deliver", smtp_url=smtp.url))

    outcomes = [(rid, outcome) for r in reports.values() for rid, outcome in r.done]
    assert sorted(outcomes) == sorted(
        [(rid, "sent") for rid in expected] + [(rid, "withdrawn") for rid in superseded]
    )
    assert all(r.saves >= 1 for r in reports.values()), reports
    mailed = Counter(m.message_id for m in smtp.accepted)
    assert mailed == {f"<{rid}@incubator.reminders>": 1 for rid in expected}
    assert smtp.refused == []
    log = reminder_log(park)
    assert set(log) == expected | superseded
    for rid, names in log.items():
        outcome = ["DeliveryWithdrawn"] if rid in superseded else ["DeliveryClaimed", "Delivered"]
        assert names[1:] == outcome, (rid, names)

    # A rerun after the claims would have lapsed: nothing more goes out.
    reports = race(park.jobs("deliver", at=LATER, smtp_url=smtp.url))
    assert [r.done for r in reports.values()] == [[], []]
    assert len(smtp.accepted) == len(expected)
