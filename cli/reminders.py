"""`incubator reminders ...`, `incubator inbox` and `incubator scheduler`: deadline reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cli.common import (
    NAME_TEXT,
    Bounded,
    calendar_warning,
    emit_json,
    open_incubator,
    say,
    warn_calendar,
)
from lifecycle.bounds import Count, Seconds, shown

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def local_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """--now: a local time of the park (YYYY-MM-DDTHH:MM), kept naive until the park's zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{shown(value)} is not a local time like 2026-11-30T08:00"
        ) from None
    if moment.tzinfo is not None:
        raise click.BadParameter(f"{shown(value)}: give the park's local time, without a zone")
    if not 2000 <= moment.year <= 2100:
        raise click.BadParameter(f"{shown(value)}: the year must be from 2000 to 2100")
    return moment


@click.group()
def reminders() -> None:
    """Deadline reminders and escalations (recorded once, mailed when SMTP is set)."""


@reminders.command("scan")
@click.option(
    "--now",
    callback=local_time,
    metavar="YYYY-MM-DDTHH:MM",
    help="scan as of this local time (default: now); never later than now",
)
@json_option
@click.pass_context
def scan_cmd(ctx: click.Context, now: datetime | None, as_json: bool) -> None:
    """Record every reminder and escalation whose time has come, once; mail them if SMTP is set."""
    system = open_incubator(ctx)
    warn_calendar(system)
    recorded = system.reminders.scan(now)
    delivered = system.reminders.deliver()
    if as_json:
        emit_json({"recorded": recorded, "mail": [d.__dict__ for d in delivered]})
        return
    for r in recorded:
        what = "escalated" if r["type"] == "DeadlineEscalated" else "reminded"
        say(
            f"{what:<9} {r['organization']}  {r['kind']} due {r['due_on']}  {r['step']}  "
            f"to {r['to']}"
        )
    for d in delivered:
        say(f"mail {d.outcome:<9} {d.to or '-'}  {d.reminder_id}  {d.detail or ''}".rstrip())
    say(f"{len(recorded)} recorded, {len(delivered)} mail outcome(s)")


@reminders.command("preview")
@click.option(
    "--days",
    type=Bounded(Count(0, 366).parse, "days"),
    default=7,
    show_default=True,
    help="how many days ahead",
)
@click.option("--now", callback=local_time, metavar="YYYY-MM-DDTHH:MM", help="from this local time")
@json_option
@click.pass_context
def preview_cmd(ctx: click.Context, days: int, now: datetime | None, as_json: bool) -> None:
    """What would go out in the coming days; records nothing."""
    system = open_incubator(ctx)
    warn_calendar(system)
    coming = system.reminders.preview(days, now)
    if as_json:
        emit_json(coming)
        return
    from cli.render import render_rows

    render_rows(
        f"reminders in the next {days} day(s); 'now': the next scan records it",
        [
            {
                "at": "now" if c["due_now"] else c["at"].replace("T", " ")[:16],
                "organization": c["organization"],
                "deadline": c["kind"],
                "due_on": c["due_on"],
                "step": c["step"],
                "to": c["to"],
            }
            for c in coming
        ],
    )


@click.command("inbox")
@click.option(
    "--for",
    "person",
    type=NAME_TEXT,
    metavar="NAME",
    help="one person's inbox (default: everyone's)",
)
@json_option
@click.pass_context
def inbox_cmd(ctx: click.Context, person: str | None, as_json: bool) -> None:
    """What is due, overdue and escalated, per person, soonest first."""
    system = open_incubator(ctx)
    warn_calendar(system)
    system.read_models.catch_up()
    items = system.read_models.inbox(system.service.today(), person)
    if as_json:
        emit_json(items)
        return
    from cli.render import render_rows

    title = f"inbox of {person}" if person else "inboxes"
    render_rows(title, [inbox_line(i) for i in items])


def inbox_line(item: dict[str, Any]) -> dict[str, Any]:
    days = item["days"]
    when = f"in {days} d" if days > 0 else "today" if days == 0 else f"{-days} d late"
    level = f" (escalation {item['escalation']})" if item["escalation"] else ""
    return {
        "for": item["for"],
        "status": item["status"] + level,
        "due_on": item["due_on"],
        "when": when,
        "organization": item["organization"],
        "deadline": item["kind"],
        "responsible": item["responsible"] or "-",
    }


@click.command("scheduler")
@click.option(
    "--interval",
    type=Bounded(Seconds(1, 86_400).parse, "seconds"),
    metavar="SECONDS",
    help="seconds between scans (default: reminders.scan_interval_seconds of the settings)",
)
@click.pass_context
def scheduler_cmd(ctx: click.Context, interval: float | None) -> None:
    """Scan for reminders (and mail them) at an interval, until SIGTERM or Ctrl-C."""
    import logging
    import os
    import signal
    import threading
    import time

    from schedules.ticker import run_until

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log = logging.getLogger("incubator.scheduler")
    system = open_incubator(ctx)
    every = interval or system.park.reminders.scan_interval_seconds
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    warned_on: list[object] = []

    def tick() -> None:
        today = system.service.today()
        if today not in warned_on:  # once a day: a scheduler runs for months
            warned_on[:] = [today]
            said = calendar_warning(system)
            if said:
                log.warning(said)
        started = time.perf_counter()
        try:
            recorded, delivered = system.reminders.tick()
        except Exception as e:  # a database that is away now may be back at the next tick
            log.error(  # one line; the traceback only for a bug report (INCUBATOR_DEBUG)
                "scan failed (%s: %s); trying again at the next tick",
                type(e).__name__,
                str(e).strip().splitlines()[0][:300] if str(e).strip() else "",
                exc_info=bool(os.environ.get("INCUBATOR_DEBUG")),
            )
            return
        sent = sum(d.outcome == "sent" for d in delivered)
        log.info(
            "scan: %d recorded, %d mailed, %d mail failures (%.0f ms)",
            len(recorded),
            sent,
            len(delivered) - sent,
            (time.perf_counter() - started) * 1000,
        )

    log.info("scanning %s every %g s", system.database.url, every)
    run_until(stop, tick, every)
    log.info("stopped")
