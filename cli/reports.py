"""Commands over the read models: `incubator projections ...` and `incubator report ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from cli.common import (
    DAY,
    EXIT_REFUSED,
    ID,
    NAME_TEXT,
    Bounded,
    emit_json,
    fail,
    list_options,
    open_incubator,
    paging_of,
    resolve_round,
    say,
    warn_calendar,
    write_rows,
    write_xlsx,
    xlsx_option,
)
from lifecycle.bounds import Seconds

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from commands.workbooks import Sheet


def exports() -> ModuleType:
    """The exports, imported when one is asked for (the command line starts faster)."""
    from commands import exports as module

    return module


@click.group()
def projections() -> None:
    """The read models: their state, a rebuild, a process that keeps them current."""


@projections.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Each read model's name, version, position, lag (events behind the log), rebuild, and
    every event it could not apply in full (an anomaly). Exits 1 while there are anomalies."""
    system = open_incubator(ctx)
    rows = system.read_models.status()
    found = [a for r in rows for a in r["anomalies"]]
    if as_json:
        emit_json(rows)
    else:
        _render_status(system.read_models.head(), rows, found)
    if found:
        sys.exit(EXIT_REFUSED)


def _render_status(head: int, rows: list[dict[str, Any]], found: list[dict[str, Any]]) -> None:
    from cli.render import render_rows

    render_rows(
        f"read models (log head: {head})",
        [
            {
                "name": r["name"],
                "version": r["version"],
                "generation": r["generation"],
                "position": r["position"],
                "lag": r["lag"],
                "rebuilding": (
                    f"generation {r['rebuild']['generation']}, {r['rebuild']['lag']} behind"
                )
                if r["rebuilding"]
                else "no",
                "anomalies": len(r["anomalies"]),
            }
            for r in rows
        ],
    )
    if found:
        render_rows(
            "anomalies: events a read model could not apply in full (what it could, it did)",
            [
                {
                    "position": a["position"],
                    "read model": a["read_model"],
                    "case": a["case_id"],
                    "event": a["type"],
                    "error": a["error"],
                }
                for a in sorted(found, key=lambda a: (a["position"], a["read_model"], a["seq"]))
            ],
        )


