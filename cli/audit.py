"""`incubator audit ...`: is the record complete and unaltered?"""

from __future__ import annotations

import click

from cli.common import EXIT_REFUSED, emit_json, open_incubator


@click.group()
def audit() -> None:
    """Tamper evidence: the hash chain over every stored event."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Walk the whole log against its hash chain; exit 1 naming the first event that was
    changed, removed, inserted or reordered."""
    from commands import audit as chain

    system = open_incubator(ctx)
    verdict = chain.verify(system.read_models.engine, system.log)
    if as_json:
        emit_json(verdict.as_json())
    elif verdict.ok:
        click.echo(
            f"ok: {verdict.sealed:,} sealed events of {len(verdict.cases):,} aggregates verify; "
            f"head {verdict.head}"
            + (f"; {verdict.unsealed:,} written since the last seal" if verdict.unsealed else "")
        )
    else:
        p = verdict.problem or {}
        where = f"at position {p.get('position')}" if p.get("position") else ""
        click.echo(
            f"incubator: the log does not verify: event {p.get('kind')} {where} "
            f"(case {p.get('case_id')}, version {p.get('version')}): {p.get('detail')}; "
            f"{verdict.sealed:,} events before it verify",
            err=True,
        )
    if not verdict.ok:
        ctx.exit(EXIT_REFUSED)


@audit.command("seal")
@click.pass_context
def seal_cmd(ctx: click.Context) -> None:
    """Chain the events written since the last seal (every command seals too)."""
    from commands import audit as chain

    system = open_incubator(ctx)
    sealed = chain.seal(system.read_models.engine, system.log)
    click.echo(f"sealed {sealed:,} events")
