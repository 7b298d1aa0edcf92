"""Tamper evidence (commands/audit.py): the hash chain over every stored event, the triggers that
keep the log and the chain append-only, `incubator audit verify`, and sealers racing.

The intruder below works on the database directly (sqlite3 on the file, psycopg on the schema),
as someone with database access would: the application's own code never changes an event.
On SQLite the events table is `stored_events` and an event's position is its implicit rowid; on
PostgreSQL it is `incubator_events` with the column `notification_id`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from types import TracebackType
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from commands.bootstrap import Incubator, bootstrap
from schedules.clock import FixedClock
from store import audit
from store.database import Database, parse_database_url
from tests.builders import drive, new_case
from tests.conftest import NOW, POSTGRES_URL, who
from tests.processes import at_once

BIN = Path(sys.executable).parent / "incubator"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "cli.main"]
APPEND_ONLY = "the event log and its hash chain are append-only"
ACTOR = "王芳".encode()  # every event the builders write carries this actor
FORGED_ACTOR = "李四".encode()  # the same length in UTF-8: only the content changes
# Six cases at different stages: every aggregate kind (case, workspace, party track) writes.
COHORT = (
    ("爱心志愿者协会", "closed", "M-01"),
    ("阳光助残服务队", "follow_up", "M-02"),
    ("青少年成长服务中心", "incubating", "M-03"),
    ("心理疏导工作室", "entry_review", "M-04"),
    ("社区书香读书会", "closed", "M-05"),
    ("环保先锋志愿队", "follow_up", "M-06"),
)
BARRIER_TIMEOUT = 30.0
RACE_TIMEOUT = 90.0
RACE_CASES = 30  # 14 events each: 420 events written, none sealed, before the sealers start
RACE_BATCH = 16  # each racing sealer seals in small batches, so their transactions interleave
RACE_PAUSE = 0.02  # seconds a racing sealer waits after each batch


# ---- helpers ---------------------------------------------------------------------------------


def write_cohort(system: Incubator) -> list[UUID]:
    """Several cases driven through their stages: a few dozen events, each linked and signed
    as it was written."""
    cases = []
    for name, stage, workspace in COHORT:
        case_id = new_case(system.service, name=name)
        drive(system.service, case_id, stage, workspace=workspace)
        cases.append(case_id)
    return cases


def notifications(system: Incubator) -> list[Notification]:
    """Every event in the log as the library reads it, in log order."""
    return list(
        system.log.recorder.select_notifications(start=0, limit=1_000_000, inclusive_of_start=False)
    )


def verify(system: Incubator) -> audit.Verdict:
    return audit.verify(system.read_models.engine, system.trust())


def case_of(n: Notification) -> str:
    return str(UUID(str(n.originator_id)))


def in_the_middle(events: Sequence[Notification]) -> int:
    """The index of an event in the middle of the log that carries ACTOR in its stored bytes."""
    candidates = [i for i, n in enumerate(events) if ACTOR in n.state]
    return candidates[len(candidates) // 2]


class Intruder:
    """Someone with access to the database, outside the application: plain SQL on the file or
    on the schema. `{events}` and `{position}` in a statement name the backend's events table
    and its position column; `?` marks a parameter."""

    def __init__(self, database: Database) -> None:
        self.backend = database.backend
        self.conn: Any
        if database.backend == "sqlite":
            assert database.path is not None
            self.conn = sqlite3.connect(database.path, isolation_level=None, timeout=30)
            self.events, self.position = "stored_events", "rowid"
        else:
            self.conn = psycopg.connect(POSTGRES_URL, autocommit=True)
            self.conn.execute(f'SET search_path TO "{database.schema}"')
            self.events, self.position = "incubator_events", "notification_id"

    def __enter__(self) -> Intruder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.conn.close()

    def run(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        sql = statement.format(events=self.events, position=self.position)
        if self.backend == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.conn.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def drop_trigger(self, table: str, operation: str) -> None:
        name = f"{table}_no_{operation}"
        if self.backend == "sqlite":
            self.run(f"DROP TRIGGER {name}")
        else:
            self.run(f"DROP TRIGGER {name} ON {table}")

    def drop_event_triggers(self) -> None:
        for operation in ("update", "delete"):
            self.drop_trigger(self.events, operation)

    def row(self, position: int) -> tuple[Any, ...]:
        """(originator_id, originator_version, topic, state) of the event at `position`."""
        (found,) = self.run(
            "SELECT originator_id, originator_version, topic, state FROM {events} "
            "WHERE {position} = ?",
            position,
        )
        return found

    def insert(self, position: int, row: tuple[Any, ...]) -> None:
        self.run(
            "INSERT INTO {events} ({position}, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            position,
            *row,
        )

    def move(self, position: int, to: int) -> None:
        self.run("UPDATE {events} SET {position} = ? WHERE {position} = ?", to, position)

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """The events (with their positions), the chain and its head, as they are now."""
        return {
            "events": self.run(
                "SELECT {position}, originator_id, originator_version, topic, state "
                "FROM {events} ORDER BY {position}"
            ),
            "chain": self.run("SELECT * FROM event_chain ORDER BY position"),
            "head": self.run("SELECT * FROM event_chain_head"),
        }


@pytest.fixture
def sealed(any_incubator: Incubator) -> list[Notification]:
    """The cohort written and sealed; the events as they were sealed."""
    write_cohort(any_incubator)
    any_incubator.read_models.catch_up()
    events = notifications(any_incubator)
    verdict = verify(any_incubator)
    assert verdict.ok and verdict.sealed == len(events) > 40, verdict
    return events


@pytest.fixture
def intruder(any_incubator: Incubator) -> Iterator[Intruder]:
    with Intruder(any_incubator.database) as someone:
        yield someone


def assert_problem(
    verdict: audit.Verdict, kind: str, at: int, events: Sequence[Notification], case: str
) -> None:
    """The verdict names `kind` at position `at` for `case`, and every event before it verified."""
    assert not verdict.ok, verdict
    assert verdict.problem is not None
    assert (verdict.problem["kind"], verdict.problem["position"], verdict.problem["case_id"]) == (
        kind,
        at,
        case,
    ), verdict.problem
    index = [n.id for n in events].index(at)
    assert verdict.sealed == index, (verdict.sealed, index)


# ---- 1. a clean log, sealed and unsealed -----------------------------------------------------


def test_every_event_is_linked_and_signed_in_the_transaction_that_writes_it(
    any_incubator: Incubator,
) -> None:
    system = any_incubator
    empty = verify(system)
    assert (empty.ok, empty.events, empty.sealed, empty.signed_from) == (True, 0, 0, 1)

    cases = write_cohort(system)
    written = notifications(system)
    assert len(written) > 40
    before = verify(system)  # no catch-up, no sealer: written is linked and signed
    assert before.ok, before.problem
    assert (before.events, before.sealed, before.migrated) == (len(written), len(written), 0)
    assert before.cases == {case_of(n) for n in written}
    assert set(before.keys) == {system.signer.public_key}
    with system.read_models.engine.connect() as conn:
        chain = conn.execute(audit.chain.select().order_by(audit.chain.c.position)).all()
        head = conn.execute(audit.chain_head.select()).one()
        ranges = conn.execute(
            audit.signatures.select().order_by(audit.signatures.c.last_position)
        ).all()
    assert [(r.position, r.originator_id, r.version) for r in chain] == [
        (n.id, case_of(n), n.originator_version) for n in written
    ]
    assert (head.position, head.log_hash) == (written[-1].id, before.head)
    assert (head.position, head.log_hash) == (chain[-1].position, chain[-1].log_hash)
    # one signature a transaction; together they cover every link once, in order
    assert before.signatures == len(ranges) > len(cases)
    covered = [p for r in ranges for p in range(r.first_position, r.last_position + 1)]
    assert covered == [n.id for n in written]
    assert {r.public_key for r in ranges} == {system.signer.public_key}

    system.service.record_growth_review(cases[2], who("2014-07-10"), ["王芳=75"])
    after = verify(system)
    assert after.ok and after.sealed == len(notifications(system)) > len(written)
    assert after.head != before.head


# ---- 2. the triggers -------------------------------------------------------------------------


REFUSED = (sqlite3.DatabaseError, psycopg.Error)


def test_the_triggers_refuse_changing_or_deleting_events_and_the_chain(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    middle = sealed[len(sealed) // 2].id
    before = intruder.tables()
    attempts = [
        ("UPDATE", "UPDATE {events} SET state = ? WHERE {position} = ?", (b"{}", middle)),
        ("UPDATE", "UPDATE {events} SET originator_version = 99 WHERE {position} = ?", (middle,)),
        ("DELETE", "DELETE FROM {events} WHERE {position} = ?", (middle,)),
        ("DELETE", "DELETE FROM {events}", ()),
        ("UPDATE", "UPDATE event_chain SET case_hash = ? WHERE position = ?", ("0" * 64, middle)),
        ("DELETE", "DELETE FROM event_chain WHERE position = ?", (middle,)),
        ("DELETE", "DELETE FROM event_chain", ()),
        ("DELETE", "DELETE FROM event_chain_head", ()),
    ]
    if intruder.backend == "postgresql":  # TRUNCATE fires no DELETE trigger there
        attempts += [
            ("TRUNCATE", f"TRUNCATE {table}", ())
            for table in ("{events}", "event_chain", "event_chain_head")
        ]
    for operation, statement, params in attempts:
        with pytest.raises(REFUSED, match=f"{APPEND_ONLY}: {operation} is refused"):
            intruder.run(statement, *params)
    assert intruder.tables() == before  # nothing changed
    verdict = verify(any_incubator)
    assert verdict.ok and verdict.sealed == len(sealed), verdict


# ---- 3. an intruder who drops the triggers first ---------------------------------------------


def test_a_changed_payload_is_named_changed_at_its_position(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    target = sealed[in_the_middle(sealed)]
    intruder.drop_event_triggers()
    forged = target.state.replace(ACTOR, FORGED_ACTOR)
    assert forged != target.state
    intruder.run("UPDATE {events} SET state = ? WHERE {position} = ?", forged, target.id)
    assert intruder.row(target.id)[3] == forged  # the change is really in the log

    verdict = verify(any_incubator)
    assert_problem(verdict, "changed", target.id, sealed, case_of(target))
    assert verdict.problem is not None
    assert verdict.problem["version"] == target.originator_version


def test_a_deleted_event_is_named_removed_at_its_position(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    target = sealed[len(sealed) // 2]
    intruder.drop_event_triggers()
    intruder.run("DELETE FROM {events} WHERE {position} = ?", target.id)
    assert len(notifications(any_incubator)) == len(sealed) - 1

    verdict = verify(any_incubator)
    assert_problem(verdict, "removed", target.id, sealed, case_of(target))
    assert verdict.problem is not None
    assert verdict.problem["version"] == target.originator_version


def test_the_last_sealed_event_deleted_is_named_removed(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    target = sealed[-1]
    intruder.drop_event_triggers()
    intruder.run("DELETE FROM {events} WHERE {position} = ?", target.id)

    assert_problem(verify(any_incubator), "removed", target.id, sealed, case_of(target))


def forged_copy(intruder: Intruder, events: Sequence[Notification]) -> tuple[tuple[Any, ...], str]:
    """A copy of a case's last event as its next version: an event that was never recorded."""
    last = max(
        (n for n in events if case_of(n) == case_of(events[0])), key=lambda n: n.originator_version
    )
    originator_id, version, topic, state = intruder.row(last.id)
    return (originator_id, version + 1, topic, state), case_of(last)


