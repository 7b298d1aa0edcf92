"""A log holding what a read model cannot apply (#20): written past the domain, as an older
release would have, it keeps every read model serving, each notes its anomalies, readers are
told, and a rebuild meets the same anomalies as the catch-ups did."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from benchmarks.cohorts import fill
from cli.main import cli
from commands.bootstrap import Incubator, bootstrap
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.step import Step
from projections import rebuild as blue_green
from projections import runner
from projections.read_models import PROJECTIONS
from projections.runner import anomalies, catch_up
from schedules.clock import FixedClock
from tests.builders import drive, new_case
from tests.conftest import NOW, POSTGRES_URL, who
from tests.test_cli import COMMAND, Shell
from tests.test_projections import snapshot

HUGE = 10**25  # what `count-members --formal 9999999999999999999999999` once recorded
INT32_PAST = 3_000_000_000  # fits SQLite's integers, not PostgreSQL's INTEGER


@dataclass
class Poisoned:
    case: UUID  # incubating, its party track's counts too large
    track: UUID
    ancient: UUID  # applied on 0001-01-01: its deadlines cannot be computed


def poison(system: Incubator, backend: str) -> Poisoned:
    """Events no command can write any more, saved through the library as an old release
    would have: member counts too large, a date no deadline can be computed from, and (on
    PostgreSQL) a caseworker holding NUL, which no text column there can store."""
    case = new_case(system.service)
    drive(system.service, case, "incubating")
    system.party.record_inspection(case, who("2014-02-12"))
    track = system.party.track(case)
    old = Step(actor="旧版本", on=date(2014, 2, 20), recorded_at=NOW)
    for formal in (INT32_PAST, HUGE):
        track._record(
            PartyIncubation.MembersCounted,
            old,
            stage="support",
            formal=formal,
            probationary=0,
            transferred=0,
        )
    system.log.save(track)
    if backend == "postgresql":
        loaded = system.service.case(case)
        loaded.trigger_event(
            OrganizationCase.CaseworkerAssigned, **old.stamp(caseworker="王\x00芳", reason=None)
        )
        system.log.save(loaded)
    ancient = OrganizationCase._create(
        OrganizationCase.ApplicationReceived,
        id=uuid4(),
        timestamp=NOW,
        on=date(1, 1, 1),
        actor="旧版本",
        reason=None,
        name="古老协会",
        field="charity",
        legal_status="registered",
        track="incubation",
        site="main",
        contact=None,
        party_members=None,
    )
    system.log.save(ancient)
    return Poisoned(case, PartyIncubation.id_for(case), UUID(str(ancient.id)))


def anomaly_rows(system: Incubator) -> list[tuple[Any, ...]]:
    """Every anomaly of the serving generations, without the generation's number."""
    with system.read_models.engine.connect() as conn:
        rows = conn.execute(select(anomalies)).mappings().all()
        return sorted(
            tuple(v for k, v in row.items() if k != "generation")
            for row in rows
            if row["generation"] == _serving(system)[row["name"]]
        )


def _serving(system: Incubator) -> dict[str, int]:
    return {r["name"]: r["generation"] for r in system.read_models.status()}


def test_a_poisoned_log_keeps_serving_and_shows_its_anomalies(database_url: str) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        poisoned = poison(system, backend)
    finally:
        system.close_all()
    sh = Shell(database_url)
    case = str(poisoned.case)

    # The caseload and every other read model serve, and take new events.
    other = sh.run(
        "org", "apply", "--name", "阳光助残服务队", "--field", "社区服务",
        "--legal-status", "filed", "--track", "incubation", "--site", "main", "--on", "2014-03-01",
    ).stdout.strip()  # fmt: skip
    listed = {r["id"]: r for r in sh.json("org", "list")}
    assert set(listed) == {case, str(poisoned.ancient), other}
    assert (listed[case]["stage"], listed[case]["workspace"]) == ("incubating", "M-01")
    for report in ("due", "occupancy", "assignments", "stages", "time-in-stage"):
        assert sh.run("report", report, "--json").returncode == 0
    assert [r["case_id"] for r in sh.json("report", "due") if r["case_id"] == other]

    # `projections status` lists every anomaly and exits 1 while there are any.
    status = sh.run("projections", "status", "--json", ok=False)
    assert status.returncode == 1, status.stderr
    found = listed_anomalies(status.stdout)
    counts = [a for a in found if a[0] == "party" and a[2] == case]
    assert {a[3] for a in counts} == {"PartyIncubation.MembersCounted"}
    assert all("out of the range of" in a[4] and "left empty" in a[4] for a in counts)
    assert [a for a in found if a[:4] == ("due_dates", ancient_at(found), str(poisoned.ancient),
            "OrganizationCase.ApplicationReceived") and "OverflowError" in a[4]]  # fmt: skip
    if backend == "postgresql":  # INTEGER there: 32 bits; both counts were out of range
        assert len(counts) == 2 and all("INTEGER on postgresql" in a[4] for a in counts)
        assert [a for a in found if a[0] == "caseload" and a[2] == case and "NUL" in a[4]]
    else:  # 64 bits on SQLite: only the huge count
        assert len(counts) == 1 and str(HUGE) in counts[0][4]
    table = sh.run("projections", "status", ok=False)
    assert table.returncode == 1 and "MembersCounted" in table.stdout and case in table.stdout

    # Reads that touch an anomaly say so: a warning, and --json carries it.
    coverage = sh.run("party", "coverage", "--json")
    assert json.loads(coverage.stdout)["anomalies"], coverage.stdout
    assert "warning: read model party could not apply event" in coverage.stderr
    assert case in coverage.stderr
    shown = sh.run("org", "show", case, "--json")
    assert {a["read_model"] for a in json.loads(shown.stdout)["anomalies"]} >= {"party"}
    assert "projections status" in shown.stderr
    track = json.loads(sh.run("party", "show", case, "--json").stdout)
    assert track["formal_members"] == HUGE  # the log says so; the read model could not hold it
    assert track["anomalies"]
    clean = sh.run("org", "show", other, "--json")
    assert "anomalies" not in json.loads(clean.stdout) and clean.stderr == ""
    if backend == "postgresql":  # a caseload row that could not take its caseworker: marked
        marked = {r["id"]: r for r in sh.json("org", "list")}
        assert marked[case]["caseworker"] is None and "NUL" in marked[case]["anomaly"]
        assert marked[other]["anomaly"] is None
        assert f"{case[:8]} ⚠" in sh.run("org", "list").stdout

    # A rebuild meets the same anomalies, and says so; it did not fail.
    rebuilt = sh.run("projections", "rebuild")
    assert "could not be applied in full" in rebuilt.stderr
    again = sh.run("projections", "status", "--json", ok=False)
    assert {r["generation"] for r in json.loads(again.stdout)} == {2}
    assert listed_anomalies(again.stdout) == found


