"""Races between real OS processes on one database, on a SQLite file and on PostgreSQL.

Each child process bootstraps the system on the same URL itself and runs one command. The
children meet at a barrier placed in front of their first save, so both have loaded everything
the command reads (the case, and the workspace it takes) before either writes: the race is
certain, not a matter of luck. Later saves (the service's retry on the fresh state) do not wait.
What was recorded is read back in the parent from the log afterwards.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any
from uuid import UUID

import pytest

from commands.bootstrap import Incubator, bootstrap
from lifecycle.errors import Conflict, Refused
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.party import PartyIncubation
from lifecycle.workspace import Workspace
from schedules.clock import FixedClock
from tests.builders import ENTRY_ON, PANEL_PASS, drive, new_case, new_resident
from tests.conftest import NOW, who
from tests.processes import at_once

pytestmark = pytest.mark.slow

# The spawn context: each child starts a fresh interpreter and opens its own connections,
# nothing is inherited from the test process (no shared sockets, no pytest state).
BARRIER_TIMEOUT = 20.0  # seconds a child waits for the other one in front of its save
RACE_TIMEOUT = 60.0  # seconds for a whole race: start, bootstrap, command, report, exit
VISIT_ON = "2014-01-10"  # after the inspection started on 2014-01-08
JOIN_ON = "2014-03-01"  # after the entry on 2014-02-10
EXIT_ON = "2014-12-10"  # inside the exit window of an entry on 2014-02-10


@dataclass(frozen=True)
class Job:
    """One child's command: `approve` (evaluate_entry with a passing panel) or `visit`."""

    command: str  # approve, admit, visit, join or exit
    case_id: str
    actor: str
    argument: str  # the workspace code to take, the visit's note or the joint branch's name


@dataclass(frozen=True)
class Outcome:
    actor: str
    kind: str  # "ok", the refusal's class name ("Conflict", "WrongStage", ...) or "error"
    message: str
    loads: int  # how many times the service loaded the case (2 means it decided again)
    saves: int  # how many times it tried to save


def run_command(url: str, job: Job, barrier: Barrier, results: Queue[Outcome]) -> None:
    """The child process: bootstrap on `url`, run `job`, report what happened on `results`."""
    loads = saves = 0

    def report(kind: str, message: str) -> None:
        results.put(Outcome(job.actor, kind, message, loads, saves))

    try:
        incubator = bootstrap(url, clock=FixedClock(NOW))
    except BaseException:
        barrier.abort()  # the other child need not wait for one that will never come
        report("error", traceback.format_exc())
        return
    try:
        service, log = incubator.service, incubator.log
        load_case, save = service.case, log.save

        def counting_load(case_id: UUID) -> OrganizationCase:
            nonlocal loads
            loads += 1
            return load_case(case_id)

        def save_after_barrier(*objs: Any, **kwargs: Any) -> Any:
            nonlocal saves
            saves += 1
            if saves == 1:  # the first save only; a retry goes ahead at once
                barrier.wait(BARRIER_TIMEOUT)
            return save(*objs, **kwargs)

        service.case = counting_load  # type: ignore[method-assign]
        log.save = save_after_barrier  # type: ignore[method-assign]
        case_id = UUID(job.case_id)
        try:
            if job.command == "approve":
                service.evaluate_entry(
                    case_id, who(ENTRY_ON, actor=job.actor), PANEL_PASS, job.argument
                )
            elif job.command == "admit":
                service.admit(case_id, who(ENTRY_ON, actor=job.actor), job.argument)
            elif job.command == "visit":
                service.record_visit(case_id, who(VISIT_ON, actor=job.actor), job.argument)
            elif job.command == "exit":
                service.evaluate_exit(case_id, who(EXIT_ON, actor=job.actor), PANEL_PASS)
            elif job.command == "join":
                party = incubator.party
                load_track = party.track

                def counting_track(case_id: UUID) -> PartyIncubation:
                    nonlocal loads
                    loads += 1
                    return load_track(case_id)

                party.track = counting_track  # type: ignore[method-assign]
                party.join_branch(case_id, who(JOIN_ON, actor=job.actor), job.argument)
            else:
                raise ValueError(f"unknown command {job.command!r}")
        except (Conflict, Refused) as e:
            report(type(e).__name__, str(e))
        else:
            report("ok", "")
        if saves == 0:
            barrier.abort()  # decided without saving: the other child would wait for nothing
    except BaseException:
        barrier.abort()
        report("error", traceback.format_exc())
    finally:
        incubator.close_all()


