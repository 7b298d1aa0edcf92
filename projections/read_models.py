"""The read models of this database: kept current from the log, queried, rebuilt."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, Table, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from lifecycle.park import Park
from projections import (
    accounts,
    assignments,
    caseload,
    cohorts,
    directory,
    due_dates,
    legal_status,
    occupancy,
    outbox,
    party,
    rounds,
    stage_stats,
    time_in_stage,
)
from projections import rebuild as blue_green
from projections.runner import (
    Generation,
    Projection,
    catch_up,
    positions,
    registry,
    said,
    served_with,
    serving_anomalies,
    serving_flagged,
)
from projections.runner import install as install_tables
from store.database import reading
from store.log import EventLog

PROJECTIONS: tuple[Projection, ...] = (
    caseload.projection,
    directory.projection,
    due_dates.projection,
    occupancy.projection,
    assignments.projection,
    stage_stats.projection,
    time_in_stage.projection,
    party.projection,
    outbox.projection,
    rounds.projection,
    legal_status.projection,
    accounts.projection,
    cohorts.projection,
)
# Rebuilt in a process of their own beside the others: about half the work of rebuilding all
# of them (each one's cost measured alone, benchmarks/rebuild.py), on a machine's second core.
# The outbox with the due dates: the reminders' events (an eighth of the log) are then read and
# decoded by this process alone. Measured: the two groups take about the same CPU time.
REBUILT_APART = frozenset({"due_dates", "legal_status", "occupancy", "outbox"})
T = TypeVar("T")
log = logging.getLogger("incubator.projections")


class ReadModels:
    def __init__(
        self,
        engine: Engine,
        event_log: EventLog,
        park: Park,
        install: bool = True,
    ) -> None:
        """`install`: create the registry and the tables of a read model new to this database
        (False: the schema is known current)."""
        self.engine, self.log, self.park = engine, event_log, park
        # The anomalies the reads so far have touched (see `read`), for the reader to be told.
        self.noticed: dict[tuple[str, int, int], dict[str, Any]] = {}
        # Each read model as built with these settings: a version of its own for the settings
        # it depends on (the due dates: lengths, reminder policy, calendar).
        self.projections = tuple(p.built_with(park) for p in PROJECTIONS)
        if install:
            install_tables(engine, self.projections)
        # The end of the log when every read model, at these versions, was last brought to
        # it (or past it): until the log grows, a catch-up has nothing to do.
        self._current_at: tuple[int, tuple[int, ...]] | None = None
        # The generation each read model served at its last read (`read_at_once`).
        self._served: dict[str, int] = {}
        self._statements: dict[tuple[str, int, Any], Select[Any]] = {}

    def named(self, names: Sequence[str] | None) -> list[Projection]:
        known = {p.name: p for p in self.projections}
        unknown = [n for n in names or () if n not in known]
        if unknown:
            raise LookupError(
                f"unknown read model(s) {', '.join(unknown)}; read models: {', '.join(known)}"
            )
        return [known[n] for n in names] if names else list(self.projections)

    # ---- keeping current --------------------------------------------------------------------

    def catch_up(self) -> int:
        """Bring every read model up to the end of the log (a user reads their own write).
        A read model whose code, or the settings it depends on, has a new version is rebuilt
        first. When the log has not grown since every read model was last brought to its end,
        there is nothing to do, and only the end of the log is read."""
        at = (self.head(), tuple(p.version for p in self.projections))
        if at == self._current_at:
            return 0
        stale = self.stale()
        if stale:
            blue_green.rebuild(self.engine, self.log, stale, self.park)
        read = catch_up(self.engine, self.log, self.projections, self.park)
        self._current_at = at  # each read model is at that end now, or past it
        return read

    def stale(self) -> list[Projection]:
        with self.engine.connect() as conn:
            versions = {r.name: r.serving_version for r in conn.execute(select(registry))}
        return [p for p in self.projections if versions.get(p.name) != p.version]

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        apart: bool = True,
    ) -> list[Generation]:
        """With `apart`, the read models of REBUILT_APART are built in a process of their own
        beside the others (a forked one: not in a process that serves requests)."""
        return blue_green.rebuild(
            self.engine,
            self.log,
            self.named(names),
            self.park,
            progress,
            fresh=False,
            groups=[REBUILT_APART] if apart else [],
        )

    def follow(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Keep every read model current until `stop` is set (polling the log). A catch-up that
        fails (the database restarting, say) is logged and tried again, waiting longer after
        each failure in a row, up to a minute; a batch never half-applies, so nothing is lost."""
        failures = 0
        while not stop.is_set():
            try:
                read = self.catch_up()
            except Exception as e:  # the driver's and the library's own errors vary by backend
                failures += 1
                wait = min(interval * 2**failures, 60.0)
                log.error(  # one line; the traceback only for a bug report (INCUBATOR_DEBUG)
                    "catch-up failed (%d in a row: %s); trying again in %.0f s",
                    failures,
                    said(e).splitlines()[0][:300],
                    wait,
                    exc_info=bool(os.environ.get("INCUBATOR_DEBUG")),
                )
                stop.wait(wait)
                continue
            if read:
                log.info("applied %d events", read)
            failures = 0
            stop.wait(interval)

    def status(self) -> list[dict[str, Any]]:
        """Each read model's state; `anomalies`: the events its serving generation could not
        apply in full, in log order."""
        head = self.log.recorder.max_notification_id() or 0
        with self.engine.connect() as conn:
            rows = {r.name: r for r in conn.execute(select(registry))}
            at = {(r.name, r.generation): int(r.position) for r in conn.execute(select(positions))}
            found = serving_anomalies(conn)
        result = []
        for p in self.projections:
            row = rows[p.name]
            position = at.get((p.name, row.serving), 0)
            building = None
            if row.building is not None:
                built = at.get((p.name, row.building), 0)
                building = {
                    "generation": row.building,
                    "version": row.building_version,
                    "position": built,
                    "lag": max(0, head - built),
                }
            result.append(
                {
                    "name": p.name,
                    "version": row.serving_version,
                    "code_version": p.version,
                    "generation": row.serving,
                    "position": position,
                    "lag": max(0, head - position),
                    "rebuilding": building is not None,
                    "rebuild": building,
                    "anomalies": [_anomaly(a) for a in found if a["name"] == p.name],
                }
            )
        return result

    def case_anomalies(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The anomalies of every read model caused by events of these cases (or party
        tracks, joint branches...); noticed, like those a read touches."""
        with self._reading() as conn:
            found = [_anomaly(a) for a in serving_anomalies(conn, cases=ids)]
        self._notice(found)
        return found

    def _notice(self, found: list[dict[str, Any]]) -> None:
        for a in found:
            self.noticed.setdefault((a["read_model"], a["position"], a["seq"]), a)

    def head(self) -> int:
        return self.log.recorder.max_notification_id() or 0

    # ---- queries ------------------------------------------------------------------------------

    def read(
        self,
        projection: Projection,
        query: Callable[[Connection, dict[str, Any]], T],
        mark: bool = False,
    ) -> T:
        """Run `query` on the serving generation. A rebuild may drop the generation just
        read from the registry; the query is then asked again of the new one.

        If that generation has anomalies they are noticed (`noticed`), and with `mark` the
        answer says so: each row about a case gets `anomaly` (None, or what its case's events
        could not do), a single record gets `anomalies`."""
        for attempt in (1, 2):
            try:
                with self._reading() as conn:
                    generation, flagged = serving_flagged(conn, projection)
                    self._served[projection.name] = generation.generation
                    answer = query(conn, projection.tables(generation.generation))
                    if not flagged:
                        return answer
                    found = [_anomaly(a) for a in serving_anomalies(conn, [projection.name])]
                self._notice(found)
                return _marked(answer, found) if mark else answer
            except (OperationalError, ProgrammingError) as e:
                missing = "no such table" in str(e) or "does not exist" in str(e)
                if attempt == 2 or not missing:
                    raise
        raise AssertionError("unreachable")

    def read_at_once(
        self,
        projection: Projection,
        query: Callable[[dict[str, Table]], Select[Any]],
        order: Sequence[str],
        key: str,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """`read` of the rows of `query` (run with `params`) in one statement, on the generation
        served at the last read, the registry asked in the same statement whether it still
        serves: one round trip, not two. A generation changed or dropped since, or one with
        anomalies, is read again by `read`. `key`: a column of the answer never NULL."""
        generation = self._served.get(projection.name)
        if generation is not None:
            made = (projection.name, generation, query)
            statement = self._statements.get(made)
            if statement is None:  # made once a generation: building one costs more than it runs
                statement = served_with(query(projection.tables(generation)), order)
                self._statements[made] = statement
            try:
                with self._reading() as conn:
                    rows = conn.execute(statement, {"name": projection.name, **params}).all()
            except (OperationalError, ProgrammingError):
                rows = []  # the generation was dropped by a rebuild: read it again
            serving = rows[0]._mapping if rows else None
            if (
                serving is not None
                and serving["_serving"] == generation
                and not serving["_flagged"]
            ):
                answer = [dict(row._mapping) for row in rows if row._mapping[key] is not None]
                for found in answer:
                    del found["_serving"], found["_flagged"]
                return answer
        return self.read(
            projection, lambda c, t: [dict(r._mapping) for r in c.execute(query(t), params)]
        )

    def _reading(self) -> Connection:
        """A connection for a query, without a transaction around it (store/database.py
        `reading`): a reader is spared the BEGIN and ROLLBACK, and a generation dropped by a
        rebuild in between is asked again (`read`)."""
        return reading(self.engine)

    def caseload(self, **filters: Any) -> list[dict[str, Any]]:
        return self.read(
            caseload.projection, lambda c, t: caseload.list_cases(c, t, **filters), mark=True
        )

    def stage_counts(self, **filters: Any) -> dict[str, int]:
        return self.read(caseload.projection, lambda c, t: caseload.stage_counts(c, t, **filters))

    def search(self, text: str, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self.read(
            directory.projection,
            lambda c, t: directory.search(c, t, text, limit, offset),
            mark=True,
        )

    def found(self, text: str) -> int:
        """How many organizations' names contain `text`."""
        return self.read(directory.projection, lambda c, t: directory.found(c, t, text))

    def due(
        self,
        until: date | None = None,
        site: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        return self.read(
            due_dates.projection,
            lambda c, t: due_dates.pending(
                c, t, until=until, site=site, limit=limit, offset=offset
            ),
            mark=True,
        )

    def due_count(self, until: date | None = None, site: str | None = None) -> int:
        return self.read(
            due_dates.projection, lambda c, t: due_dates.pending_count(c, t, until=until, site=site)
        )

    def coming(self, until: datetime, page: int = 500) -> Iterator[dict[str, Any]]:
        """Deadlines whose next reminder or escalation goes out by `until`, soonest first, read
        a page at a time."""

        def one_page(after: due_dates.Page | None) -> list[dict[str, Any]]:
            return self.read(
                due_dates.projection, lambda c, t: due_dates.coming(c, t, until, after, page)
            )

        rows = one_page(None)
        while True:
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1]
            rows = one_page((last["next_at"], last["case_id"], last["kind"]))

    def inbox(self, today: date, person: str | None = None) -> list[dict[str, Any]]:
        return self.read(
            due_dates.projection,
            lambda c, t: due_dates.inbox(c, t, self.park, today, person),
            mark=True,
        )

    def outbox_ready(self, now: datetime, limit: int = 500) -> list[str]:
        return self.read(outbox.projection, lambda c, t: outbox.ready(c, t, now, limit))

    def reminders_of(self, case_id: str) -> list[dict[str, Any]]:
        """Every history reads them: in one round trip."""
        return self.read_at_once(
            outbox.projection, outbox.of_case, ["reminder_id"], "reminder_id", case_id=case_id
        )

    def occupancy(self, site: str | None = None) -> list[dict[str, Any]]:
        return self.read(occupancy.projection, lambda c, t: occupancy.held(c, t, site), mark=True)

    def occupancy_by_site(self) -> list[dict[str, Any]]:
        """Each site of the settings: its workspaces held, and how many it has."""
        held = self.read(occupancy.projection, occupancy.held_by_site)
        return [
            {"site": key, "held": held.get(key, 0), "total": len(site.workspaces)}
            for key, site in self.park.sites.items()
        ]

    def assignments(
        self, caseworker: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        return self.read(
            assignments.projection,
            lambda c, t: assignments.open_cases(c, t, caseworker, limit, offset),
            mark=True,
        )

    def assignments_count(self, caseworker: str | None = None) -> int:
        return self.read(
            assignments.projection, lambda c, t: assignments.open_count(c, t, caseworker)
        )

    def stage_stats(self, site: str | None = None) -> list[dict[str, Any]]:
        return self.read(
            stage_stats.projection, lambda c, t: stage_stats.by_month(c, t, site), mark=True
        )

    def party_coverage(self, site: str | None = None) -> dict[str, Any]:
        return self.read(party.projection, lambda c, t: party.coverage(c, t, site), mark=True)

    def party_coverage_by_site(self) -> list[dict[str, Any]]:
        """Each site of the settings (and any other a case names): its organizations in the
        park and how many of them have a party track."""
        found = self.read(party.projection, party.coverage_by_site)
        return [
            {"site": key, **found.get(key, {"organizations": 0, "covered": 0})}
            for key in dict.fromkeys([*self.park.sites, *found])
        ]

    def party_branches(
        self, site: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        return self.read(
            party.projection, lambda c, t: party.branches(c, t, site, limit, offset), mark=True
        )

    def party_branches_count(self, site: str | None = None) -> int:
        return self.read(party.projection, lambda c, t: party.branches_count(c, t, site))

    def party_unbranched(self, sites: Collection[str] | None = None) -> list[dict[str, Any]]:
        return self.read(party.projection, lambda c, t: party.unbranched(c, t, sites))

    def joint_members(self) -> dict[str, list[dict[str, Any]]]:
        return self.read(party.projection, party.joint_members)

    def cohort_funnel(
        self, by: str = "applied", track: str = "incubation", site: str | None = None
    ) -> list[dict[str, Any]]:
        """Per year's cohort (of application or of entry): applied, entered, exited
        successfully, closed."""
        return self.read(
            cohorts.projection, lambda c, t: cohorts.funnel(c, t, by=by, track=track, site=site)
        )

    def in_shell(
        self, year: int | None = None, site: str | None = None, track: str | None = "incubation"
    ) -> list[dict[str, Any]]:
        """The cases that entered (in `year`): their in-shell periods and exit deadlines."""
        return self.read(
            cohorts.projection,
            lambda c, t: cohorts.in_shell(c, t, self.park.rules, year=year, site=site, track=track),
            mark=True,
        )

    def legal_status(self, site: str | None = None) -> list[dict[str, Any]]:
        return self.read(legal_status.projection, lambda c, t: legal_status.by_site(c, t, site))

    def time_in_stage(self, track: str | None = None) -> list[dict[str, Any]]:
        return self.read(
            time_in_stage.projection, lambda c, t: time_in_stage.averages(c, t, track), mark=True
        )

    def accounts(self) -> list[dict[str, Any]]:
        """Every account by name: its roles and their sites, active or not, its language."""
        return self.read(accounts.projection, accounts.list_accounts)

    def rounds(self, id_prefix: str | None = None) -> list[dict[str, Any]]:
        return self.read(rounds.projection, lambda c, t: rounds.rounds(c, t, id_prefix))

    def projects(self, **filters: str | None) -> list[dict[str, Any]]:
        """Projects of a round (`round_id`), of an organization (`org_id`), or by `id_prefix`."""
        return self.read(rounds.projection, lambda c, t: rounds.projects(c, t, **filters))

    def ranking(self, round_id: str) -> list[dict[str, Any]]:
        return rounds.ranking(self.projects(round_id=round_id))

    def funnel(self, round_id: str) -> dict[str, int]:
        return rounds.funnel(self.projects(round_id=round_id))

    def awards(self, round_id: str | None = None) -> dict[str, Any]:
        return self.read(rounds.projection, lambda c, t: rounds.awards(c, t, round_id))


def _anomaly(row: dict[str, Any]) -> dict[str, Any]:
    """An anomaly as readers see it."""
    return {
        "read_model": row["name"],
        "position": int(row["position"]),
        "seq": int(row["seq"]),
        "case_id": row["case_id"],
        "type": row["topic"].rpartition(":")[2] or row["topic"],
        "table": row["table_name"],
        "column": row["column_name"],
        "error": row["error"],
    }


def _marked(answer: T, found: list[dict[str, Any]]) -> T:
    """Rows about a case get `anomaly`: None, or what that case's events could not do here;
    a single record gets the read model's `anomalies`."""
    if isinstance(answer, dict):
        answer["anomalies"] = found
        return answer
    if not isinstance(answer, list):
        return answer
    by_case: dict[str, list[str]] = {}
    for a in found:
        by_case.setdefault(a["case_id"], []).append(f"event {a['position']}: {a['error']}")
    for row in answer:
        if isinstance(row, dict) and (case := row.get("id", row.get("case_id"))) is not None:
            row["anomaly"] = "; ".join(by_case[case]) if case in by_case else None
    return answer
