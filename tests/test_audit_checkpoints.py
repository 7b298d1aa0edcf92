"""Signed checkpoints and signed dossiers (commands/audit.py, commands/dossier.py, cli/audit.py).

Every writing transaction links its events into the hash chain and signs the links with the
park's Ed25519 key (store/signing.py): the key the settings' `[audit] signing_key` names, else the
database's own, made beside the SQLite file (or in the user's data folder for PostgreSQL) and
pinned, outside the database, in its trusted-keys file. A signature or checkpoint by a key that
is not pinned proves nothing.

An auditor keeps a checkpoint (the log's head position and chain hash, signed with the park's
key) outside the system; later it proves that nothing before it changed, even after an intruder
rewrote an event, rebuilt the chain around it and signed it again, with a key of their own or
with the park's stolen key. A dossier (`incubator-dossier/2`) is one organization's events (its
case, its party track, its reminders) with their links, the writers' signed ranges, the signed
head of each aggregate and the latest checkpoint, all signed at export; `audit verify-export`
checks it offline against the park's pinned keys (`--trusted-keys`, an auditor's own copy) and
names an edit, a dropped event or aggregate, a removed checkpoint or a signature by another key.

The command line is driven through the real executable (tests/test_cli.Shell); the intruder works
on the database with plain SQL (tests/test_audit.Intruder).
"""

from __future__ import annotations

import copy
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
from store import audit, signing
from store.database import parse_database_url
from tests.builders import drive, new_case
from tests.conftest import NOW, who
from tests.test_audit import ACTOR, FORGED_ACTOR, Intruder, notifications, write_cohort
from tests.test_cli import Shell
from tests.test_reminders import MovingPark, local

NAME = "爱心志愿者协会"  # the organization whose dossier is exported
OTHER = "阳光助残服务队"  # another organization in the park: none of it belongs in the dossier
FORGED_NAME = "仿冒志愿者协会"  # what an editor of the dossier renames it to
SIGNED_AT = "2026-11-29T20:00+08:00"  # INCUBATOR_NOW of the checkpointing commands
SIGNED_AT_UTC = "2026-11-29T12:00:00+00:00"
ESCAPE = re.compile(r"\\u[0-9a-fA-F]{4}")
NOT_PINNED = "which the park did not pin"
CHANGED_AFTER_EXPORT = "the dossier was changed after export: its signature does not hold"


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


def pinning(path: Path, *keys: Ed25519PrivateKey | str) -> Path:
    """A trusted-keys file, as an auditor keeps one: one public key a line."""
    lines = [k if isinstance(k, str) else public_hex(k) for k in keys]
    path.write_text("# the park's keys\n" + "".join(f"{k}\n" for k in lines), encoding="utf-8")
    return path


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


