"""`incubator import`: a park's existing records from a spreadsheet, and its template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cli.common import (
    EXIT_REFUSED,
    EXIT_SETUP,
    NAME_TEXT,
    catch_up_after,
    emit_json,
    fail,
    open_incubator,
    say,
)

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("import")
@click.argument("file", required=False, type=FILE, metavar="FILE.xlsx|FILE.csv")
@click.option(
    "--dry-run", is_flag=True, help="check every row and say what is wrong; record nothing"
)
@click.option(
    "--template",
    "template",
    type=FILE,
    metavar="FILE.xlsx",
    help="write an empty template (Chinese headers, a sheet of the allowed values) and stop",
)
@click.option(
    "--actor",
    envvar="INCUBATOR_ACTOR",
    type=NAME_TEXT,
    metavar="NAME",
    help="谁在导入(环境变量 INCUBATOR_ACTOR) — who imports; required",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def import_cmd(
    ctx: click.Context,
    file: Path | None,
    dry_run: bool,
    template: Path | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Import a park's existing cases from FILE (.xlsx or .csv, one case a row, the template's
    columns): every row is checked by the commands' rules; all rows are recorded, or none.
    The same file again records nothing."""
    from commands.settings import SettingsError, load_settings
    from commands.workbooks import WorkbookError, read_table

    if template is not None:
        from commands.importing import write_template

        try:
            write_template(template, load_settings(ctx.obj["settings"]))
        except (SettingsError, WorkbookError) as e:
            fail(str(e), EXIT_SETUP)
        say(f"template written: {template}")
        return
    if file is None:
        raise click.UsageError("give the FILE to import (or --template FILE.xlsx)", ctx)
    try:
        table = read_table(file)
    except WorkbookError as e:
        fail(str(e), EXIT_SETUP)
    system = open_incubator(ctx)
    report = _imported(system, table, actor, dry_run)
    lag = None if dry_run or report.problems else catch_up_after(system)
    if as_json:
        emit_json(report.as_json())
    else:
        _say(report)
    if lag:
        click.echo(lag, err=True)
    if report.problems:
        sys.exit(EXIT_REFUSED)


def _imported(system: Any, table: Any, actor: str | None, dry_run: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from commands.service import Who

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"checking {table.name}", total=len(table.rows))
        return system.importing.import_table(
            Who(actor),
            table,
            dry_run=dry_run,
            progress=lambda n: bar.update(task, advance=n),
        )


def _say(report: Any) -> None:
    if report.problems:
        from cli.render import render_rows

        render_rows(
            f"{report.file}: {len(report.problems)} problem(s); nothing was recorded",
            [
                {"row 行": p.row, "column 列": p.column, "problem 问题": p.said}
                for p in report.problems
            ],
        )
        return
    done = len(report.imported)
    already = f"; {report.already} row(s) this file imported before" if report.already else ""
    if report.dry_run:
        say(f"{report.file}: {report.rows} row(s) checked, {done} would be imported{already}")
    else:
        say(f"{report.file}: {done} case(s) imported{already} (sha256 {report.sha256[:12]}…)")
