"""Signed checkpoints and exported dossiers (commands/audit.py, commands/dossier.py, cli/audit.py).

An auditor keeps a checkpoint (the log's head position and chain hash, signed with the park's
Ed25519 key) outside the system; later it proves that nothing before it changed, even after an
intruder rewrote an event and rebuilt the whole hash chain around it. A dossier is one
organization's events (its case, its party track, its reminders) with their hashes and the latest
checkpoint, written as UTF-8 JSON and CSV, that `audit verify-export` checks without the database.

The command line is driven through the real executable (tests/test_cli.Shell); the intruder works
on the database with plain SQL (tests/test_audit.Intruder).
"""

from __future__ import annotations

import csv
import json
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from eventsourcing.persistence import Notification
from sqlalchemy import func, select

from commands import dossier
from commands.bootstrap import Incubator, bootstrap
from lifecycle.party import PartyIncubation
from schedules.clock import FixedClock
from store import audit
from store.database import parse_database_url
from tests.builders import drive, new_case
from tests.conftest import NOW, who
from tests.test_audit import ACTOR, FORGED_ACTOR, Intruder, notifications, write_cohort
from tests.test_cli import Shell
from tests.test_reminders import MovingPark, local

NAME = "爱心志愿者协会"  # the organization whose dossier is exported
OTHER = "阳光助残服务队"  # another organization in the park: none of it belongs in the dossier
SIGNED_AT = "2026-11-29T20:00+08:00"  # INCUBATOR_NOW of the checkpointing commands
SIGNED_AT_UTC = "2026-11-29T12:00:00+00:00"
ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")


# ---- helpers ---------------------------------------------------------------------------------


@contextmanager
def opened(database_url: str, clock: FixedClock | None = None) -> Iterator[Incubator]:
    """The system in this process, closed again before the executable or an intruder runs."""
    system = bootstrap(database_url, clock=clock or FixedClock(NOW))
    try:
        yield system
    finally:
        system.close_all()


def settings_naming(folder: Path, key_file: str) -> Path:
    """A settings file in `folder` whose [audit] signing_key is `key_file` (relative to it)."""
    path = folder / "settings.toml"
    path.write_text(f'[audit]\nsigning_key = "{key_file}"\n', encoding="utf-8")
    return path


def public_hex(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def chain_rows(system: Incubator) -> list[Any]:
    with system.read_models.engine.connect() as conn:
        return list(conn.execute(select(audit.chain).order_by(audit.chain.c.position)).all())


def chain_head(system: Incubator) -> Any:
    with system.read_models.engine.connect() as conn:
        return conn.execute(select(audit.chain_head)).one()


def checkpoints_kept(system: Incubator) -> int:
    with system.read_models.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit.checkpoints)).scalar_one())


def flip(hex_text: str, at: int = 10) -> str:
    """The same hex string with one digit changed."""
    digit = "1" if hex_text[at] != "1" else "2"
    return hex_text[:at] + digit + hex_text[at + 1 :]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


# ---- 1. keygen and checkpoint ------------------------------------------------------------------


