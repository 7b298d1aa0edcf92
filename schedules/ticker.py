"""The scheduler's ticker: APScheduler 3 only says when to scan; the log says what is due.

Several processes cannot share an APScheduler job store (LIBRARIES.md), and need not: each runs
its own in-memory ticker, and a reminder's derived id makes the log keep it once whichever
process records it. The job coalesces missed runs, never runs twice at once, and a late run is
never dropped (misfire_grace_time=None): a scan that comes late catches up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("incubator.scheduler")


def ticker(
    job: Callable[[], None], every_seconds: float, first_at: datetime
) -> BackgroundScheduler:
    """A started background scheduler that runs `job` at `first_at`, then every `every_seconds`."""
    scheduler = BackgroundScheduler(
        jobstores={"default": {"type": "memory"}},
        executors={"default": {"type": "threadpool", "max_workers": 1}},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every_seconds),
        id="reminder-scan",
        next_run_time=first_at,
    )
    scheduler.start()
    return scheduler


def run_until(stop: threading.Event, job: Callable[[], None], every_seconds: float) -> None:
    """Tick until `stop` is set (by SIGTERM), then let a running scan finish."""
    scheduler = ticker(job, every_seconds, datetime.now(UTC))
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
