"""Personal data in the log, sealed under a key per data subject, so that it can be erased while
the append-only record and its hash chain stay as they are (crypto-shredding).

An event class may name its fields that hold personal data: `personal_data = ("contact",)`. The
log's mapper (`PersonalDataMapper`) stores each such field of an event sealed with AES-256-GCM
under the key of the event's aggregate — the data subject — bound to the subject and the field,
and opens it again whenever the event is read. Only the sealed bytes reach the log, so the hash
chain covers the ciphertext. The keys live in `subject_keys`, outside the append-only tables:
erasing a subject destroys its key (the row keeps when it was erased), and from then on each of
its sealed fields reads as erased, by every reader of the log, for ever; so does a field that an
event wrote in plain text before sealing existed (its bytes stay in the log: see `erase`).

The store knows no domain: the caller hands in what an erased field reads as.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.database import Database, writing

metadata = MetaData()
# One row per data subject whose personal data was ever sealed or erased. `key` is NULL once
# erased: the row then says when, so that plain text written before sealing reads as erased too.
subject_keys = Table(
    "subject_keys",
    metadata,
    Column("subject", String(36), primary_key=True),
    Column("key", LargeBinary),  # 32 bytes, AES-256; NULL once erased
    Column("created_at", BigInteger, nullable=False),  # microseconds since 1970, UTC
    Column("erased_at", BigInteger),
    sqlite_with_rowid=False,  # the rows are the key's index: one page written per new key
)
SEALED = "sealed"  # a sealed field is stored as {"sealed": base64(nonce + ciphertext + tag)}
NONCE = 12
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAPPER_TOPIC = "store.personal:PersonalDataMapper"
WAIT_FOR_OLDER = timedelta(seconds=30)  # for transactions that might still see an erased key


class PersonalDataError(Exception):
    """Personal data that cannot be sealed or opened as it should (never shown as plain text)."""


@dataclass(frozen=True)
class KeyState:
    """Where a subject's key stands: kept (since), erased (when), or never made (None)."""

    created_at: datetime | None
    erased_at: datetime | None

    @property
    def kept(self) -> bool:
        return self.created_at is not None and self.erased_at is None


@dataclass(frozen=True)
class Wiped:
    """What erasing a key left behind in the database's own files, as far as it can tell."""

    complete: bool
    note: str


class KeyRow(NamedTuple):
    key: bytes | None
    created_at: int
    erased_at: int | None