def test_an_event_inserted_into_a_hole_of_the_sealed_range_is_named_inserted(
    postgres_url: str, clock: FixedClock
) -> None:
    """PostgreSQL leaves a hole in the notification ids where a write was rolled back (a save
    that lost a race); an intruder can put a forged event there, below the sealed head. (A SQLite
    log has no holes: see the renumbering test below.)"""
    system = bootstrap(postgres_url, clock=clock)
    try:
        first = new_case(system.service, name="爱心志愿者协会")
        drive(system.service, first, "follow_up", workspace="M-01")
        n = notifications(system)[0]
        lost = StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
        with pytest.raises(IntegrityError):
            system.log.recorder.insert_events([lost])  # rolled back; its id is burnt
        drive(system.service, new_case(system.service, name="阳光助残服务队"), "closed", "M-02")
        system.read_models.catch_up()
        events = notifications(system)
        ids = [e.id for e in events]
        holes = sorted(set(range(ids[0], ids[-1] + 1)) - set(ids))
        assert len(holes) == 1, ids
        hole = holes[0]
        clean = verify(system)  # a hole left by the database is no problem
        assert clean.ok and clean.sealed == len(events), clean

        with Intruder(system.database) as intruder:
            row, case = forged_copy(intruder, events)
            intruder.insert(hole, row)  # no trigger refuses an INSERT
        assert hole in [e.id for e in notifications(system)]

        verdict = verify(system)
        assert_problem(verdict, "inserted", hole, notifications(system), case)
        assert verdict.sealed == sum(1 for i in ids if i < hole)
        assert verdict.problem is not None
        assert verdict.problem["version"] == row[1]
    finally:
        system.close_all()


