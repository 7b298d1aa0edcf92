"""The application service: one method per lifecycle command, each one load, decide, save.

Used by the command line now and by the web and the API later. A save that loses a race (the
case or the workspace changed since it was loaded) is decided again on the fresh state: a command
that still applies is recorded (a safe retry), one that no longer does becomes a `Conflict` that
says what was recorded in between. Nothing is ever half-written: a case and the workspace it takes
or releases are saved in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from lifecycle.account import Account
from lifecycle.errors import Conflict, NotFound, Refused, Term
from lifecycle.holdings import Holdings, evaluation_noted, let_go, move_in
from lifecycle.joint_branch import JointBranch
from lifecycle.organization import OrganizationCase
from lifecycle.park import Park, check_legal_status
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.round import Round
from lifecycle.scores import Panel
from lifecycle.stages import JOINT
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from schedules.clock import Clock, local_today
from store import personal
from store.log import EventLog

ATTEMPTS = 3
logger = logging.getLogger(__name__)
KINDS: dict[type[Aggregate], str] = {
    OrganizationCase: Term("an organization case"),
    PartyIncubation: Term("a party track"),
    JointBranch: Term("a joint branch"),
    Round: Term("a venture-philanthropy round"),
    Project: Term("a project of a round"),
    Account: Term("an account"),
}
A = TypeVar("A", bound=Aggregate)
Scores = Mapping[str, Decimal] | Sequence[str]  # each expert's score, or EXPERT=N as typed
Decision = Callable[[A, Step], Sequence[Aggregate] | None]


@dataclass(frozen=True)
class Who:
    """Who issues a command, its effective business date (default today) and why."""

    actor: str | None
    on: date | None = None
    reason: str | None = None
    role: str | None = None  # the role the actor is authenticated in (None: the command line)


class Commands:
    """Load, decide, save; a lost race is decided again on the fresh state (see module doc)."""

    def __init__(self, log: EventLog, park: Park, clock: Clock) -> None:
        self.log, self.park, self.clock = log, park, clock

    def today(self) -> date:
        return local_today(self.clock, self.park.timezone)

    def case(self, case_id: UUID) -> OrganizationCase:
        return self._get(
            case_id, OrganizationCase, NotFound("no organization case with id {id}", id=case_id)
        )

    def party_track(self, case: OrganizationCase) -> PartyIncubation | None:
        track = self._find(PartyIncubation.id_for(UUID(str(case.id))))
        assert track is None or isinstance(track, PartyIncubation)
        return track

    def holdings(self, case: OrganizationCase) -> Holdings:
        """The workspace, party track and joint branch the case holds, as they are now."""
        party = self.party_track(case)
        return Holdings(self._held(case), party, self.joint_branch_of(party) if party else None)

    def joint_branch_of(self, track: PartyIncubation) -> JointBranch | None:
        """The joint branch the party track belongs to, if any."""
        if track.branch_kind != JOINT or track.branch_id is None:
            return None
        missing = NotFound("no joint branch {id}", id=track.branch_id)
        return self._get(track.branch_id, JointBranch, missing)

    def _retrying(
        self,
        load: Callable[[], A],
        who: Who,
        decide: Decision[A],
        subject: str = Term("the case, its party track or a joint branch"),
    ) -> A:
        lost_to: list[str] = []
        for _ in range(ATTEMPTS):
            aggregate = load()
            step = self._step(who)
            try:
                others = decide(aggregate, step) or []
            except Refused as refusal:
                if lost_to:
                    raise _lost_race(lost_to, refusal) from refusal
                raise
            saved: list[Aggregate] = [aggregate, *others]
            loaded = {a.id: a.version - len(a.pending_events) for a in saved}
            try:
                self.log.save(aggregate, *others)
            except IntegrityError:
                lost_to = self._recorded_since(loaded)
                continue
            return aggregate
        raise Conflict(
            "{subject} kept changing while this command was decided ({recorded}); nothing was "
            "recorded, try again",
            subject=Term(subject),
            recorded="; ".join(lost_to),
        )

    def _step(self, who: Who) -> Step:
        if who.actor is None or not who.actor.strip():
            raise Refused(
                "who is acting? give --actor NAME (or set INCUBATOR_ACTOR)", field="actor"
            )
        today = self.today()
        on = who.on or today
        if on > today:
            raise Refused(
                "the date {on} is in the future (today is {today}); "
                "record a step on or after the day it happens",
                field="on",
                on=on,
                today=today,
            )
        reason = who.reason.strip() if who.reason and who.reason.strip() else None
        return Step(
            actor=who.actor.strip(),
            on=on,
            recorded_at=self.clock.now(),
            reason=reason,
            role=who.role,
            rehearsal=self.clock.fixed,
        )

    def _find(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            found: Aggregate = self.log.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found

    def _get(self, aggregate_id: UUID, kind: type[A], missing: NotFound) -> A:
        found = self._find(aggregate_id)
        if found is None:
            raise missing
        if not isinstance(found, kind):
            raise NotFound(
                "{id} is not {kind}", id=aggregate_id, kind=Term(KINDS.get(kind, kind.__name__))
            )
        return found

    def _held(self, case: OrganizationCase) -> Workspace | None:
        if case.workspace is None:
            return None
        workspace: Any = self.log.repository.get(Workspace.id_for(case.site, case.workspace))
        assert isinstance(workspace, Workspace)
        return workspace

    def _recorded_since(self, loaded: dict[UUID, int]) -> list[str]:
        """What others recorded on the aggregates a command was to save, since it loaded them
        (the steps people took; the system's own bookkeeping is left out)."""
        events = [e for i, v in loaded.items() for e in self.log.events.get(i, gt=v)]
        return [f"{type(e).__name__} by {e.actor}" for e in events if hasattr(e, "actor")] or [
            "another part it changes (a workspace, a party track or a joint branch) "
            "changed at the same moment"
        ]


class IncubatorService(Commands):
    """The organization incubation commands (社会组织孵化)."""

    # ---- the lifecycle commands ---------------------------------------------------------------

    def apply(
        self,
        who: Who,
        *,
        name: str,
        field: str,
        legal_status: str,
        track: str,
        site: str,
        contact: str | None = None,
        party_members: int | None = None,
    ) -> OrganizationCase:
        step = self._step(who)
        case = OrganizationCase.apply_for(
            step,
            name=name,
            field=self.park.field_key(field),
            legal_status=check_legal_status(legal_status),
            track=track,
            site=self.park.site_key(site),
            contact=contact,
            party_members=party_members,
        )
        self.log.save(case)
        return case

    def erase_personal_data(self, case_id: UUID, who: Who) -> OrganizationCase:
        """个人信息删除: the key the case's personal data is sealed under is destroyed, then the
        erasure is recorded on the case. (Should recording fail after the key is gone, the data
        stays erased and the same command records it.)"""
        keys = personal.keys_of(self.log)

        def decide(case: OrganizationCase, step: Step) -> None:
            case.erase_personal_data(step)
            if keys is not None:
                wiped = keys.erase(UUID(str(case.id)), step.recorded_at)
                if not wiped.complete:
                    logger.warning("erasing the personal data of %s: %s", case.id, wiped.note)

        return self._change(case_id, who, decide)

    def start_inspection(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.start_inspection(step))

    def assign(self, case_id: UUID, who: Who, caseworker: str) -> OrganizationCase:
        return self._change(
            case_id, who, lambda case, step: case.assign_caseworker(step, caseworker)
        )

    def record_visit(self, case_id: UUID, who: Who, note: str) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.record_visit(step, note))

    def submit_for_entry(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.submit_for_entry(step))

    def evaluate_entry(
        self, case_id: UUID, who: Who, scores: Scores, workspace: str | None = None
    ) -> OrganizationCase:
        panel = Panel.read(scores)

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            if workspace is not None:
                self.park.workspace(case.site, workspace)
            if not case.evaluate_entry(step, panel, self.park.rules, workspace):
                return []  # a declined entry takes nothing, not even a first registration
            assert workspace is not None
            taken = self._workspace(case.site, workspace, step)
            return [taken, move_in(case, taken, step)]

        return self._change(case_id, who, decide)

    def resume_coaching(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.resume_coaching(step))

    def record_growth_review(self, case_id: UUID, who: Who, scores: Scores) -> OrganizationCase:
        panel = Panel.read(scores)

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            party = self.party_track(case)
            case.record_growth_review(step, panel, party.stars if party else None)
            return evaluation_noted(party, step, "growth_review")

        return self._change(case_id, who, decide)

    def correct_entry_date(self, case_id: UUID, who: Who, to: date) -> OrganizationCase:
        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            party = self.party_track(case)
            case.correct_entry_date(step, to, self.park.rules)
            if party is None:
                return []
            party.correct_start(step, to)  # the track started when the organization entered
            return [party]

        return self._change(case_id, who, decide)

    def evaluate_exit(self, case_id: UUID, who: Who, scores: Scores) -> OrganizationCase:
        panel = Panel.read(scores)

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            held = self.holdings(case)
            case.evaluate_exit(step, panel, self.park.rules, held.party)
            noted = evaluation_noted(held.party, step, "exit_evaluation")
            return [*noted, *let_go(case, step, held)]

        return self._change(case_id, who, decide)

    def record_follow_up(self, case_id: UUID, who: Who, service: str) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.record_follow_up(step, service))

    def close_case(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(
            case_id,
            who,
            self._letting_go(lambda case, step: case.close_case(step, self.park.rules)),
        )

    def reject(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.reject(step))

    def withdraw(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, self._letting_go(lambda case, step: case.withdraw(step)))

    def terminate(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, self._letting_go(lambda case, step: case.terminate(step)))

    def admit(self, case_id: UUID, who: Who, workspace: str) -> OrganizationCase:
        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            self.park.workspace(case.site, workspace)
            case.admit(step, workspace)
            taken = self._workspace(case.site, workspace, step)
            return [taken, move_in(case, taken, step)]

        return self._change(case_id, who, decide)

    def record_service_evaluation(
        self, case_id: UUID, who: Who, scores: Scores
    ) -> OrganizationCase:
        panel = Panel.read(scores)

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            party = self.party_track(case)
            case.record_service_evaluation(step, panel, party.stars if party else None)
            return evaluation_noted(party, step, "service_evaluation")

        return self._change(case_id, who, decide)

    def depart(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, self._letting_go(lambda case, step: case.depart(step)))

    # ---- legal status (登记/备案) -------------------------------------------------------------

    def record_filing(
        self, case_id: UUID, who: Who, number: str, authority: str
    ) -> OrganizationCase:
        return self._change(
            case_id, who, lambda case, step: case.record_filing(step, number, authority)
        )

    def record_registration(
        self, case_id: UUID, who: Who, credit_code: str, authority: str
    ) -> OrganizationCase:
        return self._change(
            case_id, who, lambda case, step: case.record_registration(step, credit_code, authority)
        )

    def correct_legal_status(self, case_id: UUID, who: Who, to: str) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.correct_legal_status(step, to))

    def record_registration_help(self, case_id: UUID, who: Who, note: str) -> OrganizationCase:
        return self._change(
            case_id, who, lambda case, step: case.record_registration_help(step, note)
        )

    # ---- load, decide, save -------------------------------------------------------------------

    def _change(
        self, case_id: UUID, who: Who, decide: Decision[OrganizationCase]
    ) -> OrganizationCase:
        return self._retrying(lambda: self.case(case_id), who, decide)

    def _letting_go(
        self, decide: Callable[[OrganizationCase, Step], None]
    ) -> Decision[OrganizationCase]:
        """A decision that may end the case's hold on its workspace, or end the case and with it
        its party track: what they record is saved with the case, in one transaction."""

        def decision(case: OrganizationCase, step: Step) -> list[Aggregate]:
            held = self.holdings(case)
            decide(case, step)
            return let_go(case, step, held)

        return decision

    def _workspace(self, site: str, code: str, step: Step) -> Workspace:
        self.park.workspace(site, code)
        workspace = self._find(Workspace.id_for(site, code))
        if workspace is None:
            return Workspace.register(site, code, step)
        assert isinstance(workspace, Workspace)
        return workspace


def _lost_race(lost_to: list[str], refusal: Refused) -> Conflict:
    return Conflict(
        "another command was recorded at the same moment ({recorded}); "
        "yours was not recorded: {refusal}",
        recorded="; ".join(lost_to),
        refusal=refusal,
    )
