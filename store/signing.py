"""Events signed as they are written: the writer's side of the audit (store/audit.py).

The log is opened with a recorder of ours (the library's SQLite or PostgreSQL one, extended):
in the transaction that inserts a batch of events, after the log's own lock (SQLite's write
lock; PostgreSQL's advisory turn, see `take_turns`), it reads the chain's head, writes one link
per event, signs the transaction's links with the park's Ed25519 key and moves the head on. So
chaining serializes nothing the log does not serialize already, and no event is ever stored
without its link and signature, nor chained later by a reader.

The keys live outside the database. The signing key is the settings' `[audit] signing_key`, else
one made on first use beside the database (SQLite: `<file>.signing-key.pem`; PostgreSQL: in the
user's data folder, one per database). The pinned public keys are that key's and the lines of
the trusted-keys file beside it (`<hex>` or `<hex> revoked <moment>`; `incubator audit trust-key`
and `revoke-key` add them): `audit verify` accepts a signature by no other key.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder

from store.audit import (
    GENESIS,
    SIGNING_START_GONE,
    AuditError,
    Trust,
    digest,
    link,
    links_message,
    load_signing_key,
    new_signing_key,
    public_hex,
)
from store.database import Database
from store.personal import INSERT_KEY, store_new_keys

KEY = re.compile(r"^[0-9a-f]{64}$")
RECORDER_TOPIC = {
    "sqlite": "store.signing:SignedSQLiteRecorder",
    "postgresql": "store.signing_postgres:SignedPostgresRecorder",  # psycopg only when used
}


class NotSigning(AuditError):
    """The log was opened without a key, or was written before signing and waits for
    `incubator audit migrate`: it is not written to."""


@dataclass(frozen=True)
class Signer:
    """The key a writer signs its links with, and the clock that says when (UTC). `trusted`:
    the trusted-keys file that may revoke it (a stolen key), read again whenever it changes."""

    key: Ed25519PrivateKey
    now: Callable[[], datetime]
    trusted: Path | None = None
    public_key: str = field(init=False)  # hex, raw: computed once, signed into every link
    _read: dict[str, Any] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", public_hex(self.key.public_key()))

    def revoked_from(self) -> datetime | None:
        """When the trusted-keys file revokes this key (None: it does not)."""
        try:
            found = self.trusted.stat() if self.trusted is not None else None
        except FileNotFoundError:
            found = None
        if found is None:
            return None
        stamp = (found.st_ino, found.st_mtime_ns, found.st_size)
        if self._read.get("stamp") != stamp:
            revoked = read_trusted(cast(Path, self.trusted)).revoked.get(self.public_key)
            self._read.update(stamp=stamp, revoked=revoked)
        return cast(datetime | None, self._read["revoked"])

    def check_not_revoked(self, now: datetime) -> None:
        """A revoked key signs nothing more: each link it signed from its revocation on would
        fail `verify` for good, in a log that cannot be corrected."""
        revoked = self.revoked_from()
        if revoked is not None and now >= revoked:
            raise NotSigning(
                f"the signing key {self.public_key[:16]}… was revoked from "
                f"{revoked.isoformat()} ({self.trusted}): nothing it signs from then on "
                f"verifies, so nothing is written with it; make a new key (`incubator audit "
                f"keygen --out FILE`), name it in the settings ([audit] signing_key) and write "
                f"again"
            )


# ---- the writer ------------------------------------------------------------------------------


class LinkWriter:
    """Writes the links of one transaction's events through the library's cursor (`?` or `%s`
    parameters; SQLite's rows and psycopg's dict rows are both read by column name)."""

    HEAD = (
        "SELECT h.position, h.log_hash, (SELECT count(*) FROM {s}audit_signing) AS started, "
        "(SELECT case_hash FROM {s}event_chain WHERE originator_id = ? AND version = ?) "
        "AS previous FROM {s}event_chain_head h WHERE h.id = 1"
    )
    CASE = "SELECT case_hash FROM {s}event_chain WHERE originator_id = ? AND version = ?"
    LINKS = (
        "INSERT INTO {s}event_chain (position, originator_id, version, case_hash, log_hash) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    SIGNATURE = (
        "INSERT INTO {s}event_signatures (last_position, first_position, signed_at, "
        "public_key, signature, migrated) VALUES (?, ?, ?, ?, ?, 0)"
    )
    ANY_SIGNATURE = "SELECT last_position FROM {s}event_signatures LIMIT 1"
    MOVE = "UPDATE {s}event_chain_head SET position = ?, log_hash = ? WHERE id = 1"
    _said: ClassVar[dict[tuple[str, str, str], str]] = {}  # each statement, made once

    def __init__(self, cursor: Any, mark: str, schema: str) -> None:
        self.cursor, self.mark, self.schema = cursor, mark, schema

    def _sql(self, statement: str) -> str:
        key = (statement, self.mark, self.schema)
        if key not in self._said:
            self._said[key] = statement.format(s=self.schema).replace("?", self.mark)
        return self._said[key]

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(self._sql(statement), params)
        return self.cursor.fetchone()

    def run(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(self._sql(statement), params)

    def ask_head(self, stored: Sequence[StoredEvent]) -> None:
        """Send the read of the head (and of the first case's last link): on PostgreSQL it
        goes in the same round trip as the insert."""
        first = stored[0]
        self.cursor.execute(
            self._sql(self.HEAD), (str(first.originator_id), first.originator_version - 1)
        )

    def write(
        self,
        signer: Signer | None,
        positions: Sequence[int],
        stored: Sequence[StoredEvent],
        head: Any = None,
    ) -> None:
        """Chain and sign `stored`, just inserted at `positions`, in their transaction: one
        read (the head, and the first case's last link; `head` if it was asked already), two
        inserts and the head moved on."""
        first_case = str(stored[0].originator_id)
        if head is None:
            self.ask_head(stored)
            head = self.cursor.fetchone()
        if signer is None:
            raise NotSigning("the log was opened without a signing key: nothing is written")
        if head is None or not head["started"]:
            if self.one(self.ANY_SIGNATURE) is not None:
                raise NotSigning(f"{SIGNING_START_GONE}; nothing is written")
            raise NotSigning(
                "this log was written before events were signed as they are written: an "
                "administrator runs `incubator audit migrate` once, then it is written again"
            )
        log_hash, links = head["log_hash"], []
        last_of = {first_case: head["previous"] or GENESIS}  # none: verify names the gap
        for position, event in zip(positions, stored, strict=True):
            case = str(event.originator_id)
            if case not in last_of:
                last_of[case] = self._case_hash(case, event.originator_version - 1)
            case_hash = link(
                last_of[case], digest(case, event.originator_version, event.topic, event.state)
            )
            log_hash = link(log_hash, position, case_hash)
            last_of[case] = case_hash
            links.append((position, case, event.originator_version, case_hash, log_hash))
        first, last = links[0][0], links[-1][0]
        now = signer.now()
        signer.check_not_revoked(now)
        signed_at = now.astimezone(UTC).isoformat()
        public = signer.public_key
        message = links_message(
            first, last, log_hash, signed_at, public, [row[:4] for row in links]
        )
        signature = signer.key.sign(message).hex()
        self.store(links, (last, first, signed_at, public, signature), (last, log_hash))

    def store(
        self, links: list[tuple[Any, ...]], signature: tuple[Any, ...], head: tuple[Any, ...]
    ) -> None:
        """The links, their signature and the head moved on: three statements."""
        if len(links) == 1:
            self.run(self.LINKS, links[0])
        else:
            self.cursor.executemany(self._sql(self.LINKS), links)
        self.run(self.SIGNATURE, signature)
        self.run(self.MOVE, head)

    def _case_hash(self, case: str, version: int) -> str:
        if version < 1:
            return GENESIS
        row = self.one(self.CASE, (case, version))
        return row["case_hash"] if row is not None else GENESIS  # verify names the gap


SQLITE_KEY = INSERT_KEY.format(table="subject_keys", mark="?")


class SignedSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's recorder, writing in each transaction the keys its events are sealed
    under (store/personal.py), then the events, then their links and signature."""

    signer: Signer | None = None

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        store_new_keys(c, SQLITE_KEY, stored_events)
        positions = super()._insert_events(c, stored_events, **kwargs)
        if stored_events:
            assert positions is not None
            LinkWriter(c, "?", "").write(self.signer, positions, stored_events)
        return positions


def signed(database: Database) -> Database:
    """`database`, its log written through the signing recorder."""
    from dataclasses import replace

    topic = RECORDER_TOPIC[database.backend]
    return replace(
        database, event_store_env=database.event_store_env | {"APPLICATION_RECORDER_TOPIC": topic}
    )


def sign_with(log: Any, signer: Signer) -> None:
    """Hands the log opened on `signed(database)` the key its writes are signed with."""
    recorder = log.recorder
    if not hasattr(recorder, "signer"):
        raise AuditError("the log was not opened to sign its events")
    recorder.signer = signer


# ---- the keys, outside the database ----------------------------------------------------------


@dataclass(frozen=True)
class KeyFiles:
    """Where a database's keys are kept: its signing key (unless the settings name one) and the
    public keys pinned for it."""

    signing: Path
    trusted: Path

    @classmethod
    def of(cls, database: Database) -> KeyFiles:
        if database.backend == "sqlite":
            assert database.path is not None
            path = database.path
            return cls(
                path.with_name(f"{path.name}.signing-key.pem"),
                path.with_name(f"{path.name}.trusted-keys"),
            )
        from platformdirs import user_data_path

        env = database.event_store_env  # the database, whoever connects to it
        named = "/".join(
            env.get(k, "") for k in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DBNAME")
        )
        where = hashlib.sha256(f"{named}/{database.schema or 'public'}".encode()).hexdigest()[:16]
        folder = user_data_path("incubator") / "keys" / where
        return cls(folder / "signing-key.pem", folder / "trusted-keys")


def signing_key(files: KeyFiles, named: str | None) -> Ed25519PrivateKey:
    """The key named in the settings, else the database's own, made (and pinned) on first use."""
    if named is not None:
        return load_signing_key(named)
    if not files.signing.exists():
        files.signing.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        made = files.signing.with_name(f".{files.signing.name}.{os.getpid()}")
        public = new_signing_key(made)
        try:  # whole or not at all: another process never reads half a key
            os.link(made, files.signing)
        except FileExistsError:  # another process made it first: theirs is the key
            return load_signing_key(str(files.signing))
        finally:
            made.unlink()
        pin(files, public, "made with this database")
    return load_signing_key(str(files.signing))


def pin(files: KeyFiles, public_key: str, why: str, revoked: datetime | None = None) -> None:
    """Add a line to the trusted-keys file: a key pinned, or revoked from a moment on."""
    if not KEY.match(public_key):
        raise AuditError(f"{public_key!r} is not a public key: 64 hexadecimal digits are needed")
    files.trusted.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = public_key if revoked is None else f"{public_key} revoked {revoked.isoformat()}"
    fd = os.open(files.trusted, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(f"{line}  # {why}\n")


class Pinned(NamedTuple):
    """What a trusted-keys file says: the keys it pins, those it revokes from a moment on, and
    the position from which the log was signed as written (None: it does not say)."""

    keys: set[str]
    revoked: dict[str, datetime]
    started: int | None


STARTED = "signing-started"  # a line of the trusted-keys file: `signing-started <position>`


def read_trusted(path: Path) -> Pinned:
    """The keys a trusted-keys file pins, those it revokes from a moment on, and where signing
    started."""
    keys: set[str] = set()
    revoked: dict[str, datetime] = {}
    started: int | None = None
    if not path.exists():
        return Pinned(keys, revoked, started)
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == STARTED and len(words) == 2 and words[1].isdecimal():
            started = min(int(words[1]), started if started is not None else int(words[1]))
            continue
        ok = KEY.match(words[0]) and (
            len(words) == 1 or (len(words) == 3 and words[1] == "revoked")
        )
        when = None
        if ok and len(words) == 3:
            try:
                when = datetime.fromisoformat(words[2])
            except ValueError:
                ok = None
        if not ok or (when is not None and when.tzinfo is None):
            raise AuditError(
                f"{path}, line {number}: {raw.strip()!r} is neither a public key (64 hex digits) "
                f"nor '<key> revoked <moment with its UTC offset>' nor '{STARTED} <position>'"
            )
        keys.add(words[0])
        if when is not None:
            revoked[words[0]] = min(when, revoked.get(words[0], when))
    return Pinned(keys, revoked, started)


def remember_start(files: KeyFiles, started: int | None) -> None:
    """Note outside the database, once, from which position its log is signed as written: a
    log whose signatures and every record of them were removed then cannot pass for one
    written before signing (which `migrate` would sign anew)."""
    if started is None or read_trusted(files.trusted).started is not None:
        return
    files.trusted.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(files.trusted, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(f"{STARTED} {started}  # the log is signed as written from this position\n")


def trust(files: KeyFiles, key: Ed25519PrivateKey | None) -> Trust:
    """The keys pinned for this database: its signing key's and the trusted-keys file's."""
    keys, revoked, started = read_trusted(files.trusted)
    if key is not None:
        keys.add(public_hex(key.public_key()))
    return Trust(frozenset(keys), revoked, started)
