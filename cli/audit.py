"""`incubator audit ...`: is the record complete and unaltered?"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.common import (
    EXIT_REFUSED,
    ID,
    emit_json,
    fail,
    open_incubator,
    resolve,
    say,
)
from lifecycle.bounds import neutral

T = TypeVar("T")


@click.group()
def audit() -> None:
    """Tamper evidence: the hash chain over every stored event."""


TRUSTED_KEYS = click.option(
    "--trusted-keys",
    "trusted",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="trust only the public keys this file pins (an auditor's own copy; lines of 64 hex "
    "digits, or '<key> revoked <moment>'); default: those pinned for this database",
)


@audit.command("verify")
@click.option(
    "--checkpoint",
    "kept",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also prove nothing before this checkpoint (JSON kept by an auditor) changed",
)
@TRUSTED_KEYS
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def verify_cmd(ctx: click.Context, kept: Path | None, trusted: Path | None, as_json: bool) -> None:
    """Walk the whole log against its links and the writers' signatures, and its signed
    checkpoints; exit 1 naming the first event that was changed, removed, inserted, reordered,
    left without a link or a signature, or signed by a key not pinned (or revoked)."""
    from commands.audit import Audit

    checkpoint = None if kept is None else _checkpoint(kept)
    verdict = _refusing(lambda: Audit(open_incubator(ctx)).verify(checkpoint, trusted))
    if as_json:
        emit_json(verdict)
    elif verdict["ok"]:
        migrated = verdict["migrated"]
        past = (
            f"; signed as written from position {verdict['signed_from']:,}"
            + (f" ({migrated:,} earlier events signed once, on migration)" if migrated else "")
            if verdict["signed_from"] is not None
            else ""
        )
        say(
            f"ok: {verdict['sealed']:,} events of {verdict['cases']:,} aggregates verify, "
            f"{verdict['signatures']:,} signatures by {len(verdict['keys'])} pinned key(s)"
            f"{past}; head {verdict['head']}"
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


@audit.command("migrate")
@click.pass_context
def migrate_cmd(ctx: click.Context) -> None:
    """Once, for a log written before events were signed as they are written: chain what was
    never chained and sign the whole past with this database's key; then commands write again.
    Refused on a log that is signed already: nothing is ever chained twice."""
    from commands.audit import Audit

    done = _refusing(lambda: Audit(open_incubator(ctx)).migrate())
    say(
        f"migrated: {done['migrated_events']:,} events chained and signed with the key "
        f"{done['key']}; every event from position {done['signed_from']:,} on is signed as it "
        f"is written"
    )


@audit.command("keys")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def keys_cmd(ctx: click.Context, as_json: bool) -> None:
    """The key this database's writers sign with, the public keys pinned for it (outside the
    database), and which keys signed the log."""
    from commands.audit import Audit

    keys = Audit(open_incubator(ctx)).keys()
    if as_json:
        emit_json(keys)
        return
    say(f"signing key: {keys['signing_key']} ({keys['signing_key_file']})")
    say(f"pinned keys ({keys['trusted_keys_file']}):")
    for key in keys["pinned"]:
        revoked = keys["revoked"].get(key)
        say(f"  {key}" + (f" revoked from {revoked}" if revoked else ""))
    for key, signed in keys["signed"].items():
        say(
            f"signed by {key[:16]}…: {signed['ranges']:,} transactions, {signed['first_signed']} "
            f"to {signed['last_signed']}"
        )


@audit.command("trust-key")
@click.argument("public_key")
@click.pass_context
def trust_key_cmd(ctx: click.Context, public_key: str) -> None:
    """Pin PUBLIC_KEY (64 hex digits) for this database: a writer's key on another machine, or
    the key of an older backup's log."""
    from commands.audit import Audit

    _refusing(lambda: Audit(open_incubator(ctx)).pin(public_key))
    say(f"pinned {public_key}")


