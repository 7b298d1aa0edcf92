"""What every command of the command line shares: opening the system, JSON."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from uuid import UUID

import click

from lifecycle import bounds
from lifecycle.bounds import Invalid
from lifecycle.errors import Conflict, Refused

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from commands.paging import Paging
    from commands.workbooks import Sheet

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REFUSED, EXIT_CONFLICT, EXIT_SETUP, EXIT_INTERRUPTED = 1, 3, 4, 130
DEBUG_ENV = "INCUBATOR_DEBUG"  # set: an unexpected error shows its traceback


if TYPE_CHECKING:
    _ParamType = click.ParamType[Any, Any]  # generic from click 8.5
else:
    _ParamType = click.ParamType


class Bounded(_ParamType):
    """An option's value checked against its bounds (lifecycle/bounds.py) at the door."""

    def __init__(self, check: Callable[[str, str], Any], name: str = "text") -> None:
        self.check, self.name = check, name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.check(value, _param_name(param))
        except Invalid as e:
            self.fail(e.detail, param, ctx)


def _param_name(param: click.Parameter | None) -> str:
    if param is None:
        return "the value"
    return param.opts[0] if isinstance(param, click.Option) else (param.human_readable_name)


NAME_TEXT = Bounded(bounds.NAME.check)
NOTE_TEXT = Bounded(bounds.NOTE.check)
MEMBER_COUNT = Bounded(bounds.MEMBERS.parse, "count")
STAR_COUNT = Bounded(bounds.STARS.parse, "stars")
DAY = Bounded(bounds.parse_day, "date")
ID = Bounded(bounds.id_prefix, "id")


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    click.echo(f"incubator: {bounds.neutral(message, keep_newlines=True)}", err=True)
    sys.exit(code)