def test_keygen_writes_a_private_key_and_checkpoint_signs_the_head_of_the_log(
    sqlite_url: str, tmp_path: Path
) -> None:
    sh = Shell(sqlite_url, INCUBATOR_NOW=SIGNED_AT)  # a rehearsal's database, for the clock
    with opened(sqlite_url) as system:
        write_cohort(system)  # written through the log, not sealed: checkpoint seals first
    conf = tmp_path / "conf"
    conf.mkdir()
    key_file = conf / "audit-key.pem"

    made = sh.run("audit", "keygen", "--out", str(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, oct(key_file.stat().st_mode)
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----"), pem[:40]
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert public_hex(private) in made.stdout

    again = sh.refused("audit", "keygen", "--out", str(key_file))
    assert str(key_file) in again and "exists" in again and "never overwritten" in again
    assert key_file.read_bytes() == pem  # the key is untouched

    # No key in the settings: the settings are what is wrong (exit 4), and the message says how.
    missing = sh.refused("audit", "checkpoint", code=4)
    assert "incubator audit keygen" in missing, missing
    assert "[audit] signing_key" in missing, missing
    # A key named in the settings that is not there: refused, saying which file.
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    gone = sh.refused(
        "--settings", str(settings_naming(nowhere, "absent.pem")), "audit", "checkpoint"
    )
    assert "cannot read the signing key" in gone and "absent.pem" in gone, gone
    with opened(sqlite_url) as system:
        assert checkpoints_kept(system) == 0

    # The executable runs in another folder: the relative name is read from the settings' folder.
    settings = settings_naming(conf, "audit-key.pem")
    assert not (Path.cwd() / "audit-key.pem").exists()
    signed = sh.run("--settings", str(settings), "audit", "checkpoint")
    kept = json.loads(signed.stdout)
    assert set(kept) == {"position", "log_hash", "signed_at", "public_key", "signature"}

    with opened(sqlite_url) as system:
        events = notifications(system)
        head = chain_head(system)
        verdict = audit.verify(system.read_models.engine, system.log)
        recorded = audit.latest_checkpoint(system.read_models.engine)
        rows = chain_rows(system)
    assert verdict.ok and verdict.sealed == len(events) > 40, verdict
    assert kept["position"] == events[-1].id == head.position  # the log's head
    assert kept["log_hash"] == head.log_hash == verdict.head == rows[-1].log_hash
    assert kept["signed_at"] == SIGNED_AT_UTC
    assert kept["public_key"] == public_hex(private)
    assert recorded == kept  # recorded in the database as printed

    # The signature, checked with the cryptography package alone.
    message = audit.checkpoint_message(kept["position"], kept["log_hash"], kept["signed_at"])
    assert (
        message
        == (
            f"incubator-checkpoint/1\n{kept['position']}\n{kept['log_hash']}\n{kept['signed_at']}"
        ).encode()
    )
    signature = bytes.fromhex(kept["signature"])
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(kept["public_key"])).verify(signature, message)
    private.public_key().verify(signature, message)
    earlier = audit.checkpoint_message(rows[-2].position, rows[-2].log_hash, kept["signed_at"])
    with pytest.raises(InvalidSignature):  # it signs this head, not any other place
        private.public_key().verify(signature, earlier)

    # Nothing written since: a later checkpoint is the same one, not a second.
    later = Shell(sqlite_url, INCUBATOR_NOW="2026-12-01T09:00+08:00")
    assert json.loads(later.run("--settings", str(settings), "audit", "checkpoint").stdout) == kept
    with opened(sqlite_url) as system:
        assert checkpoints_kept(system) == 1


# ---- 2. a kept checkpoint proves the past --------------------------------------------------------


def test_a_kept_checkpoint_catches_an_intruder_who_rebuilt_the_whole_chain(
    database_url: str, tmp_path: Path
) -> None:
    sh = Shell(database_url, INCUBATOR_NOW=SIGNED_AT)  # a rehearsal's database, for the clock
    with opened(database_url) as system:
        write_cohort(system)
    sh.run("audit", "keygen", "--out", str(tmp_path / "key.pem"))
    settings = settings_naming(tmp_path, "key.pem")
    kept_file = tmp_path / "kept.json"
    kept_file.write_text(sh.run("--settings", str(settings), "audit", "checkpoint").stdout)
    kept = json.loads(kept_file.read_text())

    # The log goes on: more events, sealed past the checkpoint.
    with opened(database_url) as system:
        drive(system.service, new_case(system.service, name="老年互助协会"), "follow_up", "M-07")
        system.read_models.catch_up()
        events = notifications(system)
        rows = {r.position: r for r in chain_rows(system)}
    assert events[-1].id > kept["position"]
    assert max(rows) == events[-1].id
    held = sh.run("audit", "verify", "--checkpoint", str(kept_file))
    assert held.stdout.startswith("ok:"), held.stdout
    assert f"{len(events):,} sealed events" in held.stdout

    # Checkpoints forged in the file: the signature no longer matches what it claims.
    earlier = max(p for p in rows if p < kept["position"])
    forged = {
        "signature": {**kept, "signature": flip(kept["signature"])},
        "log_hash": {**kept, "log_hash": flip(kept["log_hash"])},
        "place": {**kept, "position": earlier, "log_hash": rows[earlier].log_hash},
    }
    for name, checkpoint in forged.items():
        error = sh.refused(
            "audit",
            "verify",
            "--checkpoint",
            str(write_json(tmp_path / f"{name}.json", checkpoint)),
        )
        assert "signature does not match" in error, (name, error)

    # A thorough intruder: changes an event before the checkpoint, then rebuilds the chain
    # (and removes the recorded checkpoints) so that the log verifies on its own.
    before = [n for n in events if n.id < kept["position"] and ACTOR in n.state]
    target = before[len(before) // 2]
    with Intruder(parse_database_url(database_url)) as intruder:
        intruder.drop_event_triggers()
        intruder.drop_trigger("event_chain", "delete")
        intruder.drop_trigger("audit_checkpoints", "delete")
        intruder.run(
            "UPDATE {events} SET state = ? WHERE {position} = ?",
            target.state.replace(ACTOR, FORGED_ACTOR),
            target.id,
        )
        intruder.run("DELETE FROM event_chain")
        intruder.run(
            "UPDATE event_chain_head SET position = 0, log_hash = ? WHERE id = 1", audit.GENESIS
        )
        intruder.run("DELETE FROM audit_checkpoints")
    with opened(database_url) as system:
        assert audit.seal(system.read_models.engine, system.log) == len(events)
        rebuilt = audit.verify(system.read_models.engine, system.log)
        assert rebuilt.ok and rebuilt.sealed == len(events), rebuilt  # the chain alone is fooled
        assert audit.latest_checkpoint(system.read_models.engine) is None
        now_at_checkpoint = {r.position: r for r in chain_rows(system)}[kept["position"]]
    assert now_at_checkpoint.log_hash != kept["log_hash"]
    alone = sh.run("audit", "verify")
    assert alone.stdout.startswith("ok:"), alone.stdout

    caught = sh.refused("audit", "verify", "--checkpoint", str(kept_file))
    assert f"position {kept['position']}" in caught, caught
    assert "not what was signed" in caught and "changed" in caught, caught
    report = json.loads(
        sh.run("audit", "verify", "--checkpoint", str(kept_file), "--json", ok=False).stdout
    )
    assert report["ok"] is False and report["problem"]["kind"] == "checkpoint", report

    # Nor can the intruder make the kept file agree with the rebuilt chain without the key.
    moved = {**kept, "log_hash": now_at_checkpoint.log_hash}
    error = sh.refused(
        "audit", "verify", "--checkpoint", str(write_json(tmp_path / "moved.json", moved))
    )
    assert "signature does not match" in error, error


# ---- 3. dossiers -------------------------------------------------------------------------------


@dataclass
class Park:
    """Two organizations in the shell, with party tracks and reminders; a checkpoint signed."""

    case_id: UUID
    other_id: UUID
    party_id: UUID
    reminders: list[UUID]  # of case_id
    events: list[Notification]  # every event of the case, its party track and its reminders
    checkpoint: dict[str, Any]


def scan(park: MovingPark, moment: str) -> list[dict[str, Any]]:
    """What a scan at `moment` recorded, as the reminders service returns it."""
    park.move(moment)
    return park.system.reminders.scan()


def populate(system: Incubator, clock: FixedClock, key_file: Path) -> Park:
    clock.at = local("2014-01-02 09:00")
    park = MovingPark(system, clock)
    case_id = park.enter(NAME, "M-01")  # its party track starts, inspected, members counted
    other_id = park.enter(OTHER, "M-02")
    system.party.assign_instructor(case_id, who("2014-02-10"), instructor="陈红")
    key = audit.load_signing_key(str(key_file))
    audit.checkpoint(system.read_models.engine, system.log, key, clock.now())  # an earlier one
    scanned = [*scan(park, "2014-06-10 08:00"), *scan(park, "2014-07-09 08:00")]
    park.move("2014-07-09 12:00")
    system.service.record_growth_review(case_id, who("2014-07-09"), ["王芳=75"])
    park.move("2014-07-10 12:00")
    checkpoint = audit.checkpoint(system.read_models.engine, system.log, key, clock.now())
    reminders = [UUID(r["id"]) for r in scanned if r["case_id"] == str(case_id)]
    assert len(reminders) >= 2, scanned
    assert any(r["case_id"] == str(other_id) for r in scanned), scanned
    party_id = PartyIncubation.id_for(case_id)
    mine = {str(case_id), str(party_id), *map(str, reminders)}
    events = [n for n in notifications(system) if str(n.originator_id) in mine]
    assert sum(1 for n in events if str(n.originator_id) == str(party_id)) >= 4
    return Park(case_id, other_id, party_id, reminders, events, checkpoint)


@dataclass
class Exported:
    park: Park
    url: str
    json_file: Path
    csv_file: Path
    said: str  # what `audit export` printed
    chain: list[Any]
    latest: dict[str, Any] | None


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """One park exported once through the executable; each test reads or copies the files."""
    folder = tmp_path_factory.mktemp("dossier")
    url = f"sqlite:///{folder / 'incubator.sqlite3'}"
    audit.new_signing_key(folder / "key.pem")
    with opened(url) as system:
        park = populate(system, FixedClock(NOW), folder / "key.pem")
    json_file, csv_file = folder / "d.json", folder / "d.csv"
    said = Shell(url).run(
        "audit", "export", str(park.case_id)[:8], "--out", str(json_file), "--csv", str(csv_file)
    )
    with opened(url) as system:
        chain = chain_rows(system)
        latest = audit.latest_checkpoint(system.read_models.engine)
    return Exported(park, url, json_file, csv_file, said.stdout, chain, latest)


def test_export_writes_the_readable_dossier_of_one_organization_and_it_verifies(
    exported: Exported,
) -> None:
    park = exported.park
    text = exported.json_file.read_bytes().decode("utf-8")  # strictly UTF-8
    assert NAME in text  # Chinese as it reads, not escaped
    assert ESCAPE.search(text) is None, ESCAPE.search(text)
    assert OTHER not in text  # nothing of the other organization
    data = json.loads(text)
    assert (
        exported.said.strip() == f"wrote {exported.json_file}: {len(park.events)} events of {NAME}"
    )

    assert (data["format"], data["case_id"], data["organization"]) == (
        "incubator-dossier/1",
        str(park.case_id),
        NAME,
    )
    assert set(data["aggregates"]) == {
        str(park.case_id),
        str(park.party_id),
        *map(str, park.reminders),
    }
    # Every event of the case, its party track and its reminders, in log order, as stored.
    assert [
        (e["position"], e["aggregate"], e["version"], e["topic"], e["stored"])
        for e in data["events"]
    ] == [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state.decode("utf-8"))
        for n in park.events
    ]
    kinds = {e["aggregate"]: e["topic"] for e in data["events"]}
    assert "PartyIncubation" in kinds[str(park.party_id)]
    assert all("Reminder" in kinds[str(r)] for r in park.reminders)
    # With the hashes the chain sealed them with, and the one before each in the whole log.
    sealed = {r.position: r for r in exported.chain}
    positions = sorted(sealed)
    for e in data["events"]:
        row = sealed[e["position"]]
        before = [p for p in positions if p < e["position"]]
        assert (e["case_hash"], e["log_hash"]) == (row.case_hash, row.log_hash), e
        assert e["previous_log_hash"] == (
            sealed[before[-1]].log_hash if before else audit.GENESIS
        ), e
    # The latest checkpoint (signed after the growth review), as recorded.
    assert data["checkpoint"] == exported.latest == park.checkpoint
    assert data["checkpoint"]["position"] >= data["events"][-1]["position"]

    with exported.csv_file.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["events"])
    assert [
        (int(r["position"]), r["aggregate"], int(r["version"]), r["case_hash"], r["log_hash"])
        for r in rows
    ] == [
        (e["position"], e["aggregate"], e["version"], e["case_hash"], e["log_hash"])
        for e in data["events"]
    ]
    assert [r["stored"] for r in rows] == [e["stored"] for e in data["events"]]
    assert [r["type"] for r in rows] == [e["topic"].rsplit(".", 1)[-1] for e in data["events"]]
    assert any(NAME in r["stored"] for r in rows)

    ok = Shell(exported.url).run("audit", "verify-export", str(exported.json_file))
    assert ok.stdout.strip() == (
        f"ok: {len(park.events)} events of {NAME} and its checkpoint's signature verify"
    )
    report = Shell(exported.url).json("audit", "verify-export", str(exported.json_file))
    assert report == {"ok": True, "events": len(park.events), "problems": []}


