"""Read models: rebuilt equals incremental, exactly once under races and kills, no downtime."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError

from benchmarks.cohorts import fill, lifecycles
from cli.demo import Cohort, drive_cohort
from commands.bootstrap import Incubator, bootstrap
from projections import rebuild as blue_green
from projections.read_models import PROJECTIONS
from projections.runner import catch_up, serving_tables
from schedules.clock import FixedClock
from tests.builders import drive, new_case
from tests.conftest import NOW

BIN = Path(sys.executable).parent / "incubator"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "cli.main"]


def snapshot(system: Incubator) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every serving read model, in a stable order."""
    result = {}
    with system.read_models.engine.connect() as conn:
        for projection in PROJECTIONS:
            for name, table in serving_tables(conn, projection).items():
                rows = conn.execute(select(table)).all()
                result[name] = sorted(tuple(r) for r in rows)
    return result


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Incubator]:
    system = bootstrap(f"sqlite:///{tmp_path / 'p.sqlite3'}", clock=FixedClock(NOW))
    yield system
    system.close_all()


def test_the_demo_cohort_rebuilt_equals_the_incremental_read_models(fresh: Incubator) -> None:
    """Through the real service, catching up after every command as the command line does."""
    cohort = Cohort(fresh.service, fresh.party)
    real_do, real_party_do = cohort.do, cohort.party_do

    def do_and_catch_up(*args: Any, **kwargs: Any) -> None:
        real_do(*args, **kwargs)
        fresh.read_models.catch_up()

    def party_do_and_catch_up(*args: Any, **kwargs: Any) -> None:
        real_party_do(*args, **kwargs)
        fresh.read_models.catch_up()

    cohort.do = do_and_catch_up  # type: ignore[method-assign]
    cohort.party_do = party_do_and_catch_up  # type: ignore[method-assign]
    drive_cohort(cohort)
    fresh.read_models.catch_up()
    incremental = snapshot(fresh)
    assert len(incremental["caseload"]) == 7
    assert len(incremental["stage_periods"]) > 30
    assert len(incremental["party_tracks"]) == 5
    assert len(incremental["joint_members"]) == 0  # both members left when their cases ended
    fresh.read_models.rebuild()
    assert snapshot(fresh) == incremental


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    cases=st.integers(1, 25),
    every=st.integers(1, 5),
    batch=st.integers(1, 40),
)
def test_rebuilt_tables_equal_incrementally_maintained_ones(
    tmp_path_factory: pytest.TempPathFactory, seed: int, cases: int, every: int, batch: int
) -> None:
    path = tmp_path_factory.mktemp("h") / "p.sqlite3"
    system = bootstrap(f"sqlite:///{path}", clock=FixedClock(NOW))
    try:
        for number, aggregates in enumerate(lifecycles(cases, seed)):
            system.log.save(*aggregates)
            if number % every == 0:  # catch up now and then, in small batches
                catch_up(
                    system.read_models.engine,
                    system.log,
                    PROJECTIONS,
                    system.park,
                    batch_size=batch,
                )
        catch_up(system.read_models.engine, system.log, PROJECTIONS, system.park, batch_size=batch)
        incremental = snapshot(system)
        system.read_models.rebuild()
        assert snapshot(system) == incremental
        assert system.read_models.catch_up() == 0
    finally:
        system.close_all()


