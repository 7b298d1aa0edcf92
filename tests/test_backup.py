"""Backups and restores (#17, item 3): a round trip on each backend and across them, a backup
taken while processes keep writing commands, altered backup files, a target that is not empty,
and the command line's refusals."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import date, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import inspect, select

from commands.audit import Audit, new_signing_key
from commands.backup import BackupRefused, backup
from commands.bootstrap import Incubator, bootstrap
from commands.restore import restore
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.workspace import Workspace
from projections.runner import serving
from schedules.clock import FixedClock
from store import backup as files
from store.audit import chain, checkpoints
from store.database import parse_database_url
from tests.builders import PANEL_PASS, drive, new_case, new_resident
from tests.conftest import NOW, POSTGRES_URL, postgres_available, who
from tests.given import CHEAP_HASHER
from tests.processes import CONTEXT
from tests.test_cli import COMMAND

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# ---- databases and parks -----------------------------------------------------------------------


@pytest.fixture
def new_database(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """New, empty databases: a SQLite file, or a PostgreSQL schema of their own (dropped after)."""
    schemas: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'db-{uuid.uuid4().hex[:8]}.sqlite3'}"
        problem = postgres_available()
        if problem is not None:
            from tests.conftest import IN_CI

            message = f"PostgreSQL is not reachable at {POSTGRES_URL} ({problem})"
            pytest.fail(message) if IN_CI else pytest.skip(message)
        schemas.append(f"t_{uuid.uuid4().hex[:12]}")
        return f"{POSTGRES_URL}?schema={schemas[-1]}"

    yield make
    if schemas:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def signed_park(tmp_path: Path) -> Path:
    """A settings file whose [audit] signing_key is a new key: its backups are signed."""
    new_signing_key(tmp_path / "park.pem")
    settings = tmp_path / "park.toml"
    settings.write_text('[audit]\nsigning_key = "park.pem"\n', encoding="utf-8")
    return settings


def open_system(url: str, settings: Path | None = None) -> Incubator:
    return bootstrap(url, settings, FixedClock(NOW), password_hasher=CHEAP_HASHER)


def a_park_at_work(system: Incubator) -> None:
    """Cases at every stage with their party tracks and reminders, a resident, an account with
    a session, and a signed checkpoint when the park has a key."""
    for number, stage in enumerate(
        ["applied", "entry_review", "incubating", "follow_up", "closed"]
    ):
        case = new_case(system.service, name=f"爱心志愿者协会{number}")
        drive(system.service, case, stage, workspace=f"M-{number + 1:02d}")
    resident = new_resident(system.service)
    system.service.admit(resident, who("2014-02-01"), "B-01")
    system.accounts.add(
        who("2014-01-02", "管理员"),
        name="李娜",
        role="caseworker",
        sites=["main"],
        password="长城-7G!pass",
    )
    system.accounts.log_in("李娜", "长城-7G!pass")
    if system.park.signing_key is not None:
        Audit(system).checkpoint()
    system.read_models.catch_up()


def events_of(system: Incubator) -> list[tuple[Any, ...]]:
    """Every stored event as the library reads it: position, originator, version, topic, bytes."""
    found, position = [], 0
    while batch := system.log.recorder.select_notifications(
        start=position, limit=1000, inclusive_of_start=False
    ):
        found += [
            (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in batch
        ]
        position = batch[-1].id
    return found


def rows_of(system: Incubator, table: Any) -> list[tuple[Any, ...]]:
    with system.read_models.engine.connect() as conn:
        query = select(table).order_by(*table.primary_key.columns)
        return [tuple(row) for row in conn.execute(query)]


def read_models_of(system: Incubator) -> dict[str, list[tuple[Any, ...]]]:
    """Every read model's rows (serving generation), by table."""
    found = {}
    with system.read_models.engine.connect() as conn:
        for projection in system.read_models.projections:
            tables = projection.tables(serving(conn, projection).generation)
            for name, table in tables.items():
                query = select(table).order_by(*table.primary_key.columns)
                found[f"{projection.name}.{name}"] = [tuple(r) for r in conn.execute(query)]
    return found