def _index(data: dict[str, Any], aggregate: str, version: int) -> int:
    return next(
        i
        for i, e in enumerate(data["events"])
        if (e["aggregate"], e["version"]) == (aggregate, version)
    )


def _changed_text(data: dict[str, Any]) -> str:
    i = _index(data, data["case_id"], 3)
    assert "王芳" in data["events"][i]["stored"]
    data["events"][i]["stored"] = data["events"][i]["stored"].replace("王芳", "李四")
    return f"position {data['events'][i]['position']}"


def _removed(data: dict[str, Any]) -> str:
    i = _index(data, data["case_id"], 2)
    del data["events"][i]
    after = data["events"][_index(data, data["case_id"], 3)]  # where the gap shows
    return f"position {after['position']}"


def _swapped_in_one_aggregate(data: dict[str, Any]) -> str:
    i, j = _index(data, data["case_id"], 2), _index(data, data["case_id"], 3)
    events = data["events"]
    events[i], events[j] = events[j], events[i]
    return f"position {events[i]['position']}"


def _swapped_across_aggregates(data: dict[str, Any]) -> str:
    """Two neighbours in the list from different aggregates (each keeps its own position): the
    dossier, and a CSV made from it, no longer lists the events in the log's order, and the
    positions in the file go down. Export writes them in position order; the check must hold
    the file to it."""
    events = data["events"]
    i = next(
        k for k in range(len(events) - 1) if events[k]["aggregate"] != events[k + 1]["aggregate"]
    )
    events[i], events[i + 1] = events[i + 1], events[i]
    return f"position {events[i]['position']}|position {events[i + 1]['position']}"


