"""Backup files: a consistent copy of the database in one file that proves itself.

A backup file is a ZIP archive of two members. `incubator.sqlite3` is the database as a SQLite
file in the layout of the SQLite backend (the event log, its hash chain and checkpoints, the
sessions, the read models: every table), whichever backend it was taken from. `manifest.json`
says what the file holds (each table and its rows, the events, the chain's head), the SHA-256
of the database member and, where the park has a signing key, an Ed25519 signature over the
manifest. A file whose bytes, manifest or signature do not agree is refused before anything is
written anywhere.

This module knows tables, rows and files; which tables a backup holds and what a restore checks
are the commands' (commands/backup.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Integer, Table, select, text
from sqlalchemy.engine import Connection

FORMAT = "incubator-backup/1"
CONTENT = "incubator.sqlite3"
MANIFEST = "manifest.json"
SQLITE_EVENTS = "stored_events"  # the events table of the SQLite backend (the library's name)
BATCH = 5000
CHUNK = 1 << 20
# Level 1 of deflate: most of what a higher level would save (the log is JSON text), at a
# fraction of the time.
COMPRESS_LEVEL = 1


class BackupError(Exception):
    """A backup file that cannot be used as one: damaged, altered, or not a backup at all."""


# ---- taking a snapshot ----------------------------------------------------------------------


def snapshot_sqlite(source: Path, into: Path) -> None:
    """A consistent copy of the SQLite database at `source`, through SQLite's online backup API.

    All pages are copied in one step, inside one read transaction: in WAL mode writers go on
    meanwhile, and the copy is the database as of that transaction's start. (A copy in several
    steps would start again whenever another connection wrote.) The copy is one self-contained
    file: no write-ahead log beside it. Never VACUUM it: the library's events table numbers its
    events by rowid, which a VACUUM may renumber."""
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(into)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")


def copy_rows(
    source: Connection, target: Connection, table: Table, where: Any = None, batch: int = BATCH
) -> int:
    """Every row of `table` (or those `where` selects) from one database into the same table of
    another, in primary-key order; both sides convert through the table's declared types, so
    the two databases may be of different backends."""
    query = select(table).order_by(*table.primary_key.columns)
    if where is not None:
        query = query.where(where)
    copied = 0
    for part in source.execution_options(yield_per=batch).execute(query).partitions(batch):
        if target.dialect.name == "postgresql":
            _copy_in(target, table.name, [c.name for c in table.columns], part)
        else:
            _insert_sqlite(target, table, part)
        copied += len(part)
    return copied


def _insert_sqlite(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """SQLite: rows in by one prepared INSERT, each value converted by its column's type as
    SQLAlchemy's own insert would, but with no statement compiled and no dicts (a backup of
    PostgreSQL took a third less time)."""
    dialect = conn.dialect
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.columns]
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    values = [list(row) for row in rows]
    for value in values:
        for i, process in converted:
            value[i] = process(value[i])
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    conn.exec_driver_sql(statement, [tuple(value) for value in values])


def _copy_in(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """PostgreSQL: rows in by COPY, in the connection's transaction (an INSERT a row, even
    pipelined, is several times slower)."""
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = conn.connection.dbapi_connection  # psycopg's, in SQLAlchemy's transaction
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(tuple(row))


def read_events(
    conn: Connection, table: str, batch: int = BATCH
) -> Iterator[list[tuple[Any, ...]]]:
    """The stored events as (position, originator id, version, topic, stored bytes), in log
    order, a batch at a time: what the library stores, whichever backend stores it."""
    position = "rowid" if conn.dialect.name == "sqlite" else "notification_id"
    query = (
        f"SELECT {position}, originator_id, originator_version, topic, state FROM {table} "
        f"ORDER BY {position}"
    )
    result = conn.execution_options(yield_per=batch).exec_driver_sql(query)
    for part in result.partitions(batch):
        yield [tuple(row) for row in part]


def write_events(conn: Connection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Stored events into the library's events table at their own positions (the hash chain
    covers the positions): SQLite keeps the originator id as 32 hex digits, PostgreSQL as a
    uuid, each as the library writes it."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state) "
            f"VALUES (?, ?, ?, ?, ?)",
            [(p, _uuid(o).hex, v, t, s) for p, o, v, t, s in rows],
        )
    else:
        columns = ("notification_id", "originator_id", "originator_version", "topic", "state")
        _copy_in(conn, table, columns, [(p, _uuid(o), v, t, s) for p, o, v, t, s in rows])


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def reset_sequences(conn: Connection, tables: Sequence[Table], events: str) -> None:
    """PostgreSQL: the sequences behind the copied rows' positions and ids go on after the
    highest copied, so the next event or record does not collide with a restored one."""
    serial = [(events, "notification_id")] + [
        (t.name, t.primary_key.columns[0].name)
        for t in tables
        if len(t.primary_key.columns) == 1
        and isinstance(t.primary_key.columns[0].type, Integer)
        and t.primary_key.columns[0].autoincrement in (True, "auto")
    ]
    for table, column in serial:
        sequence = conn.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}
        )
        if sequence is None:
            continue
        highest = conn.scalar(text(f'SELECT max("{column}") FROM "{table}"'))
        conn.execute(
            text("SELECT setval(:s, :v, :called)"),
            {"s": sequence, "v": highest or 1, "called": highest is not None},
        )


# ---- what a database file holds -------------------------------------------------------------


def describe(content: Path) -> dict[str, Any]:
    """What the manifest says of a database file: each table and its rows, the events (how
    many, the last position) and the chain's recorded head."""
    with _reading(content) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        tables = {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names
        }
        last = (
            conn.execute(f"SELECT max(rowid) FROM {SQLITE_EVENTS}").fetchone()[0]
            if SQLITE_EVENTS in tables
            else None
        )
        head = None
        if "event_chain_head" in tables:
            row = conn.execute("SELECT position, log_hash FROM event_chain_head").fetchone()
            head = {"position": row[0], "log_hash": row[1]} if row else None
    return {
        "events": tables.get(SQLITE_EVENTS, 0),
        "last_position": last or 0,
        "chain_head": head,
        "tables": tables,
    }


