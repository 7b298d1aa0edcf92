"""`incubator privacy ...`: personal data (个人信息). `privacy erase` is generated from its message
(cli/commands.py); here is where a subject's data is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import ID, Declared, emit_json, open_incubator, resolve, say

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from lifecycle.organization import OrganizationCase


@click.group(cls=Declared)
def privacy() -> None:
    """Personal data (个人信息): where a data subject's is, and its erasure (个人信息删除权).

    A data subject is the contact person of a case, named by the case's id (SUBJECT)."""


@privacy.command("show")
@click.argument("subject", metavar="SUBJECT", type=ID)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 — print as JSON")
@click.pass_context
def show_cmd(ctx: click.Context, subject: Any, as_json: bool) -> None:
    """Where the personal data of SUBJECT (a case's id: its contact person) appears: which
    events hold it and how, its key, whether and by whom it was erased."""
    system = open_incubator(ctx)
    case = system.service.case(resolve(system, subject))
    show(system, case, as_json)


def show(system: Incubator, case: OrganizationCase, as_json: bool) -> None:
    from commands.privacy import whereabouts

    found = whereabouts(system.log, case)
    if as_json:
        emit_json(found)
        return
    say(f"data subject: the contact person of {found['organization']} ({found['subject']})")
    say(f"personal fields: {', '.join(found['fields'])}; status: {found['status']}")
    key = found["key"]
    if key["state"] == "kept":
        say(f"key: kept since {key['created_at']}")
    elif key["state"] == "destroyed":
        say(f"key: destroyed at {key['erased_at']}")
    else:
        say("key: none")
    for e in found["events"]:
        say(
            f"  event v{e['version']} {e['type']} ({e['recorded_at']}): {e['field']}, "
            f"stored {e['stored']}"
        )
    if not found["events"]:
        say("  no event holds personal data of this subject")
    erasure = found["erasure"]
    if erasure is not None:
        role = f" ({erasure['role']})" if erasure["role"] else ""
        say(
            f"erased: on {erasure['on']} by {erasure['actor']}{role}, recorded "
            f"{erasure['recorded_at']} (event v{erasure['version']}): {erasure['reason']}"
        )
    say("read models: none keeps personal data")
    if found["plain_text_events"]:
        say(
            f"warning: {found['plain_text_events']} event(s) written before personal data was "
            f"sealed hold it as plain text in the log's stored bytes; every output shows it as "
            f"已删除 once erased, but those bytes cannot be removed without rewriting the "
            f"append-only record"
        )
    say(f"outside the system: {found['outside']}")
