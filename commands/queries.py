"""What a case is now and what happened to it, read from the log (never written)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from commands.log import EventLog, event_data
from lifecycle.organization import STEP_FIELDS, OrganizationCase
from lifecycle.park import Park
from schedules.deadlines import deadlines_of

SYSTEM_ACTOR = "system"  # what the system does by itself (reminders, automatic starts)


def case_view(case: OrganizationCase, park: Park, today: date) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "name": case.name,
        "track": case.track,
        "stage": case.stage,
        "site": case.site,
        "workspace": case.workspace,
        "field": case.field,
        "field_name": park.fields.get(case.field, case.field),
        "legal_status": case.legal_status,
        "caseworker": case.caseworker,
        "contact": case.contact,
        "party_members": case.party_members,
        "applied_on": case.applied_on.isoformat(),
        "entered_on": case.entered_on.isoformat() if case.entered_on else None,
        "growth_reviews": len(case.growth_reviews),
        "deadlines": [d.as_json() for d in deadlines_of(case, park.rules, today)],
        "allowed_commands": case.allowed_commands(),
        "version": case.version,
    }


def history(log: EventLog, case_id: UUID) -> list[dict[str, Any]]:
    """The case's events, oldest first."""
    return [
        {
            "version": event.originator_version,
            "type": type(event).__name__,
            "on": event.on.isoformat(),
            "recorded_at": event.timestamp.isoformat(),
            "actor": getattr(event, "actor", SYSTEM_ACTOR),
            "reason": getattr(event, "reason", None),
            "data": event_data(event, skip=STEP_FIELDS),
        }
        for event in _events(log, case_id)
    ]


def _events(log: EventLog, case_id: UUID) -> list[Any]:
    return list(log.events.get(case_id))
