"""An organization's dossier for auditors: every stored event of its case, its party track and
its reminders, with their hashes and the latest signed checkpoint, in one self-contained JSON
file that `verify_dossier` checks offline (and a CSV of the same events for spreadsheets).

Offline, a dossier proves that each of its aggregates is complete from its first event and
unaltered (each event's hash chains to the one before), that each event sits where the log chain
says (its link from the log hash before it), and that the checkpoint was signed by the key it
names. That the events lead up to the signed head is for `incubator audit verify --checkpoint`,
which has the whole log.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic
from sqlalchemy import select
from sqlalchemy.engine import Engine

from store.audit import GENESIS, chain, digest, latest_checkpoint, link, signature_problem
from store.log import EventLog

FORMAT = "incubator-dossier/1"


def export(
    engine: Engine,
    log: EventLog,
    case_id: UUID,
    organization: str,
    aggregates: Sequence[UUID],
    now: datetime,
) -> dict[str, Any]:
    """The dossier of a case: its sealed events (`aggregates`: the case, its party track, its
    reminders) with the chain rows that seal them."""
    ids = [str(a) for a in aggregates]
    with engine.connect() as conn:
        rows = conn.execute(
            select(chain).where(chain.c.originator_id.in_(ids)).order_by(chain.c.position)
        ).all()
        previous = _previous_log_hashes(conn, [r.position for r in rows])
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
    return {
        "format": FORMAT,
        "case_id": str(case_id),
        "organization": organization,
        "exported_at": now.isoformat(),
        "aggregates": ids,
        "events": events,
        "checkpoint": latest_checkpoint(engine),
    }


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


def verify_dossier(dossier: Any) -> list[str]:
    """What does not hold in a dossier, first problem first (empty: it verifies)."""
    if not isinstance(dossier, dict) or dossier.get("format") != FORMAT:
        found = dossier.get("format") if isinstance(dossier, dict) else type(dossier).__name__
        return [f"not an incubator dossier ({found!r}; expected an object of format {FORMAT})"]
    problems: list[str] = []
    last: dict[str, tuple[int, str]] = dict.fromkeys(dossier.get("aggregates", []), (0, GENESIS))
    position = 0
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
            if e["version"] != version + 1:
                problems.append(f"{where}: version {version + 1} of its aggregate is missing")
            case_hash = link(
                previous, digest(e["aggregate"], e["version"], e["topic"], e["stored"])
            )
            if case_hash != e["case_hash"]:
                problems.append(f"{where}: its content is not what was sealed")
            elif link(e["previous_log_hash"], e["position"], case_hash) != e["log_hash"]:
                problems.append(f"{where}: it is not where the log chain put it")
            last[e["aggregate"]] = (e["version"], e["case_hash"])
        except (KeyError, TypeError, AttributeError) as error:
            problems.append(f"{where}: malformed ({error})")
    problems += _checkpoint_problems(dossier)
    return problems


def _checkpoint_problems(dossier: dict[str, Any]) -> list[str]:
    """The checkpoint's signature; and where it signs one of the dossier's own events, that
    event's log hash must be the signed one."""
    kept = dossier.get("checkpoint")
    if not kept:
        return []
    if not isinstance(kept, dict):
        return ["the checkpoint is not an object"]
    problem = signature_problem(kept)
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