class SubjectKeys:
    """The data subjects' keys, and sealing and opening their personal fields."""

    def __init__(self, engine: Engine, erased: str, driver: Driver) -> None:
        self.engine, self.erased, self.driver = engine, erased, driver
        self.backend = engine.dialect.name

    @classmethod
    def install(cls, engine: Engine, erased: str, log: Any) -> SubjectKeys:
        """The keys of the database `engine` and `log` are on, their table created if new."""
        metadata.create_all(engine)
        if engine.dialect.name == "postgresql":
            return cls(engine, erased, PostgresDriver(log.recorder.datastore))
        return cls(engine, erased, SqliteDriver(engine))

    # ---- sealing and opening ------------------------------------------------------------------

    def key_for(self, subject: UUID, at: datetime, first: bool) -> tuple[bytes, NewKey | None]:
        """The subject's key, and the row to store with the event if it is new: a new subject's
        key (the case being created, as a rule) is made now and written in the transaction of
        the first event sealed under it (see `store_new_keys`), so that no event is stored
        without its key and no key without an event. Two writers sealing for a new subject at
        once: one of them meets the other's key at the insert and decides again. The `first`
        event of an aggregate is about a subject that has no key yet (a key is only ever
        written with an event of its subject), so none is looked for."""
        made = _made().get(str(subject))
        if made is not None:  # an earlier event of the same save, not yet written
            return made.key, made
        row = None if first else self._row(subject)
        if row is None:
            new = NewKey(str(subject), AESGCM.generate_key(256), _micros(at))
            _made()[new.subject] = new
            return new.key, new
        if row.key is None:
            raise PersonalDataError(
                f"the personal data of {subject} was erased: nothing personal is recorded "
                f"about that subject again"
            )
        return bytes(row.key), None

    @staticmethod
    def seal(key: bytes, subject: UUID, field: str, text: str) -> dict[str, str]:
        """`text` sealed under the subject's `key`, bound to the subject and the field."""
        nonce = os.urandom(NONCE)
        sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), _bound(subject, field))
        return {SEALED: base64.b64encode(nonce + sealed).decode("ascii")}

    def reveal(self, subject: UUID, field: str, stored: Any) -> Any:
        """A personal field as stored, opened: its text while the subject's key is kept,
        `erased` once it is destroyed. Plain text written before sealing existed is shown as
        it is until the subject is erased."""
        if stored is None:
            return None
        row = self._row(subject)
        if isinstance(stored, dict) and set(stored) == {SEALED}:
            if row is None or row.key is None:
                return self.erased
            raw = base64.b64decode(stored[SEALED])
            try:
                opened = AESGCM(row.key).decrypt(raw[:NONCE], raw[NONCE:], _bound(subject, field))
            except InvalidTag:
                raise PersonalDataError(
                    f"the sealed {field} of {subject} does not open with its subject's key: "
                    f"it was altered, or moved from another subject or field"
                ) from None
            return opened.decode("utf-8")
        return self.erased if row is not None and row.erased_at is not None else stored

    # ---- the keys -----------------------------------------------------------------------------

    def state(self, subject: UUID) -> KeyState:
        row = self._row(subject)
        if row is None:
            return KeyState(None, None)
        erased = _moment(row.erased_at) if row.erased_at is not None else None
        return KeyState(_moment(row.created_at), erased)

    def erase(self, subject: UUID, at: datetime) -> Wiped:
        """Destroys the subject's key, for good: overwritten where SQLite kept it (secure
        delete, then the write-ahead log checkpointed and truncated), the table rewritten on
        PostgreSQL (VACUUM FULL, once the transactions that might still see the key ended). A
        subject without a key (plain text from before sealing) gets the row that says it was
        erased."""
        stamp = _micros(at)
        if self.backend == "sqlite":
            return self._erase_sqlite(subject, stamp)
        return self._erase_postgresql(subject, stamp)

    def _erase_postgresql(self, subject: UUID, stamp: int) -> Wiped:
        # here, not at the top: the PostgreSQL dialect's package costs a SQLite command's
        # start-up tens of milliseconds (every driver's module, asyncpg's and pg8000's too)
        from sqlalchemy.dialects import postgresql

        with writing(self.engine) as conn:
            conn.execute(
                postgresql.insert(subject_keys)
                .values(subject=str(subject), key=None, created_at=stamp, erased_at=stamp)
                .on_conflict_do_update(
                    index_elements=["subject"], set_={"key": None, "erased_at": stamp}
                )
            )
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                # The old version of the row, key and all, stays in the table's file while a
                # transaction older than the erasure might still see it: VACUUM FULL copies
                # such a version into the new file. So wait for those to end first.
                older = _older_transactions(conn)
                conn.exec_driver_sql("VACUUM FULL subject_keys")
        except SQLAlchemyError as e:  # a role that does not own the table, say
            return Wiped(
                False,
                f"the table of keys could not be rewritten ({str(e).splitlines()[0]}): the "
                f"destroyed key's old row stays in its file until PostgreSQL reuses the space; "
                f"run VACUUM FULL subject_keys as the table's owner",
            )
        if older:
            return Wiped(
                False,
                f"{older} transaction(s) older than the erasure were still open after "
                f"{WAIT_FOR_OLDER.total_seconds():.0f} s: the destroyed key's old row version "
                f"stays in the table's file until they end and VACUUM FULL subject_keys runs "
                f"again",
            )
        return Wiped(
            True,
            "the key's row was rewritten away (VACUUM FULL); PostgreSQL's write-ahead log and "
            "any backup or replica keep older copies until they are recycled",
        )

    def _erase_sqlite(self, subject: str | UUID, stamp: int) -> Wiped:
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            secure = raw.execute("PRAGMA secure_delete").fetchone()[0]
            raw.execute("PRAGMA secure_delete = ON")  # freed bytes are overwritten with zeros
            try:
                with conn.begin():
                    conn.execute(
                        sqlite.insert(subject_keys)
                        .values(subject=str(subject), key=None, created_at=stamp, erased_at=stamp)
                        .on_conflict_do_update(
                            index_elements=["subject"], set_={"key": None, "erased_at": stamp}
                        )
                    )
                # The old page with the key is in the write-ahead log (and in the file until
                # a checkpoint copies the new one over it): checkpoint, then empty the log.
                busy, _frames, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.execute(f"PRAGMA secure_delete = {int(secure)}")
        if busy:
            return Wiped(
                False,
                "another connection was reading, so the write-ahead log could not be emptied "
                "yet: the destroyed key's old page stays in it until the log is next reset",
            )
        return Wiped(True, "the key's bytes were overwritten in the file and its write-ahead log")

    def _row(self, subject: UUID) -> KeyRow | None:
        return self.driver.select(str(subject))


