"""What a database is for: real work, or a rehearsal or a demonstration, where a fixed clock
(INCUBATOR_NOW) may stand in for the real one.

The mark is the first event of the log, written when the database is created for that purpose
(`incubator init --rehearsal` on an empty log, `incubator demo`). It lives in the database, not
in a setting: pointing a database that holds real work at some settings file, or appending a
mark to it later, cannot make it a rehearsal, for its first event is real work. Being an event,
the mark is append-only and hash-chained like every other.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from uuid import NAMESPACE_URL, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from store.log import EventLog

REHEARSAL, DEMONSTRATION = "rehearsal", "demonstration"
PURPOSES = (REHEARSAL, DEMONSTRATION)


class PurposeError(Exception):
    """The database cannot be marked: it holds events already."""


class DatabasePurpose(Aggregate):
    """The one aggregate of the mark; its id is fixed, so a log holds at most one."""

    ID = uuid5(NAMESPACE_URL, "urn:incubator:database-purpose")
    purpose: str

    class Marked(Aggregate.Created):
        purpose: str  # rehearsal or demonstration

        def apply(self, aggregate: DatabasePurpose) -> None:
            aggregate.purpose = self.purpose

    def __init__(self) -> None:
        pass


MARKED_TOPIC = get_topic(DatabasePurpose.Marked)


def purpose_of(log: EventLog) -> str | None:
    """The purpose the log was created for (None: real work): what its first event says."""
    first = log.recorder.select_notifications(start=1, limit=1)
    if not first or first[0].topic != MARKED_TOPIC:
        return None
    purpose = getattr(log.mapper.to_domain_event(first[0]), "purpose", None)
    return purpose if purpose in PURPOSES else None


def mark(log: EventLog, purpose: str, at: datetime) -> None:
    """Mark a new database for `purpose`; nothing to do if it is marked so already."""
    if purpose not in PURPOSES:
        raise ValueError(f"a database is marked for one of {', '.join(PURPOSES)}")
    found = purpose_of(log)
    if found == purpose:
        return
    if found is not None:
        raise PurposeError(f"the database was created for a {found}, not a {purpose}")
    if log.recorder.max_notification_id():
        raise PurposeError(
            f"the database holds events already: a {purpose} needs a new database "
            f"(one that holds real work can never become one)"
        )
    created = DatabasePurpose._create(
        DatabasePurpose.Marked, id=DatabasePurpose.ID, timestamp=at, purpose=purpose
    )
    with suppress(IntegrityError):  # marked meanwhile by another process: as below
        log.save(created)
    if purpose_of(log) != purpose:  # another process's event came first
        raise PurposeError(
            f"another process wrote to the database while it was being marked: a {purpose} "
            f"needs a new database"
        )
