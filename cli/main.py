"""The `incubator` command line: translates arguments into service calls and results into text.

Exit codes: 0 done; 1 refused (nothing recorded); 2 wrong usage; 3 conflict with a command
recorded at the same moment (nothing recorded); 4 the settings or the database are unusable.
Heavy libraries are imported inside the commands so that `incubator --help` starts fast.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

import click

from cli import compiled
from cli.accounts import user
from cli.audit import audit
from cli.backup import backup_cmd, restore_cmd
from cli.common import (
    DAY,
    ID,
    NAME_TEXT,
    Declared,
    Guarded,
    case_anomalies,
    declare_later,
    emit_json,
    history_format,
    list_options,
    open_incubator,
    paging_of,
    resolve,
    say,
    show_history,
    warn_calendar,
    write_rows,
    write_xlsx,
    xlsx_option,
)
from cli.importing import import_cmd
from cli.party import joint_branch, party
from cli.privacy import privacy
from cli.reminders import inbox_cmd, local_time, reminders, scheduler_cmd
from cli.reports import projections, report
from cli.rounds import round_group
from cli.serve import serve_cmd
from lifecycle.stages import ALL_STAGES

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from lifecycle.organization import OrganizationCase


@click.group(
    cls=Guarded,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--database",
    envvar="INCUBATOR_DATABASE_URL",
    metavar="URL",
    help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
    "(env INCUBATOR_DATABASE_URL; default: a SQLite file in your data folder)",
)
@click.option(
    "--settings",
    envvar="INCUBATOR_SETTINGS",
    metavar="FILE",
    help="the park's settings file (env INCUBATOR_SETTINGS; default: built in)",
)
@click.version_option(package_name="incubator")
@click.pass_context
def cli(ctx: click.Context, database: str | None, settings: str | None) -> None:
    """incubator: the incubation lifecycle of social organizations (社会组织孵化园).

    Every command is recorded as an event in an append-only log; `org history` shows them all.
    """
    ctx.obj = {"database": database, "settings": settings}


@cli.command()
@click.option(
    "--rehearsal",
    is_flag=True,
    help="create a new database for rehearsals: INCUBATOR_NOW may then fix its clock "
    "(refused on a database that holds events)",
)
@click.pass_context
def init(ctx: click.Context, rehearsal: bool) -> None:
    """Create the tables (done on first use anyway) and show the park in use."""
    system = open_incubator(ctx, create_for="rehearsal" if rehearsal else None)
    warn_calendar(system)
    park = system.park
    say(f"database: {system.database.url}")
    if system.purpose is not None:
        say(f"created for: a {system.purpose} (INCUBATOR_NOW may fix its clock)")
    say(f"park: {park.name} ({park.timezone})")
    for site in park.sites.values():
        say(
            f"  site {site.key:<12} {site.name}: {len(site.workspaces)} workspaces "
            f"({site.workspaces[0]} … {site.workspaces[-1]})"
        )


@cli.group(cls=Declared)
def org() -> None:
    """Organization incubation cases (社会组织孵化)."""


as_of_option = click.option(
    "--as-of",
    "as_of",
    type=DAY,
    metavar="YYYY-MM-DD",
    help="as it stood on this business day (with what is known now)",
)
known_on_option = click.option(
    "--as-known-on",
    "known_on",
    callback=local_time,
    metavar="YYYY-MM-DDTHH:MM",
    help="as the system knew it at this local time (later records, corrections too, left out)",
)


@org.command("show")
@click.argument("case_ref", metavar="ORG", type=ID)
@as_of_option
@known_on_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_cmd(
    ctx: click.Context,
    case_ref: str,
    as_of: date | None,
    known_on: datetime | None,
    as_json: bool,
) -> None:
    """The case now, or as of a date: stage, site, workspace, caseworker, deadlines, party."""
    from commands.queries import case_view

    system = open_incubator(ctx)
    case = system.service.case(resolve(system, case_ref))
    if as_of is None and known_on is None:
        view = case_view(
            case, system.park, system.service.today(), system.service.party_track(case)
        )
        system.read_models.catch_up()
        view["projects"] = [_project_row(p) for p in system.read_models.projects(org_id=view["id"])]
    else:
        view = _view_as_of(system, case, as_of, known_on)
    found = case_anomalies(system, UUID(str(case.id)))
    if found:
        view["anomalies"] = found
    if as_json:
        emit_json(view)
    else:
        from cli.render import render_case, render_projects

        render_case(view)
        render_projects(view.get("projects", []))


def _project_row(p: dict[str, Any]) -> dict[str, Any]:
    """A project of the organization in a venture-philanthropy round (公益创投)."""
    keys = ("id", "round_id", "round_name", "title", "category", "amount", "status", "mean")
    return {key: p[key] for key in keys} | {"scores": p["scores"], "awarded": p["awarded"]}


@org.command("history")
@click.argument("case_ref", metavar="ORG", type=ID)
@history_format
@xlsx_option
@click.pass_context
def history_cmd(ctx: click.Context, case_ref: str, output: str, xlsx: Path | None) -> None:
    """Every event of the case, oldest first, with what it changed; its reminders among them."""
    system = open_incubator(ctx)
    case = system.service.case(resolve(system, case_ref))
    case_anomalies(system, UUID(str(case.id)))
    show_history(system, UUID(str(case.id)), case.name, output, reminders=True, xlsx=xlsx)


def _view_as_of(
    system: Incubator, case: OrganizationCase, as_of: date | None, known_on: datetime | None
) -> dict[str, Any]:
    from commands.as_of import case_as_of
    from commands.queries import case_view
    from lifecycle.errors import Refused

    moment = system.park.local(known_on) if known_on else None
    then, track = case_as_of(system.log, UUID(str(case.id)), as_of, moment)
    when = " and ".join(
        x for x in (f"on {as_of}" if as_of else "", f"known at {known_on}" if known_on else "") if x
    )
    if then is None:
        raise Refused(f"{case.name} had not applied {when}: nothing to show")
    day = as_of or (moment.date() if moment else system.service.today())
    view = case_view(then, system.park, day, track)
    view.pop("allowed_commands")
    return view | {"as_of": as_of.isoformat() if as_of else None, "known_on": _iso(moment)}


@org.command("list")
@click.option("--stage", type=click.Choice(ALL_STAGES), help="only cases in this stage")
@click.option("--site", type=NAME_TEXT, help="only cases at this site")
@as_of_option
@known_on_option
@list_options
@xlsx_option
@click.pass_context
def list_cmd(
    ctx: click.Context,
    stage: str | None,
    site: str | None,
    as_of: date | None,
    known_on: datetime | None,
    limit: int | None,
    page: int | None,
    everything: bool,
    as_json: bool,
    as_csv: bool,
    xlsx: Path | None,
) -> None:
    """The caseload now (from the caseload read model), or as it stood at a date (from the log:
    for a year-end report, --as-of 2014-12-31): a page of 50 cases in order of application,
    or every case with --all (--json and --csv: every case unless a page is named)."""
    from commands import lists
    from commands.paging import Paging

    paging = (
        Paging(everything=True) if xlsx else paging_of(limit, page, everything, as_json, as_csv)
    )
    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    if as_of is None and known_on is None:
        system.read_models.catch_up()
        if paging.everything and (as_json or as_csv):  # written as read: memory stays flat
            write_rows(lists.caseload_rows(system.read_models, stage=stage, site=site), as_csv)
            return
        found = lists.caseload_page(system.read_models, paging, stage=stage, site=site)
    else:
        from commands.as_of import caseload_as_of

        moment = system.park.local(known_on) if known_on else None
        rows = [
            r
            for r in caseload_as_of(system.log, as_of, moment)
            if (stage is None or r["stage"] == stage) and (site is None or r["site"] == site)
        ]
        found = lists.listed_page(rows, paging)
    if xlsx is not None:
        from commands import exports

        write_xlsx(xlsx, exports.caseload(system.park, found.rows))
    if as_json or as_csv:
        write_rows(found.rows, as_csv)
    elif xlsx is None:
        from cli.render import render_caseload

        render_caseload(found.rows, found)


@org.command("find")
@click.argument("text", type=NAME_TEXT)
@list_options
@click.pass_context
def find_cmd(
    ctx: click.Context,
    text: str,
    limit: int | None,
    page: int | None,
    everything: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Organizations whose name contains TEXT (any part of a Chinese name), by name: a page of
    50, or every one with --all (--json and --csv: every one unless a page is named)."""
    from commands import lists

    paging = paging_of(limit, page, everything, as_json, as_csv)
    system = open_incubator(ctx)
    system.read_models.catch_up()
    if paging.everything and (as_json or as_csv):
        write_rows(lists.found_rows(system.read_models, text), as_csv)
        return
    found = lists.found_page(system.read_models, text, paging)
    if as_json or as_csv:
        write_rows(found.rows, as_csv)
    else:
        from cli.render import render_rows

        render_rows(f"names containing '{text}'", found.rows, found)