class Guarded(click.Group):
    """The top of the command line: whatever fails below it ends in one of the README's exit
    codes with a one-line message, never in a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Refused as e:
            fail(str(e), EXIT_REFUSED)
        except Conflict as e:
            fail(f"conflict: {e}", EXIT_CONFLICT)
        except KeyboardInterrupt:
            fail("interrupted: a command already recorded stays recorded", EXIT_INTERRUPTED)
        except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as e:
            import os

            if os.environ.get(DEBUG_ENV):
                raise
            fail(_failure(e), EXIT_SETUP)


# The groups that hold commands generated from the command messages, by their names in the
# catalogue ("party joint-branch"); they are made when first asked for (`Declared`).
_UNDECLARED: dict[str, click.Group] = {}


def declare_later(groups: dict[str, click.Group]) -> None:
    """The generated commands of `groups` (cli/commands.py), made when a `Declared` group is
    first asked for one it does not hold, or for its list."""
    _UNDECLARED.update(groups)


def _declare_now() -> bool:
    """Make the generated commands, once; whether any were made now."""
    if not _UNDECLARED:
        return False
    from cli.commands import declare

    groups = dict(_UNDECLARED)
    _UNDECLARED.clear()
    declare(groups)
    return True


class Declared(click.Group):
    """A group that also holds commands generated from the command messages. They are made
    only when asked for, so that `--help` and the hand-written commands never import the
    messages, nor the domain they name (a third of a second of start-up). Whatever looks at
    `commands` (a listing, a test) finds them all."""

    _commands: dict[str, click.Command]

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        _declare_now()
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = self._commands.get(cmd_name)  # a hand-written command: nothing else is made
        return found if found is not None else self.commands.get(cmd_name)


def _failure(e: Exception) -> str:
    """What went wrong, in a line: the database's or the file system's words, else a bug."""
    from commands.bootstrap import unusable_database

    if isinstance(e, OSError) and not isinstance(e, ConnectionError):
        where = f" {e.filename}" if e.filename else ""
        return f"cannot use{where}: {e.strerror or e}; nothing more was recorded"
    unusable = unusable_database(e)
    if unusable is not None:
        return unusable
    if _not_signing(e):
        return f"{e}; nothing was recorded"
    return (
        f"unexpected error ({type(e).__name__}: {str(e)[:300]}); nothing more was recorded. "
        f"This is a bug: run it again with {DEBUG_ENV}=1 and report what it prints"
    )


def _not_signing(e: Exception) -> bool:
    """A write the log refused: it would not be signed (store/signing.py)."""
    from commands.bootstrap import AuditError

    return isinstance(e, AuditError)


def open_incubator(ctx: click.Context, create_for: str | None = None) -> Incubator:
    """The system on the database and settings the top options name; `create_for` marks a
    new database for a rehearsal or a demonstration (store/purpose.py)."""
    from commands.bootstrap import SETUP_ERRORS, PurposeError, bootstrap

    try:
        system = bootstrap(ctx.obj["database"], ctx.obj["settings"], create_for=create_for)
    except SETUP_ERRORS as e:
        fail(str(e), EXIT_SETUP)
    except PurposeError as e:  # a database with real work cannot become a rehearsal
        fail(str(e), EXIT_REFUSED)
    import gc

    gc.freeze()  # what start-up made lives as long as the process: never collected again
    gc.enable()  # paused by main() while the system opened
    ctx.call_on_close(system.close_all)
    ctx.call_on_close(lambda: warn_anomalies(system))  # first: callbacks run last in, first out
    return system


def calendar_warning(system: Incubator) -> str | None:
    """Said from December 1 when next year's days off are known neither to the holiday
    package nor to the settings file (and all year long when this year's are not)."""
    from schedules.workdays import calendar_release, package_last_year

    days = system.park.reminders.days
    unknown = days.unknown_ahead(system.service.today())
    if not unknown:
        return None
    years = " and ".join(map(str, unknown))
    tables = " ".join(f"[calendar.{year}]" for year in unknown)
    return (
        f"the official holidays of {years} are not known: chinese-calendar "
        f"{calendar_release()} knows the years up to {package_last_year()} and the settings "
        f"file gives no {tables}; in {years} only weekends count as days off for deadlines, "
        f"reminders and escalations. Add the State Council's notice to the settings file "
        f"({tables} holidays = [...] workdays = [...], see the README), or upgrade "
        f"chinese-calendar once a release knows {years}"
    )


def warn_calendar(system: Incubator) -> None:
    said = calendar_warning(system)
    if said:
        click.echo(f"incubator: warning: {said}", err=True)


SHOWN_ANOMALIES = 5


def warn_anomalies(system: Incubator) -> None:
    """After the answer, on stderr: the anomalies of the read models it came from (events they
    could not apply in full), so nobody takes an incomplete row for a whole one."""
    found = list(system.read_models.noticed.values())
    for a in found[:SHOWN_ANOMALIES]:
        click.echo(
            bounds.neutral(
                f"incubator: warning: read model {a['read_model']} could not apply event "
                f"{a['position']} ({a['type']} of {a['case_id']}) in full: {a['error']}"
            ),
            err=True,
        )
    if found:
        more = f"{len(found) - SHOWN_ANOMALIES} more, and " if len(found) > SHOWN_ANOMALIES else ""
        click.echo(
            f"incubator: warning: what those read models show may be incomplete there; "
            f"{more}every anomaly: `incubator projections status`",
            err=True,
        )


def case_anomalies(system: Incubator, case_id: UUID) -> list[dict[str, Any]]:
    """What the read models could not apply of a case's events and its party track's (a
    warning follows the answer; `--json` carries them)."""
    from lifecycle.party import PartyIncubation

    ids = [str(case_id), str(PartyIncubation.id_for(case_id))]
    return system.read_models.case_anomalies(ids)


def resolve(system: Incubator, given: str | UUID) -> UUID:
    """A case id: a full UUID, or a unique prefix of one (as `org list` shows)."""
    from lifecycle.errors import NotFound

    found = bounds.id_prefix(given, "ORG") if isinstance(given, str) else given
    if isinstance(found, UUID):
        return found
    system.read_models.catch_up()
    matches = system.read_models.caseload(id_prefix=found)
    if not matches:
        raise NotFound(f"no case id starts with '{found}'")
    if len(matches) > 1:
        names = ", ".join(f"{m['id']} {m['name']}" for m in matches[:5])
        raise NotFound(f"'{found}' matches several cases: {names}; give more of the id")
    return UUID(matches[0]["id"])


def resolve_round(system: Incubator, given: str | UUID) -> UUID:
    """A round id: a full UUID, or a unique prefix of one (as `round list` shows)."""
    found = bounds.id_prefix(given, "ROUND") if isinstance(given, str) else given
    if isinstance(found, UUID):
        return found
    system.read_models.catch_up()
    return _unique(found, "round", [(r["id"], r["name"]) for r in system.read_models.rounds(found)])


def resolve_project(system: Incubator, given: str | UUID) -> UUID:
    """A project id: a full UUID, or a unique prefix of one (as `round rank` shows)."""
    found = bounds.id_prefix(given, "PROJECT") if isinstance(given, str) else given
    if isinstance(found, UUID):
        return found
    system.read_models.catch_up()
    rows = system.read_models.projects(id_prefix=found)
    return _unique(found, "project", [(r["id"], r["title"]) for r in rows])


def _unique(prefix: str, what: str, matches: list[tuple[str, str]]) -> UUID:
    from lifecycle.errors import NotFound

    if not matches:
        raise NotFound(f"no {what} id starts with '{prefix}'")
    if len(matches) > 1:
        names = ", ".join(f"{i} {name}" for i, name in matches[:5])
        raise NotFound(f"'{prefix}' matches several {what}s: {names}; give more of the id")
    return UUID(matches[0][0])


def say(text: str) -> None:
    """A line for a person's terminal: whatever the data holds cannot act on the terminal."""
    click.echo(bounds.neutral(text, keep_newlines=True))


def emit_json(value: Any) -> None:
    import json

    from commands.exports import json_default

    text = json.dumps(value, ensure_ascii=False, indent=2, default=json_default)
    click.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


# JSON escapes C0 controls itself; these would still reach a terminal raw (C1 controls, bidi
# overrides, line separators) or could not be written at all (bytes that were not UTF-8).
_JSON_UNSAFE = re.compile(
    r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def catch_up_after(system: Incubator) -> str | None:
    """Read models catch up before we answer; a failure there does not undo the command."""
    try:
        system.read_models.catch_up()
    except Exception as e:  # the command is recorded; say so rather than fail it
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]  # not 25 KB of SQL
        return bounds.neutral(
            f"incubator: recorded, but the read models could not catch up: {first}"
        )
    return None


def xlsx_option(func: F) -> F:
    """--xlsx FILE: the same rows as a workbook for the bureau (Chinese headers, dates as
    dates, a sheet per site where the rows have one)."""
    return click.option(
        "--xlsx",
        "xlsx",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE.xlsx",
        help="导出为 Excel 工作簿(中文表头) — also write the rows as an .xlsx workbook",
    )(func)


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> None:
    """The workbook, whole or not at all; a line on stderr says where and what."""
    from commands.workbooks import WorkbookError, write_workbook

    try:
        write_workbook(path, sheets)
    except WorkbookError as e:
        fail(str(e), EXIT_SETUP)
    rows = sum(len(s.rows) for s in sheets)
    click.echo(f"written: {path} ({len(sheets)} sheet(s), {rows} row(s))", err=True)


def history_format(func: F) -> F:
    """--json or --csv (UTF-8, for spreadsheets); a table for people otherwise."""
    func = click.option("--csv", "output", flag_value="csv", help="one row per event, UTF-8 CSV")(
        func
    )
    return click.option("--json", "output", flag_value="json", help="machine-readable output")(
        click.option("--table", "output", flag_value="table", default=True, hidden=True)(func)
    )


def show_history(
    system: Incubator,
    aggregate_id: UUID,
    title: str,
    output: str,
    reminders: bool = False,
    xlsx: Path | None = None,
) -> None:
    """The events of a case, a party track or a joint branch, oldest first; a case's history
    shows the reminders and escalations of its deadlines too (`reminders`)."""
    found: list[UUID] = []
    if reminders:
        system.read_models.catch_up()
        found = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(aggregate_id))]
    show_related_history(system, aggregate_id, title, output, found, xlsx=xlsx)


