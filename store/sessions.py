"""Sessions of logged-in accounts and failed logins, in the database, so that every worker (the
API's bearer tokens, the web's cookies) sees the same ones.

A session's token is kept only as its sha256: whoever reads the table cannot use what they read.
Times are whole microseconds since 1970 (UTC), the same on SQLite and PostgreSQL; the caller
gives every moment (from its injected clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from store.database import reading, writing

metadata = MetaData()
sessions = Table(
    "account_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the token, hex
    Column("account_id", String(36), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
# One row per account name tried (an account or not): the failures of the current window.
login_failures = Table(
    "login_failures",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("since", BigInteger, nullable=False),  # the first failure of the window
    Column("locked_until", BigInteger),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every request's check of its session, built once (SQLAlchemy keys a statement it is given
# anew each time, which cost more than the look-up).
_FIND = select(sessions).where(
    sessions.c.token_hash == bindparam("token_hash"), sessions.c.expires_at > bindparam("now")
)


def install(engine: Engine) -> None:
    metadata.create_all(engine)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def length(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def moment(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class StoredSession:
    account_id: str
    name: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class Failures:
    """An account's failed logins in the current window, and until when it is locked."""

    failures: int
    locked_until: datetime | None


class SessionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- sessions -----------------------------------------------------------------------------

    def open(
        self,
        token_hash: str,
        session: StoredSession,
        now: datetime,
    ) -> None:
        """A new session; the expired ones of everybody go at the same time."""
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.expires_at <= micros(now)))
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash,
                    account_id=session.account_id,
                    name=session.name,
                    csrf=session.csrf,
                    created_at=micros(now),
                    expires_at=micros(session.expires_at),
                )
            )

    def find(self, token_hash: str, now: datetime) -> StoredSession | None:
        """The session, unless it is unknown or expired."""
        with reading(self.engine) as conn:  # one statement: no BEGIN and ROLLBACK
            row = conn.execute(_FIND, {"token_hash": token_hash, "now": micros(now)}).first()
        if row is None:
            return None
        return StoredSession(row.account_id, row.name, row.csrf, moment(row.expires_at))

    def end(self, token_hash: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

    def end_all(self, account_id: str) -> int:
        """Every session of the account (a disabled account, a password changed)."""
        with writing(self.engine) as conn:
            return conn.execute(
                delete(sessions).where(sessions.c.account_id == account_id)
            ).rowcount

    # ---- failed logins ------------------------------------------------------------------------

    def locked_until(self, account_id: str, now: datetime) -> datetime | None:
        with self.engine.connect() as conn:
            until = conn.scalar(
                select(login_failures.c.locked_until).where(
                    login_failures.c.account_id == account_id
                )
            )
        return moment(until) if until is not None and until > micros(now) else None

    def failed(
        self, account_id: str, now: datetime, window: timedelta, limit: int, lock: timedelta
    ) -> Failures:
        """One more failure: the `limit`-th within `window` locks the account for `lock`. A
        window starts at the first failure after the last one ended (or the lock did)."""
        with writing(self.engine) as conn:
            row = _locked_row(conn, account_id)
            at = micros(now)
            over = row.locked_until is not None and row.locked_until <= at
            if over or at - row.since >= length(window):
                failures, since = 1, at
            else:
                failures, since = row.failures + 1, row.since
            until = at + length(lock) if failures >= limit else None
            conn.execute(
                login_failures.update()
                .where(login_failures.c.account_id == account_id)
                .values(failures=failures, since=since, locked_until=until)
            )
        return Failures(failures, moment(until) if until is not None else None)

    def succeeded(self, account_id: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(login_failures).where(login_failures.c.account_id == account_id))


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT; PostgreSQL's imported only there (its package,
    every driver's module with it, costs a SQLite command's start-up tens of milliseconds)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    return sqlite.insert


def _locked_row(conn: Connection, account_id: str) -> Any:
    """The account's failures row, locked until the transaction ends (created first, empty,
    if missing, so that two workers counting the first failure wait for each other)."""
    conn.execute(
        _insert(conn)(login_failures)
        .values(account_id=account_id, failures=0, since=0, locked_until=None)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    return conn.execute(
        select(login_failures).where(login_failures.c.account_id == account_id).with_for_update()
    ).first()
