"""A workspace (office, desk) at a site: held by at most one organization at a time.

Each workspace is its own small aggregate with an id derived from its site and code, saved in the
same transaction as the case that takes it; two approvals racing for it write the same version and
the log's optimistic concurrency lets exactly one of them in.
"""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from lifecycle.errors import Refused
from lifecycle.step import Stamped, Step

WORKSPACE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:workspace")


class WorkspaceTaken(Refused):
    pass


class Workspace(Aggregate):
    site: str
    code: str
    holder: UUID | None
    holder_name: str | None
    held_since: date | None
    released_on: date | None  # when the last holder left: the next may enter from that day

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Registered(Aggregate.Created, Event, Stamped):
        site: str
        code: str

        def apply(self, ws: Workspace) -> None:
            ws.site, ws.code = self.site, self.code
            ws.holder = ws.holder_name = ws.held_since = ws.released_on = None

    class Allocated(Event, Stamped):
        case_id: UUID
        case_name: str
        on: date
        actor: str

        def apply(self, ws: Workspace) -> None:
            ws.holder, ws.holder_name, ws.held_since = self.case_id, self.case_name, self.on

    class Released(Event, Stamped):
        case_id: UUID
        on: date
        actor: str

        def apply(self, ws: Workspace) -> None:
            ws.holder = ws.holder_name = ws.held_since = None
            ws.released_on = self.on

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(site: str, code: str) -> UUID:
        return uuid5(WORKSPACE_NAMESPACE, f"{site}/{code}")

    @classmethod
    def register(cls, site: str, code: str, step: Step) -> Workspace:
        return cls._create(
            cls.Registered,
            id=cls.id_for(site, code),
            timestamp=step.recorded_at,
            role=step.role,
            rehearsal=step.rehearsal,
            site=site,
            code=code,
        )

    def allocate(self, case_id: UUID, case_name: str, step: Step) -> None:
        if self.holder is not None and self.holder != case_id:
            raise WorkspaceTaken(
                "workspace '{code}' at site '{site}' is held by {holder} "
                "({holder_id}) since {since}; choose a free workspace",
                field="workspace",
                code=self.code,
                site=self.site,
                holder=self.holder_name,
                holder_id=self.holder,
                since=self.held_since,
            )
        if self.holder is None and self.released_on is not None and step.on < self.released_on:
            raise WorkspaceTaken(
                "workspace '{code}' at site '{site}' was held until "
                "{released_on}; it can be taken from that day on, not on {on}",
                field="workspace",
                code=self.code,
                site=self.site,
                released_on=self.released_on,
                on=step.on,
            )
        self.trigger_event(
            self.Allocated,
            **step.stamp(),
            case_id=case_id,
            case_name=case_name,
        )

    def release(self, case_id: UUID, step: Step) -> None:
        if self.holder != case_id:
            return  # not ours to release (already released)
        self.trigger_event(
            self.Released,
            **step.stamp(),
            case_id=case_id,
        )
