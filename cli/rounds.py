"""`incubator round ...`: venture-philanthropy rounds (公益创投).

The commands that record something are generated from their messages (cli/commands.py); the
ones that read are here. ROUND and PROJECT are the ids `round create` and `round submit` print,
or a unique prefix of one (as `round list` and `round rank` show).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from cli.common import (
    ID,
    Declared,
    emit_json,
    history_format,
    open_incubator,
    resolve_project,
    resolve_round,
    say,
    show_related_history,
)

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from lifecycle.project import Project
    from lifecycle.round import Round


@click.group("round", cls=Declared)
def round_group() -> None:
    """Venture-philanthropy rounds (公益创投): a fund, projects, screening, expert scores,
    awards within the fund, and tracking of the awarded projects."""


@round_group.command("show")
@click.argument("round_ref", metavar="ROUND", type=ID)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_cmd(ctx: click.Context, round_ref: str, as_json: bool) -> None:
    """The round now: its fund, what was awarded and what remains, its projects, its panel."""
    system = open_incubator(ctx)
    view = round_summary(system, system.rounds.round(resolve_round(system, round_ref)))
    if as_json:
        emit_json(view)
    else:
        from cli.render import render_round

        render_round(view)


@round_group.command("rank")
@click.argument("round_ref", metavar="ROUND", type=ID)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def rank_cmd(ctx: click.Context, round_ref: str, as_json: bool) -> None:
    """The round's projects, best mean of the current scores first (unscored ones last)."""
    system = open_incubator(ctx)
    r = system.rounds.round(resolve_round(system, round_ref))
    system.read_models.catch_up()
    rows = [_ranked(p) for p in system.read_models.ranking(str(r.id))]
    if as_json:
        emit_json(rows)
    else:
        from cli.render import render_rows

        render_rows(
            f"{r.name}: ranking",
            [
                {
                    "#": n,
                    "id": row["id"][:8],
                    "organization": row["org_name"],
                    "title": row["title"],
                    "asked": _yuan(row["amount"]),
                    "mean": row["mean"] if row["mean"] is not None else "—",
                    "scores": row["scores"],
                    "status": row["status"],
                    "awarded": _yuan(row["awarded"]),
                }
                for n, row in enumerate(rows, start=1)
            ],
        )


def _ranked(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "org": p["org_id"],
        "title": p["title"],
        "amount": p["amount"],
        "mean": p["mean"],
        "scores": p["scores"],
        "status": p["status"],
        "org_name": p["org_name"],
        "category": p["category"],
        "awarded": p["awarded"],
    }


@round_group.command("project")
@click.argument("project_ref", metavar="PROJECT", type=ID)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def project_cmd(ctx: click.Context, project_ref: str, as_json: bool) -> None:
    """One project: its status, scores, award, tranches and reports."""
    from commands.queries import project_view

    system = open_incubator(ctx)
    project = system.rounds.project(resolve_project(system, project_ref))
    view = project_view(project, system.park.rules, system.rounds.today())
    if as_json:
        emit_json(view)
    else:
        from cli.render import render_project

        render_project(view)


@round_group.command("history")
@click.argument("round_ref", metavar="ROUND", type=ID)
@history_format
@click.pass_context
def history_cmd(ctx: click.Context, round_ref: str, output: str) -> None:
    """Every event of the round and of its projects, with the reminders and escalations of
    their reports, oldest first."""
    system = open_incubator(ctx)
    r = system.rounds.round(resolve_round(system, round_ref))
    projects = [UUID(p) for p in r.projects.values()]
    system.read_models.catch_up()
    reminders = [
        UUID(row["reminder_id"])
        for p in r.projects.values()
        for row in system.read_models.reminders_of(p)
    ]
    show_related_history(system, UUID(str(r.id)), r.name, output, reminders, projects)


@round_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every round, the latest first: fund, awarded, remaining, stage."""
    system = open_incubator(ctx)
    system.read_models.catch_up()
    rows = [
        {
            "id": r["id"],
            "name": r["name"],
            "fund": r["fund"],
            "awarded_total": r["awarded_total"],
            "remaining": r["remaining"],
            "opens_on": r["opens_on"].isoformat(),
            "closes_on": r["closes_on"].isoformat(),
            "site": r["site"],
            "stage": r["stage"],
            "experts": r["experts"],
        }
        for r in system.read_models.rounds()
    ]
    if as_json:
        emit_json(rows)
    else:
        from cli.render import render_rows

        render_rows(
            "rounds",
            [
                r
                | {
                    "id": r["id"][:8],
                    "fund": _yuan(r["fund"]),
                    "awarded_total": _yuan(r["awarded_total"]),
                    "remaining": _yuan(r["remaining"]),
                }
                for r in rows
            ],
        )


# ---- what a command prints, and the views it shares ------------------------------------------


def round_summary(system: Incubator, r: Round) -> dict[str, Any]:
    from commands.queries import round_view

    system.read_models.catch_up()
    return round_view(r, system.read_models.funnel(str(r.id)))


def report_result(system: Incubator, result: Round | Project, as_json: bool) -> None:
    """What a round command prints: the id of what it created, else where it stands now."""
    from commands.queries import project_view
    from lifecycle.project import Project
    from lifecycle.stages import PROJECT_STAGE_NAMES_ZH

    if isinstance(result, Project):
        if as_json:
            emit_json(project_view(result, system.park.rules, system.rounds.today()))
        elif result.version == 1:
            say(str(result.id))
        else:
            allowed = ", ".join(result.allowed_commands()) or "none (determined)"
            say(
                f"{result.title} ({result.org_name}) [{str(result.id)[:8]}]: {result.stage} "
                f"{PROJECT_STAGE_NAMES_ZH[result.stage]} — next: {allowed}"
            )
        return
    if as_json:
        emit_json(round_summary(system, result))
    elif result.version == 1:
        say(str(result.id))
    else:
        say(
            f"{result.name} [{str(result.id)[:8]}]: {result.stage}, fund {_yuan(result.fund)}, "
            f"awarded {_yuan(result.awarded_total)}, remaining {_yuan(result.remaining)}; "
            f"panel: {', '.join(result.panel) or 'nobody yet'}"
        )


def _yuan(amount: Any) -> str:
    return "—" if amount is None else f"{amount:,.2f}"