class Driver(Protocol):
    """The statement of every opening (and of sealing for a known subject), on the database
    driver's own connection: read at each opening of a sealed field (a case's application,
    each time it is replayed), SQLAlchemy's statement and transaction handling would cost ten
    times the query."""

    def select(self, subject: str) -> KeyRow | None: ...


class SqliteDriver:
    SELECT = "SELECT key, created_at, erased_at FROM subject_keys WHERE subject = ?"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def select(self, subject: str) -> KeyRow | None:
        pooled = self.engine.raw_connection()  # isolation_level None: autocommit (database.py)
        try:
            raw: Any = pooled.driver_connection
            found = raw.execute(self.SELECT, (subject,)).fetchone()
        finally:
            pooled.close()
        return None if found is None else KeyRow(*found)


class PostgresDriver:
    """On the event log's own connections (autocommit, no pre-ping): one round trip each."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        table = f'"{datastore.schema}".subject_keys'
        self.select_sql = f"SELECT key, created_at, erased_at FROM {table} WHERE subject = %s"

    def select(self, subject: str) -> KeyRow | None:
        with self.datastore.get_connection() as conn:
            found = conn.execute(self.select_sql, (subject,)).fetchone()
        return None if found is None else KeyRow(**found)


class NewKey(NamedTuple):
    """A subject's key made for an event about to be written, stored in the event's
    transaction."""

    subject: str
    key: bytes
    created_at: int


@dataclass(frozen=True)
class KeyedStoredEvent(StoredEvent):
    """A stored event whose sealed fields use a key made for it: the recorder writes the key in
    the event's transaction (`store_new_keys`)."""

    new_key: NewKey | None = None


_pending = threading.local()


def _made() -> dict[str, NewKey]:
    """This thread's keys made for events not yet written (an aggregate's events are mapped
    one by one before the recorder writes them all)."""
    made: dict[str, NewKey] | None = getattr(_pending, "made", None)
    if made is None:
        made = _pending.made = {}
    return made


INSERT_KEY = "INSERT INTO {table} (subject, key, created_at) VALUES ({mark}, {mark}, {mark})"


def new_keys(stored: Sequence[StoredEvent]) -> list[NewKey]:
    """The keys made for `stored`, to be written in their transaction. A subject that has a key
    already (another writer's, committed meanwhile) fails the transaction as a lost race does,
    and the command decides again. The keys are forgotten here whatever happens: written, or to
    be made again."""
    new = {
        e.new_key.subject: e.new_key
        for e in stored
        if isinstance(e, KeyedStoredEvent) and e.new_key is not None
    }
    if new:
        made = _made()
        for subject in new:
            made.pop(subject, None)
    return list(new.values())


