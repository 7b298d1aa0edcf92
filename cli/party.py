"""`incubator party ...`: the party-branch track of an organization (社会组织党组织孵化).

Same conventions as `incubator org`: ORG is a case id or a unique prefix of one; --actor, --on,
--reason and --json on every command; a refusal records nothing and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

import click

from cli.common import (
    DAY,
    ID,
    MEMBER_COUNT,
    NAME_TEXT,
    NOTE_TEXT,
    STAR_COUNT,
    F,
    by_method,
    case_commands,
    catch_up_after,
    emit_json,
    history_format,
    open_incubator,
    resolve,
    say,
    show_history,
)
from lifecycle.party import SERVICE_KINDS, SUPPORT_KINDS

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from lifecycle.party import PartyIncubation


@click.group()
def party() -> None:
    """Party-branch incubation (社会组织党组织孵化): starts when an organization moves in."""


def report_track(system: Incubator, track: PartyIncubation, as_json: bool) -> None:
    from commands.queries import party_view
    from lifecycle.stages import PARTY_STAGE_NAMES_ZH

    lag = catch_up_after(system)
    if as_json:
        emit_json(party_view(track))
    else:
        allowed = ", ".join(track.allowed_commands()) or "none (the track has ended)"
        say(
            f"{track.org_name} party track: {track.stage} {PARTY_STAGE_NAMES_ZH[track.stage]}"
            f" — next: {allowed}"
        )
    if lag:
        click.echo(lag, err=True)


def _note(required: bool, what: str) -> Callable[[F], F]:
    return click.option("--note", required=required, type=NOTE_TEXT, metavar="T", help=what)


def _declare_party_commands() -> None:
    party_command = case_commands(party, lambda system: system.party, report_track)
    party_command(
        "record-inspection",
        _note(False, "what the entry inspection found"),
        doc="Entry inspection (入壳考察): entry_inspection → member_discovery.",
    )(by_method("record_inspection"))
    party_command(
        "count-members",
        click.option(
            "--formal",
            required=True,
            type=MEMBER_COUNT,
            metavar="K",
            help="formal party members (正式党员) among its staff",
        ),
        click.option(
            "--probationary",
            default=0,
            type=MEMBER_COUNT,
            metavar="P",
            help="probationary members (预备党员); default 0",
        ),
        click.option(
            "--transferred",
            default=0,
            type=MEMBER_COUNT,
            metavar="K",
            help="formal members whose relations were transferred (接转); default 0",
        ),
        doc="Member discovery (发现党员): the count; the first one → support. Again when it "
        "changes.",
    )(by_method("count_members"))
    party_command(
        "assign-instructor",
        click.option(
            "--instructor",
            required=True,
            type=NAME_TEXT,
            metavar="NAME",
            help="the party-building instructor or liaison (党建指导员/联络员)",
        ),
        doc="The instructor or liaison; required before formation when there are no members.",
    )(by_method("assign_instructor"))
    party_command(
        "record-support",
        click.option("--kind", required=True, type=click.Choice(SUPPORT_KINDS)),
        _note(True, "what was given"),
        doc="Support (支持帮扶) given; stays support. With no members: instructor or information.",
    )(by_method("record_support"))
    party_command(
        "record-development",
        _note(True, "the member development work (发展党员)"),
        doc="Developing members: → formation.",
    )(by_method("record_development"))
    party_command(
        "found-branch",
        click.option(
            "--name", required=True, type=NAME_TEXT, metavar="N", help="the branch's name"
        ),
        doc="Its own independent branch (独立党支部, 3+ formal members) → follow_up; leaves its "
        "joint branch if it was in one.",
    )(by_method("found_branch"))
    party_command(
        "join-branch",
        click.option(
            "--branch",
            required=True,
            type=NAME_TEXT,
            metavar="ID",
            help="the joint branch's id, or its name at the organization's site",
        ),
        doc="Join a joint branch of its site (联合党支部, 1–2 formal members) → follow_up.",
    )(by_method("join_branch"))
    party_command(
        "record-service",
        click.option("--kind", required=True, type=click.Choice(SERVICE_KINDS)),
        _note(True, "the service given"),
        doc="A follow-up service (联席会议, 示范评选, 项目优先); stays follow_up.",
    )(by_method("record_service"))
    party_command(
        "rate",
        click.option(
            "--stars", required=True, type=STAR_COUNT, metavar="N", help="1 to 5 (星级评定)"
        ),
        _note(True, "the evidence of the rating"),
        doc="A star rating of the party organization (follow_up).",
    )(by_method("rate"))
    party_command(
        "start",
        doc="Start the party track of a case that entered before tracks started automatically.",
    )(by_method("start_missing"))


_declare_party_commands()


@party.command("show")
@click.argument("case_ref", metavar="ORG", type=ID)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show_cmd(ctx: click.Context, case_ref: str, as_json: bool) -> None:
    """The party track now: stage, members, instructor, branch, stars, services."""
    from commands.queries import party_view

    system = open_incubator(ctx)
    view = party_view(system.party.track(resolve(system, case_ref)))
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
    track = system.party.track(resolve(system, case_ref))
    show_history(system, UUID(str(track.id)), f"{track.org_name} (party track)", output)


@party.command("coverage")
@click.option("--site", type=NAME_TEXT, help="only this site")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def coverage_cmd(ctx: click.Context, site: str | None, as_json: bool) -> None:
    """入驻一家, 覆盖一家: how many organizations in the park have a party track."""
    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    system.read_models.catch_up()
    figures = system.read_models.party_coverage(site)
    if as_json:
        emit_json(figures)
        return
    ratio = "—" if figures["ratio"] is None else f"{figures['ratio']:.0%}"
    say(
        f"{'site ' + site if site else 'all sites'}: {figures['covered']} of "
        f"{figures['organizations']} organizations in the park covered ({ratio}); "
        f"{figures['formal_members']} formal party members; branches: "
        f"{figures['branches']['independent']} independent, {figures['branches']['joint']} joint"
    )


@party.group("joint-branch")
def joint_branch() -> None:
    """Joint party branches (联合党支部) of a site, for organizations with 1–2 members."""


@joint_branch.command("create")
@click.option("--name", required=True, type=NAME_TEXT, metavar="N")
@click.option(
    "--site",
    required=True,
    type=NAME_TEXT,
    metavar="S",
    help="the site: main, branch, community-1 …",
)
@click.option("--on", "on", type=DAY, metavar="YYYY-MM-DD")
@click.option("--actor", envvar="INCUBATOR_ACTOR", type=NAME_TEXT, metavar="NAME")
@click.option("--reason", type=NOTE_TEXT, metavar="TEXT")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def create_branch_cmd(
    ctx: click.Context,
    name: str,
    site: str,
    on: date | None,
    actor: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """A new joint branch at a site; prints its id."""
    from commands.queries import branch_view
    from commands.service import Who

    system = open_incubator(ctx)
    branch = system.party.create_joint_branch(Who(actor, on, reason), name=name, site=site)
    lag = catch_up_after(system)
    if as_json:
        emit_json(branch_view(branch))
    else:
        say(str(branch.id))
    if lag:
        click.echo(lag, err=True)


@party.command("branches")
@click.option("--site", type=NAME_TEXT, help="only this site")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def branches_cmd(ctx: click.Context, site: str | None, as_json: bool) -> None:
    """Every party branch in the park: independent ones and joint ones, with their members."""
    system = open_incubator(ctx)
    if site is not None:
        system.park.site(site)
    system.read_models.catch_up()
    rows = system.read_models.party_branches(site)
    if as_json:
        emit_json(rows)
    else:
        from cli.render import render_rows

        render_rows("party branches", rows)


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
