"""The baseline every ratio is measured against: an application written directly on the
eventsourcing library, with its own module for the backend, recording the events an
organization case records (the same names and fields), with no rules of ours."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder

from benchmarks.common import POSTGRES_URL
from store.database import parse_database_url
from store.log import DateAsISO

APPLICATION: dict[str, Any] = {
    "field": "charity",
    "legal_status": "registered",
    "track": "incubation",
    "site": "main",
    "contact": "负责人 13800000000",
    "party_members": 2,
}


class RawCase(Aggregate):
    """The library's plain aggregate: an application, an inspection start, site visits."""

    @event("ApplicationReceived")
    def __init__(
        self,
        on: date,
        actor: str,
        reason: str | None,
        role: str | None,
        rehearsal: bool,
        name: str,
        field: str,
        legal_status: str,
        track: str,
        site: str,
        contact: str | None,
        party_members: int | None,
    ) -> None:
        self.name, self.stage, self.last_on = name, "applied", on
        self.field, self.legal_status, self.track, self.site = field, legal_status, track, site
        self.contact, self.party_members = contact, party_members

    @event("InspectionStarted")
    def start_inspection(
        self,
        on: date,
        actor: str,
        reason: str | None,
        stage: str,
        role: str | None = None,
        rehearsal: bool = False,
    ) -> None:
        self.stage, self.last_on = stage, on

    @event("SiteVisitRecorded")
    def record_visit(
        self,
        on: date,
        actor: str,
        reason: str | None,
        note: str,
        role: str | None = None,
        rehearsal: bool = False,
    ) -> None:
        self.last_on = on


def new_raw_case(name: str, actor: str, on: date) -> RawCase:
    return RawCase(
        on=on, actor=actor, reason=None, role=None, rehearsal=False, name=name, **APPLICATION
    )


class RawLog(Application[UUID]):
    name = "RawLog"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def raw_env(url: str) -> dict[str, str]:
    """The library's settings for `url`: the very ones our event log gets (pool included)."""
    return dict(parse_database_url(url).event_store_env)


def open_raw_log(url: str, *, create: bool = True) -> RawLog:
    """The baseline's log at `url` (on PostgreSQL, in the URL's schema, created if missing)."""
    env = raw_env(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres" and create:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{env["POSTGRES_SCHEMA"]}"')
    return RawLog(env=env if create else env | {"CREATE_TABLE": "no"})