@projections.command("rebuild")
@click.argument("names", nargs=-1, type=NAME_TEXT, metavar="[NAME]...")
@click.pass_context
def rebuild_cmd(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Rebuild read models beside the serving ones and switch readers over once caught up.

    Readers keep their answers from the old tables meanwhile. Without NAME: all of them.
    A rebuild that was interrupted resumes where it stopped.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    system = open_incubator(ctx)
    try:
        chosen = system.read_models.named(list(names))
    except LookupError as e:
        fail(str(e))
    total = system.read_models.head()
    columns = (
        TextColumn("rebuilding {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(", ".join(p.name for p in chosen), total=total, rate="—")

        def advance(read: int) -> None:
            bar.update(task, advance=read, total=max(total, system.read_models.head()))
            speed = bar.tasks[task].speed
            bar.update(task, rate=f"{speed:,.0f}" if speed else "—")

        built = system.read_models.rebuild([p.name for p in chosen], advance)
        bar.update(task, completed=bar.tasks[task].total)
    for generation in built:
        say(
            f"{generation.projection.name}: now serving generation "
            f"{generation.generation} (version {generation.version})"
        )
    rebuilt = {g.projection.name for g in built}
    found = [a for r in system.read_models.status() if r["name"] in rebuilt for a in r["anomalies"]]
    if found:  # what the log holds that they cannot apply: the rebuild met it again
        click.echo(
            f"incubator: warning: {len(found)} event(s) could not be applied in full; "
            f"`incubator projections status` lists them",
            err=True,
        )


@projections.command("run")
@click.option(
    "--interval",
    type=Bounded(Seconds(0.05, 3600).parse, "seconds"),
    default=1.0,
    show_default=True,
    help="seconds between polls of the log",
)
@click.pass_context
def run_cmd(ctx: click.Context, interval: float) -> None:
    """Follow the log and keep every read model current, until SIGTERM or Ctrl-C."""
    import logging
    import signal
    import threading

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    system = open_incubator(ctx)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logging.getLogger("incubator.projections").info(
        "following the log of %s every %.2f s", system.database.url, interval
    )
    system.read_models.follow(stop, interval)
    logging.getLogger("incubator.projections").info("stopped")


@click.group()
def report() -> None:
    """Reports from the read models: due dates, workspaces, caseworkers, stages, awards."""


def _rows(
    ctx: click.Context,
    title: str,
    query: str,
    listing: Listing,
    xlsx: Path | None,
    sheets: Callable[[Incubator, Any], list[Sheet]],
    warn: bool = False,
    site: str | None = None,
    count: str | None = None,
    **args: Any,
) -> None:
    """A report's rows: a page of them in a table, or every row as JSON, CSV or a workbook.
    With `count` (the query of its total), the database sorts and cuts the page; without,
    the list is short (a row per group) and read whole."""
    from commands import lists
    from commands.paging import Paging, page_of

    paging = Paging(everything=True) if xlsx else paging_of(*listing)
    as_json, as_csv = listing[3], listing[4]
    system = open_incubator(ctx)
    if warn:  # the due dates count working days: say when a year's are not known
        warn_calendar(system)
    if site is not None:
        system.park.site(site)
        args["site"] = site
    system.read_models.catch_up()
    read = getattr(system.read_models, query)
    if count is None:
        found = page_of(read(**args), paging)
    elif paging.everything and (as_json or as_csv) and xlsx is None:  # memory stays flat
        write_rows(lists.sorted_rows(read, **args), as_csv)
        return
    else:
        found = lists.sorted_page(read, getattr(system.read_models, count), paging, **args)
    if xlsx is not None:
        write_xlsx(xlsx, sheets(system, found.rows))
    if as_json or as_csv:
        write_rows(found.rows, as_csv)
    elif xlsx is None:
        from cli.render import render_rows

        render_rows(title, found.rows, found)


# --limit, --page, --all, --json, --csv as given (cli/common.py `list_options`)
Listing = tuple[int | None, int | None, bool, bool, bool]


json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


def _listing(given: dict[str, Any]) -> Listing:
    return (
        given["limit"],
        given["page"],
        given["everything"],
        given["as_json"],
        given["as_csv"],
    )


@report.command("due")
@click.option("--until", type=DAY, metavar="YYYY-MM-DD", help="due on or before")
@click.option("--site", type=NAME_TEXT)
@list_options
@xlsx_option
@click.pass_context
def due_cmd(
    ctx: click.Context, /, until: date | None, site: str | None, xlsx: Path | None, **listing: Any
) -> None:
    """Every pending deadline of every case, soonest first."""

    def sheets(system: Incubator, rows: Any) -> list[Sheet]:
        from commands import exports

        names = {c["id"]: c["name"] for c in system.read_models.caseload()}
        names |= {p["id"]: p["title"] for p in system.read_models.projects()}
        return exports.due(system.park, rows, names)

    _rows(
        ctx,
        "pending deadlines",
        "due",
        _listing(listing),
        xlsx,
        sheets,
        True,
        site,
        count="due_count",
        until=until,
    )


@report.command("occupancy")
@click.option("--site", type=NAME_TEXT)
@json_option
@xlsx_option
@click.pass_context
def occupancy_cmd(ctx: click.Context, site: str | None, as_json: bool, xlsx: Path | None) -> None:
    """Workspaces held, per site, with free and total counts."""
    system = open_incubator(ctx)
    sites = [system.park.site(site)] if site else list(system.park.sites.values())
    system.read_models.catch_up()
    held = system.read_models.occupancy(site)
    summary = [
        {
            "site": s.key,
            "name": s.name,
            "workspaces": len(s.workspaces),
            "held": sum(1 for h in held if h["site"] == s.key),
            "free": len(s.workspaces) - sum(1 for h in held if h["site"] == s.key),
        }
        for s in sites
    ]
    if xlsx is not None:
        from commands import exports

        write_xlsx(xlsx, exports.occupancy(system.park, {"sites": summary, "held": held}))
    if as_json:
        emit_json({"sites": summary, "held": held})
        return
    if xlsx is not None:
        return
    from cli.render import render_rows

    render_rows("workspace occupancy", summary)
    render_rows("held workspaces", held)


@report.command("assignments")
@click.option("--caseworker", type=NAME_TEXT, metavar="NAME")
@list_options
@xlsx_option
@click.pass_context
def assignments_cmd(
    ctx: click.Context, /, caseworker: str | None, xlsx: Path | None, **listing: Any
) -> None:
    """Open cases by caseworker (unassigned ones last)."""
    _rows(
        ctx,
        "open cases by caseworker",
        "assignments",
        _listing(listing),
        xlsx,
        lambda system, rows: exports().assignments(system.park, rows),
        count="assignments_count",
        caseworker=caseworker,
    )


@report.command("stages")
@click.option("--site", type=NAME_TEXT)
@list_options
@xlsx_option
@click.pass_context
def stages_cmd(ctx: click.Context, /, site: str | None, xlsx: Path | None, **listing: Any) -> None:
    """Cases entering and leaving each stage per site and month, and in it at month's end."""
    _rows(
        ctx,
        "stage statistics",
        "stage_stats",
        _listing(listing),
        xlsx,
        lambda system, rows: exports().stage_stats(system.park, rows),
        site=site,
    )


@report.command("legal-status")
@click.option("--site", type=NAME_TEXT)
@list_options
@xlsx_option
@click.pass_context
def legal_status_cmd(
    ctx: click.Context, /, site: str | None, xlsx: Path | None, **listing: Any
) -> None:
    """Per site: the organizations in the park now by legal status (登记/备案), and how many
    moved to filed or registered while the park incubated them (in the park now or not)."""
    _rows(
        ctx,
        "legal status per site (登记/备案)",
        "legal_status",
        _listing(listing),
        xlsx,
        lambda system, rows: exports().legal_status(system.park, rows),
        site=site,
    )


@report.command("time-in-stage")
@click.option("--track", type=click.Choice(["incubation", "residency"]))
@list_options
@xlsx_option
@click.pass_context
def time_in_stage_cmd(
    ctx: click.Context, /, track: str | None, xlsx: Path | None, **listing: Any
) -> None:
    """Mean and longest days spent in each stage, per cohort (year of application)."""
    _rows(
        ctx,
        "days in stage per cohort",
        "time_in_stage",
        _listing(listing),
        xlsx,
        lambda system, rows: exports().time_in_stage(system.park, rows),
        track=track,
    )


@report.command("awards")
@click.option("--round", "round_ref", type=ID, metavar="ROUND", help="only this round")
@json_option
@xlsx_option
@click.pass_context
def awards_cmd(ctx: click.Context, round_ref: str | None, as_json: bool, xlsx: Path | None) -> None:
    """Venture-philanthropy awards (公益创投) per project category and per site of the
    organizations: projects, amounts awarded and paid."""
    system = open_incubator(ctx)
    round_id = str(resolve_round(system, round_ref)) if round_ref else None
    if round_id is not None:
        system.rounds.round(UUID(round_id))  # a round, not a stray id
    system.read_models.catch_up()
    figures = system.read_models.awards(round_id)
    if xlsx is not None:
        write_xlsx(xlsx, exports().awards(system.park, figures))
    if as_json:
        emit_json(figures)
        return
    if xlsx is not None:
        return
    from cli.render import render_rows

    say(f"{figures['projects']} project(s) awarded, {figures['awarded']:,.2f} yuan in all")
    for title, rows in (("per category", "by_category"), ("per site", "by_site")):
        render_rows(
            f"awards {title}",
            [
                g | {"awarded": f"{g['awarded']:,.2f}", "disbursed": f"{g['disbursed']:,.2f}"}
                for g in figures[rows]
            ],
        )