def sqlite_tables(path: Path) -> list[str]:
    """The tables of a SQLite file (none for a file that is empty or missing)."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    with _reading(path) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that only reads (not a read-only open: on a database in WAL mode that one
    would leave its -wal and -shm files behind)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA query_only = 1")
        yield conn


def copy_sqlite_file(content: Path, target: Path) -> None:
    """The whole database file into the (empty) SQLite database at `target`, page by page
    through the online backup API: rowids, and so the events' positions, stay as they were."""
    with closing(sqlite3.connect(content)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


# ---- the file: manifest, content, signature ---------------------------------------------------


def signed_bytes(manifest: dict[str, Any]) -> bytes:
    """What a backup's signature covers: the whole manifest but the signature, canonically."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{FORMAT}\n{canonical}".encode()


def public_hex(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def sign(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    signature = {"public_key": public_hex(key), "signature": key.sign(signed_bytes(manifest)).hex()}
    return {**manifest, "signature": signature}


def signature_problem(manifest: dict[str, Any]) -> str | None:
    """Why the manifest's signature does not hold (None: it is good for its public key)."""
    signature: Any = manifest.get("signature")
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signature["public_key"]))
        public.verify(bytes.fromhex(signature["signature"]), signed_bytes(manifest))
    except (KeyError, TypeError, ValueError):
        return "its signature is malformed: it needs public_key and signature, in hex"
    except InvalidSignature:
        return "its signature does not match its manifest: the manifest was changed after signing"
    return None


def write(
    out: Path, content: Path, manifest: dict[str, Any], key: Ed25519PrivateKey | None
) -> dict[str, Any]:
    """The backup file at `out` (never over an existing file): the content, then the manifest
    with the content's SHA-256 and size, signed with `key` if given. Readable by its owner
    only: it holds people's names and contacts. Written beside `out` first and moved there
    whole, so `out` is never a half-written backup. Returns the manifest written."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    digest, size = hashlib.sha256(), 0
    try:
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(
                raw, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            ) as archive:
                with (
                    archive.open(CONTENT, "w", force_zip64=True) as member,
                    content.open("rb") as data,
                ):
                    while chunk := data.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        member.write(chunk)
                manifest = {
                    **manifest,
                    "content": {"name": CONTENT, "bytes": size, "sha256": digest.hexdigest()},
                }
                if key is not None:
                    manifest = sign(manifest, key)
                text_ = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
                archive.writestr(MANIFEST, text_)
            raw.flush()
            os.fsync(raw.fileno())  # the whole archive, its directory too, is on the disk
        _place(partial, out)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return manifest


def _place(partial: Path, out: Path) -> None:
    """`partial` becomes `out`, unless `out` appeared meanwhile (a hard link never replaces)."""
    try:
        os.link(partial, out)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if out.exists():
            raise FileExistsError(17, "File exists", str(out)) from None
        partial.replace(out)


def unpack(file: Path, into: Path) -> dict[str, Any]:
    """The manifest of the backup file, its database extracted to `into` and checked against
    the manifest's SHA-256, size and description; BackupError saying what does not hold."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names or CONTENT not in names:
                raise BackupError(
                    f"{file} is not an incubator backup: it needs {MANIFEST} and {CONTENT}, "
                    f"it holds {', '.join(sorted(names)[:5]) or 'nothing'}"
                )
            manifest = _manifest(file, archive.read(MANIFEST))
            digest, size = hashlib.sha256(), 0
            with archive.open(CONTENT) as member, into.open("wb") as out:
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
    except zipfile.BadZipFile as e:
        raise BackupError(f"{file} is not an incubator backup, or it was damaged: {e}") from None
    except (zipfile.LargeZipFile, EOFError, ValueError, OSError) as e:
        if isinstance(e, OSError) and e.filename:
            raise
        raise BackupError(f"{file} was damaged: {e}") from None
    content = manifest["content"]
    if size != content.get("bytes") or digest.hexdigest() != content.get("sha256"):
        raise BackupError(
            f"{file} was altered: its database is not what its manifest says (SHA-256 "
            f"{digest.hexdigest()[:16]}…, {size:,} bytes; the manifest says "
            f"{str(content.get('sha256'))[:16]}…, {content.get('bytes')} bytes)"
        )
    try:
        found = describe(into)
    except sqlite3.DatabaseError as e:
        raise BackupError(f"{file} holds no usable database: {e}") from None
    for key, value in found.items():
        if manifest.get(key) != value:
            raise BackupError(
                f"{file} was altered: its manifest says {key} {_short(manifest.get(key))}, "
                f"its database holds {_short(value)}"
            )
    return manifest


def _manifest(file: Path, raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BackupError(f"{file} has a damaged manifest: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BackupError(
            f"{file} is not a backup this version can read: its format is {_short(found)}, "
            f"this version reads {FORMAT}"
        )
    content = manifest.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("sha256"), str):
        raise BackupError(f"{file} has a damaged manifest: it gives no SHA-256 of its content")
    return manifest


def _short(value: Any) -> str:
    text_ = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text_ if len(text_) <= 120 else text_[:117] + "…"
