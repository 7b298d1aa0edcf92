"""Restores that check what they restored.

`restore` refuses an altered file (store/backup.py checks it against its manifest; the park's
key, its signature) and a target that holds anything of ours, copies the file into the target
(SQLite: page by page; PostgreSQL: table by table, by COPY), and then checks it: `audit verify`
over the restored log (and a checkpoint an auditor kept, if given), the log against the
manifest, and every read model caught up from the backup and rebuilt from the log, row for row
the same. A restore that fails a check removes what it wrote.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from commands.audit import Audit
from commands.backup import BackupRefused, declared_tables, is_generation, signing_key
from commands.bootstrap import bootstrap, park_settings
from lifecycle.park import Park
from projections.read_models import PROJECTIONS
from projections.runner import Projection, anomalies, registry, serving
from store import audit as chain
from store import backup as files
from store import signing
from store.database import Database, parse_database_url, schema_lock, writing
from store.log import open_log

if TYPE_CHECKING:
    from commands.bootstrap import Incubator
    from schedules.clock import Clock


@dataclass(frozen=True)
class Trust:
    """The public keys whose signature on a backup this park accepts (the key it signs with),
    and whether an unsigned backup may be restored all the same."""

    keys: tuple[str, ...]
    allow_unsigned: bool = False

    @classmethod
    def of(cls, park: Park, allow_unsigned: bool = False) -> Trust:
        key = signing_key(park)
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
    keys_before = _key_files(target)
    took = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="incubator-restore-") as work:
        content = Path(work) / files.CONTENT
        manifest, signed = _admitted(file, content, target, trust)
        new_schema = target.backend == "postgresql" and _schema_missing(target)
        took.lap("file")
        try:
            if target.backend == "sqlite":
                assert target.path is not None
                files.copy_sqlite_file(content, target.path)
            else:
                _copy_into_postgres(content, target)
        except BaseException:
            _discard(target, new_schema)
            raise
        took.lap("copy")
    system = None
    try:
        system = bootstrap(url, settings_path, clock)
        pinned = _pin_log_keys(system, file)
        checked = _check(system, manifest, kept, took) | {"keys_pinned": pinned}
    except BaseException as e:
        if system is not None:
            system.close_all()
            system = None
        _discard(target, new_schema)
        _discard_keys(target, keys_before)
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
    if _schema_missing(target):
        return [], 0
    engine = target.engine()
    try:
        with engine.connect() as conn:
            ours = _ours(conn, target)
            events = chain.events_table(target)
            held = conn.scalar(text(f"SELECT count(*) FROM {events}")) if events in ours else 0
            return ours, int(held or 0)
    finally:
        engine.dispose()


def _ours(conn: Connection, target: Database) -> list[str]:
    """The tables of incubator in the PostgreSQL target's schema."""
    events = chain.events_table(target)
    return [
        n
        for n in inspect(conn).get_table_names()
        if n == events or n in declared_tables() or is_generation(n)
    ]


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
    unknown = sorted(n for n in present - copied if not is_generation(n))
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


def _schema_missing(target: Database) -> bool:
    """PostgreSQL: the URL names a schema that does not exist (yet)."""
    if target.schema is None:
        return False
    engine = target.engine()
    try:
        with engine.connect() as conn:
            query = text("SELECT to_regnamespace(:s) IS NULL")
            return bool(conn.scalar(query, {"s": target.schema}))
    finally:
        engine.dispose()


def _pin_log_keys(system: Incubator, file: Path) -> list[str]:
    """The keys that signed the restored log, pinned for the restored database (said in the
    answer, to be compared with the park's records): the backup's log keeps its signatures,
    and the database it is restored into has a key of its own."""
    trusted = system.trust().keys
    pinned = []
    for key in sorted(chain.signed_by(system.read_models.engine)):
        if key not in trusted:
            signing.pin(system.keys, key, f"signed the log restored from {file.name}")
            pinned.append(key)
    return pinned


def _key_files(target: Database) -> set[Path]:
    """The key files of the target that exist before the restore (kept if it fails)."""
    keys = signing.KeyFiles.of(target)
    return {path for path in (keys.signing, keys.trusted) if path.exists()}


def _discard_keys(target: Database, before: set[Path]) -> None:
    """The key files a failed restore made for its target, removed with it."""
    keys = signing.KeyFiles.of(target)
    for path in (keys.signing, keys.trusted):
        if path not in before:
            path.unlink(missing_ok=True)


def _discard(target: Database, new_schema: bool) -> None:
    """What a failed restore wrote into the target, removed (it held nothing of ours before):
    the SQLite file; the PostgreSQL schema it created, or else the tables."""
    if target.backend == "sqlite":
        assert target.path is not None
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{target.path}{suffix}").unlink(missing_ok=True)
        return
    engine = target.engine()
    try:
        with engine.connect() as conn, conn.begin():
            if new_schema:  # the name is checked: lower-case letters, digits, underscores
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE')
                return
            for name in _ours(conn, target):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    finally:
        engine.dispose()