# ---- 1. round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("source_backend", BACKENDS)
@pytest.mark.parametrize("target_backend", BACKENDS)
def test_a_restored_database_holds_every_event_chain_link_checkpoint_session_and_read_model(
    source_backend: str,
    target_backend: str,
    new_database: Callable[[str], str],
    signed_park: Path,
    tmp_path: Path,
) -> None:
    source = open_system(new_database(source_backend), signed_park)
    a_park_at_work(source)
    out = tmp_path / "park.backup"
    manifest = backup(source, out)
    assert out.stat().st_mode & 0o777 == 0o600  # it holds people's names and contacts
    assert manifest["events"] == source.read_models.head() > 30
    assert manifest["signature"]["public_key"]
    assert manifest["left_out"] == []

    target_url = new_database(target_backend)
    report = restore(out, target_url, settings_path=signed_park, clock=FixedClock(NOW))
    assert report["ok"] and report["events"] == manifest["events"]
    assert "signed by the park's key" in report["checks"]["file"]
    assert report["checks"]["audit_verify"]["checkpoint"] == "the latest checkpoint holds"
    assert len(report["checks"]["read_models"]) == len(source.read_models.projections)

    restored = open_system(target_url, signed_park)
    try:
        assert events_of(restored) == events_of(source)
        for table in (chain, checkpoints):
            assert rows_of(restored, table) == rows_of(source, table)
        restored.read_models.catch_up()
        assert read_models_of(restored) == read_models_of(source)
        # the session restored: the account is still logged in
        assert restored.accounts.principal("李娜") is not None
        with restored.read_models.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM account_sessions").scalar() == 1
        # the restored log goes on where the backup ended, and still verifies
        new_case(restored.service, name="新的协会")
        assert restored.read_models.head() == manifest["last_position"] + 1
        assert Audit(restored).verify()["ok"]
    finally:
        restored.close_all()
        source.close_all()


