"""`incubator party ...`: the party-branch track of an organization (社会组织党组织孵化).

Same conventions as `incubator org`: ORG is a case id or a unique prefix of one; --actor, --on,
--reason and --json on every command; a refusal records nothing and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import click

from cli.common import (
    ID,
    NAME_TEXT,
    Declared,
    case_anomalies,
    emit_json,
    history_format,
    list_options,
    open_incubator,
    paging_of,
    resolve,
    say,
    show_history,
    write_rows,
    write_xlsx,
    xlsx_option,
)

if TYPE_CHECKING:
    pass


@click.group(cls=Declared)
def party() -> None:
    """Party-branch incubation (社会组织党组织孵化): starts when an organization moves in."""


@party.command("show")
@click.argument("case_ref", metavar="ORG", type=ID)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_cmd(ctx: click.Context, case_ref: str, as_json: bool) -> None:
    """The party track now: stage, members, instructor, branch, stars, services."""
    from commands.queries import party_view

    system = open_incubator(ctx)
    case_id = resolve(system, case_ref)
    view = party_view(system.party.track(case_id))
    found = case_anomalies(system, case_id)
    if found:
        view["anomalies"] = found
    if as_json:
        emit_json(view)
    else:
        from cli.render import render_party

        render_party(view)


@party.command("history")
@click.argument("case_ref", metavar="ORG", type=ID)
@history_format
@click.pass_context
def history_cmd(ctx: click.Context, case_ref: str, output: str) -> None:
    """Every event of the party track, oldest first, with what it changed."""
    system = open_incubator(ctx)
    case_id = resolve(system, case_ref)
    track = system.party.track(case_id)
    case_anomalies(system, case_id)
    show_history(system, UUID(str(track.id)), f"{track.org_name} (party track)", output)


@party.command("coverage")
@click.option("--site", type=NAME_TEXT, help="only this site")
@click.option("--json", "as_json", is_flag=True)
@xlsx_option
@click.pass_context
def coverage_cmd(ctx: click.Context, site: str | None, as_json: bool, xlsx: Path | None) -> None:
    """入驻一家, 覆盖一家: how many organizations in the park have a party track (--xlsx: a
    row per site and the park's total)."""
    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    system.read_models.catch_up()
    figures = system.read_models.party_coverage(site)
    if xlsx is not None:
        from commands import exports

        write_xlsx(
            xlsx, exports.party_coverage(system.park, system.read_models.party_coverage, site)
        )
    if as_json:
        emit_json(figures)
        return
    if xlsx is not None:
        return
    ratio = "—" if figures["ratio"] is None else f"{figures['ratio']:.0%}"
    say(
        f"{'site ' + site if site else 'all sites'}: {figures['covered']} of "
        f"{figures['organizations']} organizations in the park covered ({ratio}); "
        f"{figures['formal_members']} formal party members; branches: "
        f"{figures['branches']['independent']} independent, {figures['branches']['joint']} joint"
    )


@party.group("joint-branch", cls=Declared)
def joint_branch() -> None:
    """Joint party branches (联合党支部) of a site, for organizations with 1–2 members."""


@party.command("branches")
@click.option("--site", type=NAME_TEXT, help="only this site")
@list_options
@click.pass_context
def branches_cmd(
    ctx: click.Context,
    site: str | None,
    limit: int | None,
    page: int | None,
    everything: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Every party branch in the park: independent ones and joint ones, with their members;
    a page of 50 by site, kind and name, or every one with --all (--json and --csv: every
    one unless a page is named)."""
    from commands.lists import sorted_page, sorted_rows

    paging = paging_of(limit, page, everything, as_json, as_csv)
    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    system.read_models.catch_up()
    models = system.read_models
    if paging.everything and (as_json or as_csv):  # written as read: memory stays flat
        write_rows(sorted_rows(models.party_branches, site=site), as_csv)
        return
    found = sorted_page(models.party_branches, models.party_branches_count, paging, site=site)
    if as_json or as_csv:
        write_rows(found.rows, as_csv)
    else:
        from cli.render import render_rows

        render_rows("party branches", found.rows, found)


@joint_branch.command("show")
@click.argument("branch_ref", metavar="BRANCH", type=NAME_TEXT)
@click.option("--site", type=NAME_TEXT, metavar="S", help="the site, when BRANCH is a name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_branch_cmd(ctx: click.Context, branch_ref: str, site: str | None, as_json: bool) -> None:
    """A joint branch: its member organizations and their formal members."""
    from commands.queries import branch_view

    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    view = branch_view(system.party.joint_branch(branch_ref, site))
    if as_json:
        emit_json(view)
        return
    state = (
        f"constituted on {view['constituted_on']}"
        if view["constituted_on"]
        else ("not constituted (its members need 3 formal members together)")
    )
    say(
        f"{view['name']} [{view['id']}] at {view['site']}: {view['formal_members']} formal "
        f"members, {state}"
    )
    for m in view["members"]:
        say(f"  {m['case_id'][:8]} {m['organization']}: {m['formal_members']}")
