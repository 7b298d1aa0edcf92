"""The application service: one method per lifecycle command, each one load, decide, save.

Used by the command line now and by the web and the API later. A save that loses a race (the
case or the workspace changed since it was loaded) is decided again on the fresh state: a command
that still applies is recorded (a safe retry), one that no longer does becomes a `Conflict` that
says what was recorded in between. Nothing is ever half-written: a case and the workspace it takes
or releases are saved in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.log import EventLog
from lifecycle.errors import Conflict, NotFound, Refused
from lifecycle.organization import OrganizationCase
from lifecycle.park import Park, check_legal_status
from lifecycle.scores import Panel
from lifecycle.step import Step
from lifecycle.workspace import Workspace
from schedules.clock import Clock, local_today

ATTEMPTS = 3
Decision = Callable[[OrganizationCase, Step], Sequence[Aggregate] | None]


@dataclass(frozen=True)
class Who:
    """Who issues a command, its effective business date (default today) and why."""

    actor: str | None
    on: date | None = None
    reason: str | None = None


class IncubatorService:
    def __init__(self, log: EventLog, park: Park, clock: Clock) -> None:
        self.log, self.park, self.clock = log, park, clock

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
            site=self.park.site(site).key,
            contact=contact,
            party_members=party_members,
        )
        self.log.save(case)
        return case

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
        self, case_id: UUID, who: Who, scores: Sequence[str], workspace: str | None = None
    ) -> OrganizationCase:
        panel = Panel.parse(list(scores))

        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            taken = self._workspace(case.site, workspace, step) if workspace else None
            case.evaluate_entry(step, panel, self.park.rules, taken)
            return [taken] if taken is not None and taken.pending_events else []

        return self._change(case_id, who, decide)

    def resume_coaching(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.resume_coaching(step))

    def record_growth_review(
        self, case_id: UUID, who: Who, scores: Sequence[str]
    ) -> OrganizationCase:
        panel = Panel.parse(list(scores))
        return self._change(case_id, who, lambda case, step: case.record_growth_review(step, panel))

    def correct_entry_date(self, case_id: UUID, who: Who, to: date) -> OrganizationCase:
        rules = self.park.rules
        return self._change(
            case_id, who, lambda case, step: case.correct_entry_date(step, to, rules)
        )

    def evaluate_exit(self, case_id: UUID, who: Who, scores: Sequence[str]) -> OrganizationCase:
        panel = Panel.parse(list(scores))
        return self._change(
            case_id,
            who,
            self._releasing(
                lambda case, step, held: case.evaluate_exit(step, panel, self.park.rules, held)
            ),
        )

    def record_follow_up(self, case_id: UUID, who: Who, service: str) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.record_follow_up(step, service))

    def close_case(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.close_case(step, self.park.rules))

    def reject(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(case_id, who, lambda case, step: case.reject(step))

    def withdraw(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(
            case_id, who, self._releasing(lambda case, step, held: case.withdraw(step, held))
        )

    def terminate(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(
            case_id, who, self._releasing(lambda case, step, held: case.terminate(step, held))
        )

    def admit(self, case_id: UUID, who: Who, workspace: str) -> OrganizationCase:
        def decide(case: OrganizationCase, step: Step) -> list[Aggregate]:
            taken = self._workspace(case.site, workspace, step)
            case.admit(step, taken)
            return [taken]

        return self._change(case_id, who, decide)

    def record_service_evaluation(
        self, case_id: UUID, who: Who, scores: Sequence[str]
    ) -> OrganizationCase:
        panel = Panel.parse(list(scores))
        return self._change(
            case_id, who, lambda case, step: case.record_service_evaluation(step, panel)
        )

    def depart(self, case_id: UUID, who: Who) -> OrganizationCase:
        return self._change(
            case_id, who, self._releasing(lambda case, step, held: case.depart(step, held))
        )

    # ---- reading ------------------------------------------------------------------------------

    def case(self, case_id: UUID) -> OrganizationCase:
        try:
            case: Any = self.log.repository.get(case_id)
        except AggregateNotFoundError:
            raise NotFound(f"no organization case with id {case_id}") from None
        if not isinstance(case, OrganizationCase):
            raise NotFound(f"{case_id} is not an organization case")
        return case

    def today(self) -> date:
        return local_today(self.clock, self.park.timezone)

    # ---- load, decide, save -------------------------------------------------------------------

    def _change(self, case_id: UUID, who: Who, decide: Decision) -> OrganizationCase:
        lost_to: list[str] = []
        for _ in range(ATTEMPTS):
            case = self.case(case_id)
            loaded = case.version
            step = self._step(who)
            try:
                others = decide(case, step) or []
            except Refused as refusal:
                if lost_to:
                    raise Conflict(_lost_race(lost_to, refusal)) from refusal
                raise
            try:
                self.log.save(case, *others)
            except IntegrityError:
                lost_to = self._recorded_since(case_id, loaded)
                continue
            return case
        raise Conflict(
            f"the case kept changing while this command was decided "
            f"({'; '.join(lost_to)}); nothing was recorded, try again"
        )

    def _releasing(
        self, decide: Callable[[OrganizationCase, Step, Workspace | None], None]
    ) -> Decision:
        """A decision that may end the case's hold on its workspace, saved with it."""

        def decision(case: OrganizationCase, step: Step) -> list[Aggregate]:
            held = self._held(case)
            decide(case, step, held)
            return [held] if held is not None and held.pending_events else []

        return decision

    def _step(self, who: Who) -> Step:
        if who.actor is None or not who.actor.strip():
            raise Refused("who is acting? give --actor NAME (or set INCUBATOR_ACTOR)")
        today = self.today()
        on = who.on or today
        if on > today:
            raise Refused(
                f"the date {on} is in the future (today is {today}); "
                f"record a step on or after the day it happens"
            )
        reason = who.reason.strip() if who.reason and who.reason.strip() else None
        return Step(actor=who.actor.strip(), on=on, recorded_at=self.clock.now(), reason=reason)

    def _workspace(self, site: str, code: str, step: Step) -> Workspace:
        self.park.workspace(site, code)
        try:
            workspace: Any = self.log.repository.get(Workspace.id_for(site, code))
        except AggregateNotFoundError:
            return Workspace.register(site, code, step)
        assert isinstance(workspace, Workspace)
        return workspace

    def _held(self, case: OrganizationCase) -> Workspace | None:
        if case.workspace is None:
            return None
        workspace: Any = self.log.repository.get(Workspace.id_for(case.site, case.workspace))
        assert isinstance(workspace, Workspace)
        return workspace

    def _recorded_since(self, case_id: UUID, version: int) -> list[str]:
        events = self.log.events.get(case_id, gt=version)
        return [f"{type(e).__name__} by {getattr(e, 'actor', '?')}" for e in events] or [
            "the workspace it asked for was taken by another case"
        ]


def _lost_race(lost_to: list[str], refusal: Refused) -> str:
    return (
        f"another command was recorded at the same moment ({'; '.join(lost_to)}); "
        f"yours was not recorded: {refusal}"
    )