@pytest.mark.postgres
def test_a_table_of_the_schema_that_is_not_incubators_is_left_out_and_named(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    source = open_system(new_database("postgresql"))
    new_case(source.service)
    with source.read_models.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE someone_elses (x integer)")
    manifest = backup(source, tmp_path / "park.backup")
    source.close_all()
    assert manifest["left_out"] == ["someone_elses"]
    assert "someone_elses" not in manifest["tables"] and "event_chain" in manifest["tables"]


@pytest.mark.postgres
def test_a_backup_holding_a_table_a_restore_into_postgresql_does_not_know_is_refused_there(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    """Into PostgreSQL a restore copies the tables it knows: one it would leave behind makes it
    refuse, before it writes anything; into SQLite, the whole file is copied."""
    source = open_system(new_database("sqlite"))
    new_case(source.service)
    backup(source, tmp_path / "park.backup")
    source.close_all()

    def a_table_of_a_later_version(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE a_later_table (subject text, key blob)")

    newer = rewrite(
        tmp_path / "park.backup",
        tmp_path / "newer.backup",
        a_table_of_a_later_version,
        recompute="all",
    )
    target = new_database("postgresql")
    with pytest.raises(BackupRefused, match="a_later_table, which this version of incubator"):
        restore(newer, target, clock=FixedClock(NOW))
    engine = parse_database_url(target).engine()
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()
    restore(newer, new_database("sqlite"), clock=FixedClock(NOW))


# ---- 2. under concurrent writers ---------------------------------------------------------------


def keep_writing(
    url: str, writer: int, done: Any, stop: Event, results: Queue[tuple[int, str | None]]
) -> None:
    """A caseworker's process: cases through entry (the case, its workspace and its party track
    in one transaction) and withdrawal (the workspace released with it), until told to stop;
    the hash chain and the read models follow, as after every command of the command line.
    `done[writer]` counts the cases; what it puts on `results`: that count, and what failed."""
    failed = None
    system = bootstrap(url, clock=FixedClock(NOW))
    workspace, day = f"M-{writer + 1:02d}", date(2014, 1, 2)
    try:
        while not stop.is_set():
            on = day.isoformat()
            case = new_case(system.service, name=f"协会{writer}-{done[writer]}")
            system.service.start_inspection(case, who(on))
            system.service.submit_for_entry(case, who(on))
            system.service.evaluate_entry(case, who(on), PANEL_PASS, workspace)
            system.service.withdraw(case, who(on, reason="迁出本市"))
            system.read_models.catch_up()  # as the command line does: seals, and the read models
            day += timedelta(days=1)
            done[writer] += 1
    except Exception as e:  # said to the test, which fails on it
        failed = repr(e)
    finally:
        system.close_all()
        results.put((done[writer], failed))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backup_taken_while_processes_write_restores_a_whole_prefix_of_the_log(
    backend: str,
    new_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = new_database(backend)
    source = open_system(url)
    # Each table of a PostgreSQL export waits a little, so that commands are recorded while it
    # runs: what it copies later must still be as of the moment it started.
    copy_rows = files.copy_rows

    def slowly(*args: Any, **kwargs: Any) -> int:
        time.sleep(0.05)
        return copy_rows(*args, **kwargs)

    monkeypatch.setattr(files, "copy_rows", slowly)
    stop, results, done = CONTEXT.Event(), CONTEXT.Queue(), CONTEXT.Array("i", 3)
    writers = [
        CONTEXT.Process(target=keep_writing, args=(url, n, done, stop, results), daemon=True)
        for n in range(3)
    ]
    for writer in writers:
        writer.start()
    taken: list[tuple[Path, int, int]] = []
    try:
        deadline = time.monotonic() + 120
        while min(done[:]) < 2 and time.monotonic() < deadline:  # every writer under way
            time.sleep(0.1)
        for number in range(3):
            out = tmp_path / f"under-load-{number}.backup"
            before = source.read_models.head()
            backup(source, out)
            taken.append((out, before, source.read_models.head()))
            time.sleep(0.3)
    finally:
        stop.set()
        written = [results.get(timeout=60) for _ in writers]
        for writer in writers:
            writer.join(timeout=30)
    assert all(count >= 2 and failed is None for count, failed in written), written
    assert any(after > before for _, before, after in taken), "no command was written meanwhile"
    everything = events_of(source)

    for out, before, after in taken:
        target = new_database(backend)
        report = restore(out, target, clock=FixedClock(NOW))
        assert report["checks"]["audit_verify"]["events"] == report["events"]
        restored = open_system(target)
        try:
            events = events_of(restored)
        finally:
            restored.close_all()
        # A prefix of the log as it was written: the events up to some position, exactly.
        assert events == [e for e in everything if e[0] <= events[-1][0]]
        assert before <= events[-1][0] <= after
        whole_commands_only(source, events)
    source.close_all()


def whole_commands_only(system: Incubator, events: list[tuple[Any, ...]]) -> None:
    """Every entry in the restored log came with its workspace taken and its party track
    started, and every withdrawal with its workspace released: one transaction each."""
    ids = {(e[1], e[2]) for e in events}
    decoded = system.log.recorder.select_notifications(start=1, limit=len(events) + 10_000)
    by_place = {
        n.id: system.log.mapper.to_domain_event(n) for n in decoded if n.id <= events[-1][0]
    }
    allocated, released, started, entered, withdrawn = set(), set(), set(), set(), set()
    for event in by_place.values():
        if isinstance(event, Workspace.Allocated):
            allocated.add(str(event.case_id))
        elif isinstance(event, Workspace.Released):
            released.add(str(event.case_id))
        elif isinstance(event, PartyIncubation.Started):
            started.add(str(event.originator_id))
        elif isinstance(event, OrganizationCase.EntryApproved):
            entered.add(str(event.originator_id))
        elif isinstance(event, OrganizationCase.Withdrawn):
            withdrawn.add(str(event.originator_id))
    assert entered == allocated
    assert {str(PartyIncubation.id_for(UUID(case))) for case in entered} == started
    assert withdrawn == released
    assert len(ids) == len(events)


# ---- 3. altered backups are refused --------------------------------------------------------------


def rewrite(
    backup_file: Path,
    out: Path,
    database: Callable[[sqlite3.Connection], None] | None = None,
    manifest: Callable[[dict[str, Any]], None] | None = None,
    recompute: str = "",
) -> Path:
    """`backup_file` rewritten as an intruder would: its database changed by `database`, its
    manifest by `manifest`; `recompute`: "digest" (the SHA-256 and size made to fit again) or
    "all" (the description too)."""
    work = out.with_suffix(".sqlite3")
    with zipfile.ZipFile(backup_file) as archive:
        work.write_bytes(archive.read(files.CONTENT))
        written = json.loads(archive.read(files.MANIFEST))
    if database is not None:
        with closing(sqlite3.connect(work)) as conn:
            database(conn)
            conn.commit()
    content = work.read_bytes()
    if recompute:
        written["content"] = {
            "name": files.CONTENT,
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    if recompute == "all":
        written.update(files.describe(work))
    if manifest is not None:
        manifest(written)
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(files.CONTENT, content)
        archive.writestr(files.MANIFEST, json.dumps(written))
    return out


def remove_an_event(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TRIGGER IF EXISTS stored_events_no_delete")
    conn.execute("DELETE FROM stored_events WHERE rowid = 10")


def remove_the_last_event_and_its_link(conn: sqlite3.Connection) -> None:
    """The tail cut off cleanly: the last event, its chain row, and the head moved back."""
    for trigger in ("stored_events_no_delete", "event_chain_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    last = conn.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
    conn.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
    conn.execute("DELETE FROM event_chain WHERE position = ?", (last,))
    before = conn.execute(
        "SELECT position, log_hash FROM event_chain ORDER BY position DESC LIMIT 1"
    ).fetchone()
    conn.execute("UPDATE event_chain_head SET position = ?, log_hash = ?", before)
    conn.execute("DROP TRIGGER IF EXISTS audit_checkpoints_no_delete")
    conn.execute("DELETE FROM audit_checkpoints")


def flip_a_byte(backup_file: Path, out: Path) -> Path:
    data = bytearray(backup_file.read_bytes())
    data[len(data) // 3] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def resign(key_file: Path) -> Callable[[dict[str, Any]], None]:
    from cryptography.hazmat.primitives import serialization

    def sign(manifest: dict[str, Any]) -> None:
        key: Any = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        manifest.update(files.sign(manifest, key))

    return sign


ALTERATIONS: dict[str, tuple[Callable[[Path, Path, Path], Path], str]] = {
    "a byte flipped": (
        lambda b, out, _: flip_a_byte(b, out),
        "",  # wherever the byte lands: damaged zip, a CRC, the digest or the manifest
    ),
    "an event removed": (
        lambda b, out, _: rewrite(b, out, remove_an_event),
        "its database is not what its manifest says",
    ),
    "an event removed, the digest made to fit": (
        lambda b, out, _: rewrite(b, out, remove_an_event, recompute="digest"),
        "its manifest says events",
    ),
    "an event removed, the manifest made to fit, the signature kept": (
        lambda b, out, _: rewrite(b, out, remove_an_event, recompute="all"),
        "its signature does not match its manifest",
    ),
    "the manifest edited": (
        lambda b, out, _: rewrite(b, out, manifest=lambda m: m.update(taken_at="2030-01-01")),
        "its signature does not match its manifest",
    ),
    "the manifest's event count edited": (
        lambda b, out, _: rewrite(b, out, manifest=lambda m: m.update(events=m["events"] - 1)),
        "its manifest says events",
    ),
    "the signature stripped": (
        lambda b, out, _: rewrite(b, out, manifest=lambda m: m.pop("signature")),
        "is not signed, and this park signs its backups",
    ),
    "the tail cut off and re-signed with another key": (
        lambda b, out, other: rewrite(
            b, out, remove_the_last_event_and_its_link, resign(other), recompute="all"
        ),
        "not by this park's key",
    ),
}


@pytest.fixture
def signed_backup(tmp_path: Path, signed_park: Path) -> Path:
    source = open_system(f"sqlite:///{tmp_path / 'source.sqlite3'}", signed_park)
    try:
        a_park_at_work(source)
        backup(source, tmp_path / "park.backup")
    finally:
        source.close_all()
    return tmp_path / "park.backup"


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_an_altered_signed_backup_is_refused_and_nothing_is_restored(
    alteration: str, signed_backup: Path, signed_park: Path, tmp_path: Path
) -> None:
    change, said = ALTERATIONS[alteration]
    other_key = tmp_path / "intruder.pem"
    new_signing_key(other_key)
    altered = change(signed_backup, tmp_path / "altered.backup", other_key)
    target = tmp_path / "restored.sqlite3"
    with pytest.raises(BackupRefused) as refused:
        restore(altered, f"sqlite:///{target}", settings_path=signed_park, clock=FixedClock(NOW))
    assert said in str(refused.value)
    assert not target.exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unsigned_backup_altered_to_fit_its_manifest_fails_audit_verify_on_restore(
    backend: str, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    """Without a key, whoever rewrites the file can make its manifest fit; the restored log's
    hash chain still names the removed event, and what was restored is removed again: the
    SQLite file, the PostgreSQL schema the restore created."""
    source = open_system(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    a_park_at_work(source)
    backup(source, tmp_path / "plain.backup")
    source.close_all()
    altered = rewrite(
        tmp_path / "plain.backup", tmp_path / "altered.backup", remove_an_event, recompute="all"
    )
    target = new_database(backend)
    with pytest.raises(BackupRefused) as refused:
        restore(altered, target, clock=FixedClock(NOW))
    assert "does not pass its checks, and was removed: audit verify: removed at position 10" in (
        str(refused.value)
    )
    if backend == "sqlite":  # (parsing the URL would create the file)
        assert not Path(target.removeprefix("sqlite:///")).exists()
    else:
        import psycopg

        schema = target.rsplit("schema=", 1)[1]
        with psycopg.connect(POSTGRES_URL) as conn:
            found = conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone()
        assert found == (None,)
    restore(tmp_path / "plain.backup", target, clock=FixedClock(NOW))  # the place is free again


def test_a_backup_signed_before_the_park_had_a_key_restores_only_when_allowed(
    tmp_path: Path, signed_park: Path
) -> None:
    source = open_system(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    a_park_at_work(source)
    backup(source, tmp_path / "plain.backup")
    source.close_all()
    target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    with pytest.raises(BackupRefused, match="--allow-unsigned"):
        restore(tmp_path / "plain.backup", target, settings_path=signed_park, clock=FixedClock(NOW))
    report = restore(
        tmp_path / "plain.backup",
        target,
        settings_path=signed_park,
        clock=FixedClock(NOW),
        allow_unsigned=True,
    )
    assert report["checks"]["file"].endswith("not signed (allowed)")


def test_a_restore_checks_the_log_against_a_checkpoint_an_auditor_kept(
    tmp_path: Path, signed_park: Path
) -> None:
    source = open_system(f"sqlite:///{tmp_path / 'source.sqlite3'}", signed_park)
    a_park_at_work(source)
    kept = Audit(source).checkpoint()
    backup(source, tmp_path / "park.backup")
    source.close_all()
    target = tmp_path / "restored.sqlite3"
    forged = {**kept, "log_hash": "0" * 64}
    with pytest.raises(BackupRefused) as refused:
        restore(
            tmp_path / "park.backup",
            f"sqlite:///{target}",
            settings_path=signed_park,
            clock=FixedClock(NOW),
            kept=forged,
        )
    assert "audit verify: checkpoint" in str(refused.value)
    assert "signature does not match" in str(refused.value)
    assert not target.exists()
    report = restore(
        tmp_path / "park.backup",
        f"sqlite:///{target}",
        settings_path=signed_park,
        clock=FixedClock(NOW),
        kept=kept,
    )
    assert report["checks"]["audit_verify"]["checkpoint"] == "the checkpoint given holds"


# ---- 4. never into a database that holds anything ---------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restore_into_a_database_that_holds_a_park_is_refused_and_changes_nothing(
    backend: str, new_database: Callable[[str], str], signed_backup: Path, signed_park: Path
) -> None:
    target = new_database(backend)
    held = open_system(target)
    new_case(held.service, name="已在园区的协会")
    before = events_of(held), read_models_of(held)
    held.close_all()
    with pytest.raises(BackupRefused) as refused:
        restore(signed_backup, target, settings_path=signed_park, clock=FixedClock(NOW))
    assert "is not empty" in str(refused.value)
    assert "1 events" in str(refused.value) and "nothing was changed" in str(refused.value)
    held = open_system(target)
    try:
        assert (events_of(held), read_models_of(held)) == before
    finally:
        held.close_all()


# ---- 5. the command line -------------------------------------------------------------------------


def incubator(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real executable, with none of the INCUBATOR_ settings of the environment."""
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("INCUBATOR_")}
    return subprocess.run(
        [*COMMAND, *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_backup_and_restore_through_the_command_line(tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    source = open_system(source_url)
    a_park_at_work(source)
    events = source.read_models.head()
    source.close_all()
    made = incubator("--database", source_url, "backup", "--out", "p.backup", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"wrote p.backup: {events:,} events" in made.stdout and "not signed" in made.stdout
    made = incubator(
        "--database", source_url, "backup", "--out", "q.backup", "--json", cwd=tmp_path
    )
    assert made.returncode == 0 and json.loads(made.stdout)["events"] == events
    restored = incubator(
        "restore", str(tmp_path / "p.backup"), "--database", f"sqlite:///{tmp_path / 'r.sqlite3'}"
    )
    assert restored.returncode == 0, restored.stderr
    assert f"restored {events:,} events" in restored.stdout
    for checked in ("SHA-256", "audit verify: ok", "13 caught up from the backup and rebuilt"):
        assert checked in restored.stdout, restored.stdout
    listed = incubator("--database", f"sqlite:///{tmp_path / 'r.sqlite3'}", "org", "list", "--json")
    assert len(json.loads(listed.stdout)) == 6


@pytest.mark.slow
def test_bad_arguments_are_refused_with_a_clear_message_and_no_traceback(
    tmp_path: Path, signed_backup: Path
) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    (tmp_path / "not-a-backup").write_text("hello", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "no manifest here")
    future = rewrite(
        signed_backup, tmp_path / "future.backup", manifest=lambda m: m.update(format="x/9")
    )
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    cases: list[tuple[list[str], int, str]] = [
        (["restore", str(tmp_path / "missing"), "--database", target], 2, "does not exist"),
        (["restore", str(signed_backup)], 2, "Missing option '--database'"),
        (
            ["restore", str(tmp_path / "not-a-backup"), "--database", target],
            1,
            "not an incubator backup",
        ),
        (
            ["restore", str(tmp_path / "other.zip"), "--database", target],
            1,
            "it needs manifest.json",
        ),
        (
            ["restore", str(future), "--database", target],
            1,
            "this version reads incubator-backup/1",
        ),
        (
            ["restore", str(signed_backup), "--database", "mysql://x/y"],
            4,
            "unsupported database URL",
        ),
        (
            [
                "restore",
                str(signed_backup),
                "--database",
                target,
                "--checkpoint",
                str(tmp_path / "bad.json"),
            ],
            1,
            "cannot read",
        ),
        (
            ["restore", str(signed_backup), "--database", "postgresql://u:secret@127.0.0.1:1/x"],
            4,
            "cannot be used",
        ),
        (["--database", source, "backup"], 2, "Missing option '--out'"),
        (
            ["--database", source, "backup", "--out", str(signed_backup)],
            1,
            "is never written over a file",
        ),
        (
            ["--database", source, "backup", "--out", str(tmp_path / "no" / "such" / "b")],
            4,
            "No such file or directory",
        ),
        (
            [
                "--database",
                "postgresql://u:secret@127.0.0.1:1/x",
                "backup",
                "--out",
                str(tmp_path / "b"),
            ],
            4,
            "cannot",
        ),
    ]
    for args, code, said in cases:
        result = incubator(*args)
        assert result.returncode == code, (args, result.returncode, result.stderr)
        assert said in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and "secret" not in result.stderr, result.stderr
    assert not (tmp_path / "target.sqlite3").exists()
    assert not (tmp_path / "b").exists()
