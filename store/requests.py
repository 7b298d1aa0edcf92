"""What the HTTP API keeps beside the log: the first answer to each idempotent request, and the
record of who read which case's history or dossier.

Both live in the database, so they hold across workers and restarts. The answers are a cache
of what was said (a retry gets it again); the reads are a record, append-only like the log:
triggers refuse UPDATE and DELETE on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from store.database import Database, writing

metadata = MetaData()
answers = Table(  # one row per (account, Idempotency-Key): pending until its answer is known
    "api_answers",
    metadata,
    Column("account", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of method, path and body
    Column("status", Integer),  # None while the first request is still running
    Column("body", Text),
    Column("headers", Text),  # JSON: the headers worth repeating (Location, ETag)
    Column("created_at", DateTime(timezone=True), nullable=False),
)
reads = Table(
    "api_reads",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("account", String(200), nullable=False),
    Column("role", String(50)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("what", String(50), nullable=False),  # history, history.csv, dossier
    Column("case_id", String(36), nullable=False, index=True),
)
APPEND_ONLY = "the record of reads is append-only: {operation} is refused"


def install(database: Database, engine: Engine) -> None:
    metadata.create_all(engine)
    with writing(engine) as conn:
        if database.backend == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS api_reads_no_{operation.lower()} "
                    f"BEFORE {operation} ON api_reads BEGIN SELECT RAISE(ABORT, "
                    f"'{APPEND_ONLY.format(operation=operation)}'); END"
                )
            return
        present = {
            row[0]
            for row in conn.execute(
                text(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE c.oid = to_regclass('api_reads')"
                )
            )
        }
        missing = [
            op
            for op in ("UPDATE", "DELETE", "TRUNCATE")
            if f"api_reads_no_{op.lower()}" not in present
        ]
        if not missing:
            return
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION incubator_reads_append_only() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'the record of reads is append-only: % is refused', "
                "TG_OP; END $$ LANGUAGE plpgsql"
            )
        )
        for operation in missing:
            conn.execute(
                text(
                    f"CREATE TRIGGER api_reads_no_{operation.lower()} BEFORE {operation} ON "
                    f"api_reads FOR EACH STATEMENT EXECUTE FUNCTION incubator_reads_append_only()"
                )
            )


# ---- answers to idempotent requests ----------------------------------------------------------


def claim(engine: Engine, account: str, key: str, fingerprint: str, at: datetime) -> Any | None:
    """Claims the key for a first request (None), or returns the row that holds it already."""
    try:
        with writing(engine) as conn:
            conn.execute(
                answers.insert().values(
                    account=account, key=key, fingerprint=fingerprint, created_at=at
                )
            )
        return None
    except IntegrityError:
        with engine.connect() as conn:
            return conn.execute(
                select(answers).where(answers.c.account == account, answers.c.key == key)
            ).one()


def answer(engine: Engine, account: str, key: str, status: int, body: str, headers: str) -> None:
    with writing(engine) as conn:
        conn.execute(
            answers.update()
            .where(answers.c.account == account, answers.c.key == key)
            .values(status=status, body=body, headers=headers)
        )


def release(engine: Engine, account: str, key: str) -> None:
    """The first request failed without an answer: the key is free for a retry."""
    with writing(engine) as conn:
        conn.execute(
            answers.delete().where(
                answers.c.account == account, answers.c.key == key, answers.c.status.is_(None)
            )
        )


# ---- reads of cases ----------------------------------------------------------------------------


def record_read(
    engine: Engine, account: str, role: str | None, at: datetime, what: str, case_id: str
) -> None:
    with writing(engine) as conn:
        conn.execute(
            reads.insert().values(account=account, role=role, at=at, what=what, case_id=case_id)
        )


def read_records(
    engine: Engine, after: int = 0, limit: int = 100, case_id: str | None = None
) -> Sequence[Any]:
    query = select(reads).where(reads.c.id > after).order_by(reads.c.id).limit(limit)
    if case_id is not None:
        query = query.where(reads.c.case_id == case_id)
    with engine.connect() as conn:
        return conn.execute(query).all()
