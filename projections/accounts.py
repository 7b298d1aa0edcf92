"""Accounts: each account's roles (with their sites), whether it is active, its language. What
`incubator user list` shows and what counts the active admins. Never its password's hash."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, String, Table, Text, select
from sqlalchemy.engine import Connection

from projections.runner import Batch, Later, Projection

if TYPE_CHECKING:
    from lifecycle.account import Account
else:  # imported when an event is applied (projections/runner.py: Later)
    Account = Later("lifecycle.account:Account")

projection = Projection("accounts", version=1)
projection.table(
    "accounts",
    lambda: [
        Column("account_id", String(36), primary_key=True),
        Column("name", Text, nullable=False),
        Column("grants", Text, nullable=False),  # JSON: role -> its sites (empty: every site)
        Column("active", Boolean, nullable=False),
        Column("admin", Boolean, nullable=False),
        Column("language", Text),
        Column("created_on", Text, nullable=False),
    ],
    by="account_id",
)


@projection.on(Account.Created)
def _created(rows: Batch, e: Account.Created) -> None:
    rows.put(
        "accounts",
        rows.key(e),
        name=e.name,
        grants="{}",
        active=True,
        admin=False,
        language=None,
        created_on=e.on.isoformat(),
    )


@projection.on(Account.RoleGranted, Account.RoleRevoked)
def _grants(rows: Batch, e: Account.RoleGranted | Account.RoleRevoked) -> None:
    row = rows.get("accounts", rows.key(e))
    if row is None:
        return
    from lifecycle.account import ADMIN  # imported with the event (Later)

    grants = {r: s for r, s in json.loads(row["grants"]).items() if r != e.role_name}
    if isinstance(e, Account.RoleGranted):
        grants[e.role_name] = list(e.sites)
    rows.update("accounts", rows.key(e), grants=json.dumps(grants), admin=ADMIN in grants)


@projection.on(Account.Disabled, Account.Enabled)
def _state(rows: Batch, e: Account.Disabled | Account.Enabled) -> None:
    rows.update("accounts", rows.key(e), active=isinstance(e, Account.Enabled))


@projection.on(Account.LanguageChosen)
def _language(rows: Batch, e: Account.LanguageChosen) -> None:
    rows.update("accounts", rows.key(e), language=e.language)


def list_accounts(conn: Connection, tables: dict[str, Table]) -> list[dict[str, Any]]:
    accounts = tables["accounts"]
    return [
        {
            "id": row.account_id,
            "name": row.name,
            "roles": json.loads(row.grants),
            "active": bool(row.active),
            "admin": bool(row.admin),
            "language": row.language,
            "created_on": row.created_on,
        }
        for row in conn.execute(select(accounts).order_by(accounts.c.name))
    ]