@pytest.mark.slow
def test_a_rebuild_killed_half_way_resumes_and_applies_nothing_twice(database_url: str) -> None:
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        events = fill(system.log, 4000, seed=7)
        system.read_models.catch_up()
        before = snapshot(system)
        env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url}
        rebuild = subprocess.Popen(
            [*COMMAND, "projections", "rebuild"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        killed_at = None
        while rebuild.poll() is None:
            building = {r["name"]: r for r in system.read_models.status()}["caseload"]["rebuild"]
            if building and 0 < building["position"] < events:
                rebuild.send_signal(signal.SIGKILL)
                killed_at = building["position"]
                break
            time.sleep(0.005)
        rebuild.wait(30)
        assert killed_at is not None, "the rebuild finished before it could be killed"
        status = {r["name"]: r for r in system.read_models.status()}
        assert status["caseload"]["rebuilding"] and status["caseload"]["generation"] == 1
        assert system.read_models.caseload()  # the old generation still serves

        subprocess.run(
            [*COMMAND, "projections", "rebuild"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        status = {r["name"]: r for r in system.read_models.status()}
        assert all(
            not r["rebuilding"] and r["generation"] == 2 and r["lag"] == 0 for r in status.values()
        )
        assert snapshot(system) == before  # counters would differ had a batch applied twice
    finally:
        system.close_all()


@pytest.mark.slow
def test_two_runners_apply_every_event_exactly_once(database_url: str) -> None:
    system = bootstrap(database_url, clock=FixedClock(NOW))
    env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url}
    runners = [
        subprocess.Popen(
            [*COMMAND, "projections", "run", "--interval", "0.05"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for chunk in range(6):  # the log grows while both runners follow it
            for aggregates in lifecycles(150, seed=chunk, first=chunk * 1000):
                system.log.save(*aggregates)
            time.sleep(0.1)
        head = system.read_models.head()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(r["position"] == head for r in system.read_models.status()):
                break
            time.sleep(0.1)
        followed = snapshot(system)
    finally:
        for runner in runners:
            runner.send_signal(signal.SIGTERM)
        outcomes = [
            (runner.wait(30), runner.stderr.read() if runner.stderr else "") for runner in runners
        ]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert all("stopped" in err for _, err in outcomes)
    assert all(r["position"] == head for r in system.read_models.status())
    try:
        system.read_models.rebuild()
        assert snapshot(system) == followed
    finally:
        system.close_all()


@pytest.mark.slow
def test_readers_keep_getting_answers_during_a_rebuild(database_url: str) -> None:
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 2500, seed=11)
        system.read_models.catch_up()
        expected = system.read_models.caseload()
        env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url}
        rebuild = subprocess.Popen(
            [*COMMAND, "projections", "rebuild"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        reads_while_rebuilding = 0
        while rebuild.poll() is None:
            rebuilding = any(r["rebuilding"] for r in system.read_models.status())
            assert system.read_models.caseload() == expected
            assert len(system.read_models.search("社会组织00")) == 50
            reads_while_rebuilding += rebuilding
        assert rebuild.returncode == 0
        assert reads_while_rebuilding >= 3
        assert system.read_models.caseload() == expected
        assert {r["generation"] for r in system.read_models.status()} == {2}
    finally:
        system.close_all()


def test_a_changed_version_is_rebuilt_beside_the_old_one_on_first_use(
    fresh: Incubator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for aggregates in lifecycles(20, seed=3):
        fresh.log.save(*aggregates)
    fresh.read_models.catch_up()
    before = snapshot(fresh)
    caseload = next(p for p in PROJECTIONS if p.name == "caseload")
    monkeypatch.setattr(caseload, "version", caseload.version + 1)
    assert [p.name for p in fresh.read_models.stale()] == ["caseload"]

    fresh.read_models.catch_up()
    status = {r["name"]: r for r in fresh.read_models.status()}
    assert (status["caseload"]["version"], status["caseload"]["generation"]) == (
        caseload.version,
        2,
    )
    assert status["directory"]["generation"] == 1  # the others are left alone
    assert snapshot(fresh) == before
    with fresh.read_models.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "caseload_g2" in tables and "caseload_g1" not in tables


@pytest.mark.slow
def test_two_rebuilds_at_once_both_finish_and_agree(database_url: str) -> None:
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 1500, seed=5)
        system.read_models.catch_up()
        before = snapshot(system)
        env = {**os.environ, "INCUBATOR_DATABASE_URL": database_url}
        rebuilds = [
            subprocess.Popen(
                [*COMMAND, "projections", "rebuild"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [(r.wait(120), r.stderr.read() if r.stderr else "") for r in rebuilds]
        assert [code for code, _ in outcomes] == [0, 0], outcomes
        status = system.read_models.status()
        assert all(not r["rebuilding"] and r["lag"] == 0 for r in status)
        assert snapshot(system) == before
    finally:
        system.close_all()


def test_read_models_rebuilt_apart_equal_those_rebuilt_in_one_process(database_url: str) -> None:
    """Two forked processes, each reading only its read models' events, then one switch."""
    system = bootstrap(database_url, clock=FixedClock(NOW))
    try:
        fill(system.log, 1500, seed=11)
        system.read_models.catch_up()
        incremental = snapshot(system)
        system.read_models.rebuild(apart=False)
        assert snapshot(system) == incremental
        built = system.read_models.rebuild(apart=True)
        assert {t.generation for t in built} == {3}
        assert snapshot(system) == incremental
        assert all(not r["rebuilding"] and r["lag"] == 0 for r in system.read_models.status())
    finally:
        system.close_all()


def test_a_rebuild_process_that_fails_fails_the_rebuild_and_switches_nothing(
    fresh: Incubator, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(fresh.log, 300, seed=12)
    fresh.read_models.catch_up()
    before = snapshot(fresh)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(blue_green, "build_batch", broken)  # inherited by the forked processes
    with pytest.raises(RuntimeError, match=r"^the disk is full$"):  # as the process raised it
        fresh.read_models.rebuild(apart=True)
    status = fresh.read_models.status()
    assert all(r["rebuilding"] and r["generation"] == 1 for r in status)
    assert snapshot(fresh) == before


def test_the_follower_outlives_a_failed_catch_up(
    incubator: Incubator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`projections run` keeps going when the database is away for a moment."""
    read_models, stop = incubator.read_models, threading.Event()
    calls: list[int] = []
    real_catch_up = read_models.catch_up

    def flaky() -> int:
        calls.append(len(calls))
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        if len(calls) == 3:
            stop.set()
        return real_catch_up()

    monkeypatch.setattr(read_models, "catch_up", flaky)
    case_id = new_case(incubator.service)
    read_models.follow(stop, interval=0.01)
    assert len(calls) == 3
    assert [row["id"] for row in read_models.caseload()] == [str(case_id)]


def test_a_catch_up_with_nothing_new_reads_only_the_end_of_the_log(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that catches up first costs one look at the end of the log while the log has not
    grown; what another process writes is caught up by the next read all the same."""
    here = bootstrap(sqlite_url, clock=FixedClock(NOW))
    there = bootstrap(sqlite_url, clock=FixedClock(NOW))
    try:
        case_id = new_case(there.service)
        assert here.read_models.catch_up() > 0
        applied: list[int] = []

        def counted(*args: Any, **kwargs: Any) -> int:
            applied.append(1)
            return catch_up(*args, **kwargs)

        monkeypatch.setattr("projections.read_models.catch_up", counted)
        assert here.read_models.catch_up() == 0 and applied == []
        drive(there.service, case_id, "inspecting")  # another process writes
        assert here.read_models.catch_up() > 0 and applied == [1]
        assert [r["stage"] for r in here.read_models.caseload()] == ["inspecting"]
        assert here.read_models.catch_up() == 0 and applied == [1]
    finally:
        here.close_all()
        there.close_all()


def test_the_caseload_filters_pages_and_counts_by_stage(incubator: Incubator) -> None:
    """What the web's caseload and the API's list ask: filters, a page, a count per stage."""
    service = incubator.service
    ids = {
        name: new_case(service, name=name, site=site)
        for name, site in [
            ("爱心志愿者协会", "main"),
            ("阳光助老服务社", "main"),
            ("心连心社区", "branch"),
        ]
    }
    drive(service, ids["阳光助老服务社"], "inspecting")
    incubator.read_models.catch_up()
    read = incubator.read_models

    assert [r["name"] for r in read.caseload(q="助老")] == ["阳光助老服务社"]
    assert [r["name"] for r in read.caseload(sites={"branch"})] == ["心连心社区"]
    assert read.caseload(sites=set()) == []
    assert [r["name"] for r in read.caseload(stage="applied", site="main")] == ["爱心志愿者协会"]
    everyone = [r["name"] for r in read.caseload()]
    assert [r["name"] for r in read.caseload(limit=1, offset=1)] == everyone[1:2]
    assert read.stage_counts() == {"applied": 2, "inspecting": 1}
    assert read.stage_counts(site="main", stage="applied") == {"applied": 1, "inspecting": 1}
    assert read.caseload(q="100%_") == []  # a pattern's wildcards are matched as written


def test_the_counts_per_stage_kept_per_site_are_the_cases_counted_one_by_one(
    fresh: Incubator,
) -> None:
    """Without filters but the sites, the caseload's counts come from the counts each site
    keeps; they are what counting the cases gives, however the batches fell."""
    for aggregates in lifecycles(300, seed=11):
        fresh.log.save(*aggregates)
        if len(aggregates) % 3 == 0:
            fresh.read_models.catch_up()  # batches of every size
    fresh.read_models.catch_up()
    read = fresh.read_models
    cases = read.caseload()
    assert len(cases) == 300

    def counted(rows: list[dict[str, Any]]) -> dict[str, int]:
        return dict(Counter(r["stage"] for r in rows))

    assert read.stage_counts() == counted(cases) and len(counted(cases)) > 3
    main = [r for r in cases if r["site"] == "main"]
    assert read.stage_counts(site="main") == counted(main)
    two = [r for r in cases if r["site"] in ("main", "branch")]
    assert read.stage_counts(sites={"main", "branch"}) == counted(two)
    assert read.stage_counts(sites=set()) == {}
    charity = [r for r in main if r["field"] == "charity"]  # filtered: counted one by one
    assert read.stage_counts(site="main", field="charity") == counted(charity)


def test_party_work_lists_the_organizations_without_a_branch_and_joint_members(
    incubator: Incubator,
) -> None:
    service = incubator.service
    first = new_case(service, name="爱心志愿者协会")
    second = new_case(service, name="阳光助老服务社", site="branch")
    drive(service, first, "incubating")
    drive(service, second, "incubating", workspace="B-01")
    incubator.read_models.catch_up()
    read = incubator.read_models

    names = [r["name"] for r in read.party_unbranched()]
    assert names == ["阳光助老服务社", "爱心志愿者协会"]  # by site: branch before main
    assert [r["name"] for r in read.party_unbranched(sites={"main"})] == ["爱心志愿者协会"]
    assert read.joint_members() == {}


def test_every_event_a_read_model_names_is_a_class_of_the_domain() -> None:
    """The read models name the event classes they apply by topic (runner.Later), so a
    misspelt one would only be found when its event came: every name resolves to an event
    class, and every handler is reached by its class or one of its subclasses."""
    from eventsourcing.domain import CanMutateAggregate
    from eventsourcing.utils import resolve_topic

    for projection in PROJECTIONS:
        projection.handlers_for("lifecycle.organization:OrganizationCase.Moved")  # the rest too
        assert projection.handlers, projection.name
        for topic, handlers in projection.handlers.items():
            event_type = resolve_topic(topic)
            assert isinstance(event_type, type), topic
            assert issubclass(event_type, CanMutateAggregate), topic
            assert set(handlers) <= set(projection.handlers_for(topic)), topic


def test_a_later_class_checks_instances_against_the_class_it_names() -> None:
    from lifecycle.organization import OrganizationCase
    from projections.runner import Later

    case: Any = Later("lifecycle.organization:OrganizationCase")  # as the projections bind it
    moved = OrganizationCase.EntryApproved
    event = moved.__new__(moved)
    assert isinstance(event, case.Moved)
    assert isinstance(event, (case.Withdrawn, case.EntryApproved))
    assert not isinstance(event, case.Withdrawn)
    assert case.Moved.topic == "lifecycle.organization:OrganizationCase.Moved"


def test_opening_the_system_to_read_a_list_imports_none_of_the_aggregates(
    tmp_path: Path,
) -> None:
    """A list whose read models are up to date is read without building the domain's event
    classes (a tenth of a command's start-up): only writing, or applying events, needs them."""
    url = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    system = bootstrap(url, clock=FixedClock(NOW))
    new_case(system.service, name="晨光社区服务中心")
    system.read_models.catch_up()
    system.close_all()
    script = (
        "import sys\n"
        "from commands.bootstrap import bootstrap\n"
        "from commands import lists\n"
        "from commands.paging import Paging\n"
        f"system = bootstrap({url!r})\n"
        "system.read_models.catch_up()\n"
        "page = lists.caseload_page(system.read_models, Paging(limit=50))\n"
        "assert [row['name'] for row in page.rows] == ['晨光社区服务中心'], page.rows\n"
        "aggregates = ('organization', 'party', 'project', 'round', 'reminder', 'account',\n"
        "              'workspace', 'joint_branch')\n"
        "print(sorted(m for m in sys.modules if m in {f'lifecycle.{a}' for a in aggregates}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