@audit.command("revoke-key")
@click.argument("public_key")
@click.option(
    "--from",
    "revoked_from",
    required=True,
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d"]),
    help="the moment from which its signatures fail (a date: its midnight UTC)",
)
@click.pass_context
def revoke_key_cmd(ctx: click.Context, public_key: str, revoked_from: datetime) -> None:
    """Revoke PUBLIC_KEY (a stolen or retired key) from a moment on: every link it signed from
    then on fails `audit verify`, and so does every link it signed after any later signature."""
    from commands.audit import Audit

    when = revoked_from if revoked_from.tzinfo else revoked_from.replace(tzinfo=UTC)
    keys = _refusing(lambda: Audit(open_incubator(ctx)).pin(public_key, when))
    say(f"revoked {public_key} from {when.isoformat()}")
    if keys["signing_key"] == public_key.strip().lower():
        say(
            "this database signs with that key: from then on nothing is written until the "
            "settings name a new one (`incubator audit keygen --out FILE`; [audit] signing_key)"
        )


@audit.command("keygen")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the key file"
)
def keygen_cmd(out: Path) -> None:
    """Write a new Ed25519 signing key; name it in the settings' [audit] signing_key to sign
    with it instead of the key made beside the database (pin the old one: `audit trust-key`)."""
    from commands.audit import new_signing_key

    public = new_signing_key(out)
    say(f"wrote {out} (keep it private); its public key: {public}")
    say(f'settings: [audit]\nsigning_key = "{out.resolve()}"')


@audit.command("checkpoint")
@click.pass_context
def checkpoint_cmd(ctx: click.Context) -> None:
    """Sign the head of the log with this database's key and record it; prints the checkpoint
    as JSON for an auditor to keep outside the system."""
    from commands.audit import Audit

    emit_json(_refusing(lambda: Audit(open_incubator(ctx)).checkpoint()))


@audit.command("export")
@click.argument("case_ref", metavar="ORG", type=ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="also a CSV"
)
@click.pass_context
def export_cmd(ctx: click.Context, case_ref: str, out: Path, csv_out: Path | None) -> None:
    """Write the organization's dossier: its events, their links, the writers' signatures, the
    latest checkpoint, and the head of each aggregate signed at export."""
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
@TRUSTED_KEYS
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def verify_export_cmd(ctx: click.Context, file: Path, trusted: Path | None, as_json: bool) -> None:
    """Check a dossier against the park's pinned public keys, offline with --trusted-keys (no
    database): exit 1 naming what does not hold."""
    from commands.audit import Audit, trust_file, verify_dossier

    data = _read_json(file)
    if trusted is not None:
        trust = _refusing(lambda: trust_file(trusted))
    else:
        trust = Audit(open_incubator(ctx)).trust()
    problems = verify_dossier(data, trust)
    if as_json:
        events = data.get("events") if isinstance(data, dict) else None
        count = len(events) if isinstance(events, list) else 0
        emit_json({"ok": not problems, "events": count, "problems": problems})
    elif problems:
        # the file and what it holds are anyone's: nothing in them acts on the terminal
        click.echo(neutral(f"incubator: {file} does not verify: {problems[0]}"), err=True)
    else:
        signed = ", its checkpoint" if data.get("checkpoint") else ""
        say(
            f"ok: {len(data['events'])} events of {data['organization']}, their writers' "
            f"signatures{signed} and the export's signature verify"
        )
    if problems:
        ctx.exit(EXIT_REFUSED)


def _checkpoint(path: Path) -> dict[str, Any]:
    kept = _read_json(path)
    fields = {"position", "log_hash", "signed_at", "public_key", "signature"}
    if not isinstance(kept, dict) or not fields <= set(kept):
        fail(
            f"{path} is not a checkpoint: a JSON object with {', '.join(sorted(fields))} is "
            f"needed (what `incubator audit checkpoint` prints)"
        )
    return kept


def _refusing(act: Callable[[], T]) -> T:
    from lifecycle.errors import Refused

    try:
        return act()
    except Refused as e:
        fail(str(e), EXIT_REFUSED)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"cannot read {path} as JSON: {e}")
