"""Tamper evidence: every stored event chained by hashes, and a walk of the log that finds the
first event changed, removed, inserted or reordered.

A sealer follows the log (like the read models, under a lock, in batches) and writes one row per
event into `event_chain`: the event's place in the log, its case (originator) and version, its
`case_hash` = sha256(previous case_hash of the same case + the event's digest) and its `log_hash`
= sha256(previous log_hash + place + case_hash). The digest covers what the library stores: the
originator id, the version, the topic and the stored bytes of the event. `verify` recomputes both
chains from the events as they are now and compares them with what was sealed; events written
after the last seal are the unsealed tail. Triggers refuse UPDATE and DELETE on the events and
on the chain, so changing the record takes an intruder who first drops them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Connection, Engine

from store.database import Database, writing
from store.log import EventLog

GENESIS = "0" * 64
BATCH = 5000

chain_metadata = MetaData()
chain = Table(
    "event_chain",
    chain_metadata,
    Column("position", BigInteger, primary_key=True),  # the event's notification id
    Column("originator_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("case_hash", String(64), nullable=False),
    Column("log_hash", String(64), nullable=False),
)
chain_head = Table(  # one row: where the sealer stands (locked while sealing)
    "event_chain_head",
    chain_metadata,
    Column("id", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("log_hash", String(64), nullable=False),
)
APPEND_ONLY = "the event log and its hash chain are append-only: {operation} is refused"


def digest(originator_id: Any, version: int, topic: str, state: bytes | str) -> str:
    """The hash of one stored event as the library keeps it (bytes; an intruder's SQL may have
    left text)."""
    h = hashlib.sha256(f"{originator_id}\n{version}\n{topic}\n".encode())
    h.update(state.encode() if isinstance(state, str) else bytes(state))
    return h.hexdigest()


def link(previous: str, *parts: object) -> str:
    return hashlib.sha256("\n".join([previous, *map(str, parts)]).encode()).hexdigest()


def install(database: Database, engine: Engine) -> None:
    """The chain tables, and the triggers that make events and chain append-only."""
    chain_metadata.create_all(engine)
    with writing(engine) as conn:
        if conn.execute(select(chain_head)).first() is None:
            conn.execute(chain_head.insert().values(id=1, position=0, log_hash=GENESIS))
        for table in (
            events_table(database),
            "event_chain",
            "event_chain_head",
            "audit_checkpoints",
        ):
            _append_only(conn, database, table)


def events_table(database: Database) -> str:
    return "stored_events" if database.backend == "sqlite" else "incubator_events"


def _append_only(conn: Connection, database: Database, table: str) -> None:
    operations = ("DELETE",) if table == "event_chain_head" else ("UPDATE", "DELETE")
    if database.backend == "sqlite":
        for operation in operations:
            message = APPEND_ONLY.format(operation=operation)
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                f"BEFORE {operation} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    missing = [
        f"{table}_no_{operation.lower()}"
        for operation in (*operations, "TRUNCATE")
        if conn.execute(
            text(
                "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = :name AND c.oid = to_regclass(:table)"
            ),
            {"name": f"{table}_no_{operation.lower()}", "table": table},
        ).first()
        is None
    ]
    if not missing:
        return  # most days: nothing to create, so no rights to create anything are needed
    conn.execute(
        text(
            "CREATE OR REPLACE FUNCTION incubator_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the event log and its hash chain are append-only: % is refused', "
            "TG_OP; END $$ LANGUAGE plpgsql"
        )
    )
    for name in missing:
        operation = name.rsplit("_", 1)[1].upper()
        conn.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION incubator_append_only()"
            )
        )


# ---- sealing ---------------------------------------------------------------------------------


def seal(engine: Engine, log: EventLog) -> int:
    """Chain every event written since the last seal; returns how many were sealed."""
    with engine.connect() as peek:  # most calls find nothing new: no write lock for those
        position = peek.execute(select(chain_head.c.position)).scalar() or 0
    if position >= (log.recorder.max_notification_id() or 0):
        return 0
    sealed = 0
    while True:
        with writing(engine) as conn:
            head = conn.execute(_locked(conn, select(chain_head).where(chain_head.c.id == 1))).one()
            notifications = log.recorder.select_notifications(
                start=head.position, limit=BATCH, inclusive_of_start=False
            )
            if not notifications:
                return sealed
            last_of = _case_hashes_before(conn, notifications)
            rows, log_hash = [], head.log_hash
            for n in notifications:
                case = str(n.originator_id)
                previous = last_of.get(case, GENESIS)
                case_hash = link(previous, digest(case, n.originator_version, n.topic, n.state))
                log_hash = link(log_hash, n.id, case_hash)
                last_of[case] = case_hash
                rows.append(
                    {
                        "position": n.id,
                        "originator_id": case,
                        "version": n.originator_version,
                        "case_hash": case_hash,
                        "log_hash": log_hash,
                    }
                )
            conn.execute(chain.insert(), rows)
            conn.execute(
                chain_head.update()
                .where(chain_head.c.id == 1)
                .values(position=notifications[-1].id, log_hash=log_hash)
            )
            sealed += len(rows)


def _locked(conn: Connection, query: Any) -> Any:
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def _case_hashes_before(conn: Connection, notifications: Sequence[Any]) -> dict[str, str]:
    """The sealed hash each case had before its first event in `notifications` (a case's first
    event has none): one query a batch, not one a case."""
    wanted: dict[str, int] = {}
    for n in notifications:
        case = str(n.originator_id)
        if case not in wanted:
            wanted[case] = n.originator_version - 1
    pairs = [(case, version) for case, version in wanted.items() if version > 0]
    found: dict[str, str] = {}
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        query = select(chain.c.originator_id, chain.c.case_hash).where(
            tuple_(chain.c.originator_id, chain.c.version).in_(chunk)
        )
        found.update({row.originator_id: row.case_hash for row in conn.execute(query)})
    return found


# ---- verifying -------------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool = True
    events: int = 0  # events in the log
    sealed: int = 0  # of them, sealed and checked
    unsealed: int = 0  # written after the last seal (checked only once sealed)
    head: str = GENESIS  # the log hash of the last sealed event
    problem: dict[str, Any] | None = None
    cases: set[str] = field(default_factory=set, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "sealed": self.sealed,
            "unsealed_tail": self.unsealed,
            "head": self.head,
            "cases": len(self.cases),
            "problem": self.problem,
        }


def verify(engine: Engine, log: EventLog) -> Verdict:
    """Walk the log and the chain side by side; stop at the first event that is not as sealed."""
    verdict = Verdict()
    last_of: dict[str, str] = {}
    log_hash = GENESIS
    with engine.connect() as conn:
        head = conn.execute(select(chain_head)).one()
        # Every sealed place is checked, also past a head that was moved back.
        last_sealed = conn.execute(select(func.max(chain.c.position))).scalar() or 0
        sealed_until = max(head.position, last_sealed)
        links = _chain_rows(conn)
        sealed = next(links, None)
        for n in _notifications(log):
            verdict.events += 1
            case = str(n.originator_id)
            if n.id > sealed_until:
                verdict.unsealed += 1
                continue
            if sealed is None:
                return _fail(verdict, "inserted", n, "in the log, but never sealed there")
            kind, detail, case_hash, log_hash = _compare(
                n, case, sealed, last_of.get(case, GENESIS), log_hash
            )
            if kind == "reordered" and not _sealed_anywhere(conn, case, n.originator_version):
                kind, detail = "inserted", "in the log, but never sealed anywhere"
            if kind is not None:
                return _fail(verdict, kind, sealed if kind == "removed" else n, detail)
            last_of[case] = case_hash
            verdict.cases.add(case)
            verdict.sealed += 1
            verdict.head = log_hash
            sealed = next(links, None)
        if sealed is not None:
            return _fail(verdict, "removed", sealed, "sealed, but no longer in the log")
    if verdict.head != head.log_hash or head.position != last_sealed:
        verdict.ok = False
        verdict.problem = {
            "kind": "changed",
            "detail": "the chain's recorded head is not its last sealed event (moved back?)",
        }
    return verdict


def _sealed_anywhere(conn: Connection, case: str, version: int) -> bool:
    found = conn.execute(
        select(chain.c.position).where(chain.c.originator_id == case, chain.c.version == version)
    ).first()
    return found is not None


def _compare(
    n: Any, case: str, sealed: Any, previous_case_hash: str, previous_log_hash: str
) -> tuple[str | None, str, str, str]:
    """How the event (of `case`) at a place differs from what was sealed there (None: it does
    not), and the two hashes it carries on."""
    if sealed.position < n.id:
        return "removed", "sealed, but no longer in the log", "", ""
    if sealed.position > n.id:
        return "inserted", "in the log, but never sealed there", "", ""
    if (sealed.originator_id, sealed.version) != (case, n.originator_version):
        detail = f"this place was sealed for version {sealed.version} of {sealed.originator_id}"
        return "reordered", detail, "", ""
    case_hash = link(previous_case_hash, digest(case, n.originator_version, n.topic, n.state))
    if case_hash != sealed.case_hash:
        return "changed", "its content is not what was sealed", "", ""
    log_hash = link(previous_log_hash, n.id, case_hash)
    if log_hash != sealed.log_hash:
        return "changed", "the chain over the whole log breaks here", "", ""
    return None, "", case_hash, log_hash


def _fail(verdict: Verdict, kind: str, where: Any, detail: str) -> Verdict:
    position = getattr(where, "id", None) or getattr(where, "position", None)
    case = getattr(where, "originator_id", None)
    version = getattr(where, "originator_version", None) or getattr(where, "version", None)
    verdict.ok = False
    verdict.problem = {
        "kind": kind,
        "position": position,
        "case_id": str(case) if case is not None else None,
        "version": version,
        "detail": detail,
    }
    return verdict


def _notifications(log: EventLog) -> Iterator[Any]:
    position = 0
    while True:
        batch = log.recorder.select_notifications(
            start=position, limit=BATCH, inclusive_of_start=False
        )
        if not batch:
            return
        yield from batch
        position = batch[-1].id


def _chain_rows(conn: Connection) -> Iterator[Any]:
    position = 0
    while True:
        rows = conn.execute(
            select(chain).where(chain.c.position > position).order_by(chain.c.position).limit(BATCH)
        ).all()
        if not rows:
            return
        yield from rows
        position = rows[-1].position


# ---- signed checkpoints ----------------------------------------------------------------------

checkpoints = Table(
    "audit_checkpoints",
    chain_metadata,
    Column("position", BigInteger, primary_key=True),
    Column("log_hash", String(64), nullable=False),
    Column("signed_at", String(40), nullable=False),
    Column("public_key", String(64), nullable=False),  # Ed25519, raw, hex
    Column("signature", String(128), nullable=False),  # hex
)


def checkpoint_message(position: int, log_hash: str, signed_at: str) -> bytes:
    """What a checkpoint signs: the place and hash of the log's head, and when."""
    return f"incubator-checkpoint/1\n{position}\n{log_hash}\n{signed_at}".encode()


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (`incubator audit keygen` writes one)."""
    try:
        file = Path(path)
        # a regular file only: a FIFO named in the settings would hang, /dev/zero never end
        if not file.exists():
            raise FileNotFoundError(2, "No such file or directory")
        if not file.is_file() or file.stat().st_size > 64 * 1024:
            raise ValueError("not a PEM file: a regular file of less than 64 KiB")
        key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise AuditError(f"cannot read the signing key {path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"the signing key {path} is not an Ed25519 key")
    return key


def new_signing_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, readable by its owner only); its public key, hex."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(pem)
    return _public_hex(key.public_key())


def checkpoint(
    engine: Engine, log: EventLog, key: Ed25519PrivateKey, now: datetime
) -> dict[str, Any]:
    """Seal, then sign the head of the chain and record the checkpoint (kept outside too)."""
    seal(engine, log)
    with writing(engine) as conn:
        head = conn.execute(select(chain_head)).one()
        if head.position == 0:
            raise AuditError("the log is empty: there is nothing to checkpoint yet")
        signed_at = now.astimezone(UTC).isoformat()
        message = checkpoint_message(head.position, head.log_hash, signed_at)
        row = {
            "position": head.position,
            "log_hash": head.log_hash,
            "signed_at": signed_at,
            "public_key": _public_hex(key.public_key()),
            "signature": key.sign(message).hex(),
        }
        kept = conn.execute(
            select(checkpoints).where(checkpoints.c.position == head.position)
        ).first()
        if kept is not None:  # nothing was written since the last checkpoint: that one holds
            return dict(kept._mapping)
        conn.execute(checkpoints.insert().values(**row))
    return row


def check_checkpoint(engine: Engine, kept: dict[str, Any]) -> str | None:
    """Why a checkpoint does not hold against the chain as it is now (None: it holds): its
    signature must be good, and the chain must still have its hash at its place."""
    problem = signature_problem(kept)
    if problem:
        return problem
    with engine.connect() as conn:
        sealed = conn.execute(
            select(chain.c.log_hash).where(chain.c.position == int(kept["position"]))
        ).scalar()
    if sealed is None:
        return f"the chain has no event at the checkpoint's position {kept['position']}"
    if sealed != kept["log_hash"]:
        return (
            f"the chain at position {kept['position']} is not what was signed on "
            f"{kept['signed_at']}: the log before it was changed"
        )
    return None


def signature_problem(kept: dict[str, Any]) -> str | None:
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(kept["public_key"]))
        public.verify(
            bytes.fromhex(kept["signature"]),
            checkpoint_message(int(kept["position"]), kept["log_hash"], kept["signed_at"]),
        )
    except (KeyError, ValueError, TypeError):
        return (
            "the checkpoint is malformed: it needs position, log_hash, signed_at, public_key "
            "and signature"
        )
    except InvalidSignature:
        return "the checkpoint's signature does not match its content"
    return None


def latest_checkpoint(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(checkpoints).order_by(checkpoints.c.position.desc()).limit(1)
        ).first()
    return dict(row._mapping) if row else None


def _public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class AuditError(Exception):
    """An audit command cannot do what was asked (no key, an empty log...)."""
