"""An organization's dossier for auditors: every stored event of its case, its party track and
its reminders, with their links, the writers' signatures over them, the latest signed checkpoint
and the head of each aggregate signed at export, in one self-contained JSON file that
`verify_dossier` checks offline against the park's pinned public keys (and a CSV of the same
events for spreadsheets).

Offline, a dossier proves that each of its aggregates is complete from its first event and
unaltered (each event's hash chains to the one before), that each event was signed by its
writer as it was written (the signed links of its transaction), that each aggregate ends where
the export's signature says (no last event, no aggregate dropped) and that nothing in the file,
its name included, changed since export. That the events lead up to the signed head of the whole
log is for `incubator audit verify --checkpoint`, which has the whole log.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.utils import resolve_topic
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine

from store.audit import (
    GENESIS,
    Trust,
    chain,
    digest,
    latest_checkpoint,
    link,
    links_message,
    public_hex,
    signature_holds,
    signature_problem,
    signatures,
)
from store.log import EventLog

FORMAT = "incubator-dossier/2"


def export(
    engine: Engine,
    log: EventLog,
    case_id: UUID,
    organization: str,
    aggregates: Sequence[UUID],
    now: datetime,
    key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """The dossier of a case: its events (`aggregates`: the case, its party track, its
    reminders) with their links and the signed ranges that hold them, signed with `key`."""
    ids = [str(a) for a in aggregates]
    with engine.connect() as conn:
        rows = conn.execute(
            select(chain).where(chain.c.originator_id.in_(ids)).order_by(chain.c.position)
        ).all()
        previous = _previous_log_hashes(conn, [r.position for r in rows])
        signed = _signed_ranges(conn, [r.position for r in rows])
    stored = {}
    for aggregate in ids:
        for n in log.recorder.select_events(UUID(aggregate)):
            stored[(aggregate, n.originator_version)] = n
    events = []
    for row in rows:
        n = stored[(row.originator_id, row.version)]
        events.append(
            {
                "position": row.position,
                "aggregate": row.originator_id,
                "version": row.version,
                "topic": n.topic,
                "stored": bytes(n.state).decode("utf-8"),  # exactly as the log keeps it
                "case_hash": row.case_hash,
                "log_hash": row.log_hash,
                "previous_log_hash": previous[row.position],
            }
            | _personal(log, n)
        )
    heads = {aggregate: {"version": 0, "case_hash": GENESIS} for aggregate in ids}
    for e in events:
        heads[e["aggregate"]] = {"version": e["version"], "case_hash": e["case_hash"]}
    body = {
        "format": FORMAT,
        "case_id": str(case_id),
        "organization": organization,
        "exported_at": now.isoformat(),
        "aggregates": ids,
        "heads": heads,
        "events": events,
        "signatures": signed,
        "checkpoint": latest_checkpoint(engine),
    }
    public = public_hex(key.public_key())
    return body | {
        "signature": {"public_key": public, "signature": key.sign(_signed_bytes(body)).hex()}
    }


def _signed_bytes(dossier: dict[str, Any]) -> bytes:
    """What the export's signature covers: the whole dossier but the signature, canonically."""
    body = {k: v for k, v in dossier.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{FORMAT}\n{canonical}".encode()


def _signed_ranges(conn: Any, positions: list[int]) -> list[dict[str, Any]]:
    """The writers' signed ranges that hold these positions, each with all its links (the
    past signed once on migration: its range only, which `audit verify` checks whole)."""
    found: dict[int, dict[str, Any]] = {}
    for position in positions:
        if any(r["first"] <= position <= r["last"] for r in found.values()):
            continue
        row = conn.execute(
            select(signatures).where(
                and_(
                    signatures.c.first_position <= position,
                    signatures.c.last_position >= position,
                )
            )
        ).first()
        if row is None:
            continue  # verify_dossier names the event no signature holds
        links = []
        if not row.migrated:
            links = [
                [r.position, r.originator_id, r.version, r.case_hash]
                for r in conn.execute(
                    select(chain)
                    .where(chain.c.position.between(row.first_position, row.last_position))
                    .order_by(chain.c.position)
                )
            ]
        last_hash = conn.execute(
            select(chain.c.log_hash).where(chain.c.position == row.last_position)
        ).scalar()
        found[row.last_position] = {
            "first": row.first_position,
            "last": row.last_position,
            "log_hash": last_hash,
            "signed_at": row.signed_at,
            "public_key": row.public_key,
            "signature": row.signature,
            "migrated": bool(row.migrated),
            "links": links,
        }
    return sorted(found.values(), key=lambda r: r["first"])


def _personal(log: EventLog, stored: Any) -> dict[str, Any]:
    """An event's personal fields opened, beside what is stored sealed (outside the hashes):
    their text while the data subject's key is kept, 已删除 once erased."""
    fields = getattr(resolve_topic(stored.topic), "personal_data", ())
    if not fields:
        return {}
    event = log.mapper.to_domain_event(stored)
    return {"personal": {name: getattr(event, name, None) for name in fields}}


def _previous_log_hashes(conn: Any, positions: list[int]) -> dict[int, str]:
    """For each position, the log hash of the sealed event just before it."""
    found = {}
    for position in positions:
        before = conn.execute(
            select(chain.c.log_hash)
            .where(chain.c.position < position)
            .order_by(chain.c.position.desc())
            .limit(1)
        ).scalar()
        found[position] = before or GENESIS
    return found


def write(dossier: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(dossier, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_csv(dossier: dict[str, Any], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(
            ["position", "aggregate", "version", "type", "case_hash", "log_hash", "stored"]
        )
        for e in dossier["events"]:
            kind = e["topic"].rsplit(".", 1)[-1]
            rows.writerow(
                [
                    e["position"],
                    e["aggregate"],
                    e["version"],
                    kind,
                    e["case_hash"],
                    e["log_hash"],
                    e["stored"],
                ]
            )


def verify_dossier(dossier: Any, trust: Trust) -> list[str]:
    """What does not hold in a dossier, first problem first (empty: it verifies), against the
    public keys the park pinned (`trust`)."""
    if not isinstance(dossier, dict) or dossier.get("format") != FORMAT:
        found = dossier.get("format") if isinstance(dossier, dict) else type(dossier).__name__
        return [f"not an incubator dossier ({found!r}; expected an object of format {FORMAT})"]
    malformed = [
        name
        for name in ("aggregates", "events", "signatures")
        if not isinstance(dossier.get(name), list)
    ]
    if malformed:
        return [f"the dossier is malformed: {', '.join(malformed)} must be lists"]
    if not all(isinstance(a, str) for a in dossier["aggregates"]):
        return ["the dossier is malformed: aggregates must be a list of ids"]
    problems = _export_problems(dossier, trust)
    last: dict[str, tuple[int, str]] = dict.fromkeys(dossier.get("aggregates", []), (0, GENESIS))
    position = 0
    ranges = [r for r in dossier.get("signatures", []) if isinstance(r, dict)]
    for e in dossier.get("events", []):
        if not isinstance(e, dict):
            problems.append(f"an event is not an object: {e!r}")
            continue
        where = f"event at position {e.get('position')} ({e.get('aggregate')} v{e.get('version')})"
        try:
            if e["position"] <= position:
                problems.append(f"{where}: out of the log's order (after position {position})")
            position = max(position, e["position"])
            version, previous = last[e["aggregate"]]
            if not isinstance(e["stored"], str):  # a number would be that many zero bytes
                raise TypeError("its stored bytes must be text, as exported")
            if e["version"] != version + 1:
                problems.append(f"{where}: version {version + 1} of its aggregate is missing")
            case_hash = link(
                previous, digest(e["aggregate"], e["version"], e["topic"], e["stored"])
            )
            if case_hash != e["case_hash"]:
                problems.append(f"{where}: its content is not what was written and signed")
            elif link(e["previous_log_hash"], e["position"], case_hash) != e["log_hash"]:
                problems.append(f"{where}: it is not where the log chain put it")
            elif not _written_signed(e, ranges):
                problems.append(f"{where}: no signature of its writer holds it")
            last[e["aggregate"]] = (e["version"], e["case_hash"])
        except (KeyError, TypeError, AttributeError) as error:
            problems.append(f"{where}: malformed ({error})")
    problems += _head_problems(dossier, last)
    problems += _range_problems(ranges, trust)
    problems += _checkpoint_problems(dossier, trust)
    return problems


def _export_problems(dossier: dict[str, Any], trust: Trust) -> list[str]:
    """The export's signature: by a pinned key, over everything in the file."""
    signature = dossier.get("signature")
    if not isinstance(signature, dict):
        return ["the dossier is not signed: its export signature was removed"]
    public = str(signature.get("public_key", ""))
    if not signature_holds(public, str(signature.get("signature", "")), _signed_bytes(dossier)):
        return ["the dossier was changed after export: its signature does not hold"]
    distrust = trust.problem(public, str(dossier.get("exported_at", "")), "")
    return [f"the dossier is {distrust}"] if distrust else []


def _written_signed(event: dict[str, Any], ranges: list[dict[str, Any]]) -> bool:
    """Whether a signed range holds the event's link (a migrated range: its place)."""
    mine = [event["position"], event["aggregate"], event["version"], event["case_hash"]]
    for r in ranges:
        if r.get("first", 0) <= event["position"] <= r.get("last", -1):
            return bool(r.get("migrated")) or mine in r.get("links", [])
    return False


def _head_problems(dossier: dict[str, Any], last: dict[str, tuple[int, str]]) -> list[str]:
    """Each aggregate ends where the export said: no last event, no aggregate dropped."""
    heads = dossier.get("heads")
    if not isinstance(heads, dict):
        return ["the dossier names no head of its aggregates"]
    problems = []
    for aggregate, head in heads.items():
        if aggregate not in last:
            problems.append(f"aggregate {aggregate}: dropped from the dossier")
            continue
        version, case_hash = last[aggregate]
        if not isinstance(head, dict) or (version, case_hash) != (
            head.get("version"),
            head.get("case_hash"),
        ):
            problems.append(
                f"aggregate {aggregate}: ends at version {version}, but the export signed its "
                f"head at version {head.get('version') if isinstance(head, dict) else head}"
            )
    return problems


def _range_problems(ranges: list[dict[str, Any]], trust: Trust) -> list[str]:
    """Each writer's signature over its links, by a pinned key."""
    problems = []
    for r in ranges:
        if r.get("migrated"):
            continue
        where = f"the signature of positions {r.get('first')}–{r.get('last')}"
        try:
            links = [tuple(x) for x in r["links"]]
            message = links_message(
                r["first"], r["last"], r["log_hash"], r["signed_at"], r["public_key"], links
            )
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"{where}: malformed ({error})")
            continue
        distrust = trust.problem(str(r["public_key"]), str(r["signed_at"]), "")
        if distrust:
            problems.append(f"{where}: {distrust}")
        elif not signature_holds(str(r["public_key"]), str(r.get("signature", "")), message):
            problems.append(f"{where}: does not hold for its links")
    return problems


def _checkpoint_problems(dossier: dict[str, Any], trust: Trust) -> list[str]:
    """The checkpoint's signature, by a pinned key; and where it signs one of the dossier's
    own events, that event's log hash must be the signed one."""
    kept = dossier.get("checkpoint")
    if kept is None:
        return []
    problem = signature_problem(kept, trust)
    if problem:
        return [problem]
    signed = [
        e
        for e in dossier.get("events", [])
        if isinstance(e, dict) and e.get("position") == kept.get("position")
    ]
    if signed and signed[0].get("log_hash") != kept.get("log_hash"):
        return [f"event at position {kept['position']}: not the log hash the checkpoint signed"]
    return []
