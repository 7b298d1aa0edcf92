"""Backups of the whole database, and restores that check what they restored.

`backup` writes one file (store/backup.py: a SQLite database and its manifest, signed with the
park's key where the settings name one). From SQLite, the database is copied through SQLite's
online backup API; from PostgreSQL, every table of ours is copied inside one REPEATABLE READ,
READ ONLY transaction into a SQLite file of the same layout. Either way the copy is the database
as of one moment: commands written meanwhile are in it whole or not at all.

`restore` refuses an altered file and a target that holds anything of ours, copies the file into
the target (SQLite: page by page; PostgreSQL: table by table), and then checks it: `audit
verify` over the restored log (and a checkpoint an auditor kept, if given), the log against the
manifest, and every read model caught up from the backup and rebuilt from the log, row for row
the same. A restore that fails a check removes what it wrote.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, create_engine, event, inspect, select, text, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ProgrammingError

from commands.audit import Audit
from commands.bootstrap import bootstrap, park_settings
from lifecycle.errors import Refused
from lifecycle.park import Park
from projections.read_models import PROJECTIONS
from projections.runner import (
    Projection,
    anomalies,
    positions,
    registry,
    registry_metadata,
    serving,
)
from store import audit as chain
from store import backup as files
from store import requests, sessions
from store.database import Database, parse_database_url, schema_lock, writing
from store.log import open_log

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from schedules.clock import Clock

SQLITE_METHOD = "SQLite online backup API"
POSTGRES_METHOD = "PostgreSQL REPEATABLE READ, READ ONLY export"


class BackupRefused(Refused):
    """A backup cannot be taken there, or a file cannot be restored (what and why)."""


def declared_tables() -> dict[str, Table]:
    """Every table of ours the code declares, by name, besides the events table (the library's)
    and the read models' generations: the chain and its checkpoints, sessions and failed logins,
    the API's answers and record of reads, the read models' registry."""
    found: dict[str, Table] = {}
    for metadata in (chain.chain_metadata, sessions.metadata, requests.metadata, registry_metadata):
        found.update(metadata.tables)
    return found


# ---- backup ---------------------------------------------------------------------------------


def backup(system: Incubator, out: Path) -> dict[str, Any]:
    """Write the backup file `out` (never over an existing file); its manifest."""
    if out.exists():
        raise BackupRefused(
            f"{out} exists: a backup is never written over a file; choose another name"
        )
    key = _signing_key(system.park)
    content = out.with_name(f".{out.name}.{os.getpid()}.sqlite3")
    try:  # the folder can take the file: said of `out`, not of the copy made beside it
        os.close(os.open(content, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(out)) from None
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
            "taken_at": system.clock.now().isoformat(),
            "backend": system.database.backend,
            "method": method,
            **files.describe(content),
            "left_out": left_out,
        }
        return files.write(out, content, manifest, key)
    except FileExistsError:
        raise BackupRefused(
            f"{out} exists: a backup is never written over a file; choose another name"
        ) from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{content}{suffix}").unlink(missing_ok=True)


def _version() -> str:
    try:
        return version("incubator")
    except PackageNotFoundError:
        return "unknown"


def _signing_key(park: Park) -> Ed25519PrivateKey | None:
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
            if "does not exist" not in str(e):
                raise
            continue
        copied = {events, *(t.name for t in tables)}
        return sorted(n for n in present - copied if not _is_generation(n))
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


def _is_generation(name: str) -> bool:
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


# ---- restore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trust:
    """The public keys whose signature on a backup this park accepts (the key it signs with),
    and whether an unsigned backup may be restored all the same."""

    keys: tuple[str, ...]
    allow_unsigned: bool = False

    @classmethod
    def of(cls, park: Park, allow_unsigned: bool = False) -> Trust:
        key = _signing_key(park)
        if key is None:
            return cls((), allow_unsigned)
        return cls((files.public_hex(key),), allow_unsigned)

    def check(self, file: Path, manifest: dict[str, Any]) -> str:
        """What the signature proves, in words; BackupRefused when it proves nothing."""
        signature = manifest.get("signature")
        if signature is None:
            if self.keys and not self.allow_unsigned:
                raise BackupRefused(
                    f"{file} is not signed, and this park signs its backups: a backup whose "
                    f"signature was stripped is refused (one taken before the park had a key: "
                    f"restore it with --allow-unsigned)"
                )
            return "not signed" + (" (allowed)" if self.keys else ": the park has no signing key")
        problem = files.signature_problem(manifest)
        if problem:
            raise BackupRefused(f"{file} was altered: {problem}")
        public = str(signature["public_key"])
        if self.keys and public not in self.keys:
            raise BackupRefused(
                f"{file} is signed by the key {public[:16]}…, not by this park's key "
                f"{self.keys[0][:16]}…: refused"
            )
        if self.keys:
            return f"signed by the park's key {public[:16]}…"
        return f"signed by the key {public[:16]}… (this park names no key to compare it with)"


def restore(
    file: Path,
    url: str,
    *,
    settings_path: str | Path | None = None,
    clock: Clock | None = None,
    kept: dict[str, Any] | None = None,
    allow_unsigned: bool = False,
) -> dict[str, Any]:
    """Restore the backup `file` into the empty database at `url`, then check it; what was
    restored and checked, and how long each part took. Refused, with nothing written, when the
    file or the target will not do; refused, with what it wrote removed, when the restored
    database fails a check."""
    trust = Trust.of(park_settings(settings_path), allow_unsigned)
    target = parse_database_url(url)
    took = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="incubator-restore-") as work:
        content = Path(work) / files.CONTENT
        manifest, signed = _admitted(file, content, target, trust)
        took.lap("file")
        try:
            if target.backend == "sqlite":
                assert target.path is not None
                files.copy_sqlite_file(content, target.path)
            else:
                _copy_into_postgres(content, target)
        except BaseException:
            _discard(target)
            raise
        took.lap("copy")
    system = None
    try:
        system = bootstrap(url, settings_path, clock)
        checked = _check(system, manifest, kept, took)
    except BaseException as e:
        if system is not None:
            system.close_all()
            system = None
        _discard(target)
        if isinstance(e, CheckFailed):
            raise BackupRefused(
                f"the database restored from {file} does not pass its checks, and was removed: {e}"
            ) from None
        raise
    finally:
        if system is not None:
            system.close_all()
    return {
        "ok": True,
        "file": str(file),
        "database": target.url,
        "taken_at": manifest.get("taken_at"),
        "backend": manifest.get("backend"),
        "events": manifest["events"],
        "last_position": manifest["last_position"],
        "checks": {
            "file": f"SHA-256 of its database as its manifest says; {signed}",
            "manifest": f"{len(manifest['tables'])} tables and their rows, the events and the "
            f"chain's head as its manifest says",
            **checked,
        },
        "seconds": took.laps,
    }


class Stopwatch:
    """How long each part of a restore took (seconds; not a time of the record)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.started = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.laps["total"] = round(now - self.started, 3)
        self.last = now


def _admitted(
    file: Path, content: Path, target: Database, trust: Trust
) -> tuple[dict[str, Any], str]:
    """The backup's manifest, its database extracted to `content` and checked, and what its
    signature proves; refused (the target as it was) when the file or the target will not do."""
    try:
        manifest = files.unpack(file, content)
        signed = trust.check(file, manifest)
        _refuse_unless_empty(target)
    except files.BackupError as e:
        _untouched(target)
        raise BackupRefused(str(e)) from None
    except BaseException:
        _untouched(target)
        raise
    return manifest, signed


class CheckFailed(Exception):
    """The restored database does not hold what the backup says, or does not verify."""


def _check(
    system: Incubator, manifest: dict[str, Any], kept: dict[str, Any] | None, took: Stopwatch
) -> dict[str, Any]:
    verdict = Audit(system).verify(kept)
    took.lap("verify")
    if not verdict["ok"]:
        p = verdict["problem"] or {}
        where = f" at position {p['position']}" if p.get("position") else ""
        raise CheckFailed(f"audit verify: {p.get('kind')}{where}: {p.get('detail')}")
    if verdict["events"] != manifest["events"]:
        raise CheckFailed(
            f"the restored log holds {verdict['events']:,} events, the backup "
            f"{manifest['events']:,}"
        )
    head = manifest.get("chain_head") or {}
    if head.get("log_hash") and verdict.get("head") not in (None, head["log_hash"]):
        raise CheckFailed("the restored chain's head is not the backup's")
    checkpoint = "the checkpoint given" if kept is not None else "the latest checkpoint"
    has_checkpoint = kept is not None or chain.latest_checkpoint(system.read_models.engine)
    read_models = _read_models_rebuild_equal(system)
    took.lap("read_models")
    return {
        "audit_verify": {
            **{k: v for k, v in verdict.items() if k not in ("ok", "problem")},
            "checkpoint": f"{checkpoint} holds" if has_checkpoint else "no checkpoint recorded",
        },
        "read_models": read_models,
    }


def _read_models_rebuild_equal(system: Incubator) -> list[dict[str, Any]]:
    """Every read model caught up from where the backup left it, then rebuilt from the log:
    the two must hold the same rows (and the same anomalies)."""
    models = system.read_models
    stale = {p.name for p in models.stale()}
    models.catch_up()
    before = {p.name: _contents(models.engine, p) for p in models.projections}
    models.rebuild()
    after = {p.name: _contents(models.engine, p) for p in models.projections}
    differ = [name for name in before if before[name] != after[name]]
    if differ:
        raise CheckFailed(
            f"the read models {', '.join(differ)} caught up from the backup are not what a "
            f"rebuild from the restored log makes"
        )
    return [
        {
            "read_model": name,
            "rows": sum(rows for rows, _ in tables.values()),
            "equal": True,
            "rebuilt_first": name in stale,  # its code or settings changed since the backup
        }
        for name, tables in after.items()
    ]


def _contents(engine: Engine, projection: Projection) -> dict[str, tuple[int, str]]:
    """Per table of the serving generation (and its anomalies): rows and a digest of them, in
    primary-key order."""
    found = {}
    with engine.connect() as conn:
        generation = serving(conn, projection).generation
        for name, table in projection.tables(generation).items():
            found[name] = _digest(conn, select(table).order_by(*table.primary_key.columns))
        kept = [c for c in anomalies.columns if c.name != "generation"]
        found["anomalies"] = _digest(
            conn,
            select(*kept)
            .where(anomalies.c.name == projection.name, anomalies.c.generation == generation)
            .order_by(anomalies.c.position, anomalies.c.seq),
        )
    return found


def _digest(conn: Connection, query: Any) -> tuple[int, str]:
    digest, rows = hashlib.sha256(), 0
    for part in conn.execution_options(yield_per=5000).execute(query).partitions():
        for row in part:
            digest.update(repr(tuple(row)).encode())
            rows += 1
    return rows, digest.hexdigest()


def _refuse_unless_empty(target: Database) -> None:
    """A restore goes into a database that holds nothing of ours: never over a park's record."""
    if target.backend == "sqlite":
        assert target.path is not None
        found = files.sqlite_tables(target.path)
        if not found:
            return
        events = files.describe(target.path)["events"] if files.SQLITE_EVENTS in found else 0
    else:
        found, events = _postgres_tables(target)
        if not found:
            return
    raise BackupRefused(
        f"the target database {target.url} is not empty: it holds {len(found)} table(s) "
        f"({', '.join(sorted(found)[:4])}{'…' if len(found) > 4 else ''}) and {events:,} events. "
        f"A restore goes only into a new database: a new SQLite file, or a PostgreSQL database "
        f"or schema (?schema=NAME) without incubator's tables; nothing was changed"
    )


def _postgres_tables(target: Database) -> tuple[list[str], int]:
    """Our tables in the target's schema, and the events they hold."""
    engine = target.engine()
    try:
        with engine.connect() as conn:
            if target.schema and conn.scalar(
                text("SELECT to_regnamespace(:s) IS NULL"), {"s": target.schema}
            ):
                return [], 0
            events = chain.events_table(target)
            ours = [
                n
                for n in inspect(conn).get_table_names()
                if n == events or n in declared_tables() or _is_generation(n)
            ]
            held = conn.scalar(text(f"SELECT count(*) FROM {events}")) if events in ours else 0
            return ours, int(held or 0)
    finally:
        engine.dispose()


def _copy_into_postgres(content: Path, target: Database) -> None:
    """The tables the backup holds created in the target as the PostgreSQL backend creates them
    (the library its events table), and every row copied, in one transaction."""
    source = create_engine(f"sqlite:///{content}")
    engine = target.engine()
    try:
        with source.connect() as src:
            present = set(inspect(src).get_table_names())
            tables = _tables_to_restore(src, present)
            with schema_lock(target, engine) as event_store:
                open_log(event_store).close()
            events = chain.events_table(target)
            with writing(engine) as dst:
                for table in tables:
                    table.create(dst)
                for rows in files.read_events(src, files.SQLITE_EVENTS):
                    files.write_events(dst, events, rows)
                for table in tables:
                    files.copy_rows(src, dst, table)
                files.reset_sequences(dst, tables, events)
    finally:
        source.dispose()
        engine.dispose()


def _tables_to_restore(src: Connection, present: set[str]) -> list[Table]:
    """The tables of the backup a restore into PostgreSQL copies: the declared ones, and the
    generations of the read models its registry names (serving, or being built). Refused when
    the backup holds a table it would have to leave behind."""
    tables = [t for n, t in declared_tables().items() if n in present]
    if registry.name in present:
        known = {p.name: p for p in PROJECTIONS}
        for row in src.execute(select(registry)).all():
            projection = known.get(row.name)
            if projection is None:
                continue
            for generation in {row.serving, row.building} - {None}:
                found = projection.tables(generation)
                if all(t.name in present for t in found.values()):
                    tables += found.values()
    copied = {t.name for t in tables} | {files.SQLITE_EVENTS}
    unknown = sorted(n for n in present - copied if not _is_generation(n))
    if unknown:
        raise BackupRefused(
            f"the backup holds table(s) {', '.join(unknown)}, which this version of incubator "
            f"cannot restore into PostgreSQL; restore it into a SQLite file (every table is "
            f"copied there), or with the version that took it"
        )
    return tables


def _untouched(target: Database) -> None:
    """A restore refused before it wrote anything: the empty SQLite file that naming the target
    created goes again."""
    path = target.path
    if path is not None and path.exists() and path.stat().st_size == 0:
        path.unlink()


def _discard(target: Database) -> None:
    """What a failed restore wrote into the target, removed (it held nothing of ours before)."""
    if target.backend == "sqlite":
        assert target.path is not None
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{target.path}{suffix}").unlink(missing_ok=True)
        return
    engine = target.engine()
    try:
        with engine.connect() as conn, conn.begin():
            events = chain.events_table(target)
            ours = [
                n
                for n in inspect(conn).get_table_names()
                if n == events or n in declared_tables() or _is_generation(n)
            ]
            for name in ours:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    finally:
        engine.dispose()
