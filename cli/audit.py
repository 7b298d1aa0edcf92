"""`incubator audit ...`: is the record complete and unaltered?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.common import (
    EXIT_REFUSED,
    EXIT_SETUP,
    ID,
    emit_json,
    fail,
    open_incubator,
    resolve,
    say,
)
from lifecycle.bounds import neutral


@click.group()
def audit() -> None:
    """Tamper evidence: the hash chain over every stored event."""


@audit.command("verify")
@click.option(
    "--checkpoint",
    "kept",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also prove nothing before this checkpoint (JSON kept by an auditor) changed",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def verify_cmd(ctx: click.Context, kept: Path | None, as_json: bool) -> None:
    """Walk the whole log against its hash chain and its signed checkpoints; exit 1 naming the
    first event that was changed, removed, inserted or reordered."""
    from commands.audit import Audit

    verdict = Audit(open_incubator(ctx)).verify(None if kept is None else _read_json(kept))
    if as_json:
        emit_json(verdict)
    elif verdict["ok"]:
        unsealed = verdict["unsealed_tail"]
        say(
            f"ok: {verdict['sealed']:,} sealed events of {verdict['cases']:,} aggregates verify; "
            f"head {verdict['head']}"
            + (f"; {unsealed:,} written since the last seal" if unsealed else "")
        )
    else:
        p = verdict["problem"] or {}
        if p.get("position"):
            where = (
                f"event {p.get('kind')} at position {p.get('position')} (case "
                f"{p.get('case_id')}, version {p.get('version')}): {p.get('detail')}; "
                f"{verdict['sealed']:,} events before it verify"
            )
        else:
            where = f"{p.get('kind')}: {p.get('detail')}"
        click.echo(neutral(f"incubator: the log does not verify: {where}"), err=True)
    if not verdict["ok"]:
        ctx.exit(EXIT_REFUSED)


@audit.command("seal")
@click.pass_context
def seal_cmd(ctx: click.Context) -> None:
    """Chain the events written since the last seal (every command seals too)."""
    from commands.audit import Audit

    sealed = Audit(open_incubator(ctx)).seal()
    say(f"sealed {sealed:,} events")


@audit.command("keygen")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the key file"
)
def keygen_cmd(out: Path) -> None:
    """Write a new Ed25519 signing key for checkpoints; name it in the settings' [audit]."""
    from commands.audit import new_signing_key

    public = new_signing_key(out)
    say(f"wrote {out} (keep it private); its public key: {public}")
    say(f'settings: [audit]\nsigning_key = "{out.resolve()}"')


@audit.command("checkpoint")
@click.pass_context
def checkpoint_cmd(ctx: click.Context) -> None:
    """Sign the head of the log with the settings' key and record it; prints the checkpoint as
    JSON for an auditor to keep outside the system."""
    from commands.audit import Audit, NoSigningKey

    try:
        kept = Audit(open_incubator(ctx)).checkpoint()
    except NoSigningKey as e:
        fail(str(e), EXIT_SETUP)
    emit_json(kept)


@audit.command("export")
@click.argument("case_ref", metavar="ORG", type=ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="also a CSV"
)
@click.pass_context
def export_cmd(ctx: click.Context, case_ref: str, out: Path, csv_out: Path | None) -> None:
    """Write the organization's dossier: its events, their hashes and the latest checkpoint."""
    from commands import dossier
    from commands.audit import Audit

    system = open_incubator(ctx)
    written = Audit(system).dossier(resolve(system, case_ref))
    dossier.write(written, out)
    if csv_out:
        dossier.write_csv(written, csv_out)
    say(f"wrote {out}: {len(written['events'])} events of {written['organization']}")


@audit.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def verify_export_cmd(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Check a dossier offline (no database): exit 1 naming what does not hold."""
    from commands.audit import verify_dossier

    data = _read_json(file)
    problems = verify_dossier(data)
    if as_json:
        emit_json({"ok": not problems, "events": len(data.get("events", [])), "problems": problems})
    elif problems:
        # the file and what it holds are anyone's: nothing in them acts on the terminal
        click.echo(neutral(f"incubator: {file} does not verify: {problems[0]}"), err=True)
    else:
        signed = " and its checkpoint's signature" if data.get("checkpoint") else ""
        say(f"ok: {len(data['events'])} events of {data['organization']}{signed} verify")
    if problems:
        ctx.exit(EXIT_REFUSED)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"cannot read {path} as JSON: {e}")
