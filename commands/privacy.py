"""Where a data subject's personal data is (个人信息), as `incubator privacy show` tells it.

The data subject is the contact person of a case, named by the case's id: the park keeps no
identity of people across cases (two cases may name one 张伟, or two different ones). Their
personal data is in the events of the case that name personal fields, sealed under the case's
key (store/personal.py); no read model keeps any of it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import resolve_topic

from lifecycle.organization import OrganizationCase
from store import personal
from store.log import EventLog

SEALED, PLAIN = "sealed", "plain text"
OUTSIDE = (
    "dossiers exported and backups taken before the erasure keep what they held then (a backup "
    "of the database keeps the key): erase or expire them by the same request"
)


def whereabouts(log: EventLog, case: OrganizationCase) -> dict[str, Any]:
    """Where the personal data of the case's data subject appears, and whether it is erased."""
    subject = UUID(str(case.id))
    keys = personal.keys_of(log)
    key = keys.state(subject) if keys is not None else personal.KeyState(None, None)
    events = _events(log, subject)
    erased = case.personal_data_erased
    return {
        "subject": str(subject),
        "organization": case.name,
        "fields": list(OrganizationCase.ApplicationReceived.personal_data),
        "status": "erased" if erased else ("held" if events else "none"),
        "key": {
            "state": "destroyed" if key.erased_at else ("kept" if key.kept else "none"),
            "created_at": _iso(key.created_at),
            "erased_at": _iso(key.erased_at),
        },
        "events": events,
        "erasure": _erasure(log, subject) if erased else None,
        "read_models": [],  # none keeps personal data: lists and reports need none
        "plain_text_events": sum(1 for e in events if e["stored"] == PLAIN),
        "outside": OUTSIDE,
    }


def _events(log: EventLog, subject: UUID) -> list[dict[str, Any]]:
    """The subject's events that hold a personal field, and how each is stored."""
    found = []
    for stored in log.recorder.select_events(subject):
        fields = getattr(resolve_topic(stored.topic), "personal_data", ())
        if not fields:
            continue
        state = log.mapper.transcoder.decode(stored.state)
        for name in fields:
            value = state.get(name)
            if value is None:
                continue
            found.append(
                {
                    "version": stored.originator_version,
                    "type": stored.topic.rsplit(".", 1)[-1],
                    "recorded_at": _iso(state.get("timestamp")),
                    "field": name,
                    "stored": SEALED if isinstance(value, dict) else PLAIN,
                }
            )
    return found


def _erasure(log: EventLog, subject: UUID) -> dict[str, Any] | None:
    for event in log.events.get(subject):
        if isinstance(event, OrganizationCase.PersonalDataErased):
            return {
                "version": event.originator_version,
                "on": event.on.isoformat(),
                "recorded_at": event.timestamp.isoformat(),
                "actor": event.actor,
                "role": event.role,
                "reason": event.reason,
                "fields": list(event.fields),
            }
    return None


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
