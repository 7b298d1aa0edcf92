"""`incubator backup` and `incubator restore`: the whole database in one file that proves itself."""

from __future__ import annotations

from pathlib import Path

import click

from cli.audit import _read_json
from cli.common import EXIT_SETUP, emit_json, fail, open_incubator, say


@click.command("backup")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE",
    help="the backup file to write (never over an existing file)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output: the manifest")
@click.pass_context
def backup_cmd(ctx: click.Context, out: Path, as_json: bool) -> None:
    """Copy the whole database, as of one moment, into FILE: the event log, its hash chain and
    checkpoints, the sessions and the read models, with a manifest that gives the file's SHA-256
    (signed with the park's key, if the settings name one). Commands may go on meanwhile."""
    from commands.backup import backup

    manifest = backup(open_incubator(ctx), out)
    if as_json:
        emit_json(manifest)
        return
    content = manifest["content"]
    size = out.stat().st_size
    signature = manifest.get("signature")
    say(
        f"wrote {out}: {manifest['events']:,} events (up to position "
        f"{manifest['last_position']:,}), {len(manifest['tables'])} tables; "
        f"{_size(size)} ({_size(content['bytes'])} of database, SHA-256 "
        f"{content['sha256'][:16]}…)"
    )
    say(
        f"as of {manifest['taken_at']}, through the {manifest['method']}; "
        + (
            f"signed with the park's key {signature['public_key'][:16]}…"
            if signature
            else "not signed: the settings name no signing key ([audit] signing_key)"
        )
    )
    if manifest["left_out"]:
        click.echo(
            f"incubator: warning: tables of the database that are not incubator's were left "
            f"out: {', '.join(manifest['left_out'])}",
            err=True,
        )


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--database",
    "target",
    metavar="URL",
    required=True,
    help="the new, empty database to restore into: sqlite:///PATH or "
    "postgresql://USER@HOST:PORT/DB[?schema=S]",
)
@click.option(
    "--checkpoint",
    "kept",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="also check the restored log against this checkpoint (JSON kept by an auditor)",
)
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="restore a backup without a signature although the park has a signing key "
    "(one taken before it had one)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def restore_cmd(
    ctx: click.Context,
    file: Path,
    target: str,
    kept: Path | None,
    allow_unsigned: bool,
    as_json: bool,
) -> None:
    """Restore the backup FILE into a new, empty database, then check it: the file against its
    manifest and signature, `audit verify` over the restored log, and every read model rebuilt
    from the log equal to the one restored. A database that fails a check is removed."""
    from commands.bootstrap import SETUP_ERRORS
    from commands.restore import restore

    try:
        report = restore(
            file,
            target,
            settings_path=ctx.obj["settings"],
            kept=None if kept is None else _read_json(kept),
            allow_unsigned=allow_unsigned,
        )
    except SETUP_ERRORS as e:
        fail(str(e), EXIT_SETUP)
    if as_json:
        emit_json(report)
        return
    checks = report["checks"]
    verified = checks["audit_verify"]
    models = checks["read_models"]
    say(
        f"restored {report['events']:,} events into {report['database']} from a "
        f"{report['backend']} backup taken at {report['taken_at']}"
    )
    say("checked:")
    say(f"  the file: {checks['file']}")
    say(f"  the manifest: {checks['manifest']}")
    say(
        f"  audit verify: ok, {verified['events']:,} events of {verified.get('cases', 0):,} "
        f"aggregates, head {str(verified.get('head'))[:16]}…; {verified['checkpoint']}"
    )
    say(
        f"  the read models: {len(models)} caught up from the backup and rebuilt from the log, "
        f"the same rows ({sum(m['rows'] for m in models):,} in all)"
    )
    for key in checks.get("keys_pinned", []):
        say(
            f"  pinned for the restored database: {key}, a key that signed the restored log "
            f"(compare it with the park's records: `incubator audit keys`)"
        )
    took = report["seconds"]
    say(
        f"in {took['total']:,.1f} s (the file {took['file']:,.1f}, the copy {took['copy']:,.1f}, "
        f"audit verify {took['verify']:,.1f}, the read models {took['read_models']:,.1f})"
    )


def _size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"
