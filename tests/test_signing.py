"""Signed as written (#17): an intruder with SQL access but without the park's key cannot make
the record verify; nothing once chained is chained again by itself; keys are pinned outside the
database and can be revoked; a log written before signing is migrated once.

The intruder works on the database directly, as in tests/test_audit.py, with the triggers in
place (an INSERT is not refused by them) or after dropping them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks.cohorts import fill
from commands.audit import Audit
from commands.bootstrap import Incubator, bootstrap
from lifecycle.errors import Refused
from projections import rebuild as blue_green
from projections.read_models import PROJECTIONS
from schedules.clock import FixedClock
from store import audit, signing
from store.database import parse_database_url
from store.log import open_log
from tests.builders import drive, new_case
from tests.conftest import NOW, POSTGRES_URL
from tests.test_audit import Intruder, incubator_cli, notifications, write_cohort

GENESIS = audit.GENESIS


def verify(system: Incubator) -> audit.Verdict:
    return audit.verify(system.read_models.engine, system.trust())


@pytest.fixture
def written(any_incubator: Incubator) -> Incubator:
    write_cohort(any_incubator)
    verdict = verify(any_incubator)
    assert verdict.ok and verdict.sealed == len(notifications(any_incubator)) > 40, verdict
    return any_incubator


def appended(intruder: Intruder, system: Incubator, how: str) -> int:
    """A well-formed event appended past the application: the next version of a case, with the
    right topic and valid JSON (a copy of the case's last event), at the next position; with
    `how` = "link" also its link computed by hand (and the head moved on), = "signed" and a
    signature over that link by a key of the intruder's own. Its position."""
    events = notifications(system)
    last = max(
        (n for n in events if n.originator_id == events[0].originator_id),
        key=lambda n: n.originator_version,
    )
    originator_id, version, topic, state = intruder.row(last.id)
    intruder.run(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        originator_id,
        version + 1,
        topic,
        state,
    )
    (position,) = intruder.run("SELECT max({position}) FROM {events}")[0]
    if how == "none":
        return int(position)
    case = str(UUID(str(originator_id)))
    (previous,) = intruder.run(
        "SELECT case_hash FROM event_chain WHERE originator_id = ? AND version = ?", case, version
    )[0]
    (head_hash,) = intruder.run("SELECT log_hash FROM event_chain_head")[0]
    case_hash = audit.link(previous, audit.digest(case, version + 1, topic, bytes(state)))
    log_hash = audit.link(head_hash, position, case_hash)
    intruder.run(
        "INSERT INTO event_chain (position, originator_id, version, case_hash, log_hash) "
        "VALUES (?, ?, ?, ?, ?)",
        position,
        case,
        version + 1,
        case_hash,
        log_hash,
    )
    intruder.run("UPDATE event_chain_head SET position = ?, log_hash = ?", position, log_hash)
    if how == "signed":
        key = Ed25519PrivateKey.generate()
        public = audit.public_hex(key.public_key())
        signed_at = NOW.isoformat()
        message = audit.links_message(
            position,
            position,
            log_hash,
            signed_at,
            public,
            [(position, case, version + 1, case_hash)],
        )
        intruder.run(
            "INSERT INTO event_signatures (last_position, first_position, signed_at, public_key, "
            "signature, migrated) VALUES (?, ?, ?, ?, ?, 0)",
            position,
            position,
            signed_at,
            public,
            key.sign(message).hex(),
        )
    return int(position)


NAMED = {"none": "inserted", "link": "unsigned", "signed": "signature"}


@pytest.mark.parametrize("how", list(NAMED))
def test_an_event_appended_with_sql_is_named_and_nothing_later_makes_it_verify(
    written: Incubator, how: str
) -> None:
    system = written
    with Intruder(system.database) as intruder:
        position = appended(intruder, system, how)

    def named() -> None:
        verdict = verify(system)
        assert not verdict.ok
        assert verdict.problem is not None
        assert (verdict.problem["kind"], verdict.problem["position"]) == (NAMED[how], position), (
            verdict.problem
        )

    named()
    if how == "signed":
        assert "did not pin" in str(verify(system).problem)
    # Later commands, catch-ups and a rebuild: none vouches for it.
    drive(system.service, new_case(system.service, name="后来的协会"), "entry_review")
    system.read_models.catch_up()
    named()
    blue_green.rebuild(system.read_models.engine, system.log, PROJECTIONS, system.park)
    named()
    with Intruder(system.database) as intruder:  # nor does a link written after it
        (after,) = intruder.run("SELECT max(position) FROM event_chain")[0]
    assert after > position


def test_a_wiped_chain_and_a_reset_head_are_named_and_never_chained_again(
    written: Incubator,
) -> None:
    """The adversarial pass's worst: drop the triggers, change an event, delete every link and
    signature, reset the head. Once, the next command resealed all of it."""
    system = written
    events = notifications(system)
    target = events[len(events) // 2]
    with Intruder(system.database) as intruder:
        intruder.drop_event_triggers()
        for table in ("event_chain", "event_signatures"):
            intruder.drop_trigger(table, "delete")
        intruder.run(
            "UPDATE {events} SET state = ? WHERE {position} = ?",
            target.state.replace("王芳".encode(), "李四".encode()),
            target.id,
        )
        if intruder.backend == "postgresql":  # where TRUNCATE fires no DELETE trigger
            for table in ("event_chain", "event_signatures"):
                intruder.drop_trigger(table, "truncate")
                intruder.run(f"TRUNCATE {table}")
        else:
            intruder.run("DELETE FROM event_chain")
            intruder.run("DELETE FROM event_signatures")
        intruder.run("UPDATE event_chain_head SET position = 0, log_hash = ?", GENESIS)
    first = verify(system)
    assert not first.ok and first.problem is not None
    assert (first.problem["kind"], first.problem["position"]) == ("inserted", events[0].id)
    drive(system.service, new_case(system.service, name="后来的协会"), "entry_review")
    system.read_models.catch_up()
    again = verify(system)
    assert not again.ok and again.problem == first.problem


def test_the_start_of_signing_removed_is_tampering_and_migrate_does_not_sign_it_again(
    written: Incubator,
) -> None:
    """An intruder who deletes the row that says from where events are signed makes the log
    look written before signing: `migrate` would then sign the whole past again with the park's
    key, vouching for whatever was changed. A log with signatures is no such log."""
    system = written
    with Intruder(system.database) as intruder:
        intruder.drop_trigger("audit_signing", "delete")
        intruder.run("DELETE FROM audit_signing")
        (signed,) = intruder.run("SELECT count(*) FROM event_signatures")[0]
    verdict = verify(system)
    assert not verdict.ok and verdict.problem is not None
    assert verdict.problem["kind"] == "changed", verdict.problem
    assert "audit_signing" in verdict.problem["detail"] and "migrate" in verdict.problem["detail"]
    with pytest.raises(Refused, match="tampering"):
        Audit(system).migrate()
    with pytest.raises(signing.NotSigning, match="tampering"):
        new_case(system.service, name="后来的协会")
    with Intruder(system.database) as intruder:
        assert intruder.run("SELECT count(*) FROM event_signatures")[0] == (signed,)
        assert intruder.run("SELECT count(*) FROM audit_signing")[0] == (0,)
    assert verify(system).problem == verdict.problem


def test_every_trace_of_signing_removed_is_named_and_migrate_refuses(
    written: Incubator,
) -> None:
    """An intruder who deletes every signature, link, checkpoint and the start of signing, and
    resets the head, leaves a log that looks written before signing. The trusted-keys file
    beside the key (outside the database) notes from where the log is signed: `verify` names
    the removal, `migrate` refuses to sign the past anew, and nothing more is written."""
    system = written
    assert signing.read_trusted(system.keys.trusted).started == 1  # noted when it was made
    with Intruder(system.database) as intruder:
        for table in ("event_signatures", "event_chain", "audit_checkpoints", "audit_signing"):
            intruder.drop_trigger(table, "delete")
            intruder.run(f"DELETE FROM {table}")
        intruder.run("UPDATE event_chain_head SET position = 0, log_hash = ?", audit.GENESIS)
    verdict = verify(system)
    assert not verdict.ok and verdict.problem is not None
    assert verdict.problem["kind"] == "removed", verdict.problem
    assert "trusted-keys file" in verdict.problem["detail"]
    with pytest.raises(Refused, match="tampering"):
        Audit(system).migrate()
    with pytest.raises(signing.NotSigning):
        new_case(system.service, name="后来的协会")
    with Intruder(system.database) as intruder:
        assert intruder.run("SELECT count(*) FROM event_signatures")[0] == (0,)
    assert verify(system).problem == verdict.problem


def test_a_version_gap_is_named(written: Incubator) -> None:
    """An event and its link deleted from the middle of a case: the case's next event is
    named, its version having no predecessor."""
    system = written
    events = notifications(system)
    case = events[0].originator_id
    mine = [n for n in events if n.originator_id == case]
    assert len(mine) >= 3
    gone = mine[1]
    with Intruder(system.database) as intruder:
        intruder.drop_event_triggers()
        intruder.drop_trigger("event_chain", "delete")
        intruder.run("DELETE FROM {events} WHERE {position} = ?", gone.id)
        intruder.run("DELETE FROM event_chain WHERE position = ?", gone.id)
    verdict = verify(system)
    assert verdict.problem is not None
    assert (verdict.problem["kind"], verdict.problem["position"]) == ("gap", mine[2].id)
    assert (
        f"version {gone.originator_version} of its aggregate is missing"
        in (verdict.problem["detail"])
    )


# ---- keys --------------------------------------------------------------------------------------


def key_files(url: str) -> signing.KeyFiles:
    return signing.KeyFiles.of(parse_database_url(url))


def a_cohort_written(url: str) -> str:
    """The cohort written on a new database; the public key it was signed with."""
    system = bootstrap(url, clock=FixedClock(NOW))
    try:
        write_cohort(system)
        return system.signer.public_key
    finally:
        system.close_all()


def test_a_revoked_keys_later_signatures_fail_and_it_cannot_backdate(sqlite_url: str) -> None:
    stolen = a_cohort_written(sqlite_url)
    files = key_files(sqlite_url)
    revoked_from = NOW + timedelta(days=30)
    signing.pin(files, stolen, "stolen", revoked_from)
    system = bootstrap(sqlite_url, clock=FixedClock(NOW + timedelta(days=1)))
    try:
        assert verify(system).ok  # what it signed before its revocation still holds
    finally:
        system.close_all()

    # The park moves to a new key: the old one is kept aside (an intruder has a copy of it).
    old = files.signing.read_bytes()
    files.signing.unlink()
    system = bootstrap(sqlite_url, clock=FixedClock(revoked_from + timedelta(days=1)))
    try:
        assert system.signer.public_key != stolen
        new_case(system.service, name="新钥匙协会")
        assert verify(system).ok
        assert system.trust().revoked == {stolen: revoked_from}
    finally:
        system.close_all()

    # The intruder writes with the stolen key, its clock set back to before the revocation.
    files.signing.unlink()
    files.signing.write_bytes(old)
    system = bootstrap(sqlite_url, clock=FixedClock(NOW + timedelta(days=2)))
    try:
        forged = new_case(system.service, name="冒名协会")
        verdict = verify(system)
        assert not verdict.ok and verdict.problem is not None
        assert verdict.problem["kind"] == "signature"
        assert verdict.problem["case_id"] == str(forged)
        assert "after its revocation" in verdict.problem["detail"]
    finally:
        system.close_all()


def test_the_park_never_signs_with_a_key_revoked_for_it(sqlite_url: str) -> None:
    """Revoking the key the park signs with (stolen) must not leave the park's own processes
    signing with it: each event they wrote would fail `verify` for good, in an append-only log.
    Writes are refused, nothing is recorded, until the settings name a new key."""
    park_key = a_cohort_written(sqlite_url)
    files = key_files(sqlite_url)
    revoked_from = NOW + timedelta(days=1)
    system = bootstrap(sqlite_url, clock=FixedClock(revoked_from + timedelta(hours=1)))
    try:
        before = len(notifications(system))
        signing.pin(files, park_key, "stolen", revoked_from)  # by another process, meanwhile
        with pytest.raises(signing.NotSigning, match="revoked"):
            new_case(system.service, name="吊销后协会")
        assert len(notifications(system)) == before
        assert verify(system).ok
    finally:
        system.close_all()
    apply = ["--name", "吊销后协会", "--field", "公益慈善", "--legal-status", "registered"]
    refused = incubator_cli(
        sqlite_url, "org", "apply", *apply, "--track", "incubation", "--site", "main"
    )
    assert refused.returncode == 4 and "revoked" in refused.stderr, refused.stderr
    assert "audit keygen" in refused.stderr and "Traceback" not in refused.stderr
    assert incubator_cli(sqlite_url, "audit", "verify").returncode == 0
    said = incubator_cli(sqlite_url, "audit", "revoke-key", park_key, "--from", "2026-11-23")
    assert said.returncode == 0 and "this database signs with that key" in said.stdout

    new_key = files.signing.with_name("new-key.pem")
    assert incubator_cli(sqlite_url, "audit", "keygen", "--out", str(new_key)).returncode == 0
    settings = files.signing.with_name("settings.toml")
    settings.write_text(f'[audit]\nsigning_key = "{new_key}"\n')
    system = bootstrap(sqlite_url, settings, clock=FixedClock(revoked_from + timedelta(hours=2)))
    try:
        new_case(system.service, name="新钥匙协会")
        assert verify(system).ok
    finally:
        system.close_all()


def test_an_auditors_own_keys_decide_what_is_trusted(sqlite_url: str, tmp_path: Path) -> None:
    park_key = a_cohort_written(sqlite_url)
    mine = tmp_path / "auditor-keys"
    mine.write_text(f"# the park's key, as the director handed it over\n{park_key}\n")
    ok = incubator_cli(sqlite_url, "audit", "verify", "--trusted-keys", str(mine))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:"), ok.stderr
    other = tmp_path / "other-keys"
    other.write_text(audit.public_hex(Ed25519PrivateKey.generate().public_key()) + "\n")
    refused = incubator_cli(sqlite_url, "audit", "verify", "--trusted-keys", str(other))
    assert refused.returncode == 1 and "did not pin" in refused.stderr, refused.stderr
    bad = tmp_path / "bad-keys"
    bad.write_text("not a key\n")
    said = incubator_cli(sqlite_url, "audit", "verify", "--trusted-keys", str(bad))
    assert said.returncode == 1 and "line 1" in said.stderr and "64 hex digits" in said.stderr
    assert "Traceback" not in said.stderr


def test_keys_are_shown_pinned_and_revoked_through_the_command_line(sqlite_url: str) -> None:
    park_key = a_cohort_written(sqlite_url)
    keys = json.loads(incubator_cli(sqlite_url, "audit", "keys", "--json").stdout)
    assert keys["signing_key"] == park_key and keys["pinned"] == [park_key]
    assert keys["signed"][park_key]["ranges"] > 10
    other = audit.public_hex(Ed25519PrivateKey.generate().public_key())
    assert incubator_cli(sqlite_url, "audit", "trust-key", other).returncode == 0
    revoked = incubator_cli(sqlite_url, "audit", "revoke-key", other, "--from", "2027-01-01")
    assert revoked.returncode == 0, revoked.stderr
    keys = json.loads(incubator_cli(sqlite_url, "audit", "keys", "--json").stdout)
    assert sorted(keys["pinned"]) == sorted([park_key, other])
    assert keys["revoked"] == {other: "2027-01-01T00:00:00+00:00"}
    wrong = incubator_cli(sqlite_url, "audit", "trust-key", "abc")
    assert wrong.returncode == 1 and "64 hexadecimal digits" in wrong.stderr


# ---- migrating a log written before signing ------------------------------------------------------


@pytest.fixture
def old_log(database_url: str) -> Iterator[tuple[str, int]]:
    """A log as the release before wrote it: events, no links, no signatures."""
    database = parse_database_url(database_url)
    if database.schema:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"')
    log = open_log(database)
    try:
        events = fill(log, 20, seed=3)
    finally:
        log.close()
    yield database_url, events


def test_a_log_written_before_signing_is_migrated_once(old_log: tuple[str, int]) -> None:
    url, events = old_log
    refused = incubator_cli(
        url, "org", "apply", "--name", "迁移前的协会", "--field", "公益慈善", "--legal-status",
        "registered", "--track", "incubation", "--site", "main", "--contact", "张伟",
    )  # fmt: skip
    assert refused.returncode != 0 and "incubator audit migrate" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    before = json.loads(incubator_cli(url, "audit", "verify", "--json").stdout)
    assert not before["ok"] and before["problem"]["kind"] == "unsigned"

    migrated = incubator_cli(url, "audit", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"{events:,} events chained and signed" in migrated.stdout
    keys = signing.KeyFiles.of(parse_database_url(url))
    assert signing.read_trusted(keys.trusted).started == events + 1  # noted outside too
    again = incubator_cli(url, "audit", "migrate")
    assert again.returncode == 1 and "already signed" in again.stderr

    system = bootstrap(url, clock=FixedClock(NOW))
    try:
        new_case(system.service, name="迁移后的协会")
        verdict = verify(system)
        assert verdict.ok, verdict.problem
        assert (verdict.migrated, verdict.signed_from) == (events, events + 1)
        assert verdict.sealed == len(notifications(system)) > events
    finally:
        system.close_all()
    said = incubator_cli(url, "audit", "verify")
    assert f"({events:,} earlier events signed once, on migration)" in said.stdout


def test_a_tail_cut_off_is_named_and_with_its_signatures_gone_a_kept_checkpoint_names_it(
    written: Incubator,
) -> None:
    system = written
    before = notifications(system)[-1].id
    new_case(system.service, name="最后的协会")  # the tail: one command, one transaction
    kept = Audit(system).checkpoint()  # an auditor keeps it outside
    tail = [n.id for n in notifications(system) if n.id > before]
    assert tail and kept["position"] == tail[-1]
    with Intruder(system.database) as intruder:
        intruder.drop_event_triggers()
        for table in ("event_chain", "audit_checkpoints"):
            intruder.drop_trigger(table, "delete")
        for position in tail:
            intruder.run("DELETE FROM {events} WHERE {position} = ?", position)
            intruder.run("DELETE FROM event_chain WHERE position = ?", position)
        intruder.run("DELETE FROM audit_checkpoints")
        (log_hash,) = intruder.run("SELECT log_hash FROM event_chain WHERE position = ?", before)[0]
        intruder.run("UPDATE event_chain_head SET position = ?, log_hash = ?", before, log_hash)
    cut = verify(system)  # the writer's signature of the tail is still there
    assert not cut.ok and cut.problem is not None and cut.problem["kind"] == "removed"
    assert f"positions {tail[0]}–{tail[-1]}" in cut.problem["detail"]
    with Intruder(system.database) as intruder:  # the signature goes too: the shorter log
        intruder.drop_trigger("event_signatures", "delete")  # holds together by itself...
        intruder.run("DELETE FROM event_signatures WHERE first_position >= ?", tail[0])
    assert verify(system).ok
    held = Audit(system).verify(kept)  # ...but not against the checkpoint kept outside
    assert not held["ok"] and held["problem"]["kind"] == "checkpoint"
    assert f"no event at the checkpoint's position {tail[-1]}" in held["problem"]["detail"]


def test_a_signature_that_does_not_hold_is_named(written: Incubator) -> None:
    """A writer's signature changed in place (or copied from another range): its links are
    intact, yet the signature over them fails."""
    system = written
    with Intruder(system.database) as intruder:
        ranges = intruder.run(
            "SELECT last_position, signature FROM event_signatures ORDER BY last_position"
        )
        (target, _), (_, other) = ranges[len(ranges) // 2], ranges[0]
        intruder.drop_trigger("event_signatures", "update")
        intruder.run(
            "UPDATE event_signatures SET signature = ? WHERE last_position = ?", other, target
        )
    verdict = verify(system)
    assert verdict.problem is not None
    assert (verdict.problem["kind"], verdict.problem["position"]) == ("signature", target)
    assert "does not hold" in verdict.problem["detail"]


def test_signatures_checked_beside_the_walk_name_the_first_that_fails(
    written: Incubator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signatures are checked by threads in batches while the walk goes on; with batches of
    two and at most one waiting, a log of many ranges goes through every path: an intact log
    verifies in one walk, and a changed signature early in the log stops the walk and is
    named, at its own position, by the second walk that checks each in its turn."""
    system = written
    monkeypatch.setattr(audit._Beside, "BATCH", 2)
    monkeypatch.setattr(audit._Beside, "BEHIND", 1)
    walks: list[audit.Holds] = []  # how each walk checked the signatures
    real = audit._verify

    def walk(engine: Any, trust: audit.Trust, holds: audit.Holds) -> audit.Verdict:
        walks.append(holds)
        return real(engine, trust, holds)

    monkeypatch.setattr(audit, "_verify", walk)
    verdict = verify(system)
    assert verdict.ok and verdict.signatures > 8, verdict
    assert len(walks) == 1 and walks[0] is not audit.signature_holds
    with Intruder(system.database) as intruder:
        ranges = intruder.run(
            "SELECT last_position, signature FROM event_signatures ORDER BY last_position"
        )
        (target, _), (_, other) = ranges[2], ranges[0]
        intruder.drop_trigger("event_signatures", "update")
        intruder.run(
            "UPDATE event_signatures SET signature = ? WHERE last_position = ?", other, target
        )
    walks.clear()
    verdict = verify(system)
    assert verdict.problem is not None
    assert (verdict.problem["kind"], verdict.problem["position"]) == ("signature", target)
    assert walks[-1] is audit.signature_holds and len(walks) == 2