def _version(data: dict[str, Any]) -> str:
    i = _index(data, data["case_id"], 3)
    data["events"][i]["version"] = 4
    return f"position {data['events'][i]['position']}"


def _position(data: dict[str, Any]) -> str:
    i = _index(data, str(PartyIncubation.id_for(UUID(data["case_id"]))), 2)
    data["events"][i]["position"] += 1
    return f"position {data['events'][i]['position']}"


def _signature(data: dict[str, Any]) -> str:
    data["checkpoint"]["signature"] = flip(data["checkpoint"]["signature"])
    return "signature"


def _checkpoint_hash(data: dict[str, Any]) -> str:
    data["checkpoint"]["log_hash"] = flip(data["checkpoint"]["log_hash"])
    return "signature"


MUTATIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "stored text changed": _changed_text,
    "event removed": _removed,
    "two events of one aggregate swapped": _swapped_in_one_aggregate,
    "two events of different aggregates swapped": _swapped_across_aggregates,
    "version number changed": _version,
    "position changed": _position,
    "checkpoint signature changed": _signature,
    "checkpoint hash changed": _checkpoint_hash,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_changed_dossier_does_not_verify_and_says_where(
    exported: Exported, tmp_path: Path, mutation: str
) -> None:
    data = json.loads(exported.json_file.read_text(encoding="utf-8"))
    assert dossier.verify_dossier(data) == []
    expected = MUTATIONS[mutation](data)
    changed = write_json(tmp_path / "changed.json", data)

    error = Shell(exported.url).refused("audit", "verify-export", str(changed))
    assert error.startswith(f"incubator: {changed} does not verify: "), error
    assert any(e in error for e in expected.split("|")), (expected, error)
    assert "Traceback" not in error