def race(url: str, jobs: Sequence[Job]) -> dict[str, Outcome]:
    """Run `jobs` in child processes at the same moment; their outcomes by actor."""
    received: list[Outcome]
    received, exits = at_once(
        run_command, [(url, job) for job in jobs], [f"race-{j.actor}" for j in jobs], RACE_TIMEOUT
    )
    outcomes: dict[str, Outcome] = {o.actor: o for o in received}
    assert len(outcomes) == len(jobs), (
        f"only {len(outcomes)} of {len(jobs)} children reported within {RACE_TIMEOUT}s "
        f"(exit codes {exits}): {outcomes}"
    )
    errors = [o for o in outcomes.values() if o.kind == "error"]
    others = [o for o in outcomes.values() if o.kind != "error"]
    failures = "\n".join(o.message for o in errors)
    assert not errors, f"a child failed:\n{failures}\nthe other outcomes: {others}"
    assert all(code == 0 for code in exits.values()), f"children exited with {exits}"
    return outcomes


def prepared(url: str, clock: FixedClock, setup: Callable[[Incubator], list[UUID]]) -> list[str]:
    """Create the schema and the cases in the parent, then close it before the race."""
    incubator = bootstrap(url, clock=clock)
    try:
        return [str(case_id) for case_id in setup(incubator)]
    finally:
        incubator.close_all()


def recorded(url: str, clock: FixedClock, aggregate_id: UUID | str) -> list[Any]:
    """The aggregate's events as they are in the log now, read on fresh connections."""
    incubator = bootstrap(url, clock=clock)
    try:
        return list(incubator.log.events.get(UUID(str(aggregate_id))))
    finally:
        incubator.close_all()


def names(events: list[Any]) -> list[str]:
    return [type(event).__name__ for event in events]


def winner_and_loser(outcomes: dict[str, Outcome]) -> tuple[Outcome, Outcome]:
    kinds = sorted((o.kind, o.actor) for o in outcomes.values())
    won = [o for o in outcomes.values() if o.kind == "ok"]
    lost = [o for o in outcomes.values() if o.kind != "ok"]
    assert len(won) == 1, f"expected exactly one command recorded, got {kinds}: {outcomes}"
    [winner], [loser] = won, lost
    return winner, loser


def test_two_processes_approving_one_case_record_one_approval(
    database_url: str, clock: FixedClock
) -> None:
    def setup(incubator: Incubator) -> list[UUID]:
        case_id = new_case(incubator.service)
        drive(incubator.service, case_id, "entry_review")
        return [case_id]

    [case_id] = prepared(database_url, clock, setup)
    workspace_of = {"王芳": "M-01", "李强": "M-02"}
    outcomes = race(
        database_url, [Job("approve", case_id, actor, code) for actor, code in workspace_of.items()]
    )

    winner, loser = winner_and_loser(outcomes)
    # Both loaded the case before either saved; the loser decided again on the fresh state.
    assert (winner.loads, winner.saves) == (1, 1)
    assert (loser.loads, loser.saves) == (2, 1), loser
    assert loser.kind == "Conflict", loser
    assert "another command was recorded at the same moment" in loser.message
    assert f"EntryApproved by {winner.actor}" in loser.message
    assert "the case is in stage 'incubating'" in loser.message
    assert "yours was not recorded" in loser.message

    events = recorded(database_url, clock, case_id)
    assert names(events) == [
        "ApplicationReceived",
        "InspectionStarted",
        "SubmittedForEntry",
        "EntryApproved",
    ]
    assert [e.originator_version for e in events] == [1, 2, 3, 4]
    approval = events[-1]
    assert (approval.actor, approval.workspace) == (winner.actor, workspace_of[winner.actor])
    # 入驻一家, 覆盖一家: one party track, started by the winner, in the same transaction.
    track = recorded(database_url, clock, PartyIncubation.id_for(UUID(case_id)))
    assert names(track) == ["Started"]
    assert (track[0].actor, track[0].on.isoformat(), track[0].case_id) == (
        winner.actor,
        ENTRY_ON,
        UUID(case_id),
    )

    taken = recorded(database_url, clock, Workspace.id_for("main", workspace_of[winner.actor]))
    assert names(taken) == ["Registered", "Allocated"]
    assert taken[-1].case_id == UUID(case_id)
    # The loser's workspace was saved in the same transaction as the losing approval: nothing.
    free = recorded(database_url, clock, Workspace.id_for("main", workspace_of[loser.actor]))
    assert names(free) == []


