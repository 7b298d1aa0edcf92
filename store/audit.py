"""Tamper evidence: every stored event chained by hashes and signed as it is written, and a walk
of the log that names the first event changed, removed, inserted, reordered or unsigned.

The writer (store/signing.py) writes, in the transaction that writes the events, one row per
event into `event_chain`: the event's place in the log, its case (originator) and version, its
`case_hash` = sha256(previous case_hash of the same case + the event's digest) and its `log_hash`
= sha256(previous log_hash + place + case_hash); then one row into `event_signatures`: the
transaction's first and last place and the Ed25519 signature of its links (`links_message`). The
digest covers what the library stores: the originator id, the version, the topic and the stored
bytes of the event.

`verify` recomputes both chains from the events as they are now, compares them with the links,
and checks that the signed ranges cover every link without a gap, each signature by a key the
park pinned outside the database (`Trust`). Nothing is ever chained after the fact: a log written
before signing is chained and signed once, by `migrate`, which says where signing starts.
Triggers refuse UPDATE and DELETE on the events and on the chain, so changing the record takes an
intruder who first drops them, and then `verify` names the change.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

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

if TYPE_CHECKING:
    from concurrent.futures import Future

GENESIS = "0" * 64
BATCH = 5000
# A position as a primary key: on SQLite an INTEGER one is the row's own id, so a link or a
# signature is written into one table page, with no separate index to update.
POSITION = BigInteger().with_variant(Integer(), "sqlite")

chain_metadata = MetaData()
chain = Table(
    "event_chain",
    chain_metadata,
    Column("position", POSITION, primary_key=True),  # the event's notification id
    Column("originator_id", String(36), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("case_hash", String(64), nullable=False),
    Column("log_hash", String(64), nullable=False),
)
chain_head = Table(  # one row: the last link written (updated by each writer, in its turn)
    "event_chain_head",
    chain_metadata,
    Column("id", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("log_hash", String(64), nullable=False),
)
signatures = Table(  # one row per writing transaction: its links, signed
    "event_signatures",
    chain_metadata,
    Column("last_position", POSITION, primary_key=True),
    Column("first_position", BigInteger, nullable=False),
    Column("signed_at", String(40), nullable=False),  # when it was written (UTC)
    Column("public_key", String(64), nullable=False),  # Ed25519, raw, hex
    Column("signature", String(128), nullable=False),  # hex
    Column("migrated", Integer, nullable=False),  # 1: the past of a log written before signing
)
signing_started = Table(  # one row once events are signed: from where, and since when
    "audit_signing",
    chain_metadata,
    Column("id", Integer, primary_key=True),
    Column("since_position", BigInteger, nullable=False),  # the first position signed as written
    Column("started_at", String(40), nullable=False),
    Column("migrated_events", BigInteger, nullable=False),  # chained and signed on migration
)
APPEND_ONLY = "the event log and its hash chain are append-only: {operation} is refused"


_sha256 = hashlib.sha256


def digest(originator_id: Any, version: int, topic: str, state: bytes | str) -> str:
    """The hash of one stored event as the library keeps it (bytes; an intruder's SQL may have
    left text)."""
    stored = state.encode() if isinstance(state, str) else bytes(state)
    return _sha256(f"{originator_id}\n{version}\n{topic}\n".encode() + stored).hexdigest()


def link(previous: str, *parts: object) -> str:
    """The next hash of a chain: the previous one and the parts, a line each."""
    if len(parts) == 1:
        return _sha256(f"{previous}\n{parts[0]}".encode()).hexdigest()
    return _sha256("\n".join([previous, *map(str, parts)]).encode()).hexdigest()


def install(database: Database, engine: Engine) -> None:
    """The chain tables, and the triggers that make events and chain append-only. On a new log
    signing starts at once; a log written before signing waits for `migrate`."""
    chain_metadata.create_all(engine)
    with writing(engine) as conn:
        if conn.execute(select(chain_head)).first() is None:
            conn.execute(chain_head.insert().values(id=1, position=0, log_hash=GENESIS))
        for table in (
            events_table(database),
            "event_chain",
            "event_chain_head",
            "event_signatures",
            "audit_signing",
            "audit_checkpoints",
        ):
            _append_only(conn, database, table)
        started = conn.execute(select(signing_started.c.id)).first() is not None
        empty = conn.exec_driver_sql(f"SELECT 1 FROM {events_table(database)} LIMIT 1").first()
        if not started and empty is None:
            conn.execute(
                signing_started.insert().values(
                    id=1, since_position=1, started_at="", migrated_events=0
                )
            )


def signing_state(engine: Engine) -> dict[str, Any] | None:
    """Where signing started (None: the log was written before signing and waits for
    `migrate`)."""
    with engine.connect() as conn:
        row = conn.execute(select(signing_started)).first()
    return dict(row._mapping) if row else None


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


# ---- signing ---------------------------------------------------------------------------------


def links_message(
    first: int,
    last: int,
    log_hash: str,
    signed_at: str,
    public_key: str,
    links: Sequence[tuple[int, str, int, str]],
) -> bytes:
    """What a writer signs: the places its transaction wrote, the log hash it ends on, when, with
    which key, and each link (place, case, version, case hash), so that a dossier holding some
    of them checks offline."""
    lines = [f"{p} {case} {version} {case_hash}" for p, case, version, case_hash in links]
    head = f"incubator-links/1\n{first}\n{last}\n{log_hash}\n{signed_at}\n{public_key}"
    return "\n".join([head, *lines]).encode()


@dataclass(frozen=True)
class Trust:
    """The public keys the park pinned outside the database (settings, the key files beside the
    database, an auditor's own list): a signature by any other key fails, and a revoked key's
    signature fails from the moment of its revocation on."""

    keys: frozenset[str]
    revoked: dict[str, datetime] = field(default_factory=dict)
    started: int | None = None  # from where the log is signed as written, as noted outside it

    def problem(self, public_key: str, signed_at: str, latest: str) -> str | None:
        """Why a signature by `public_key` at `signed_at` is not to be trusted (None: it is);
        `latest` is the latest signing time met before it in the log, so that a stolen key
        cannot backdate past a later signature."""
        if public_key not in self.keys:
            return f"signed by the key {public_key[:16]}…, which the park did not pin"
        revoked = self.revoked.get(public_key)
        if revoked is None:
            return None
        try:
            when = max(_moment(signed_at), _moment(latest) if latest else _moment(signed_at))
        except ValueError:
            return f"its signing time {signed_at!r} is not a moment"
        if when >= revoked:
            return (
                f"signed by the key {public_key[:16]}… after its revocation on "
                f"{revoked.isoformat()}"
            )
        return None


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def signature_holds(public_key: str, signature: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), message
        )
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


Holds = Callable[[str, str, bytes], bool]  # whether a signature holds: `signature_holds`, or later


# ---- migrating a log written before signing ---------------------------------------------------


def migrate(
    engine: Engine, log: EventLog, key: Ed25519PrivateKey, now: datetime, trust: Trust
) -> dict[str, Any]:
    """Once, for a log written before events were signed: chain what was never chained, sign
    the whole past as one range (marked migrated), and start signing. Refused when signing has
    started (`trust` notes it outside the database too): nothing once chained is chained again."""
    if signing_state(engine) is not None:
        raise AuditError(
            "this log is already signed as it is written: there is nothing to migrate "
            "(`incubator audit verify` says from which position signatures start)"
        )
    if trust.started is not None:
        raise AuditError(f"nothing is migrated: {signatures_gone(trust.started)}")
    with writing(engine) as conn:
        if _any_signature(conn):  # signing it again would vouch for whatever was changed
            raise AuditError(f"nothing is migrated: {SIGNING_START_GONE}")
        _seal_past(conn, log)
        head = conn.execute(select(chain_head)).one()
        first = conn.execute(select(func.min(chain.c.position))).scalar() or 0
        links = [
            (r.position, r.originator_id, r.version, r.case_hash)
            for r in conn.execute(select(chain).order_by(chain.c.position))
        ]
        signed_at = now.astimezone(UTC).isoformat()
        public = public_hex(key.public_key())
        if links:
            message = links_message(first, head.position, head.log_hash, signed_at, public, links)
            conn.execute(
                signatures.insert().values(
                    last_position=head.position,
                    first_position=first,
                    signed_at=signed_at,
                    public_key=public,
                    signature=key.sign(message).hex(),
                    migrated=1,
                )
            )
        conn.execute(
            signing_started.insert().values(
                id=1,
                since_position=head.position + 1,
                started_at=signed_at,
                migrated_events=len(links),
            )
        )
    return {"migrated_events": len(links), "signed_from": head.position + 1, "key": public}


UNMIGRATED = (
    "the log was written before events were signed: run `incubator audit migrate` once to "
    "chain and sign its past"
)


def signatures_gone(started: int) -> str:
    return (
        f"the park's trusted-keys file notes that this log is signed as it is written from "
        f"position {started}, yet the log holds no signature nor any record of signing: they "
        f"were removed (tampering). `incubator audit migrate` would sign whatever is there now, "
        f"so it refuses; restore the log from a backup (`incubator restore`). Only if this "
        f"database was made again from a log written before signing, delete the line "
        f"'signing-started' from the trusted-keys file"
    )


SIGNING_START_GONE = (
    "the log's events were signed, but the record of where signing started (audit_signing) "
    "was removed: a log written before signing has no signature, so this is tampering, and "
    "`incubator audit migrate` is not for it"
)


def _any_signature(conn: Connection) -> bool:
    return conn.execute(select(signatures.c.last_position).limit(1)).first() is not None


def _seal_past(conn: Connection, log: EventLog) -> None:
    """Chain every event not chained yet (a log of an older release, sealed after the fact by
    its readers): only ever run by `migrate`."""
    head = conn.execute(_locked(conn, select(chain_head).where(chain_head.c.id == 1))).one()
    position, log_hash = head.position, head.log_hash
    while True:
        notifications = log.recorder.select_notifications(
            start=position, limit=BATCH, inclusive_of_start=False
        )
        if not notifications:
            break
        last_of = _case_hashes_before(conn, notifications)
        rows = []
        for n in notifications:
            case = str(n.originator_id)
            case_hash = link(
                last_of.get(case, GENESIS), digest(case, n.originator_version, n.topic, n.state)
            )
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
        position = notifications[-1].id
    conn.execute(
        chain_head.update().where(chain_head.c.id == 1).values(position=position, log_hash=log_hash)
    )


def _locked(conn: Connection, query: Any) -> Any:
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def _case_hashes_before(conn: Connection, notifications: Sequence[Any]) -> dict[str, str]:
    """The chained hash each case had before its first event in `notifications` (a case's
    first event has none): one query a batch, not one a case."""
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
    sealed: int = 0  # of them, linked, signed and checked
    signatures: int = 0  # signed ranges checked
    signed_from: int | None = None  # the first position signed as it was written
    migrated: int = 0  # events chained and signed once, on migration
    keys: dict[str, int] = field(default_factory=dict)  # events signed by each key
    head: str = GENESIS  # the log hash of the last linked event
    problem: dict[str, Any] | None = None
    cases: set[str] = field(default_factory=set, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "sealed": self.sealed,
            "signatures": self.signatures,
            "signed_from": self.signed_from,
            "migrated": self.migrated,
            "keys": self.keys,
            "head": self.head,
            "cases": len(self.cases),
            "problem": self.problem,
        }


class _Signatures:
    """The writers' signed ranges, walked beside the links: each link must fall in the next
    range, and a range is checked when its last link is met."""

    def __init__(
        self, conn: Connection, trust: Trust, verdict: Verdict, holds: Holds = signature_holds
    ) -> None:
        self.ranges = _rows(conn, signatures, signatures.c.last_position)
        self.trust, self.verdict, self.holds = trust, verdict, holds
        self.ahead: Any = next(self.ranges, None)  # the next range, not entered yet
        self.row: Any = None  # the range being walked
        self.links: list[tuple[int, str, int, str]] = []
        self.latest = ""  # the latest signing time met: a revoked key cannot backdate past it

    def cover(
        self, position: int, case: str, version: int, case_hash: str, log_hash: str
    ) -> tuple[str, str] | None:
        """What is wrong with the signing of the link at `position` (kind, in words; None: it
        is signed, or will be by the end of its range)."""
        if self.row is None:
            if self.ahead is None or self.ahead.first_position != position:
                return "unsigned", "a link that no signature covers"
            self.row, self.links, self.ahead = self.ahead, [], next(self.ranges, None)
        self.links.append((position, case, version, case_hash))
        if position > self.row.last_position:
            return "unsigned", "a link that no signature covers"
        if position < self.row.last_position:
            return None
        row, self.row = self.row, None
        distrust = self.trust.problem(row.public_key, row.signed_at, self.latest)
        if distrust:
            return "signature", distrust
        message = links_message(
            row.first_position, row.last_position, log_hash, row.signed_at, row.public_key,
            self.links,
        )  # fmt: skip
        if not self.holds(row.public_key, row.signature, message):
            return "signature", "its signature does not hold for the links it covers"
        self.latest = max(self.latest, row.signed_at)
        self.verdict.signatures += 1
        self.verdict.keys[row.public_key] = self.verdict.keys.get(row.public_key, 0) + len(
            self.links
        )
        return None

    def left(self) -> tuple[str, str] | None:
        """What is left unsigned, or signed but gone, once every link was walked."""
        if self.ahead is not None:  # a writer signed links that are gone with their events
            return "removed", (
                f"positions {self.ahead.first_position}–{self.ahead.last_position} were written "
                f"and signed, but are no longer in the log (the tail cut off?)"
            )
        if self.row is not None:
            return "unsigned", "the last links are covered by no signature"
        return None


def verify(engine: Engine, trust: Trust) -> Verdict:
    """Walk the log, its links and their signatures side by side; stop at the first event that
    is not as it was written and signed.

    A log written one command at a time has a signature for about every event, and checking
    one (Ed25519, about 0.1 ms) costs several times hashing its events: the signatures are
    checked by threads beside the walk (the library releases the GIL while it checks), on the
    assumption that they hold. Should any not hold, or the walk find anything wrong, the log is
    walked again checking each signature in its turn, so that what is named is the first
    problem in log order, as the walk alone names it."""
    with _Beside() as beside:
        verdict = _verify(engine, trust, beside.holds)
        if verdict.ok and beside.all_held():
            return verdict
    return _verify(engine, trust, signature_holds)


class _Beside:
    """Signatures checked by a pool of threads in batches, while the caller goes on as if they
    held; `all_held` waits for the answer. At most BEHIND batches wait, so memory stays flat."""

    BATCH, BEHIND = 256, 64

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
        self.batch: list[tuple[str, str, bytes]] = []
        self.waiting: deque[Future[bool]] = deque()
        self.failed = False

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *_: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def holds(self, public_key: str, signature: str, message: bytes) -> bool:
        self.batch.append((public_key, signature, message))
        if len(self.batch) >= self.BATCH:
            self._send()
        return not self.failed

    def _send(self) -> None:
        batch, self.batch = self.batch, []
        self.waiting.append(self.pool.submit(_all_hold, batch))
        while self.waiting and (len(self.waiting) > self.BEHIND or self.waiting[0].done()):
            self.failed |= not self.waiting.popleft().result()

    def all_held(self) -> bool:
        if self.batch:
            self._send()
        while self.waiting and not self.failed:
            self.failed = not self.waiting.popleft().result()
        return not self.failed


def _all_hold(batch: list[tuple[str, str, bytes]]) -> bool:
    return all(signature_holds(*checked) for checked in batch)


def _verify(engine: Engine, trust: Trust, holds: Holds) -> Verdict:
    verdict = Verdict()
    with _snapshot(engine) as conn:
        # The head, the last event and the links as of one moment: events up to `until` were
        # committed with their links (one transaction each), so a writer meanwhile is not seen.
        head = conn.execute(select(chain_head)).one()
        until = conn.exec_driver_sql(_LAST_EVENT[conn.dialect.name]).scalar() or 0
        started = conn.execute(select(signing_started)).first()
        if started is None and until:  # written before signing, or the record of it removed
            return _fail(verdict, *_never_started(conn, trust))
        verdict.signed_from = started.since_position if started else None
        verdict.migrated = started.migrated_events if started else 0
        walk = _Walk(conn, trust, verdict, holds)
        failed = walk.through(until)
        if failed:
            return _fail(verdict, *failed)
        gone = _first_link_after(conn, walk.walked)
        if gone is not None:  # in the snapshot with its event, which is gone
            return _fail(verdict, "removed", gone, "linked, but no longer in the log")
        left = walk.signed.left()
        if left:
            return _fail(verdict, left[0], None, left[1])
    if (head.position, head.log_hash) != (until, verdict.head):
        return _fail(
            verdict,
            "changed",
            None,
            "the chain's recorded head is not its last link (moved back, or the tail cut?)",
        )
    return verdict


def _never_started(conn: Connection, trust: Trust) -> tuple[str, None, str]:
    """What a log with events but no record of where signing started is: one whose signatures
    remain, or whose start the park noted outside it, was tampered with; else it was written
    before signing."""
    if _any_signature(conn):
        return "changed", None, SIGNING_START_GONE
    if trust.started is not None:
        return "removed", None, signatures_gone(trust.started)
    return "unsigned", None, UNMIGRATED


class _Walk:
    """The events in log order beside the links at their places: both chains recomputed from
    the stored bytes, each link checked and handed to the signed ranges. What it walked is
    written into the verdict as it stops, ok or not."""

    def __init__(self, conn: Connection, trust: Trust, verdict: Verdict, holds: Holds) -> None:
        self.conn, self.verdict = conn, verdict
        self.signed = _Signatures(conn, trust, verdict, holds)
        self.walked = 0  # the position of the last event walked

    def through(self, until: int) -> tuple[str, Any, str] | None:
        """Every event up to `until`; what is wrong with the first that is not as it was
        written and signed (kind, where, in words), or None."""
        verdict, signed, sha256 = self.verdict, self.signed, _sha256
        last_of: dict[str, str] = {}
        version_of: dict[str, int] = {}
        named: dict[Any, str] = {}  # the originator id as stored -> as the chain names it
        log_hash, walked, sealed_count, problem = GENESIS, 0, 0, None
        links = signed.links
        inside = 0  # events before this position are inside the range being walked
        try:
            # the common case inline, on the driver's own tuples (a million times a walk)
            for rows in _walk(self.conn, until):
                for row in rows:
                    position, stored_id, version, topic, state, place, linked, linked_version = row[
                        :8
                    ]
                    case = named.get(stored_id)
                    if case is None:
                        case = named[stored_id] = _dashed(stored_id)
                    if state.__class__ is not bytes:  # an intruder's SQL may have left text
                        state = state.encode() if isinstance(state, str) else bytes(state)
                    previous = last_of.get(case)
                    event_digest = sha256(
                        f"{case}\n{version}\n{topic}\n".encode() + state
                    ).hexdigest()
                    case_hash = sha256(
                        f"{previous or GENESIS}\n{event_digest}".encode()
                    ).hexdigest()
                    next_hash = sha256(f"{log_hash}\n{position}\n{case_hash}".encode()).hexdigest()
                    if (
                        place != position
                        or linked != case
                        or linked_version != version
                        or case_hash != row[8]
                        or next_hash != row[9]
                        or version != (version_of[case] + 1 if previous else 1)
                    ):
                        event = _Event(position, case, version, topic, state)
                        sealed = None if place is None else _Link(*row[5:])
                        problem = _mismatch(
                            self.conn, event, sealed, walked, version_of, last_of, log_hash
                        )
                        return problem
                    if position < inside:  # inside a range: its link noted
                        links.append((position, case, version, case_hash))
                    else:
                        unsigned = signed.cover(position, case, version, case_hash, next_hash)
                        if unsigned:
                            event = _Event(position, case, version, topic, state)
                            problem = unsigned[0], event, unsigned[1]
                            return problem
                        links = signed.links
                        inside = signed.row.last_position if signed.row is not None else 0
                    log_hash, walked = next_hash, position
                    last_of[case], version_of[case] = case_hash, version
                    sealed_count += 1
        finally:
            self.walked = walked
            verdict.sealed, verdict.head, verdict.cases = sealed_count, log_hash, set(last_of)
            verdict.events = sealed_count + (problem is not None)
        return problem


_LAST_EVENT = {
    "sqlite": "SELECT max(rowid) FROM stored_events",
    "postgresql": "SELECT max(notification_id) FROM incubator_events",
}


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one moment of the database."""
    with engine.connect() as plain:
        conn = plain
        if plain.dialect.name == "postgresql":
            conn = plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _sealed_anywhere(conn: Connection, case: str, version: int) -> bool:
    found = conn.execute(
        select(chain.c.position).where(chain.c.originator_id == case, chain.c.version == version)
    ).first()
    return found is not None


def _mismatch(  # noqa: PLR0911 - one return a kind of tampering
    conn: Connection,
    n: _Event,
    sealed: _Link | None,
    walked: int,
    version_of: dict[str, int],
    last_of: dict[str, str],
    log_hash: str,
) -> tuple[str, Any, str]:
    """What is wrong where the event `n` and the link at its place (`sealed`) disagree: the
    kind, where (the event, or a link whose event is gone) and in words."""
    gone = _first_link_after(conn, walked, before=n.id)
    if gone is not None:
        return "removed", gone, "linked, but no longer in the log"
    case, version = n.originator_id, n.originator_version
    if sealed is None or (sealed.originator_id, sealed.version) != (case, version):
        if not _sealed_anywhere(conn, case, version):
            return "inserted", n, "an event without a link: never chained"
        if sealed is None:
            return "reordered", n, "its link is at another place of the log"
        detail = f"this place was linked for version {sealed.version} of {sealed.originator_id}"
        return "reordered", n, detail
    if version != version_of.get(case, 0) + 1:
        return "gap", n, f"version {version_of.get(case, 0) + 1} of its aggregate is missing"
    case_hash = link(last_of.get(case, GENESIS), digest(case, version, n.topic, n.state))
    if case_hash != sealed.case_hash:
        return "changed", n, "its content is not what was written and signed"
    return "changed", n, "the chain over the whole log breaks here"


def _first_link_after(conn: Connection, position: int, before: int | None = None) -> Any:
    """The first link after `position` (and before `before`): one whose event is gone."""
    query = select(chain).where(chain.c.position > position)
    if before is not None:
        query = query.where(chain.c.position < before)
    return conn.execute(query.order_by(chain.c.position).limit(1)).first()


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


class _Event(NamedTuple):
    id: int
    originator_id: str  # the UUID as text, with its dashes
    originator_version: int
    topic: str
    state: bytes | str  # bytes as the library stores them; text if someone wrote text


class _Link(NamedTuple):
    position: int
    originator_id: str
    version: int
    case_hash: str
    log_hash: str


_WALK = {  # each event as stored, with the link at its place: no decoding, no UUID objects;
    # a window of places bounds both sides, so the plan is two index scans whatever the stats
    "sqlite": "SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, "
    "c.position, c.originator_id, c.version, c.case_hash, c.log_hash FROM stored_events e "
    "LEFT JOIN event_chain c ON c.position = e.rowid AND c.position > ? AND c.position <= ? "
    "WHERE e.rowid > ? AND e.rowid <= ? ORDER BY e.rowid",
    "postgresql": "SELECT e.notification_id, e.originator_id::text, e.originator_version, "
    "e.topic, e.state, c.position, c.originator_id, c.version, c.case_hash, c.log_hash "
    "FROM incubator_events e LEFT JOIN event_chain c ON c.position = e.notification_id "
    "AND c.position > %s AND c.position <= %s "
    "WHERE e.notification_id > %s AND e.notification_id <= %s ORDER BY e.notification_id",
}


_BINARY: dict[str, dict[str, bool]] = {  # PostgreSQL: the stored bytes as they are, not in hex
    "sqlite": {},
    "postgresql": {"binary": True},
}


def _rows(conn: Connection, table: Table, order: Any) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(select(table).where(order > after).order_by(order).limit(BATCH)).all()
        if not rows:
            return
        yield from rows
        after = getattr(rows[-1], order.name)


def _dashed(originator_id: Any) -> str:
    """An originator id as the chain names it: SQLite keeps the UUID's 32 hex digits."""
    text = str(originator_id)
    if len(text) == 32:
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def _walk(conn: Connection, until: int) -> Iterator[list[tuple[Any, ...]]]:
    """The events up to `until` in the verifier's snapshot, each with the link at its place, as
    the driver returns them, a window at a time."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    statement = _WALK[conn.dialect.name]
    try:
        for start in range(0, until, BATCH):
            end = min(start + BATCH, until)
            cursor.execute(statement, (start, end, start, end), **_BINARY[conn.dialect.name])
            yield cast(list[tuple[Any, ...]], cursor.fetchall())
    finally:
        cursor.close()


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
    return public_hex(key.public_key())


def checkpoint(engine: Engine, key: Ed25519PrivateKey, now: datetime) -> dict[str, Any]:
    """Sign the head of the chain and record the checkpoint (kept outside too)."""
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
            "public_key": public_hex(key.public_key()),
            "signature": key.sign(message).hex(),
        }
        kept = conn.execute(
            select(checkpoints).where(checkpoints.c.position == head.position)
        ).first()
        if kept is not None:  # nothing was written since the last checkpoint: that one holds
            return dict(kept._mapping)
        conn.execute(checkpoints.insert().values(**row))
    return row


def check_checkpoint(engine: Engine, kept: dict[str, Any], trust: Trust) -> str | None:
    """Why a checkpoint does not hold against the chain as it is now (None: it holds): its
    signature must be good, by a key the park pinned, and the chain must still have its hash at
    its place."""
    problem = signature_problem(kept, trust)
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


def signature_problem(kept: Any, trust: Trust) -> str | None:
    """Why a checkpoint's signature proves nothing (None: it holds, by a pinned key)."""
    if not isinstance(kept, dict):
        return f"the checkpoint is malformed: an object is needed, not {type(kept).__name__}"
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(kept["public_key"]))
        public.verify(
            bytes.fromhex(kept["signature"]),
            checkpoint_message(int(kept["position"]), kept["log_hash"], kept["signed_at"]),
        )
    except (KeyError, ValueError, TypeError, OverflowError):  # JSON's Infinity is no position
        return (
            "the checkpoint is malformed: it needs position, log_hash, signed_at, public_key "
            "and signature"
        )
    except InvalidSignature:
        return "the checkpoint's signature does not match its content"
    distrust = trust.problem(str(kept["public_key"]), str(kept["signed_at"]), "")
    return f"the checkpoint is {distrust}" if distrust else None


def latest_checkpoint(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(checkpoints).order_by(checkpoints.c.position.desc()).limit(1)
        ).first()
    return dict(row._mapping) if row else None


def signed_by(engine: Engine) -> dict[str, dict[str, Any]]:
    """For each key that signed links in the log: how many ranges, and when first and last."""
    query = select(
        signatures.c.public_key,
        func.count(),
        func.min(signatures.c.signed_at),
        func.max(signatures.c.signed_at),
    ).group_by(signatures.c.public_key)
    with engine.connect() as conn:
        return {
            key: {"ranges": ranges, "first_signed": first, "last_signed": last}
            for key, ranges, first, last in conn.execute(query)
        }


def public_hex(key: Ed25519PublicKey) -> str:
    """A public key as the chain, checkpoints and trusted-keys files write it: raw, in hex."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class AuditError(Exception):
    """An audit command cannot do what was asked (no key, an empty log...)."""