@cli.command()
@click.option(
    "--database",
    "demo_database",
    metavar="PATH",
    help="the SQLite file to write (default: demo.sqlite3 in your data folder; it is recreated)",
)
@click.option(
    "--serve",
    is_flag=True,
    help="then serve the web application on it, with the demo's accounts, until Ctrl-C",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="with --serve: the address")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="with --serve"
)
@click.pass_context
def demo(ctx: click.Context, demo_database: str | None, serve: bool, host: str, port: int) -> None:
    """Drive a small cohort through the whole lifecycle on a SQLite file and show the result;
    with --serve, then serve the web application on it and print where to log in."""
    from cli.demo import run_demo
    from cli.render import render_rows

    url, logins = run_demo(demo_database, ctx.obj["settings"])
    where = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    rows = [{"account": n, "role": r, "password": p} for n, r, p in logins]
    render_rows(f"demo accounts (log in at {where})", rows)
    if serve:
        from cli.serve import serve_cmd

        say(f"open {where} in a browser and log in as one of the accounts above")
        ctx.obj["database"] = url
        ctx.invoke(serve_cmd, host=host, port=port, workers=1, log_level="warning")


declare_later(
    {
        "org": org,
        "party": party,
        "party joint-branch": joint_branch,
        "round": round_group,
        "user": user,
        "privacy": privacy,
    }
)
cli.add_command(audit)
cli.add_command(party)
cli.add_command(reminders)
cli.add_command(inbox_cmd)
cli.add_command(scheduler_cmd)
cli.add_command(projections)
cli.add_command(report)
cli.add_command(round_group)
cli.add_command(import_cmd)
cli.add_command(serve_cmd)
cli.add_command(user)
cli.add_command(backup_cmd)
cli.add_command(restore_cmd)
cli.add_command(privacy)


def main() -> None:
    import gc
    import signal

    # SIGTERM interrupts as Ctrl-C does (exit 130, "a command already recorded stays recorded")
    # rather than killing mid-sentence; the followers replace this with a clean stop.
    signal.signal(signal.SIGTERM, _interrupted)
    # Start-up creates a great many objects that live as long as the process (the modules, the
    # event classes): the collector, paused until the system is open (open_incubator), would
    # walk them over and over for nothing.
    gc.disable()
    compiled.install()  # before the domain's event classes are made
    try:
        cli(prog_name="incubator")
    except SystemExit as e:
        _leave(e.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process once the command is done and its output written, without tearing down
    every module and object one by one (a tenth of a second): what had to be closed was closed
    when the command's context closed."""
    import os
    import sys

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    compiled.save()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (`| head`)
        pass
    os._exit(code or 0)


def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    main()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
