"""Backups of the whole database, and restores that check what they restored.

`backup` writes one file (store/backup.py: a SQLite database and its manifest, signed with the
park's key where the settings name one). From SQLite, the database is copied through SQLite's
online backup API; from PostgreSQL, every table of ours is copied inside one REPEATABLE READ,
READ ONLY transaction into a SQLite file of the same layout. Either way the copy is the database
as of one moment: commands written meanwhile are in it whole or not at all.

Restoring one, and what a restore checks: commands/restore.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, create_engine, event, inspect, select, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ProgrammingError

from lifecycle.errors import Refused
from lifecycle.park import Park
from projections.read_models import PROJECTIONS
from projections.runner import (
    Projection,
    anomalies,
    positions,
    registry,
    registry_metadata,
)
from store import audit as chain
from store import backup as files
from store import personal, requests, schema, sessions
from store.database import parse_database_url
from store.log import open_log

if TYPE_CHECKING:
    from commands.bootstrap import Incubator

SQLITE_METHOD = "SQLite online backup API"
POSTGRES_METHOD = "PostgreSQL REPEATABLE READ, READ ONLY export"


class BackupRefused(Refused):
    """A backup cannot be taken there, or a file cannot be restored (what and why)."""


def declared_tables() -> dict[str, Table]:
    """Every table of ours the code declares, by name, besides the events table (the library's)
    and the read models' generations: the chain and its checkpoints, sessions and failed logins,
    the API's answers and record of reads, the data subjects' keys (an erased subject's is
    gone, so a later backup holds none of it), the read models' registry, the schema's
    fingerprint."""
    found: dict[str, Table] = {}
    for metadata in (
        chain.chain_metadata,
        sessions.metadata,
        requests.metadata,
        personal.metadata,
        registry_metadata,
        schema.metadata,
    ):
        found.update(metadata.tables)
    return found


# ---- backup ---------------------------------------------------------------------------------


def backup(system: Incubator, out: Path) -> dict[str, Any]:
    """Write the backup file `out` (never over an existing file); its manifest."""
    if out.exists():
        raise _exists(out)
    key = signing_key(system.park)
    content = out.with_name(f".{out.name}.{os.getpid()}.sqlite3")
    try:  # the folder can take the file: said of `out`, not of the copy made beside it
        os.close(os.open(content, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(out)) from None
    taken_at = system.clock.now()  # the snapshot is of this moment or a little later
    try:
        if system.database.backend == "sqlite":
            assert system.database.path is not None
            files.snapshot_sqlite(system.database.path, content)
            method, left_out = SQLITE_METHOD, []
        else:
            method, left_out = POSTGRES_METHOD, _export_postgres(system, content)
        manifest = {
            "format": files.FORMAT,
            "incubator": _version(),
            "taken_at": taken_at.isoformat(),
            "backend": system.database.backend,
            "method": method,
            **files.describe(content),
            "left_out": left_out,
        }
        return files.write(out, content, manifest, key)
    except FileExistsError:  # written meanwhile by someone else
        raise _exists(out) from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{content}{suffix}").unlink(missing_ok=True)


def _exists(out: Path) -> BackupRefused:
    return BackupRefused(
        f"{out} exists: a backup is never written over a file; choose another name"
    )


def _version() -> str:
    try:
        return version("incubator")
    except PackageNotFoundError:
        return "unknown"


def signing_key(park: Park) -> Ed25519PrivateKey | None:
    if park.signing_key is None:
        return None
    try:
        return chain.load_signing_key(park.signing_key)
    except chain.AuditError as e:
        raise BackupRefused(str(e)) from e


def _export_postgres(system: Incubator, content: Path) -> list[str]:
    """Every table of ours as of one snapshot into the SQLite file `content`; the tables of the
    schema it left out (none of ours: tables it does not know).

    The tables are locked against being dropped (ACCESS SHARE: writers go on) before the
    snapshot is taken; a rebuild that switched a read model to a new generation between
    choosing the tables and the snapshot makes it start again."""
    engine = system.read_models.engine
    events = chain.events_table(system.database)
    for _attempt in range(5):
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            chosen = _generations(conn, present)
        tables = [t for n, t in declared_tables().items() if n in present]
        tables += [t for p, g in chosen.items() for t in p.tables(g).values()]
        for suffix in ("", "-journal"):
            Path(f"{content}{suffix}").unlink(missing_ok=True)
        try:
            with _snapshot(engine, [events, *(t.name for t in tables)]) as src:
                if _generations(src, present) != chosen:
                    continue  # a rebuild switched meanwhile: choose again
                _fill(content, src, events, tables, chosen)
        except ProgrammingError as e:  # a table dropped before it was locked: choose again
            if getattr(e.orig, "sqlstate", None) != "42P01":  # undefined_table
                raise
            continue
        copied = {events, *(t.name for t in tables)}
        return sorted(n for n in present - copied if not is_generation(n))
    raise BackupRefused(
        "the read models were switched to new generations five times while the backup chose "
        "its tables; run it again when no rebuild is running"
    )


@contextmanager
def _snapshot(engine: Engine, names: list[str]) -> Iterator[Connection]:
    conn = engine.connect().execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    with conn, conn.begin():
        quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
        # LOCK takes no snapshot: the first SELECT after it does, with every table held
        conn.exec_driver_sql(f"LOCK TABLE {quoted} IN ACCESS SHARE MODE")
        yield conn


def _generations(conn: Connection, present: set[str]) -> dict[Projection, int]:
    """The serving generation of every read model the registry knows."""
    if registry.name not in present:
        return {}
    known = {p.name: p for p in PROJECTIONS}
    rows = conn.execute(select(registry.c.name, registry.c.serving)).all()
    return {known[r.name]: r.serving for r in rows if r.name in known}


def is_generation(name: str) -> bool:
    """A table of some generation of a read model (the serving ones are copied)."""
    match = re.fullmatch(r"(.+)_g\d+", name)
    return match is not None and any(match.group(1) in p.specs for p in PROJECTIONS)


def _content_engine(content: Path) -> Engine:
    """The SQLite file being filled: no journal, no waiting for the disk (it is written whole
    or thrown away)."""
    engine = create_engine(f"sqlite:///{content}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=OFF")
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    return engine


def _fill(
    content: Path,
    src: Connection,
    events: str,
    tables: list[Table],
    chosen: dict[Projection, int],
) -> None:
    """The SQLite file `content` made as the SQLite backend makes a database (the library's own
    events table), and every row of `tables` copied into it."""
    open_log(parse_database_url(f"sqlite:///{content}")).close()
    engine = _content_engine(content)
    try:
        with engine.begin() as dst:
            for table in tables:
                table.create(dst)
            for rows in files.read_events(src, events):
                files.write_events(dst, files.SQLITE_EVENTS, rows)
            serving_pairs = [(p.name, g) for p, g in chosen.items()]
            for table in tables:
                where = None
                if table is positions or table is anomalies:
                    where = tuple_(table.c.name, table.c.generation).in_(serving_pairs)
                files.copy_rows(src, dst, table, where)
            if any(t is registry for t in tables):  # only the serving generations were copied
                dst.execute(update(registry).values(building=None, building_version=None))
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    finally:
        engine.dispose()