def test_two_cases_taking_one_workspace_only_one_gets_it(
    database_url: str, clock: FixedClock
) -> None:
    case_names = {"王芳": "爱心志愿者协会", "李强": "青少年成长服务中心"}

    def setup(incubator: Incubator) -> list[UUID]:
        cases = [new_case(incubator.service, name=name) for name in case_names.values()]
        for case_id in cases:
            drive(incubator.service, case_id, "entry_review")
        return cases

    case_ids = dict(zip(case_names, prepared(database_url, clock, setup), strict=True))
    outcomes = race(
        database_url, [Job("approve", case_ids[actor], actor, "M-05") for actor in case_names]
    )

    winner, loser = winner_and_loser(outcomes)
    assert (winner.loads, winner.saves) == (1, 1)
    assert (loser.loads, loser.saves) == (2, 1), loser
    assert loser.kind == "Conflict", loser
    assert "yours was not recorded" in loser.message
    assert (
        f"workspace 'M-05' at site 'main' is held by {case_names[winner.actor]} "
        f"({case_ids[winner.actor]})"
    ) in loser.message
    assert "choose a free workspace" in loser.message

    allocations = recorded(database_url, clock, Workspace.id_for("main", "M-05"))
    assert names(allocations) == ["Registered", "Allocated"]
    assert allocations[-1].case_id == UUID(case_ids[winner.actor])

    won = recorded(database_url, clock, case_ids[winner.actor])
    assert names(won)[-1] == "EntryApproved"
    assert won[-1].workspace == "M-05"
    lost = recorded(database_url, clock, case_ids[loser.actor])
    assert names(lost) == ["ApplicationReceived", "InspectionStarted", "SubmittedForEntry"]
    assert lost[-1].stage == "entry_review"


def test_two_processes_recording_visits_on_one_case_keep_both(
    database_url: str, clock: FixedClock
) -> None:
    def setup(incubator: Incubator) -> list[UUID]:
        case_id = new_case(incubator.service)
        drive(incubator.service, case_id, "inspecting")
        return [case_id]

    [case_id] = prepared(database_url, clock, setup)
    notes = {"王芳": "看了办公场地", "李强": "和理事长谈了章程"}
    outcomes = race(
        database_url, [Job("visit", case_id, actor, note) for actor, note in notes.items()]
    )

    assert {o.kind for o in outcomes.values()} == {"ok"}, outcomes
    # One saved at once; the other lost the race, loaded the case again and saved after it.
    assert sorted((o.loads, o.saves) for o in outcomes.values()) == [(1, 1), (2, 2)], outcomes

    events = recorded(database_url, clock, case_id)
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert names(events) == [
        "ApplicationReceived",
        "InspectionStarted",
        "SiteVisitRecorded",
        "SiteVisitRecorded",
    ]
    visits = {(e.actor, e.note, e.on.isoformat()) for e in events[2:]}
    assert visits == {(actor, note, VISIT_ON) for actor, note in notes.items()}


def test_two_processes_admitting_one_resident_start_one_party_track(
    database_url: str, clock: FixedClock
) -> None:
    def setup(incubator: Incubator) -> list[UUID]:
        return [new_resident(incubator.service)]

    [case_id] = prepared(database_url, clock, setup)
    outcomes = race(
        database_url,
        [
            Job("admit", case_id, actor, code)
            for actor, code in (("王芳", "B-01"), ("李强", "B-02"))
        ],
    )

    winner, loser = winner_and_loser(outcomes)
    assert loser.kind == "Conflict" and (loser.loads, loser.saves) == (2, 1), loser
    assert names(recorded(database_url, clock, case_id))[-1] == "ResidentAdmitted"
    track = recorded(database_url, clock, PartyIncubation.id_for(UUID(case_id)))
    assert names(track) == ["Started"]
    assert track[0].actor == winner.actor


