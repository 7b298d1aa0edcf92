"""The command line's commands, generated from the command messages (commands/messages.py).

Each message becomes `incubator GROUP VERB [ORG] [OPTIONS]`: one option per field, with its
type, bounds and help in Chinese and English, then --on, --actor, --reason and --json. Running it
builds the message and gives it to the dispatcher as the actor the command line authenticates
(--actor or INCUBATOR_ACTOR). Nothing here knows any one command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    ID,
    NAME_TEXT,
    Bounded,
    catch_up_after,
    emit_json,
    open_incubator,
    resolve,
    resolve_project,
    resolve_round,
)
from cli.common import say as say_line
from commands import messages
from commands.messages import CASE, ORG, ORGS, POSITIONAL, PROJECT, ROUND, Command, Kind, Param

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from commands.handlers import Actor, Dispatcher, Result
    from lifecycle.joint_branch import JointBranch
    from lifecycle.organization import OrganizationCase
    from lifecycle.party import PartyIncubation


def declare(groups: dict[str, click.Group]) -> None:
    """Every message of the catalogue as a command of its group."""
    for message in messages.COMMANDS:
        groups[message.group].add_command(command_for(message))


def command_for(message: type[Command]) -> click.Command:
    own = [(name, spec) for name, spec in messages.params(message) if name not in STEP_FIELDS]
    params: list[click.Parameter] = [_param(message, name, spec) for name, spec in own]
    step = dict(messages.params(Command))
    params += [
        _option(message, "on", step["on"]),
        click.Option(
            ["--actor"],
            envvar="INCUBATOR_ACTOR",
            type=NAME_TEXT,
            metavar="NAME",
            help="谁在操作(环境变量 INCUBATOR_ACTOR); 必填 — who does this; required",
        ),
        _option(message, "reason", step["reason"]),
        click.Option(["--json", "as_json"], is_flag=True, help="以 JSON 输出 — print as JSON"),
    ]

    def run(**values: Any) -> None:
        ctx = click.get_current_context()
        system = open_incubator(ctx)
        actor, as_json = values.pop("actor"), values.pop("as_json")
        given = {k: v for k, v in values.items() if v is not None and v != ()}
        for name, spec in own:
            if name in given and spec.kind in RESOLVERS:
                given[name] = _resolved(system, spec, given[name])
        result = system_dispatcher(system).handle(message(**given), _actor(actor))
        report(system, message, result, as_json)

    return click.Command(
        message.verb, params=params, callback=run, help=_help(message), no_args_is_help=False
    )


STEP_FIELDS = ("on", "reason")
# Ids typed as a prefix (as the lists show) become the whole id before the message is made.
RESOLVERS = {
    CASE: resolve,
    ORG: resolve,
    ORGS: resolve,
    ROUND: resolve_round,
    PROJECT: resolve_project,
}


def _resolved(system: Incubator, spec: Param, given: Any) -> Any:
    find = RESOLVERS[spec.kind]
    if spec.many:
        return tuple(find(system, one) for one in given)
    return find(system, given)


def _param(message: type[Command], name: str, spec: Param) -> click.Parameter:
    if spec.kind in POSITIONAL:
        kind = ID if spec.kind in RESOLVERS else Bounded(spec.kind.parse, spec.kind.name)
        return click.Argument([name], metavar=spec.kind.metavar, type=kind)
    return _option(message, name, spec)


def _option(message: type[Command], name: str, spec: Param) -> click.Option:
    if spec.kind.secret:  # never an option's value: read from standard input
        return click.Option(
            [messages.flag(name, spec), name],
            is_flag=True,
            required=messages.required(message, name),
            callback=_read_secret,
            help=f"{spec.zh}, 从标准输入读一行 — {spec.en}, read as one line from standard input",
        )
    if spec.kind.pair is not None:  # --pass/--fail: one of the two is given
        return click.Option(
            [messages.flag(name, spec), name],
            default=None,
            required=messages.required(message, name),
            callback=_one_of_two,
            help=f"{spec.zh} — {spec.en}",
        )
    return click.Option(
        [messages.flag(name, spec), name],
        type=_type(spec.kind, spec.many),
        required=messages.required(message, name),
        multiple=spec.many,
        metavar=spec.kind.metavar,
        help=f"{spec.zh} — {spec.en}",
    )


def _one_of_two(ctx: click.Context, param: click.Parameter, value: bool | None) -> bool | None:
    # click does not refuse a missing yes/no flag by itself, even when it is required
    if value is None and param.required:
        raise click.UsageError(f"give {' or '.join(param.opts + param.secondary_opts)}", ctx)
    return value


def _read_secret(ctx: click.Context, param: click.Parameter, given: bool) -> str | None:
    """One line of standard input (typed unseen at a terminal), without its line end."""
    if not given:
        return None
    import sys

    if sys.stdin.isatty():
        line = click.prompt("password", hide_input=True, err=True, default="", show_default=False)
        return str(line)
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def _type(kind: Kind, many: bool) -> click.ParamType[Any, Any]:
    if kind.choices:
        return click.Choice(kind.choices)
    if many and kind in RESOLVERS:  # each an id or a prefix of one
        return ID
    if many:  # each item is checked as text here, the whole by the message
        return NAME_TEXT
    return Bounded(kind.parse, kind.name)


def _help(message: type[Command]) -> str:
    stages = message.stages()
    when = f"\n\n阶段 stages: {', '.join(stages)}" if stages else ""
    return f"{message.zh}\n\n{message.en}{when}"


def _actor(name: str | None) -> Actor:
    from commands.handlers import Actor

    return Actor(name)


def system_dispatcher(system: Incubator) -> Dispatcher:
    return system.dispatcher


# ---- what a command prints -----------------------------------------------------------------


def report(system: Incubator, message: type[Command], result: Result, as_json: bool) -> None:
    from lifecycle.account import Account
    from lifecycle.project import Project
    from lifecycle.round import Round

    lag = catch_up_after(system)
    if isinstance(result, Round | Project):
        from cli.rounds import report_result

        report_result(system, result, as_json)
    elif isinstance(result, Account):
        from cli.accounts import report_account

        report_account(result, as_json)
    else:
        _report_case(system, message, result, as_json)
    if lag:
        click.echo(lag, err=True)


def _report_case(
    system: Incubator,
    message: type[Command],
    result: OrganizationCase | PartyIncubation | JointBranch,
    as_json: bool,
) -> None:
    from commands.queries import branch_view, case_view, party_view
    from lifecycle.joint_branch import JointBranch
    from lifecycle.organization import OrganizationCase
    from lifecycle.stages import PARTY_STAGE_NAMES_ZH, STAGE_NAMES_ZH

    created = not any(spec.kind is CASE for _, spec in messages.params(message))
    if message.group == "privacy" and isinstance(result, OrganizationCase):
        from cli.privacy import show

        show(system, result, as_json)  # where the subject's data is, now that it is erased
    elif isinstance(result, JointBranch):
        if as_json:
            emit_json(branch_view(result))
        else:
            say_line(str(result.id))
    elif isinstance(result, OrganizationCase):
        if created:
            if as_json:
                emit_json({"id": str(result.id), "stage": result.stage})
            else:
                say_line(str(result.id))
        elif as_json:
            track = system.service.party_track(result)
            emit_json(case_view(result, system.park, system.service.today(), track))
        else:
            allowed = ", ".join(result.allowed_commands()) or "none (the case has ended)"
            say_line(
                f"{result.name} [{str(result.id)[:8]}]: {result.stage} "
                f"{STAGE_NAMES_ZH[result.stage]} — next: {allowed}"
            )
    elif as_json:
        emit_json(party_view(result))
    else:
        allowed = ", ".join(result.allowed_commands()) or "none (the track has ended)"
        say_line(
            f"{result.org_name} party track: {result.stage} "
            f"{PARTY_STAGE_NAMES_ZH[result.stage]} — next: {allowed}"
        )