def store_new_keys(cursor: Any, insert: str, stored: Sequence[StoredEvent]) -> None:
    """Writes the keys made for `stored` with the cursor of their transaction (`insert` is
    INSERT_KEY for the backend; see `new_keys`)."""
    new = new_keys(stored)
    if len(new) == 1:
        cursor.execute(insert, new[0])
    elif new:
        cursor.executemany(insert, new)


class PersonalDataMapper(Mapper[UUID]):
    """The library's mapper, sealing an event's personal fields as it stores them and opening
    them as it reads them (the library makes it from MAPPER_TOPIC; `keep` hands it the keys)."""

    keys: SubjectKeys | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = getattr(type(domain_event), "personal_data", ())
        state = vars(domain_event)
        held = [f for f in fields if state.get(f) is not None]
        if held:
            keys = self._keys()
            if any(type(state[f]) is not str for f in held):  # an erased one, say
                raise PersonalDataError(f"only text is sealed as personal data: {held}")
            subject = domain_event.originator_id
            first = domain_event.originator_version == 1
            key, new = keys.key_for(subject, domain_event.timestamp, first)
            sealed = object.__new__(type(domain_event))
            opened = {f: keys.seal(key, subject, f, state[f]) for f in held}
            object.__setattr__(sealed, "__dict__", state | opened)
            stored = super().to_stored_event(sealed)
            if new is not None:
                return KeyedStoredEvent(
                    stored.originator_id,
                    stored.originator_version,
                    stored.topic,
                    stored.state,
                    new_key=new,
                )
            return stored
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        fields = getattr(type(event), "personal_data", ())
        if fields:
            state, keys = vars(event), self._keys()
            for name in fields:
                if state.get(name) is not None:
                    state[name] = keys.reveal(event.originator_id, name, state[name])
        return event

    def _keys(self) -> SubjectKeys:
        if self.keys is None:
            raise PersonalDataError("the log's personal data has no keys to seal or open it")
        return self.keys


def sealed_decoder(log: Any) -> Callable[[StoredEvent], Any]:
    """How a reader that holds no personal data (the read models) decodes the log's events:
    their personal fields left as stored, sealed. Opening one reads its subject's key, which
    would cost a query for each event that has one."""
    mapper = log.mapper
    if isinstance(mapper, PersonalDataMapper):
        return partial(Mapper.to_domain_event, mapper)
    return mapper.to_domain_event  # type: ignore[no-any-return]


def keys_of(log: Any) -> SubjectKeys | None:
    """The keys of a log opened to seal personal data (None: a log in memory for tests)."""
    mapper = log.mapper
    return mapper.keys if isinstance(mapper, PersonalDataMapper) else None


def sealing(database: Database) -> Database:
    """`database`, its log storing personal fields sealed (see `keep`)."""
    env = database.event_store_env | {"MAPPER_TOPIC": MAPPER_TOPIC}
    return replace(database, event_store_env=env)


def keep(log: Any, keys: SubjectKeys) -> None:
    """Hands the log opened on `sealing(database)` the keys it seals and opens with."""
    mapper = log.mapper
    if not isinstance(mapper, PersonalDataMapper):
        raise PersonalDataError("the log was not opened to seal personal data")
    mapper.keys = keys


def _older_transactions(conn: Any) -> int:
    """How many transactions of this database that began before now are still open, once they
    have ended or WAIT_FOR_OLDER has passed."""
    since = conn.scalar(text("SELECT clock_timestamp()"))
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND xact_start < :since"
    )
    deadline = time.monotonic() + WAIT_FOR_OLDER.total_seconds()
    while (older := int(conn.scalar(query, {"since": since}))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return older


def _bound(subject: UUID | str, field: str) -> bytes:
    """What a sealed field is bound to: it opens only as that subject's that field."""
    return f"{subject}/{field}".encode()


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)