def show_related_history(
    system: Incubator,
    aggregate_id: UUID,
    title: str,
    output: str,
    reminders: list[UUID],
    projects: list[UUID] | None = None,
    xlsx: Path | None = None,
) -> None:
    """The events of an aggregate, its reminders' and a round's projects', oldest first."""
    from commands.queries import history

    events = history(system.log, aggregate_id, reminders, projects or [])
    if xlsx is not None:
        from commands import exports

        write_xlsx(xlsx, exports.history(system.park, title, events))
        if output == "table":
            return
    if output == "json":
        emit_json(events)
    elif output == "csv":
        emit_history_csv(events)
    else:
        from cli.render import render_history

        render_history(title, events)


def emit_history_csv(events: list[dict[str, Any]]) -> None:
    from commands.exports import history_csv

    sys.stdout.write(history_csv(events))


# ---- long lists: a page for people, every row for machines (commands/paging.py) -----------


def list_options(func: F) -> F:
    """--limit, --page and --all choose the rows of a list; --json and --csv write them out."""
    from commands.paging import PAGE_LIMIT, PAGE_MAX, PAGE_SIZE

    options = (
        click.option(
            "--limit",
            type=click.IntRange(1, PAGE_LIMIT),
            metavar="N",
            help=f"rows of a page: 1 to {PAGE_LIMIT} (default {PAGE_SIZE} in a table; "
            f"--json and --csv: every row unless given)",
        ),
        click.option(
            "--page",
            type=click.IntRange(1, PAGE_MAX),
            metavar="P",
            help="which page, from 1 (default 1)",
        ),
        click.option("--all", "everything", is_flag=True, help="every row, not a page"),
        click.option("--json", "as_json", is_flag=True, help="as a JSON list"),
        click.option("--csv", "as_csv", is_flag=True, help="as UTF-8 CSV, a header first"),
    )
    for option in reversed(options):
        func = option(func)
    return func