def test_two_organizations_joining_one_joint_branch_at_once_are_both_members(
    database_url: str, clock: FixedClock
) -> None:
    """The branch changes under both: the loser decides again on the fresh branch and joins
    too; the branch is constituted exactly once, when the second member brings it to 3."""
    members = {"王芳": ("爱心志愿者协会", 1), "李强": ("青少年成长服务中心", 2)}

    def setup(incubator: Incubator) -> list[UUID]:
        incubator.party.create_joint_branch(who("2014-02-01"), name="主园区联合党支部", site="main")
        cases = []
        for number, (name, formal) in enumerate(members.values(), start=1):
            case_id = new_case(incubator.service, name=name)
            drive(incubator.service, case_id, "incubating", workspace=f"M-0{number}")
            incubator.party.record_inspection(case_id, who("2014-02-11"))
            incubator.party.count_members(case_id, who("2014-02-12"), formal, transferred=formal)
            cases.append(case_id)
        return cases

    case_ids = dict(zip(members, prepared(database_url, clock, setup), strict=True))
    outcomes = race(
        database_url, [Job("join", case_ids[actor], actor, "主园区联合党支部") for actor in members]
    )

    assert {o.kind for o in outcomes.values()} == {"ok"}, outcomes
    assert sorted((o.loads, o.saves) for o in outcomes.values()) == [(1, 1), (2, 2)], outcomes
    branch = recorded(database_url, clock, JointBranch.id_for("main", "主园区联合党支部"))
    assert names(branch) == ["Created", "MemberJoined", "MemberJoined", "Constituted"]
    assert {(e.case_id, e.formal) for e in branch[1:3]} == {
        (UUID(case_ids[actor]), formal) for actor, (_, formal) in members.items()
    }
    assert branch[-1].formal == 3
    for case_id in case_ids.values():
        track = recorded(database_url, clock, PartyIncubation.id_for(UUID(case_id)))
        assert names(track)[-1] == "JointBranchJoined"
        assert track[-1].stage == "follow_up"


def test_an_exit_and_a_party_join_at_once_cannot_skip_the_star_rating(
    database_url: str, clock: FixedClock
) -> None:
    """四个同步: an exit is refused while the party track is in follow-up without a rating since
    the last growth review. The exit reads the track in support (no rating needed) while the
    join moves it to follow-up: the exit notes itself on the track, so the two conflict and
    whichever saves second decides again on the fresh state."""

    def setup(incubator: Incubator) -> list[UUID]:
        incubator.party.create_joint_branch(who("2014-02-01"), name="主园区联合党支部", site="main")
        case_id = new_case(incubator.service)
        drive(incubator.service, case_id, "reviewed")  # entered 2014-02-10, reviewed 2014-07-10
        incubator.party.record_inspection(case_id, who("2014-02-11"))
        incubator.party.count_members(case_id, who("2014-02-12"), 2, transferred=2)
        return [case_id]

    [case_id] = prepared(database_url, clock, setup)
    outcomes = race(
        database_url,
        [Job("exit", case_id, "王芳", ""), Job("join", case_id, "李强", "主园区联合党支部")],
    )

    exited, joined = outcomes["王芳"], outcomes["李强"]
    track = names(recorded(database_url, clock, PartyIncubation.id_for(UUID(case_id))))
    case = names(recorded(database_url, clock, case_id))
    assert joined.kind == "ok", joined  # a join after the exit is fine: the case is in follow-up
    if exited.kind == "ok":  # the exit saved first; the join decided again after it
        assert (joined.loads, joined.saves) == (2, 2), joined
        assert track[-2:] == ["EvaluationNoted", "JointBranchJoined"]
        assert case[-1] == "ExitApproved"
    else:  # the join saved first; the exit, decided again, is refused: no rating since review
        assert exited.kind == "Conflict", exited
        assert (exited.loads, exited.saves) == (2, 1), exited
        assert "no star rating since the last growth review on 2014-07-10" in exited.message
        assert track[-1] == "JointBranchJoined"
        assert case[-1] == "GrowthReviewRecorded"
