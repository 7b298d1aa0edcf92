"""What was true, and what was known, at a date: a case replayed from its own events.

- `as_of` (a business date): the events effective on or before that day, with what the system
  knows now. A corrected entry date is a fact about the past: the entry counts from the corrected
  day, so a case entered on 10 February and later corrected to 31 January was in the shell on
  5 February.
- `known_on` (a moment): only the events recorded by then, as the system saw them then; a
  correction recorded later does not show.
Both may be given: what was known at that moment about that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import takewhile
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import CanMutateProtocol
from eventsourcing.utils import get_topic

from lifecycle.organization import OrganizationCase as Case
from lifecycle.party import PartyIncubation as Track
from store.log import EventLog

# The events that start a period, and the corrections that move where it starts.
ENTRY_EVENTS = (Case.EntryApproved, Case.ResidentAdmitted, Track.Started)
CORRECTIONS = {Case.EntryDateCorrected: "entered_on", Track.StartCorrected: "started_on"}
BATCH = 5000


def replay(
    events: Iterable[Any], as_of: date | None = None, known_on: datetime | None = None
) -> Any:
    """A case (or a party track) from its events, oldest first, as of a business day and/or as
    known at a moment; None if it did not exist by then."""
    # What had been recorded by then: the events up to the first one written later. (Under a
    # clock that stood still, a rehearsal's, a step may say it was written after the next one.)
    known = list(events)
    if known_on is not None:
        known = list(takewhile(lambda e: e.timestamp <= known_on, known))
    corrected = [getattr(e, CORRECTIONS[type(e)]) for e in known if type(e) in CORRECTIONS]
    aggregate: Any = None
    for event in known:
        if as_of is not None and _effective(event, corrected) > as_of:
            continue
        aggregate = cast(CanMutateProtocol[Any], event).mutate(aggregate)
    return aggregate


def _effective(event: Any, corrected: list[date]) -> date:
    """The day an event took effect: its business date; for the entry (or a party track's
    start), the corrected date if there is one; a correction takes effect with what it
    corrects. An event without a business date (a record of the system's) counts from the day
    it was written."""
    if isinstance(event, ENTRY_EVENTS) and corrected:
        return corrected[-1]
    if type(event) in CORRECTIONS:
        day: date = getattr(event, CORRECTIONS[type(event)])
        return day
    on = getattr(event, "on", None)
    return on if isinstance(on, date) else event.timestamp.date()


def case_as_of(
    log: EventLog, case_id: UUID, as_of: date | None, known_on: datetime | None
) -> tuple[Case | None, Track | None]:
    """The case and its party track as they stood."""
    case = replay(log.events.get(case_id), as_of, known_on)
    track = replay(log.events.get(Track.id_for(case_id)), as_of, known_on)
    return case, track


def caseload_as_of(
    log: EventLog, as_of: date | None, known_on: datetime | None = None
) -> list[dict[str, Any]]:
    """Every case that had applied by then, as it stood: one pass over the log."""
    events: dict[UUID, list[Any]] = defaultdict(list)
    for event in _case_events(log):
        events[event.originator_id].append(event)
    rows = []
    for case_id, own in events.items():
        case = replay(own, as_of, known_on)
        if case is not None:
            rows.append(_row(case_id, case))
    return sorted(rows, key=lambda r: (r["applied_on"], r["name"], r["id"]))


def _case_events(log: EventLog) -> Iterator[Any]:
    topics = [
        get_topic(cls)
        for cls in vars(Case).values()
        if isinstance(cls, type)
        and issubclass(cls, Case.Event)
        and cls.__module__ == Case.__module__
    ]
    position = 0
    while True:
        batch = log.recorder.select_notifications(
            start=position, limit=BATCH, inclusive_of_start=False, topics=topics
        )
        if not batch:
            return
        for notification in batch:
            yield log.mapper.to_domain_event(notification)
        position = batch[-1].id


def _row(case_id: UUID, case: Case) -> dict[str, Any]:
    return {
        "id": str(case_id),
        "name": case.name,
        "track": case.track,
        "field": case.field,
        "legal_status": case.legal_status,
        "site": case.site,
        "stage": case.stage,
        "workspace": case.workspace,
        "caseworker": case.caseworker,
        "applied_on": case.applied_on,
        "entered_on": case.entered_on,
    }
