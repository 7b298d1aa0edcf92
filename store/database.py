"""One database URL selects the backend; the event store and the read models share the database.

`sqlite:///PATH` (the embedded default) or
`postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=S]`.
The event log uses the eventsourcing library's own module for the backend (`eventsourcing.sqlite`,
`eventsourcing.postgres`); read models use SQLAlchemy on the same database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

DATABASE_ENV = "INCUBATOR_DATABASE_URL"
EVENTS_TABLE = "incubator_events"  # the library's name on PostgreSQL: the log's, then "_events"


class DatabaseError(Exception):
    """The database URL is malformed or the database cannot be reached."""


@dataclass(frozen=True)
class Database:
    backend: str  # "sqlite" or "postgresql"
    url: str  # as given, password hidden
    event_store_env: dict[str, str] = field(repr=False)
    sqlalchemy_url: str | URL = field(repr=False)  # a URL object: nothing in it is re-parsed
    schema: str | None = None
    path: Path | None = None
    password: str | None = field(default=None, repr=False)

    def said(self, error: BaseException | str) -> str:
        """A driver's error as a message may show it: without the password, should the driver
        have repeated it (a URL it could not parse, say)."""
        text = str(error)
        return text.replace(self.password, "***") if self.password else text

    def failed(self, doing: str, error: BaseException) -> str:
        """What failed while setting up, in a line: a connection lost or a database busy (an
        operational error) says the database cannot be used now; else what the driver said."""
        lost = operational(error)
        said = (
            f"the database cannot be used now ({self.said(lost)}); nothing more was recorded"
            if lost is not None
            else self.said(error)
        )
        return f"cannot {doing} at {self.url}: {said}"

    def engine(self) -> Engine:
        from sqlalchemy import create_engine, event

        if self.backend == "sqlite":
            engine = create_engine(self.sqlalchemy_url, connect_args={"timeout": 30})

            @event.listens_for(engine, "connect")
            def _connect(dbapi_connection: Any, _record: Any) -> None:
                # Let SQLAlchemy's "begin" below decide how a transaction starts.
                dbapi_connection.isolation_level = None
                dbapi_connection.execute("PRAGMA busy_timeout = 30000")

            @event.listens_for(engine, "begin")
            def _begin(connection: Any) -> None:
                # Writers take the write lock up front (no lock upgrade deadlocks). A reader
                # marked `reading` runs each statement on its own (see `reading`).
                options = connection.get_execution_options()
                if options.get("reading"):
                    return
                immediate = options.get("sqlite_immediate")
                connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        connect_args: dict[str, Any] = {"connect_timeout": 10}
        if self.schema:
            connect_args["options"] = f"-c search_path={self.schema}"
        return create_engine(
            self.sqlalchemy_url,
            connect_args=connect_args,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=4,
        )


@contextmanager
def schema_lock(database: Database, engine: Engine) -> Iterator[Database]:
    """Held while tables are created: processes starting together on a new PostgreSQL database
    would otherwise race to create the same tables and types. (SQLite serializes by itself.)

    Yields the database to open the event log on: a role that does not own the event table (the
    application's role in README, "A role that can only read and append") leaves the library's
    table, index, type and function as their owner made them."""
    if database.backend != "postgresql":
        yield database
        return
    from sqlalchemy import text

    try:
        conn = engine.connect()
    except Exception as e:  # the driver's own errors
        raise DatabaseError(f"cannot connect to {database.url}: {database.said(e)}") from e
    with conn:
        conn.execute(text("SELECT pg_advisory_lock(hashtext('incubator-schema'))"))
        conn.commit()
        try:
            with conn.begin():
                # Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database.
                if database.schema and conn.scalar(
                    text("SELECT to_regnamespace(:s) IS NULL"), {"s": database.schema}
                ):
                    conn.execute(text(f'CREATE SCHEMA "{database.schema}"'))
                not_ours = conn.scalar(
                    text(
                        "SELECT NOT pg_has_role(relowner, 'USAGE') FROM pg_class "
                        "WHERE oid = to_regclass(:table)"
                    ),
                    {"table": EVENTS_TABLE},
                )
            if not_ours:
                env = database.event_store_env | {"CREATE_TABLE": "no"}
                yield replace(database, event_store_env=env)
            else:
                yield database
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext('incubator-schema'))"))
            conn.commit()


def take_turns(database: Database, recorder: Any) -> None:
    """Writers of the PostgreSQL event log take turns under an advisory lock, not LOCK TABLE.

    The library locks the event table IN EXCLUSIVE MODE while it inserts, so that events commit
    in the order of their notification ids and a reader following the log never passes a gap
    that is filled later. PostgreSQL grants that lock only with UPDATE, DELETE or TRUNCATE on the
    table, which the application's role need not have; an advisory lock held to the end of the
    transaction serializes the writers the same way. (A writer that still locks the table, an
    older version, waits for these inserts and they for it: its lock conflicts with theirs.)"""
    if database.backend != "postgresql":
        return
    from psycopg.sql import SQL, Literal

    timeout, _lock_table = recorder.lock_table_statements
    turn = SQL("SELECT pg_advisory_xact_lock(hashtext({0}))").format(
        Literal(f"{database.schema or 'public'}.{EVENTS_TABLE}")
    )
    recorder.lock_table_statements = [timeout, turn]


def default_database_url() -> str:
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('incubator') / 'incubator.sqlite3'}"


def parse_database_url(url: str) -> Database:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as e:
        raise DatabaseError(
            f"malformed database URL '{mask_url(url)}': {why_malformed(e)}"
        ) from None
    if parts.scheme == "sqlite" and url[len("sqlite:") :].startswith("///"):
        return _sqlite(url, parts.path)
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg") and parts.netloc:
        return _postgres(url, parts)
    raise DatabaseError(
        f"unsupported database URL '{mask_url(url)}'; use sqlite:///PATH or "
        f"postgresql://USER@HOST:PORT/DBNAME"
    )


def _sqlite(url: str, raw_path: str) -> Database:
    # sqlite:///relative.db -> "/relative.db" ; sqlite:////abs/path.db -> "//abs/path.db"
    path_text = unquote(raw_path[1:]) if raw_path.startswith("/") else unquote(raw_path)
    if not path_text or path_text == ":memory:":
        raise DatabaseError(
            "SQLite needs a file: sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path = Path(path_text).expanduser()
    _create_private(path)
    return Database(
        backend="sqlite",
        url=mask_url(url),
        event_store_env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        },
        sqlalchemy_url=f"sqlite:///{path}",
        path=path,
    )


def _create_private(path: Path) -> None:
    """The SQLite file and the folders missing above it, created readable by the owner only
    (the file holds people's names and contacts), whatever the umask: SQLite gives its journal
    and WAL files the mode of the database file. What exists already is left as it is."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700)  # a umask only takes bits away: 0700 also under umask 000
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # another process created it meanwhile, the same way
    except OSError as e:
        raise DatabaseError(f"cannot create {e.filename or path}: {e.strerror or e}") from None


def _postgres(url: str, parts: SplitResult) -> Database:
    host, port, user, password = parts.hostname, parts.port, parts.username, parts.password
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise DatabaseError(f"the PostgreSQL URL '{mask_url(url)}' names no database")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"schema"}
    if unknown:
        named = sorted(n if re.fullmatch(r"[A-Za-z_]{1,30}", n) else "(masked)" for n in unknown)
        raise DatabaseError(f"unknown URL option(s) {', '.join(named)}; allowed: schema")
    schema = options.get("schema")
    if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        shown = schema if re.fullmatch(r"[A-Za-z0-9_]{1,63}", schema) else "(masked)"
        raise DatabaseError(
            f"schema '{shown}' must be lower-case letters, digits and underscores, "
            f"not starting with a digit"
        )
    user = unquote(user) if user else "postgres"
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host or "127.0.0.1",
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": unquote(password) if password else "",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "4",
    }
    if schema:
        env["POSTGRES_SCHEMA"] = schema
    from sqlalchemy.engine import URL

    sa_url = URL.create(
        "postgresql+psycopg",
        username=user,
        password=unquote(password) if password else None,
        host=host or "127.0.0.1",
        port=port or 5432,
        database=dbname,
    )
    return Database(
        backend="postgresql",
        url=mask_url(url),
        event_store_env=env,
        sqlalchemy_url=sa_url,
        schema=schema,
        password=unquote(password) if password else None,
    )


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/*")
# A query parameter whose name says it holds a secret (libpq reads ?password=, say).
_SECRET_PARAMETER = re.compile(
    r"(?i)((?:^|[?&;])[^=&;?#]*(?:pass|pwd|secret|token|key)[^=&;?#]*=)[^&;#]*"
)


def mask_url(url: str) -> str:
    """The URL as a message may show it: whatever could be a password is masked, however
    malformed the URL (one slash, none, no colon after the scheme, an @ inside the password).

    The credentials are what precedes the last @ before the query; of them only the user,
    before the first colon, is kept. Without such an @, a "user:secret" whose secret is not a
    port number is masked up to the last @ (a password may hold ? or #), or to the path. So is
    every query parameter whose name says it holds a secret."""
    match = _SCHEME.match(url)
    head = match.group() if match and match.group().endswith("/") else ""  # "user:pw@" is none
    rest = url[len(head) :]
    query = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, query)
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}:***{rest[at:]}" if colon else rest
    else:
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        user, colon, secret = authority.partition(":")
        if colon and not secret.isdigit():  # "user:secret", not "host:port"
            at = rest.rfind("@")  # a password holding / ? or # ends at an @, if any
            rest = f"{user}:***{rest[at:] if at >= 0 else rest[len(authority) :]}"
    return head + _SECRET_PARAMETER.sub(r"\1***", rest)


def why_malformed(error: ValueError) -> str:
    """What urlsplit found wrong, without the text it quotes (it could be the password)."""
    return re.sub(r"\s*(as|:)\s*'.*'$", "", str(error)) or "not a URL"


def reading(engine: Engine) -> Connection:
    """A connection for reads whose every statement stands alone: no BEGIN and ROLLBACK around
    them (PostgreSQL at AUTOCOMMIT; on SQLite no BEGIN, so each statement is its own
    transaction). Each statement sees what was committed when it started, as it would in a
    READ COMMITTED transaction."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn.execution_options(reading=True)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        yield conn


def operational(error: BaseException) -> str | None:
    """The first line of an operational error of the driver (a connection cut, a database busy
    or locked), else None."""
    import sqlite3

    cause = getattr(error, "orig", None) or error
    if not (
        isinstance(cause, sqlite3.OperationalError)
        or (type(cause).__module__.startswith("psycopg") and "OperationalError" in _names(cause))
    ):
        return None
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]


def _names(error: BaseException) -> set[str]:
    return {klass.__name__ for klass in type(error).__mro__}