def signed_checkpoint(kept: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """`kept` signed again with `key`: a well-formed checkpoint whose signature holds."""
    message = audit.checkpoint_message(kept["position"], kept["log_hash"], kept["signed_at"])
    return {**kept, "public_key": public_hex(key), "signature": key.sign(message).hex()}


def rechain(intruder: Intruder, key: Ed25519PrivateKey) -> int:
    """What an intruder with SQL access does after changing events: drop the triggers that keep
    the chain append-only (each opening of the system puts them back), delete the chain and the
    writers' signatures, link every event again as it is now, sign each writer's range again
    (same places, same times) with `key`, and move the head to the new last link. The number of
    ranges signed."""
    for table in ("event_chain", "event_signatures"):
        intruder.drop_trigger(table, "delete")
    ranges = intruder.run(
        "SELECT first_position, last_position, signed_at FROM event_signatures "
        "ORDER BY last_position"
    )
    events = intruder.tables()["events"]
    intruder.run("DELETE FROM event_chain")
    intruder.run("DELETE FROM event_signatures")
    links: dict[int, tuple[tuple[int, str, int, str], str]] = {}
    last_of: dict[str, str] = {}
    log_hash = audit.GENESIS
    for position, originator, version, topic, state in events:
        case = str(UUID(str(originator)))  # SQLite keeps the id's hex digits only
        case_hash = audit.link(
            last_of.get(case, audit.GENESIS), audit.digest(case, version, topic, bytes(state))
        )
        log_hash = audit.link(log_hash, position, case_hash)
        last_of[case] = case_hash
        intruder.run(
            "INSERT INTO event_chain (position, originator_id, version, case_hash, log_hash) "
            "VALUES (?, ?, ?, ?, ?)",
            position,
            case,
            version,
            case_hash,
            log_hash,
        )
        links[position] = ((position, case, version, case_hash), log_hash)
    public = public_hex(key)
    for first, last, signed_at in ranges:
        covered = [links[p][0] for p in sorted(links) if first <= p <= last]
        message = audit.links_message(first, last, links[last][1], signed_at, public, covered)
        intruder.run(
            "INSERT INTO event_signatures (last_position, first_position, signed_at, public_key, "
            "signature, migrated) VALUES (?, ?, ?, ?, ?, 0)",
            last,
            first,
            signed_at,
            public,
            key.sign(message).hex(),
        )
    intruder.run(
        "UPDATE event_chain_head SET position = ?, log_hash = ? WHERE id = 1",
        events[-1][0],
        log_hash,
    )
    return len(ranges)


# ---- 1. keys and checkpoints ---------------------------------------------------------------------


def test_keygen_writes_a_private_key_and_checkpoint_signs_the_head_of_the_log(
    sqlite_url: str, tmp_path: Path
) -> None:
    sh = Shell(sqlite_url, INCUBATOR_NOW=SIGNED_AT)  # a rehearsal's database, for the clock
    with opened(sqlite_url) as system:
        write_cohort(system)  # linked and signed as written, with the database's own key
        own = system.signer.public_key
        own_files = system.keys
    database = parse_database_url(sqlite_url)
    assert database.path is not None
    assert own_files == signing.KeyFiles.of(database)
    assert own_files.signing == database.path.with_name(f"{database.path.name}.signing-key.pem")
    assert stat.S_IMODE(own_files.signing.stat().st_mode) == 0o600
    own_key = audit.load_signing_key(str(own_files.signing))
    assert public_hex(own_key) == own
    keys = sh.json("audit", "keys")
    assert (keys["signing_key"], keys["signing_key_file"]) == (own, str(own_files.signing))
    assert (keys["pinned"], keys["trusted_keys_file"]) == ([own], str(own_files.trusted))
    assert set(keys["signed"]) == {own}

    conf = tmp_path / "conf"
    conf.mkdir()
    key_file = conf / "audit-key.pem"
    made = sh.run("audit", "keygen", "--out", str(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, oct(key_file.stat().st_mode)
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----"), pem[:40]
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert public_hex(private) in made.stdout and public_hex(private) != own

    again = sh.refused("audit", "keygen", "--out", str(key_file))
    assert str(key_file) in again and "exists" in again and "never overwritten" in again
    assert key_file.read_bytes() == pem  # the key is untouched

    # No key in the settings: the checkpoint is signed with the database's own key.
    kept = json.loads(sh.run("audit", "checkpoint").stdout)
    assert set(kept) == {"position", "log_hash", "signed_at", "public_key", "signature"}
    with opened(sqlite_url) as system:
        events = notifications(system)
        head = chain_head(system)
        verdict = audit.verify(system.read_models.engine, system.trust())
        recorded = audit.latest_checkpoint(system.read_models.engine)
        rows = chain_rows(system)
        assert audit.check_checkpoint(system.read_models.engine, kept, system.trust()) is None
    assert verdict.ok and verdict.sealed == len(events) > 40, verdict
    assert verdict.keys == {own: len(events)}
    assert kept["position"] == events[-1].id == head.position  # the log's head
    assert kept["log_hash"] == head.log_hash == verdict.head == rows[-1].log_hash
    assert kept["signed_at"] == SIGNED_AT_UTC
    assert kept["public_key"] == own
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
    own_key.public_key().verify(signature, message)
    earlier = audit.checkpoint_message(rows[-2].position, rows[-2].log_hash, kept["signed_at"])
    with pytest.raises(InvalidSignature):  # it signs this head, not any other place
        own_key.public_key().verify(signature, earlier)

    # Nothing written since: a later checkpoint is the same one, not a second.
    later = Shell(sqlite_url, INCUBATOR_NOW="2026-12-01T09:00+08:00")
    assert json.loads(later.run("audit", "checkpoint").stdout) == kept
    with opened(sqlite_url) as system:
        assert checkpoints_kept(system) == 1

    # A key named in the settings that is not there: the settings are what is wrong (exit 4),
    # saying which file; nothing is signed with another key instead.
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    gone = sh.refused(
        "--settings", str(settings_naming(nowhere, "absent.pem")), "audit", "checkpoint", code=4
    )
    assert "cannot read the signing key" in gone and "absent.pem" in gone, gone

    # The log goes on; the settings name the new key. The executable runs in another folder:
    # the relative name is read from the settings' folder.
    with opened(sqlite_url) as system:
        new_case(system.service, name="老年互助协会")
    settings = settings_naming(conf, "audit-key.pem")
    assert not (Path.cwd() / "audit-key.pem").exists()
    assert sh.json("--settings", str(settings), "audit", "keys")["signing_key"] == public_hex(
        private
    )
    renewed = json.loads(sh.run("--settings", str(settings), "audit", "checkpoint").stdout)
    assert renewed["position"] > kept["position"]
    assert renewed["public_key"] == public_hex(private)
    private.public_key().verify(
        bytes.fromhex(renewed["signature"]),
        audit.checkpoint_message(renewed["position"], renewed["log_hash"], renewed["signed_at"]),
    )
    assert sh.run("--settings", str(settings), "audit", "verify").stdout.startswith("ok:")

    # Without those settings the new key is not pinned for this database: the latest recorded
    # checkpoint proves nothing until an administrator pins it.
    unpinned = sh.refused("audit", "verify")
    assert "checkpoint" in unpinned and NOT_PINNED in unpinned, unpinned
    sh.run("audit", "trust-key", public_hex(private))
    assert sorted(sh.json("audit", "keys")["pinned"]) == sorted([own, public_hex(private)])
    assert sh.run("audit", "verify").stdout.startswith("ok:")
    with opened(sqlite_url) as system:
        assert checkpoints_kept(system) == 2


# ---- 2. a kept checkpoint proves the past --------------------------------------------------------


def test_a_kept_checkpoint_catches_an_intruder_who_rebuilt_and_resigned_the_whole_chain(
    database_url: str, tmp_path: Path
) -> None:
    sh = Shell(database_url, INCUBATOR_NOW=SIGNED_AT)  # a rehearsal's database, for the clock
    with opened(database_url) as system:
        write_cohort(system)
        park_key = system.signer.key
        files = system.keys
    kept_file = tmp_path / "kept.json"
    kept_file.write_text(sh.run("audit", "checkpoint").stdout)
    kept = json.loads(kept_file.read_text())
    assert kept["public_key"] == public_hex(park_key)

    # The log goes on: more events, linked and signed past the checkpoint.
    with opened(database_url) as system:
        drive(system.service, new_case(system.service, name="老年互助协会"), "follow_up", "M-07")
        system.read_models.catch_up()
        events = notifications(system)
        rows = {r.position: r for r in chain_rows(system)}
    assert events[-1].id > kept["position"]
    assert max(rows) == events[-1].id
    held = sh.run("audit", "verify", "--checkpoint", str(kept_file))
    assert held.stdout.startswith("ok:"), held.stdout
    assert f"ok: {len(events):,} events of " in held.stdout, held.stdout
    report = sh.json("audit", "verify", "--checkpoint", str(kept_file))
    assert (report["ok"], report["sealed"], report["signed_from"], report["migrated"]) == (
        True,
        len(events),
        1,
        0,
    )
    assert report["keys"] == {public_hex(park_key): len(events)}

    # An auditor's own list of the park's keys: the log verifies against it, and against a
    # list that pins only some other key it does not.
    intruder_key = Ed25519PrivateKey.generate()
    park_keys = pinning(tmp_path / "park.keys", park_key)
    other_keys = pinning(tmp_path / "other.keys", intruder_key)
    assert sh.run(
        "audit", "verify", "--checkpoint", str(kept_file), "--trusted-keys", str(park_keys)
    ).stdout.startswith("ok:")
    foreign = sh.refused("audit", "verify", "--trusted-keys", str(other_keys))
    assert NOT_PINNED in foreign and public_hex(park_key)[:16] in foreign, foreign

    # Checkpoints forged in the file: the signature no longer matches what it claims.
    earlier = max(p for p in rows if p < kept["position"])
    forged = {
        "signature": {**kept, "signature": flip(kept["signature"])},
        "log_hash": {**kept, "log_hash": flip(kept["log_hash"])},
        "place": {**kept, "position": earlier, "log_hash": rows[earlier].log_hash},
    }
    for name, checkpoint in forged.items():
        path = write_json(tmp_path / f"{name}.json", checkpoint)
        error = sh.refused("audit", "verify", "--checkpoint", str(path))
        assert "signature does not match" in error, (name, error)
    # A checkpoint whose signature holds, but by a key the park did not pin.
    resigned = write_json(tmp_path / "resigned.json", signed_checkpoint(kept, intruder_key))
    error = sh.refused("audit", "verify", "--checkpoint", str(resigned))
    assert NOT_PINNED in error and public_hex(intruder_key)[:16] in error, error
    # A file that is not a checkpoint is an error, not a checkpoint that checks nothing.
    malformed: dict[str, Any] = {
        "an empty object": {},
        "a list": [],
        "null": None,
        "no signature": {k: v for k, v in kept.items() if k != "signature"},
    }
    for name, value in malformed.items():
        path = write_json(tmp_path / "malformed.json", value)
        error = sh.refused("audit", "verify", "--checkpoint", str(path))
        assert error.startswith(f"incubator: {path} is not a checkpoint"), (name, error)
        assert "Traceback" not in error and error.count("\n") == 1, (name, error)

    # An intruder: changes an event before the checkpoint, then rebuilds the chain and signs
    # every range again, and removes the recorded checkpoints.
    before = [n for n in events if n.id < kept["position"] and ACTOR in n.state]
    target = before[len(before) // 2]
    with Intruder(parse_database_url(database_url)) as intruder:
        intruder.drop_event_triggers()
        intruder.drop_trigger("audit_checkpoints", "delete")
        intruder.run(
            "UPDATE {events} SET state = ? WHERE {position} = ?",
            target.state.replace(ACTOR, FORGED_ACTOR),
            target.id,
        )
        intruder.run("DELETE FROM audit_checkpoints")
        # Without the park's key: signed with one of their own, which the park did not pin.
        ranges = rechain(intruder, intruder_key)
    assert ranges == report["signatures"] > 1
    with opened(database_url) as system:
        own_signed = audit.verify(system.read_models.engine, system.trust())
        assert audit.latest_checkpoint(system.read_models.engine) is None
    assert not own_signed.ok and own_signed.problem is not None, own_signed
    assert own_signed.problem["kind"] == "signature", own_signed.problem
    assert NOT_PINNED in own_signed.problem["detail"], own_signed.problem
    assert NOT_PINNED in sh.refused("audit", "verify")
    caught = sh.refused("audit", "verify", "--checkpoint", str(kept_file))
    assert NOT_PINNED in caught, caught

    # With the park's key, stolen from beside the database: the chain alone is fooled...
    stolen = audit.load_signing_key(str(files.signing))
    with Intruder(parse_database_url(database_url)) as intruder:
        rechain(intruder, stolen)
    with opened(database_url) as system:
        rebuilt = audit.verify(system.read_models.engine, system.trust())
        now_at_checkpoint = {r.position: r for r in chain_rows(system)}[kept["position"]]
    assert rebuilt.ok and rebuilt.sealed == len(events), rebuilt
    assert rebuilt.keys == {public_hex(park_key): len(events)}
    assert now_at_checkpoint.log_hash != kept["log_hash"]
    alone = sh.run("audit", "verify")
    assert alone.stdout.startswith("ok:"), alone.stdout

    # ...but not the checkpoint the auditor kept outside the system.
    caught = sh.refused("audit", "verify", "--checkpoint", str(kept_file))
    assert f"position {kept['position']}" in caught, caught
    assert "not what was signed" in caught and "changed" in caught, caught
    report = json.loads(
        sh.run("audit", "verify", "--checkpoint", str(kept_file), "--json", ok=False).stdout
    )
    assert report["ok"] is False and report["problem"]["kind"] == "checkpoint", report

    # Nor does an edited copy of the kept file agree with the rebuilt chain.
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


def populate(system: Incubator, clock: FixedClock) -> Park:
    clock.at = local("2014-01-02 09:00")
    park = MovingPark(system, clock)
    case_id = park.enter(NAME, "M-01")  # its party track starts, inspected, members counted
    other_id = park.enter(OTHER, "M-02")
    system.party.assign_instructor(case_id, who("2014-02-10"), instructor="陈红")
    engine, key = system.read_models.engine, system.signer.key
    audit.checkpoint(engine, key, clock.now())  # an earlier one
    scanned = [*scan(park, "2014-06-10 08:00"), *scan(park, "2014-07-09 08:00")]
    park.move("2014-07-09 12:00")
    system.service.record_growth_review(case_id, who("2014-07-09"), ["王芳=75"])
    park.move("2014-07-10 12:00")
    checkpoint = audit.checkpoint(engine, key, clock.now())
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
    key: Ed25519PrivateKey  # the park's: the database's own, kept beside it

    @property
    def trust(self) -> audit.Trust:
        """The park's public key, pinned as an auditor would."""
        return audit.Trust(frozenset({public_hex(self.key)}))

    def data(self) -> dict[str, Any]:
        """A fresh copy of the dossier, as read from the file."""
        value: dict[str, Any] = json.loads(self.json_file.read_text(encoding="utf-8"))
        return value


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """One park exported once through the executable; each test reads or copies the files."""
    folder = tmp_path_factory.mktemp("dossier")
    url = f"sqlite:///{folder / 'incubator.sqlite3'}"
    with opened(url) as system:
        park = populate(system, FixedClock(NOW))
        key = audit.load_signing_key(str(system.keys.signing))
    json_file, csv_file = folder / "d.json", folder / "d.csv"
    said = Shell(url).run(
        "audit", "export", str(park.case_id)[:8], "--out", str(json_file), "--csv", str(csv_file)
    )
    with opened(url) as system:
        chain = chain_rows(system)
        latest = audit.latest_checkpoint(system.read_models.engine)
    return Exported(park, url, json_file, csv_file, said.stdout, chain, latest, key)


def resign(data: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The dossier's export signature computed again, with `key`, over what it holds now."""
    signature = key.sign(dossier._signed_bytes(data)).hex()
    data["signature"] = {"public_key": public_hex(key), "signature": signature}
    return data


def test_export_writes_the_readable_signed_dossier_of_one_organization_and_it_verifies(
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
        "incubator-dossier/2",
        str(park.case_id),
        NAME,
    )
    mine = {str(park.case_id), str(park.party_id), *map(str, park.reminders)}
    assert set(data["aggregates"]) == mine
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
    # With the links the writers wrote, and the log hash before each in the whole log.
    sealed = {r.position: r for r in exported.chain}
    positions = sorted(sealed)
    for e in data["events"]:
        row = sealed[e["position"]]
        before = [p for p in positions if p < e["position"]]
        assert (e["case_hash"], e["log_hash"]) == (row.case_hash, row.log_hash), e
        assert e["previous_log_hash"] == (
            sealed[before[-1]].log_hash if before else audit.GENESIS
        ), e
    # The head of each aggregate: its last version and case hash.
    assert data["heads"] == {
        aggregate: {
            "version": max(e["version"] for e in data["events"] if e["aggregate"] == aggregate),
            "case_hash": [e for e in data["events"] if e["aggregate"] == aggregate][-1][
                "case_hash"
            ],
        }
        for aggregate in mine
    }
    # The writers' signed ranges that hold the events, each signed by the park's key over all
    # of its links; every event is among the links of its range.
    park_public = public_hex(exported.key)
    ranges = data["signatures"]
    assert ranges and [r["first"] for r in ranges] == sorted(r["first"] for r in ranges)
    for r in ranges:
        assert (r["public_key"], r["migrated"]) == (park_public, False), r
        assert (r["links"][0][0], r["links"][-1][0]) == (r["first"], r["last"]), r
        assert r["log_hash"] == sealed[r["last"]].log_hash, r
        assert [link[1:] for link in r["links"]] == [
            [sealed[p].originator_id, sealed[p].version, sealed[p].case_hash]
            for p, *_ in r["links"]
        ]
        message = audit.links_message(
            r["first"], r["last"], r["log_hash"], r["signed_at"], r["public_key"],
            [tuple(link) for link in r["links"]],
        )  # fmt: skip
        exported.key.public_key().verify(bytes.fromhex(r["signature"]), message)
    for e in data["events"]:
        (holding,) = [r for r in ranges if r["first"] <= e["position"] <= r["last"]]
        assert [e["position"], e["aggregate"], e["version"], e["case_hash"]] in holding["links"]
    # The latest checkpoint (signed after the growth review), as recorded.
    assert data["checkpoint"] == exported.latest == park.checkpoint
    assert data["checkpoint"]["position"] >= data["events"][-1]["position"]
    assert data["checkpoint"]["public_key"] == park_public
    # The export's signature: the park's key over everything else in the file, canonically.
    assert data["signature"]["public_key"] == park_public
    signed = dossier._signed_bytes(data)
    assert signed.startswith(b"incubator-dossier/2\n") and NAME.encode() in signed
    exported.key.public_key().verify(bytes.fromhex(data["signature"]["signature"]), signed)

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

    assert dossier.verify_dossier(data, exported.trust) == []
    ok = Shell(exported.url).run("audit", "verify-export", str(exported.json_file))
    assert ok.stdout.strip() == (
        f"ok: {len(park.events)} events of {NAME}, their writers' signatures, its checkpoint "
        f"and the export's signature verify"
    )
    report = Shell(exported.url).json("audit", "verify-export", str(exported.json_file))
    assert report == {"ok": True, "events": len(park.events), "problems": []}


# -- edits of a dossier by someone without the park's key -----------------------------------------


def _index(data: dict[str, Any], aggregate: str, version: int) -> int:
    return next(
        i
        for i, e in enumerate(data["events"])
        if (e["aggregate"], e["version"]) == (aggregate, version)
    )


def _party(data: dict[str, Any]) -> str:
    return str(PartyIncubation.id_for(UUID(data["case_id"])))


def _rehash(data: dict[str, Any]) -> None:
    """Every hash the dossier holds computed again from its events as they are now, as anyone
    can without the key: case hashes, log hashes, the heads, the links of the signed ranges."""
    last: dict[str, tuple[int, str]] = {}
    log_hashes: dict[str, str] = {}  # each event's old log hash: its new one
    case_hashes: dict[int, str] = {}
    for e in data["events"]:
        previous_case = last.get(e["aggregate"], (0, audit.GENESIS))[1]
        case_hash = audit.link(
            previous_case, audit.digest(e["aggregate"], e["version"], e["topic"], e["stored"])
        )
        previous = log_hashes.get(e["previous_log_hash"], e["previous_log_hash"])
        log_hash = audit.link(previous, e["position"], case_hash)
        log_hashes[e["log_hash"]] = log_hash
        case_hashes[e["position"]] = case_hash
        e.update(case_hash=case_hash, log_hash=log_hash, previous_log_hash=previous)
        last[e["aggregate"]] = (e["version"], case_hash)
    for aggregate, (version, case_hash) in last.items():
        data["heads"][aggregate] = {"version": version, "case_hash": case_hash}
    for r in data["signatures"]:
        r["links"] = [[p, a, v, case_hashes.get(p, h)] for p, a, v, h in r["links"]]
        r["log_hash"] = log_hashes.get(r["log_hash"], r["log_hash"])


def _renamed(data: dict[str, Any]) -> list[str]:
    """The organization renamed, in the file and in every event that holds its name, with
    every hash recomputed: only the signatures can tell."""
    data["organization"] = FORGED_NAME
    held = [e for e in data["events"] if NAME in e["stored"]]
    assert held
    for e in held:
        e["stored"] = e["stored"].replace(NAME, FORGED_NAME)
    _rehash(data)
    return ["does not hold for its links"]


def _last_dropped(data: dict[str, Any]) -> list[str]:
    """The dossier's last event removed (and nothing else): its aggregate ends too early."""
    last = data["events"].pop()
    version = last["version"]
    return [
        f"aggregate {last['aggregate']}: ends at version {version - 1}, but the export signed "
        f"its head at version {version}"
    ]


def _party_track_dropped(data: dict[str, Any]) -> list[str]:
    """Every event of the party track removed, and the track from the dossier's aggregates."""
    party = _party(data)
    before = len(data["events"])
    data["events"] = [e for e in data["events"] if e["aggregate"] != party]
    assert len(data["events"]) <= before - 4
    data["aggregates"].remove(party)
    return [f"aggregate {party}: dropped from the dossier"]


def _every_event_dropped(data: dict[str, Any]) -> list[str]:
    data["events"] = []
    return [
        f"aggregate {aggregate}: ends at version 0, but the export signed its head at version "
        f"{head['version']}"
        for aggregate, head in data["heads"].items()
    ]


def _checkpoint_removed(data: dict[str, Any]) -> list[str]:
    """The signed checkpoint removed: only the export's signature holds it in the file."""
    del data["checkpoint"]
    return []


TAMPERINGS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "organization renamed, every hash recomputed": _renamed,
    "last event dropped": _last_dropped,
    "party track dropped": _party_track_dropped,
    "every event dropped": _every_event_dropped,
    "checkpoint removed": _checkpoint_removed,
}


def named(problems: list[str], expected: list[str]) -> bool:
    """Every expected problem is among `problems`."""
    return all(any(x in p for p in problems) for x in expected)


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_verify_export_names_a_dossier_edited_without_the_parks_key(
    exported: Exported, tmp_path: Path, tampering: str
) -> None:
    sh = Shell(exported.url)
    data = exported.data()
    expected = TAMPERINGS[tampering](data)

    # As edited: the export's signature no longer holds, and that is the line it says.
    edited = write_json(tmp_path / "edited.json", data)
    error = sh.refused("audit", "verify-export", str(edited))
    assert error == f"incubator: {edited} does not verify: {CHANGED_AFTER_EXPORT}\n", error
    report = json.loads(sh.run("audit", "verify-export", str(edited), "--json", ok=False).stdout)
    assert report["ok"] is False and report["problems"][0] == CHANGED_AFTER_EXPORT, report
    assert named(report["problems"], expected), (expected, report["problems"])

    # Signed again at export by the editor's own key: a key the park did not pin.
    editor = Ed25519PrivateKey.generate()
    resigned = write_json(tmp_path / "resigned.json", resign(copy.deepcopy(data), editor))
    error = sh.refused("audit", "verify-export", str(resigned))
    assert error == (
        f"incubator: {resigned} does not verify: the dossier is signed by the key "
        f"{public_hex(editor)[:16]}…, {NOT_PINNED}\n"
    ), error
    # ...and offline, against an auditor's list of the park's keys, the same.
    offline = sh.refused(
        "audit", "verify-export", str(resigned), "--trusted-keys",
        str(pinning(tmp_path / "park.keys", exported.key)),
    )  # fmt: skip
    assert NOT_PINNED in offline, offline

    # Behind the export's signature, the dossier's own checks name the edit too: what they say
    # were the file signed again with the park's key itself.
    problems = dossier.verify_dossier(resign(data, exported.key), exported.trust)
    assert named(problems, expected), (expected, problems)
    assert CHANGED_AFTER_EXPORT not in problems and bool(problems) == bool(expected), problems
    # (every hash the file holds still chains: the signatures and the signed heads tell)
    assert not any("not what was written" in p or "log chain" in p for p in problems), problems


def test_an_untouched_dossier_signed_again_with_another_key_or_unsigned_does_not_verify(
    exported: Exported, tmp_path: Path
) -> None:
    sh = Shell(exported.url)
    other = Ed25519PrivateKey.generate()
    data = resign(exported.data(), other)  # nothing else changed
    assert dossier._signed_bytes(data) == dossier._signed_bytes(exported.data())
    resigned = write_json(tmp_path / "resigned.json", data)
    error = sh.refused("audit", "verify-export", str(resigned))
    assert error == (
        f"incubator: {resigned} does not verify: the dossier is signed by the key "
        f"{public_hex(other)[:16]}…, {NOT_PINNED}\n"
    ), error
    # Were that key pinned beside the park's, it would verify: only the pinning is missing.
    both = audit.Trust(frozenset({public_hex(other), public_hex(exported.key)}))
    assert dossier.verify_dossier(data, both) == []

    unsigned = exported.data()
    del unsigned["signature"]
    path = write_json(tmp_path / "unsigned.json", unsigned)
    error = sh.refused("audit", "verify-export", str(path))
    assert "the dossier is not signed" in error, error


def test_a_dossier_verifies_offline_against_the_keys_an_auditor_pinned(
    exported: Exported, tmp_path: Path
) -> None:
    # No database at all: the URL names a folder that does not exist, and stays so.
    nowhere = tmp_path / "no-database"
    auditor = Shell(f"sqlite:///{nowhere / 'incubator.sqlite3'}")
    copied = tmp_path / "dossier.json"
    copied.write_bytes(exported.json_file.read_bytes())
    park_keys = pinning(tmp_path / "park.keys", exported.key)

    ok = auditor.run("audit", "verify-export", str(copied), "--trusted-keys", str(park_keys))
    assert ok.stdout.startswith(f"ok: {len(exported.park.events)} events of {NAME}"), ok.stdout
    report = auditor.json("audit", "verify-export", str(copied), "--trusted-keys", str(park_keys))
    assert report == {"ok": True, "events": len(exported.park.events), "problems": []}

    # A list that pins only another key: the writers', the checkpoint's and the export's
    # signatures are all by a key it does not trust.
    other_keys = pinning(tmp_path / "other.keys", Ed25519PrivateKey.generate())
    error = auditor.refused(
        "audit", "verify-export", str(copied), "--trusted-keys", str(other_keys)
    )
    assert error.startswith(f"incubator: {copied} does not verify: the dossier is signed"), error
    assert NOT_PINNED in error, error
    problems = auditor.run(
        "audit", "verify-export", str(copied), "--trusted-keys", str(other_keys), "--json",
        ok=False,
    )  # fmt: skip
    listed = json.loads(problems.stdout)["problems"]
    assert all(NOT_PINNED in p for p in listed) and len(listed) >= 3, listed
    assert any(p.startswith("the checkpoint is signed") for p in listed), listed

    # The park's key, revoked from a moment before the export: the export's signature fails.
    revoked = tmp_path / "revoked.keys"
    revoked.write_text(f"{public_hex(exported.key)} revoked 2020-01-01T00:00+00:00\n")
    error = auditor.refused("audit", "verify-export", str(copied), "--trusted-keys", str(revoked))
    assert "after its revocation" in error, error
    # A list that pins nothing is an error, not a list that trusts nothing silently.
    empty = tmp_path / "empty.keys"
    empty.write_text("# nothing yet\n")
    error = auditor.refused("audit", "verify-export", str(copied), "--trusted-keys", str(empty))
    assert "pins no key" in error, error
    assert not nowhere.exists()


# -- edits that the dossier's own checks name, behind the export's signature ---------------------


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
    i = _index(data, _party(data), 2)
    data["events"][i]["position"] += 1
    return f"position {data['events'][i]['position']}"


def _signature(data: dict[str, Any]) -> str:
    data["checkpoint"]["signature"] = flip(data["checkpoint"]["signature"])
    return "signature"


def _checkpoint_hash(data: dict[str, Any]) -> str:
    data["checkpoint"]["log_hash"] = flip(data["checkpoint"]["log_hash"])
    return "signature"


def _writer_signature(data: dict[str, Any]) -> str:
    r = data["signatures"][len(data["signatures"]) // 2]
    r["signature"] = flip(r["signature"])
    return f"positions {r['first']}–{r['last']}"


MUTATIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "stored text changed": _changed_text,
    "event removed": _removed,
    "two events of one aggregate swapped": _swapped_in_one_aggregate,
    "two events of different aggregates swapped": _swapped_across_aggregates,
    "version number changed": _version,
    "position changed": _position,
    "checkpoint signature changed": _signature,
    "checkpoint hash changed": _checkpoint_hash,
    "a writer's signature changed": _writer_signature,
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_changed_dossier_does_not_verify_and_says_where(
    exported: Exported, tmp_path: Path, mutation: str
) -> None:
    data = exported.data()
    assert dossier.verify_dossier(data, exported.trust) == []
    expected = MUTATIONS[mutation](data).split("|")
    changed = write_json(tmp_path / "changed.json", data)

    sh = Shell(exported.url)
    error = sh.refused("audit", "verify-export", str(changed))
    assert error == f"incubator: {changed} does not verify: {CHANGED_AFTER_EXPORT}\n", error
    report = json.loads(sh.run("audit", "verify-export", str(changed), "--json", ok=False).stdout)
    assert any(e in p for e in expected for p in report["problems"][1:]), (expected, report)

    # Signed again with the park's key, the first problem the dossier names is the change.
    problems = dossier.verify_dossier(resign(data, exported.key), exported.trust)
    assert problems and any(e in problems[0] for e in expected), (expected, problems)


NOT_DOSSIERS: dict[str, bytes] = {
    "text": "这不是 JSON {".encode(),
    "not UTF-8": b"\xff\xfe\x00{}",
    "empty": b"",
    # JSON, but not an object: refused like any other file that is not a dossier
    "a JSON list": b"[]",
    "JSON null": b"null",
    "a JSON string": b'"incubator-dossier/2"',
    "a checkpoint": json.dumps(
        {"position": 1, "log_hash": "0" * 64, "signed_at": SIGNED_AT_UTC}
    ).encode(),
    "the first format, unsigned": b'{"format": "incubator-dossier/1", "events": []}',
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


def _first_event(data: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = data["events"][0]
    return event


MALFORMED: dict[str, Callable[[dict[str, Any]], object]] = {
    # a number where the stored bytes are: bytes(n) would be n zero bytes (10**12: a terabyte)
    "stored bytes as a huge number": lambda d: _first_event(d).update(stored=10**30),
    "stored bytes as a negative number": lambda d: _first_event(d).update(stored=-1),
    "an aggregate that is a list": lambda d: d["aggregates"].append([]),
    "an infinite checkpoint position": lambda d: d["checkpoint"].update(position=float("inf")),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_dossier_with_malformed_values_is_named_not_a_crash(
    exported: Exported, tmp_path: Path, kind: str
) -> None:
    data = exported.data()
    MALFORMED[kind](data)
    problems = dossier.verify_dossier(resign(data, exported.key), exported.trust)
    assert problems and all(isinstance(p, str) for p in problems), problems
    assert any("malformed" in p for p in problems), problems
    path = write_json(tmp_path / "malformed.json", data)
    error = Shell(exported.url).refused("audit", "verify-export", str(path))
    assert "Traceback" not in error and "This is a bug" not in error, error


def test_a_kept_checkpoint_with_an_infinite_position_is_refused_clearly(
    exported: Exported, tmp_path: Path
) -> None:
    kept = dict(exported.data()["checkpoint"], position=float("inf"))
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(kept), encoding="utf-8")  # JSON's Infinity: Python reads it
    error = Shell(exported.url).refused("audit", "verify", "--checkpoint", str(path))
    assert "checkpoint is malformed" in error and "This is a bug" not in error, error


# ---- 4. dossiers on each backend -------------------------------------------------------------


def test_a_dossier_exported_on_each_backend_verifies_and_names_every_edit(
    any_incubator: Incubator, clock: FixedClock, tmp_path: Path
) -> None:
    system = any_incubator
    park = populate(system, clock)
    system.read_models.catch_up()  # the outbox knows the case's reminders
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
        system.signer.key,
    )
    trust = system.trust()
    assert trust.keys == {system.signer.public_key}
    assert [(e["position"], e["aggregate"], e["version"]) for e in written["events"]] == [
        (n.id, str(n.originator_id), n.originator_version) for n in park.events
    ]
    assert {e["aggregate"] for e in written["events"]} == {str(a) for a in aggregates}
    assert written["checkpoint"] == park.checkpoint
    assert written["signature"]["public_key"] == system.signer.public_key
    assert {r["public_key"] for r in written["signatures"]} == {system.signer.public_key}
    assert dossier.verify_dossier(written, trust) == []

    # As written to a file and read back.
    path = tmp_path / "d.json"
    dossier.write(written, path)
    assert dossier.verify_dossier(json.loads(path.read_text(encoding="utf-8")), trust) == []

    # Each edit of issue #17 is named; signed again with another key, it is not trusted.
    intruder = Ed25519PrivateKey.generate()
    for name, edit in TAMPERINGS.items():
        data = copy.deepcopy(written)
        expected = edit(data)
        problems = dossier.verify_dossier(data, trust)
        assert problems[0] == CHANGED_AFTER_EXPORT and named(problems, expected), (name, problems)
        problems = dossier.verify_dossier(resign(data, intruder), trust)
        assert problems and NOT_PINNED in problems[0], (name, problems)

    # And the check fails when the file does not hold what was exported.
    where = _changed_text(written)
    problems = dossier.verify_dossier(resign(written, system.signer.key), trust)
    assert problems and where in problems[0], problems
