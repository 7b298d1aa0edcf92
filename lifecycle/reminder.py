"""A reminder or an escalation of one deadline, and the mail that carries it.

Its id is derived from the case, the deadline's kind, its due date and the step ("remind-7",
"escalate-2"), so any number of scanners, retries and restarts record each one exactly once: a
second `ReminderIssued` of the same step is a second version 1 of one aggregate, which the log
refuses. A moved due date is a different deadline, with reminders of its own.

Delivery is recorded on the same aggregate: a sender first claims the mail (`DeliveryClaimed`, so
two senders never both mail it), then records `Delivered` or `DeliveryFailed`. A claim that is
never answered (the sender died) may be claimed again after a while; every attempt carries the same
Message-ID, so a mail sent just before a crash and sent again is recognisably one message.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from lifecycle.delivery import CLAIMED, FAILED, GIVEN_UP, SENT, WAITING, WITHDRAWN
from lifecycle.step import Stamped

REMINDER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:incubator:reminder")
SYSTEM = "system"


class Reminder(Aggregate):
    case_id: UUID
    organization: str
    kind: str
    due_on: date
    step: str
    level: int  # 0 for a reminder, 1.. for an escalation
    recipient: str
    responsible: str | None
    issued_at: datetime
    delivery: str
    attempts: int
    claimed_at: datetime | None
    retry_at: datetime | None

    class Event(Aggregate.Event):
        """The base of its events (lifecycle/step.py: why each aggregate declares one)."""

    class Issued(Aggregate.Created, Event, Stamped):
        on: date  # the business day it went out
        actor: str
        case_id: UUID
        organization: str
        site: str
        kind: str
        due_on: date
        step: str
        level: int
        scheduled_at: datetime  # from when it was to go out (a late scan records it later)
        recipient: str  # who is to act: the caseworker or instructor; the director when escalated
        responsible: str | None  # the caseworker or instructor in charge, if any

        def apply(self, reminder: Reminder) -> None:
            reminder.case_id, reminder.organization = self.case_id, self.organization
            reminder.kind, reminder.due_on, reminder.step = self.kind, self.due_on, self.step
            reminder.level, reminder.recipient = self.level, self.recipient
            reminder.responsible, reminder.issued_at = self.responsible, self.timestamp
            reminder.delivery, reminder.attempts = WAITING, 0
            reminder.claimed_at = reminder.retry_at = None

    class ReminderIssued(Issued):
        pass

    class DeadlineEscalated(Issued):
        pass

    class DeliveryClaimed(Event, Stamped):
        attempt: int
        message_id: str
        to: str

        def apply(self, reminder: Reminder) -> None:
            reminder.delivery, reminder.attempts = CLAIMED, self.attempt
            reminder.claimed_at = self.timestamp

    class Delivered(Event, Stamped):
        attempt: int
        message_id: str
        to: str

        def apply(self, reminder: Reminder) -> None:
            reminder.delivery, reminder.retry_at = SENT, None

    class DeliveryFailed(Event, Stamped):
        attempt: int
        error: str
        retry_at: datetime | None  # None: given up

        def apply(self, reminder: Reminder) -> None:
            reminder.delivery = FAILED if self.retry_at is not None else GIVEN_UP
            reminder.retry_at = self.retry_at

    class DeliveryWithdrawn(Event, Stamped):
        """Not mailed: its deadline was met, moved or ended before the mail went out."""

        why: str

        def apply(self, reminder: Reminder) -> None:
            reminder.delivery, reminder.retry_at = WITHDRAWN, None

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(case_id: UUID, kind: str, due_on: date, step: str) -> UUID:
        return uuid5(REMINDER_NAMESPACE, f"{case_id}/{kind}/{due_on.isoformat()}/{step}")

    @classmethod
    def issue(
        cls,
        *,
        case_id: UUID,
        organization: str,
        site: str,
        kind: str,
        due_on: date,
        step: str,
        level: int,
        scheduled_at: datetime,
        recipient: str,
        responsible: str | None,
        on: date,
        recorded_at: datetime,
        rehearsal: bool = False,
    ) -> Reminder:
        return cls._create(
            cls.DeadlineEscalated if level else cls.ReminderIssued,
            id=cls.id_for(case_id, kind, due_on, step),
            timestamp=recorded_at,
            rehearsal=rehearsal,
            on=on,
            actor=SYSTEM,
            case_id=case_id,
            organization=organization,
            site=site,
            kind=kind,
            due_on=due_on,
            step=step,
            level=level,
            scheduled_at=scheduled_at,
            recipient=recipient,
            responsible=responsible,
        )

    # ---- delivery -----------------------------------------------------------------------------

    @property
    def message_id(self) -> str:
        return f"<{self.id}@incubator.reminders>"

    def may_send(self, now: datetime, claim_for: timedelta) -> bool:
        """Whether a sender may claim the mail now: never once sent, withdrawn or given up."""
        if self.delivery == WAITING:
            return True
        if self.delivery == FAILED:
            return self.retry_at is None or self.retry_at <= now
        if self.delivery == CLAIMED:
            return self.claimed_at is None or self.claimed_at + claim_for <= now
        return False

    def claim(self, to: str, now: datetime, rehearsal: bool = False) -> None:
        self.trigger_event(
            self.DeliveryClaimed,
            timestamp=now,
            rehearsal=rehearsal,
            attempt=self.attempts + 1,
            message_id=self.message_id,
            to=to,
        )

    def delivered(self, to: str, now: datetime, rehearsal: bool = False) -> None:
        self.trigger_event(
            self.Delivered,
            timestamp=now,
            rehearsal=rehearsal,
            attempt=self.attempts,
            message_id=self.message_id,
            to=to,
        )

    def failed(
        self, error: str, now: datetime, retry_minutes: tuple[int, ...], rehearsal: bool = False
    ) -> None:
        waits = retry_minutes[self.attempts - 1] if self.attempts <= len(retry_minutes) else None
        retry_at = now + timedelta(minutes=waits) if waits is not None else None
        self.trigger_event(
            self.DeliveryFailed,
            timestamp=now,
            rehearsal=rehearsal,
            attempt=self.attempts,
            error=error,
            retry_at=retry_at,
        )

    def withdraw(self, why: str, now: datetime, rehearsal: bool = False) -> None:
        self.trigger_event(self.DeliveryWithdrawn, timestamp=now, rehearsal=rehearsal, why=why)
