"""`incubator user ...`: the accounts, for the operator on the server. The commands that change
an account are generated from their messages (cli/commands.py); here are the reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import click

from cli.common import (
    NAME_TEXT,
    Declared,
    emit_json,
    history_format,
    open_incubator,
    say,
    show_history,
)

if TYPE_CHECKING:
    from commands.accounts import AccountView
    from lifecycle.account import Account


@click.group("user", cls=Declared)
def user() -> None:
    """Accounts and their roles (账户与角色); passwords are read from standard input."""


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 — print as JSON")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every account: its roles and their sites, active or disabled, its language."""
    system = open_incubator(ctx)
    views = system.accounts.accounts()
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    from cli.render import render_rows

    render_rows("accounts", [_row(v) for v in views])


@user.command("history")
@click.argument("name", metavar="NAME", type=NAME_TEXT)
@history_format
@click.pass_context
def history_cmd(ctx: click.Context, name: str, output: str) -> None:
    """Who created the account, granted or revoked which role when, disabled or enabled it:
    who could do what, when (a password only ever shows as set)."""
    system = open_incubator(ctx)
    account = system.accounts.account(name)
    show_history(system, UUID(str(account.id)), account.name, output)


def report_account(account: Account, as_json: bool) -> None:
    """What `user add`, `grant`, `revoke`... print: the account as it is now."""
    from commands.accounts import AccountView

    view = AccountView.of(account)
    if as_json:
        emit_json(view.as_json())
    else:
        row = _row(view)
        say(f"{row['name']}: {row['state']} — roles: {row['roles']}")


def _row(view: AccountView) -> dict[str, Any]:
    from lifecycle.account import ROLE_NAMES_ZH
    from lifecycle.stages import ACCOUNT_STATE_NAMES_ZH

    state = "active" if view.active else "disabled"
    roles = "; ".join(
        f"{role} {ROLE_NAMES_ZH[role]} ({', '.join(sites) if sites else 'every site'})"
        for role, sites in view.roles.items()
    )
    return {
        "name": view.name,
        "state": f"{state} {ACCOUNT_STATE_NAMES_ZH[state]}",
        "roles": roles or "none",
        "language": view.language or "—",
        "created_on": view.created_on.isoformat(),
    }