NOT_DOSSIERS: dict[str, bytes] = {
    "text": "这不是 JSON {".encode(),
    "not UTF-8": b"\xff\xfe\x00{}",
    "empty": b"",
    # JSON, but not an object: refused like any other file that is not a dossier
    "a JSON list": b"[]",
    "JSON null": b"null",
    "a JSON string": b'"incubator-dossier/1"',
    "a checkpoint": json.dumps(
        {"position": 1, "log_hash": "0" * 64, "signed_at": SIGNED_AT_UTC}
    ).encode(),
    "another format": b'{"format": "incubator-dossier/9", "events": []}',
}


@pytest.mark.parametrize("kind", list(NOT_DOSSIERS))
def test_a_file_that_is_not_a_dossier_is_refused_clearly(
    sqlite_url: str, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "file.json"
    path.write_bytes(NOT_DOSSIERS[kind])
    error = Shell(sqlite_url).refused("audit", "verify-export", str(path))
    assert "Traceback" not in error, error
    assert error.startswith("incubator: "), error
    assert "cannot read" in error or "not an incubator dossier" in error, error
    assert error.count("\n") == 1, error  # one line saying what is wrong


# ---- 4. verify_dossier on each backend -------------------------------------------------------


def test_verify_dossier_accepts_an_untouched_dossier_on_each_backend(
    any_incubator: Incubator, clock: FixedClock, tmp_path: Path
) -> None:
    system = any_incubator
    audit.new_signing_key(tmp_path / "key.pem")
    park = populate(system, clock, tmp_path / "key.pem")
    system.read_models.catch_up()  # seals, and the outbox knows the case's reminders
    known = [UUID(r["reminder_id"]) for r in system.read_models.reminders_of(str(park.case_id))]
    assert set(known) == set(park.reminders)
    aggregates = [park.case_id, park.party_id, *known]
    written = dossier.export(
        system.read_models.engine,
        system.log,
        park.case_id,
        NAME,
        aggregates,
        datetime(2014, 7, 10, 4, tzinfo=UTC),
    )
    assert [(e["position"], e["aggregate"], e["version"]) for e in written["events"]] == [
        (n.id, str(n.originator_id), n.originator_version) for n in park.events
    ]
    assert {e["aggregate"] for e in written["events"]} == {str(a) for a in aggregates}
    assert written["checkpoint"] == park.checkpoint
    assert dossier.verify_dossier(written) == []

    # As written to a file and read back.
    path = tmp_path / "d.json"
    dossier.write(written, path)
    assert dossier.verify_dossier(json.loads(path.read_text(encoding="utf-8"))) == []

    # And the same check fails when the file does not hold what was exported.
    expected = _changed_text(written)
    problems = dossier.verify_dossier(written)
    assert problems and expected in problems[0], problems
