"""A joint party branch (联合党支部) of one site: organizations with 1–2 formal party members each
join it; it is constituted while its members together have at least 3 (a branch of any kind needs
3 formal members). Its id comes from its site and name, so a name is unique at a site.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from lifecycle.errors import Refused
from lifecycle.step import Stamped, Step, require_text

BRANCH_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:joint-branch")
BRANCH_MINIMUM = 3  # formal members a branch of any kind needs


class JointBranch(Aggregate):
    """A joint party branch (联合党支部) of one site; its id comes from its site and name."""

    site: str
    name: str
    opened_on: date
    members: dict[str, int]  # organization case id -> its formal party members
    member_names: dict[str, str]
    constituted_on: date | None

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Created(Aggregate.Created, Event, Stamped):
        site: str
        name: str
        on: date
        actor: str
        reason: str | None = None

        def apply(self, branch: JointBranch) -> None:
            branch.site, branch.name, branch.opened_on = self.site, self.name, self.on
            branch.members, branch.member_names, branch.constituted_on = {}, {}, None

    class MemberJoined(Event, Stamped):
        case_id: UUID
        org_name: str
        formal: int
        on: date
        actor: str

        def apply(self, branch: JointBranch) -> None:
            key = str(self.case_id)
            branch.members = {**branch.members, key: self.formal}
            branch.member_names = {**branch.member_names, key: self.org_name}

    class MemberRecounted(Event, Stamped):
        case_id: UUID
        formal: int
        on: date
        actor: str

        def apply(self, branch: JointBranch) -> None:
            branch.members = {**branch.members, str(self.case_id): self.formal}

    class MemberLeft(Event, Stamped):
        case_id: UUID
        on: date
        actor: str
        why: str

        def apply(self, branch: JointBranch) -> None:
            key = str(self.case_id)
            branch.members = {k: v for k, v in branch.members.items() if k != key}
            branch.member_names = {k: v for k, v in branch.member_names.items() if k != key}

    class Constituted(Event, Stamped):
        """Its member organizations together reached the 3 formal members a branch needs."""

        formal: int
        on: date

        def apply(self, branch: JointBranch) -> None:
            branch.constituted_on = self.on

    class FellBelowMinimum(Event, Stamped):
        """A member left or has fewer members: together they no longer make a branch."""

        formal: int
        on: date

        def apply(self, branch: JointBranch) -> None:
            branch.constituted_on = None

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(site: str, name: str) -> UUID:
        return uuid5(BRANCH_NAMESPACE, f"{site}/{name.strip()}")

    @classmethod
    def create(cls, site: str, name: str, step: Step) -> JointBranch:
        name = require_text(name, "--name", "joint-branch create")
        return cls._create(
            cls.Created,
            id=cls.id_for(site, name),
            **step.stamp(reason=step.reason),
            site=site,
            name=name,
        )

    @property
    def formal_total(self) -> int:
        return sum(self.members.values())

    @property
    def constituted(self) -> bool:
        return self.constituted_on is not None

    def admit(self, case_id: UUID, org_name: str, formal: int, step: Step) -> None:
        if str(case_id) in self.members:
            raise Refused(
                "{org} is already a member of joint branch '{branch}'",
                field="branch",
                org=org_name,
                branch=self.name,
            )
        if step.on < self.opened_on:
            raise Refused(
                "joint branch '{branch}' was created on {opened_on}; {on} is before that",
                field="on",
                branch=self.name,
                opened_on=self.opened_on,
                on=step.on,
            )
        self._at(step, self.MemberJoined, case_id=case_id, org_name=org_name, formal=formal)

    def recount(self, case_id: UUID, formal: int, step: Step) -> None:
        if self.members.get(str(case_id)) != formal:
            self._at(step, self.MemberRecounted, case_id=case_id, formal=formal)

    def leave(self, case_id: UUID, step: Step, why: str) -> None:
        if str(case_id) in self.members:
            self._at(step, self.MemberLeft, case_id=case_id, why=why)

    def _at(self, step: Step, event: type[Aggregate.Event], **data: Any) -> None:
        before = self.formal_total
        self.trigger_event(event, **step.stamp(**data))
        after = self.formal_total
        if before < BRANCH_MINIMUM <= after:
            self.trigger_event(self.Constituted, **self._system(step), formal=after)
        elif after < BRANCH_MINIMUM <= before:
            self.trigger_event(self.FellBelowMinimum, **self._system(step), formal=after)

    @staticmethod
    def _system(step: Step) -> dict[str, Any]:
        """What an event that follows from a step carries of it (no actor, no reason)."""
        return {
            "timestamp": step.recorded_at,
            "on": step.on,
            "role": step.role,
            "rehearsal": step.rehearsal,
        }