def listed_anomalies(status: str) -> list[tuple[str, int, str, str, str]]:
    """The anomalies `projections status --json` lists: read model, position, case, type,
    error."""
    return sorted(
        (a["read_model"], a["position"], a["case_id"], a["type"], a["error"])
        for r in json.loads(status)
        for a in r["anomalies"]
    )


def ancient_at(found: list[tuple[str, int, str, str, str]]) -> int:
    return max(a[1] for a in found)  # the last event written


@pytest.mark.parametrize("batch", [1, 3, 2000])
def test_a_rebuild_equals_the_catch_ups_anomalies_included(database_url: str, batch: int) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 60, seed=3)
        catch_up(system.read_models.engine, system.log, PROJECTIONS, system.park, batch)
        poison(system, backend)  # between other cases' events, caught up in batches of `batch`
        for name in ("阳光助残服务队", "青年书法社", "心理疏导工作室"):
            drive(system.service, new_case(system.service, name=name), "inspecting")
        catch_up(system.read_models.engine, system.log, PROJECTIONS, system.park, batch)
        incremental, noted = snapshot(system), anomaly_rows(system)
        assert len(noted) >= (5 if backend == "postgresql" else 2)
        blue_green.rebuild(system.read_models.engine, system.log, PROJECTIONS, system.park)
        assert anomaly_rows(system) == noted
        assert snapshot(system) == incremental
        with system.read_models.engine.connect() as conn:  # the dropped generations' went too
            generations = {(r.name, r.generation) for r in conn.execute(select(anomalies))}
        assert generations <= {(n, g) for n, g in _serving(system).items()}
    finally:
        system.close_all()


def test_a_rebuild_that_fails_exits_non_zero_without_a_traceback(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 50, seed=1)
    finally:
        system.close_all()
    import sqlite3

    real = runner.build_batch
    calls = []

    def failing(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr("projections.rebuild.build_batch", failing)  # in the forked processes
    monkeypatch.delenv("INCUBATOR_DEBUG", raising=False)
    done = CliRunner().invoke(cli, ["--database", sqlite_url, "projections", "rebuild"])
    assert done.exit_code == 4, done.output
    assert "disk I/O error" in done.output and "Traceback" not in done.output


@pytest.mark.slow
@pytest.mark.postgres
def test_a_connection_lost_mid_rebuild_exits_4_in_one_line(postgres_url: str) -> None:
    system = bootstrap(postgres_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 20_000, seed=5)
    finally:
        system.close_all()
    name = f"i20-{uuid.uuid4().hex[:12]}"  # libpq names the rebuild's connections so
    env = {**os.environ, "INCUBATOR_DATABASE_URL": postgres_url, "PGAPPNAME": name}
    rebuild = subprocess.Popen(
        [*COMMAND, "projections", "rebuild"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    schema = postgres_url.rsplit("?schema=", 1)[1]
    killed = 0
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        while rebuild.poll() is None:  # cut only once the rebuild is past opening the log
            building = admin.execute(
                f'SELECT count(building) FROM "{schema}".projection_registry'
            ).fetchone()[0]  # type: ignore[index]
            if not building:
                time.sleep(0.01)
                continue
            killed += admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'active'",
                (name,),
            ).fetchone()[0]  # type: ignore[index]
            time.sleep(0.05)
    _, err = rebuild.communicate()
    assert killed, "the rebuild ended before a connection of it could be cut; fill more events"
    assert rebuild.returncode == 4, (rebuild.returncode, err[-2000:])
    said = [line for line in err.splitlines() if line.startswith("incubator:")]  # no progress
    assert "Traceback" not in err and len(said) == 1 and len(said[0]) < 600, err[-2000:]
    assert "the database cannot be used now" in err