def test_an_event_inserted_by_renumbering_the_events_after_it_is_named_inserted(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    """Without a hole, inserting into the sealed range means moving every later event one place
    up and putting the forged event in the place made free. The events after it are all still
    there, unchanged and in their order: one event was inserted, at that place."""
    place = sealed[len(sealed) // 2].id
    row, case = forged_copy(intruder, sealed)
    intruder.drop_event_triggers()
    for n in reversed(sealed):
        if n.id > place:
            intruder.move(n.id, n.id + 1)
    intruder.insert(place + 1, row)
    now = notifications(any_incubator)
    assert [case_of(n) for n in now] == [
        *[case_of(n) for n in sealed if n.id <= place],
        case,
        *[case_of(n) for n in sealed if n.id > place],
    ]

    verdict = verify(any_incubator)
    assert_problem(verdict, "inserted", place + 1, now, case)
    assert verdict.sealed == len([n for n in sealed if n.id <= place])


def test_two_swapped_events_are_named_reordered_at_the_first_of_them(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    i = len(sealed) // 2
    first = sealed[i]
    second = next(n for n in sealed[i + 1 :] if case_of(n) != case_of(first))
    intruder.drop_event_triggers()
    intruder.move(first.id, -1)
    intruder.move(second.id, first.id)
    intruder.move(-1, second.id)
    assert intruder.row(first.id)[3] == second.state
    assert intruder.row(second.id)[3] == first.state

    verdict = verify(any_incubator)
    # The place of the first holds the second now: it was sealed for another event.
    assert_problem(verdict, "reordered", first.id, sealed, case_of(second))
    assert verdict.problem is not None
    assert verdict.problem["version"] == second.originator_version
    assert str(first.originator_version) in verdict.problem["detail"]
    assert case_of(first) in verdict.problem["detail"]


def test_rolling_the_chain_head_back_does_not_hide_a_changed_event(
    any_incubator: Incubator, sealed: list[Notification], intruder: Intruder
) -> None:
    """The head row may be updated (the sealer moves it), so no trigger stops an intruder from
    moving it back in front of the event they changed. The chain rows beyond that head still
    say the log was sealed further: verify must not call the changed event an unsealed tail."""
    late = [i for i, n in enumerate(sealed) if ACTOR in n.state and i > len(sealed) // 2]
    target = sealed[late[len(late) // 2]]
    back_to = sealed[len(sealed) // 2]
    intruder.drop_trigger(intruder.events, "update")
    intruder.run(
        "UPDATE {events} SET state = ? WHERE {position} = ?",
        target.state.replace(ACTOR, FORGED_ACTOR),
        target.id,
    )
    intruder.run(  # a plain UPDATE: the head is not protected against it
        "UPDATE event_chain_head SET position = ?, "
        "log_hash = (SELECT log_hash FROM event_chain WHERE position = ?) WHERE id = 1",
        back_to.id,
        back_to.id,
    )
    assert len(intruder.run("SELECT position FROM event_chain")) == len(sealed)

    verdict = verify(any_incubator)
    assert not verdict.ok, f"event {target.id} was changed, yet verify passes: {verdict}"


def test_a_payload_rewritten_as_text_is_named_changed(incubator: Incubator) -> None:
    """With the sqlite3 shell an intruder edits a payload with replace(), which SQLite returns
    as TEXT: the stored state is no longer a BLOB. verify must still name the event."""
    write_cohort(incubator)
    incubator.read_models.catch_up()
    events = notifications(incubator)
    target = events[in_the_middle(events)]
    with Intruder(incubator.database) as intruder:
        intruder.drop_event_triggers()
        intruder.run(
            "UPDATE {events} SET state = replace(state, '王芳', '李四') WHERE {position} = ?",
            target.id,
        )
        assert intruder.run("SELECT typeof(state) FROM {events} WHERE rowid = ?", target.id) == [
            ("text",)
        ]

    assert_problem(verify(incubator), "changed", target.id, events, case_of(target))


# ---- 4. the command line ---------------------------------------------------------------------


def incubator_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url, "INCUBATOR_ACTOR": "李娜"}
    env.pop("INCUBATOR_SETTINGS", None)
    env.pop("INCUBATOR_NOW", None)
    return subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.slow
def test_audit_verify_through_the_executable(database_url: str, clock: FixedClock) -> None:
    system = bootstrap(database_url, clock=clock)
    try:
        write_cohort(system)  # written through the log: linked and signed
        events = notifications(system)
    finally:
        system.close_all()

    clean = incubator_cli(database_url, "audit", "verify")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("ok:"), clean.stdout
    assert f"{len(events):,} events of" in clean.stdout
    assert "signed as written from position 1" in clean.stdout
    report = json.loads(incubator_cli(database_url, "audit", "verify", "--json").stdout)
    assert report["ok"] is True
    assert (report["events"], report["sealed"], report["migrated"]) == (len(events), len(events), 0)
    assert report["problem"] is None
    assert report["cases"] == len({case_of(n) for n in events})

    target = events[in_the_middle(events)]
    with Intruder(parse_database_url(database_url)) as intruder:
        intruder.drop_event_triggers()
        intruder.run(
            "UPDATE {events} SET state = ? WHERE {position} = ?",
            target.state.replace(ACTOR, FORGED_ACTOR),
            target.id,
        )

    tampered = incubator_cli(database_url, "audit", "verify")
    assert tampered.returncode == 1, (tampered.returncode, tampered.stdout, tampered.stderr)
    assert tampered.stdout == ""
    assert "changed" in tampered.stderr
    assert f"position {target.id}" in tampered.stderr
    assert case_of(target) in tampered.stderr
    assert "Traceback" not in tampered.stderr

    as_json = incubator_cli(database_url, "audit", "verify", "--json")
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["sealed"] == [n.id for n in events].index(target.id)
    assert {k: report["problem"][k] for k in ("kind", "position", "case_id", "version")} == {
        "kind": "changed",
        "position": target.id,
        "case_id": case_of(target),
        "version": target.originator_version,
    }


# ---- 5. two writers at once -----------------------------------------------------------------


def write_at_once(url: str, barrier: Barrier, results: Queue[tuple[str, int, str]]) -> None:
    """A child process: bootstrap on `url`, wait for the other, then write cases as fast as it
    can: each transaction links and signs its events after the log's own lock."""
    try:
        system = bootstrap(url, clock=FixedClock(NOW))
        try:
            barrier.wait(BARRIER_TIMEOUT)
            for number in range(RACE_CASES // 2):
                case_id = new_case(system.service, name=f"社会组织{os.getpid()}-{number:02d}")
                drive(system.service, case_id, "entry_review")
            results.put(("ok", RACE_CASES // 2, system.signer.public_key))
        finally:
            system.close_all()
    except Exception:
        results.put(("error", 0, traceback.format_exc()))


@pytest.mark.slow
def test_two_processes_writing_at_once_link_and_sign_each_event_exactly_once(
    database_url: str, clock: FixedClock
) -> None:
    bootstrap(database_url, clock=clock).close_all()
    received: list[tuple[str, int, str]]
    received, exits = at_once(
        write_at_once, [(database_url,), (database_url,)], ["writer-1", "writer-2"], RACE_TIMEOUT
    )
    errors = [message for kind, _, message in received if kind != "ok"]
    assert not errors, "\n".join(errors)
    assert len(received) == 2 and all(code == 0 for code in exits.values()), (received, exits)

    system = bootstrap(database_url, clock=clock)
    try:
        events = notifications(system)
        with system.read_models.engine.connect() as conn:
            chain = conn.execute(audit.chain.select().order_by(audit.chain.c.position)).all()
            head = conn.execute(audit.chain_head.select()).one()
        assert [r.position for r in chain] == [n.id for n in events]  # once each, none missing
        assert [(r.originator_id, r.version) for r in chain] == [
            (case_of(n), n.originator_version) for n in events
        ]
        assert head.position == events[-1].id
        writers = {str(UUID(str(n.originator_id))) for n in events}
        assert len(writers) >= RACE_CASES  # both wrote (a case and its workspace each)
        verdict = verify(system)
        assert verdict.ok, verdict.problem
        assert (verdict.events, verdict.sealed) == (len(events), len(events))
        assert verdict.head == head.log_hash
    finally:
        system.close_all()