def paging_of(
    limit: int | None, page: int | None, everything: bool, as_json: bool, as_csv: bool
) -> Paging:
    """The rows asked for: --all, or a page; --json and --csv give every row unless a page
    is named. Both at once is refused, as is --json with --csv."""
    from commands.paging import PAGE_SIZE, Paging

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    if everything and (limit is not None or page is not None):
        raise click.UsageError("give --all, or --limit and --page, not both")
    if everything or ((as_json or as_csv) and limit is None and page is None):
        return Paging(everything=True)
    return Paging(limit or PAGE_SIZE, page or 1)


def write_rows(rows: Iterable[dict[str, Any]], as_csv: bool) -> None:
    """Rows as a JSON list (as --json writes any answer) or as CSV, written as they come: a
    list of any length is written in the memory of one row."""
    import json

    from commands.exports import json_default

    out = sys.stdout
    if as_csv:
        import csv

        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(
                    out, fieldnames=list(row), extrasaction="ignore", lineterminator="\n"
                )
                writer.writeheader()
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        return
    out.write("[")
    first = True
    for row in rows:
        text = json.dumps(row, ensure_ascii=False, indent=2, default=json_default)
        text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        out.write(("\n  " if first else ",\n  ") + text.replace("\n", "\n  "))
        first = False
    out.write("\n]\n" if not first else "]\n")


def _csv_value(value: Any) -> str:
    """A cell as history's CSV writes one: neutralised, so a spreadsheet never runs it (a
    number stays a number: -3 days is no formula)."""
    from commands.exports import csv_cell, json_default

    if value is None:
        return ""
    if not isinstance(value, str | int | float | bool):
        value = json_default(value)
    if not isinstance(value, str):
        return str(value)
    return csv_cell(value)
