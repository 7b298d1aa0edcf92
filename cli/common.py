"""What every command of the command line shares: opening the system, refusals, JSON."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from uuid import UUID

import click

if TYPE_CHECKING:
    from commands.bootstrap import Incubator

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REFUSED, EXIT_CONFLICT, EXIT_SETUP = 1, 3, 4


def iso_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """An option's value as a date (YYYY-MM-DD)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date like 2014-01-08") from None


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    click.echo(f"incubator: {message}", err=True)
    sys.exit(code)


def open_incubator(ctx: click.Context) -> Incubator:
    from commands.bootstrap import bootstrap
    from commands.database import DatabaseError
    from commands.settings import SettingsError
    from schedules.mail import MailError

    try:
        system = bootstrap(ctx.obj["database"], ctx.obj["settings"])
    except (SettingsError, DatabaseError, MailError) as e:
        fail(str(e), EXIT_SETUP)
    ctx.call_on_close(system.close_all)
    return system


def refusals(func: F) -> F:
    """Turn domain refusals and conflicts into a message on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from lifecycle.errors import Conflict, Refused

        try:
            return func(*args, **kwargs)
        except Refused as e:
            fail(str(e), EXIT_REFUSED)
        except Conflict as e:
            fail(f"conflict: {e}", EXIT_CONFLICT)

    return wrapper  # type: ignore[return-value]


def resolve(system: Incubator, given: str) -> UUID:
    """A case id: a full UUID, or a unique prefix of one (as `org list` shows)."""
    from lifecycle.errors import NotFound

    try:
        return UUID(given)
    except ValueError:
        pass
    prefix = given.lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef-" for c in prefix):
        raise NotFound(f"'{given}' is not a case id (a UUID, or at least its first 4 characters)")
    system.read_models.catch_up()
    matches = system.read_models.caseload(id_prefix=prefix)
    if not matches:
        raise NotFound(f"no case id starts with '{given}'")
    if len(matches) > 1:
        names = ", ".join(f"{m['id']} {m['name']}" for m in matches[:5])
        raise NotFound(f"'{given}' matches several cases: {names}; give more of the id")
    return UUID(matches[0]["id"])


def emit_json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def step_options(func: F) -> F:
    """The options every lifecycle command takes after its arguments."""
    for option in reversed(
        [
            click.option(
                "--on",
                "on",
                callback=iso_date,
                metavar="YYYY-MM-DD",
                help="effective business date (default: today in the park's timezone)",
            ),
            click.option(
                "--actor",
                envvar="INCUBATOR_ACTOR",
                metavar="NAME",
                help="who does this (env INCUBATOR_ACTOR); required",
            ),
            click.option("--reason", metavar="TEXT", help="why (required by some commands)"),
            click.option("--json", "as_json", is_flag=True, help="print the case as JSON"),
        ]
    ):
        func = option(func)
    return func


def catch_up_after(system: Incubator) -> str | None:
    """Read models catch up before we answer; a failure there does not undo the command."""
    try:
        system.read_models.catch_up()
    except Exception as e:  # the command is recorded; say so rather than fail it
        return f"incubator: recorded, but the read models could not catch up: {e}"
    return None


def case_commands(
    group: click.Group,
    service: Callable[[Incubator], Any],
    report: Callable[[Incubator, Any, bool], None],
) -> Callable[..., Callable[[Callable[..., Any]], None]]:
    """A declarer of `incubator GROUP NAME ORG [OPTIONS]` commands: each resolves the case, calls
    `call(service(system), case_id, who, **options)` and reports the result."""

    def command_for(
        name: str, *params: Callable[[F], F], doc: str
    ) -> Callable[[Callable[..., Any]], None]:
        def declare(call: Callable[..., Any]) -> None:
            @click.argument("case_ref", metavar="ORG")
            @step_options
            @click.pass_context
            @refusals
            def command(
                ctx: click.Context,
                /,
                case_ref: str,
                on: date | None,
                actor: str | None,
                reason: str | None,
                as_json: bool,
                **extra: Any,
            ) -> None:
                from commands.service import Who

                system = open_incubator(ctx)
                case_id = resolve(system, case_ref)
                result = call(service(system), case_id, Who(actor, on, reason), **extra)
                report(system, result, as_json)

            command.__doc__ = doc
            for param in reversed(params):
                command = param(command)
            group.command(name)(command)

        return declare

    return command_for


def by_method(method: str) -> Callable[..., Any]:
    """A service call by the method's name: `service.method(case_id, who, **options)`."""

    def call(service: Any, case_id: UUID, who: Any, **extra: Any) -> Any:
        return getattr(service, method)(case_id, who, **extra)

    return call


def history_format(func: F) -> F:
    """--json or --csv (UTF-8, for spreadsheets); a table for people otherwise."""
    func = click.option("--csv", "output", flag_value="csv", help="one row per event, UTF-8 CSV")(
        func
    )
    return click.option("--json", "output", flag_value="json", help="machine-readable output")(
        click.option("--table", "output", flag_value="table", default=True, hidden=True)(func)
    )


def show_history(
    system: Incubator, aggregate_id: UUID, title: str, output: str, reminders: bool = False
) -> None:
    """The events of a case, a party track or a joint branch, oldest first; a case's history
    shows the reminders and escalations of its deadlines too (`reminders`)."""
    from commands.queries import history

    found: list[UUID] = []
    if reminders:
        system.read_models.catch_up()
        found = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(aggregate_id))]
    events = history(system.log, aggregate_id, found)
    if output == "json":
        emit_json(events)
    elif output == "csv":
        emit_history_csv(events)
    else:
        from cli.render import render_history

        render_history(title, events)


def emit_history_csv(events: list[dict[str, Any]]) -> None:
    import csv
    import json

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(
        ["version", "aggregate", "type", "on", "recorded_at", "actor", "reason", "changed", "data"]
    )
    for e in events:
        changed = "; ".join(
            f"{name}: {_plain(c['before'])} → {_plain(c['after'])}"
            for name, c in e["changed"].items()
        )
        out.writerow(
            [
                e["version"],
                e.get("of", {}).get("aggregate", ""),
                e["type"],
                e["on"] or "",
                e["recorded_at"],
                e["actor"],
                e["reason"] or "",
                changed,
                json.dumps(e["data"], ensure_ascii=False, default=_json_default),
            ]
        )


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(map(_plain, value)) + "]"
    return str(value)
