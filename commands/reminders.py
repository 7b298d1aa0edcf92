"""Reminders and escalations: found in the due-dates read model, checked against the log,
recorded as events exactly once, and mailed.

Any number of scanners may run at once (two scheduler processes, a manual scan): each reminder's
id is derived from its case, deadline, due date and step, so the log keeps the first and refuses
the rest. Before recording, the scan loads the case to check the deadline is still pending with
that due date: a read model that has not yet seen a met deadline cannot make it remind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from commands.mail import compose
from lifecycle.deadlines import (
    PARTY_KINDS,
    Deadline,
    deadlines_of,
    reminds_instructor,
    responsible,
)
from lifecycle.errors import Refused
from lifecycle.organization import OrganizationCase
from lifecycle.park import Park
from lifecycle.party import PartyIncubation
from lifecycle.project import Project
from lifecycle.reminder import Reminder
from projections.read_models import ReadModels
from schedules.clock import Clock
from schedules.mail import Mailer
from schedules.reminders import Step, due_steps
from store.log import EventLog

log = logging.getLogger("incubator.reminders")
MAIL_PAGE = 200  # reminders a sender takes up at a time


@dataclass(frozen=True)
class Subject:
    """What a deadline belongs to, as the log says now: a case (with its party track), or a
    venture-philanthropy project (its reports), whose organization's caseworker answers."""

    id: UUID
    name: str
    site: str
    deadlines: list[Deadline]
    caseworker: str | None
    instructor: str | None = None

    def pending(self, kind: str) -> Deadline | None:
        """The deadline of `kind` if it is pending (met or ended ones are not)."""
        return next((d for d in self.deadlines if d.kind == kind and d.is_pending), None)


@dataclass(frozen=True)
class Delivery:
    reminder_id: str
    outcome: str  # sent, failed, given_up, withdrawn
    to: str
    detail: str | None = None


class ReminderService:
    def __init__(
        self,
        event_log: EventLog,
        park: Park,
        clock: Clock,
        read_models: ReadModels,
        mailer: Mailer | None = None,
    ) -> None:
        self.log, self.park, self.clock = event_log, park, clock
        self.read_models, self.mailer = read_models, mailer
        self.policy = park.reminders

    # ---- scanning -----------------------------------------------------------------------------

    def scan(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Record every reminder and escalation whose time has come by `now` (default: the
        clock's now) and that is not recorded yet. Returns what this scan recorded."""
        now = self._at_most_now(now)
        self.read_models.catch_up()
        recorded: list[dict[str, Any]] = []
        for row in self.read_models.coming(now):
            planned = self.policy.steps(row["kind"], row["start_on"], row["due_on"])
            if not due_steps(planned, row["last_rank"], now):
                continue  # a settings change moved its steps on: nothing to load the case for
            found = self._current(row)
            if found is None:
                continue
            subject, deadline = found
            steps = self.policy.steps(row["kind"], _start(deadline), deadline.due_on)
            for step in due_steps(steps, row["last_rank"], now):
                reminder = self._reminder(subject, deadline, step, now)
                try:
                    self.log.save(reminder)
                except IntegrityError:
                    continue  # another scanner recorded it first
                recorded.append(reminder_view(reminder))
        if recorded:
            self.read_models.catch_up()
        return recorded

    def preview(self, days: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """What would go out from `now` through the next `days` days, recording nothing. Steps
        whose time has already come are what the next scan records."""
        if days < 0:
            raise Refused("--days must be 0 or more, got {days}", field="days", days=days)
        now = self._at_most_now(now)
        until = now + timedelta(days=days)
        self.read_models.catch_up()
        coming: list[dict[str, Any]] = []
        for row in self.read_models.coming(until):
            steps = self.policy.steps(row["kind"], row["start_on"], row["due_on"])
            late = due_steps(steps, row["last_rank"], now)
            later = [s for s in steps if s.rank > row["last_rank"] and now < s.at <= until]
            answers = responsible(row["kind"], self.policy, row["caseworker"], row["instructor"])
            for step in [*late, *later]:
                coming.append(
                    {
                        "at": self._local(step.at).isoformat(timespec="minutes"),
                        "case_id": row["case_id"],
                        "organization": row["name"],
                        "kind": row["kind"],
                        "due_on": row["due_on"].isoformat(),
                        "step": step.name,
                        "to": self._recipient(step, answers),
                        "due_now": step.at <= now,  # the next scan records it
                    }
                )
        return sorted(coming, key=lambda c: (c["at"], c["organization"], c["kind"]))

    def _current(self, row: dict[str, Any]) -> tuple[Subject, Deadline] | None:
        """What the deadline belongs to, and the deadline, if it is still pending as the row
        says."""
        subject = self._subject(UUID(row["case_id"]), row["kind"])
        deadline = subject.pending(row["kind"]) if subject else None
        if subject is None or deadline is None or deadline.due_on != row["due_on"]:
            return None  # met, ended or moved since the read model saw it: it will catch up
        return subject, deadline

    def _subject(self, subject_id: UUID, kind: str) -> Subject | None:
        """The case (with its party track) or the project whose deadline of `kind` it is."""
        found = self._find(subject_id)
        if isinstance(found, Project):
            org = self._find(found.org_id)
            return Subject(
                subject_id,
                found.label,
                found.org_site,
                found.deadlines(self.park.rules, found.last_on),
                org.caseworker if isinstance(org, OrganizationCase) else None,
            )
        if not isinstance(found, OrganizationCase):
            return None
        party = self._party_for(kind, subject_id)
        if kind in PARTY_KINDS and party is None:
            return None
        return Subject(
            subject_id,
            found.name,
            found.site,
            deadlines_of(found, self.park.rules, found.last_on, party),
            found.caseworker,
            party.instructor if party else None,
        )

    def _party_for(self, kind: str, case_id: UUID) -> PartyIncubation | None:
        """The case's party track, when the deadline is its or its instructor is the one
        reminded."""
        if kind not in PARTY_KINDS and not reminds_instructor(kind, self.policy):
            return None
        track = self._find(PartyIncubation.id_for(case_id))
        return track if isinstance(track, PartyIncubation) else None

    def _reminder(
        self, subject: Subject, deadline: Deadline, step: Step, now: datetime
    ) -> Reminder:
        answers = responsible(deadline.kind, self.policy, subject.caseworker, subject.instructor)
        return Reminder.issue(
            case_id=subject.id,
            organization=subject.name,
            site=subject.site,
            kind=deadline.kind,
            due_on=deadline.due_on,
            step=step.name,
            level=step.level,
            scheduled_at=step.at,
            recipient=self._recipient(step, answers),
            responsible=answers,
            on=self._local(now).date(),
            recorded_at=self.clock.now(),
            rehearsal=self.clock.fixed,
        )

    def _recipient(self, step: Step, responsible: str | None) -> str:
        if step.is_escalation or responsible is None:
            return self.policy.director
        return responsible

    # ---- mailing ------------------------------------------------------------------------------

    def deliver(self) -> list[Delivery]:
        """Mail every reminder that is ready: waiting, due for a retry, or claimed by a sender
        that never said how it went. Each outcome is recorded on the reminder."""
        if self.mailer is None:
            return []
        self.read_models.catch_up()
        done: list[Delivery] = []
        while True:  # a page at a time; what a page settled is no longer ready after catching up
            ready = self.read_models.outbox_ready(self.clock.now(), MAIL_PAGE)
            settled = [o for o in map(self._deliver, ready) if o is not None]
            done += settled
            if settled:
                self.read_models.catch_up()
            if len(ready) < MAIL_PAGE or not settled:
                return done

    def _deliver(self, reminder_id: str) -> Delivery | None:
        now = self.clock.now()
        reminder = self._find(UUID(reminder_id))
        if not isinstance(reminder, Reminder):
            return None
        if not reminder.may_send(now, timedelta(minutes=self.policy.claim_minutes)):
            return None
        why_not = self._stale(reminder)
        if why_not is not None:
            reminder.withdraw(why_not, now, self.clock.fixed)
            return self._outcome(reminder, "withdrawn", "")
        address = self.policy.addresses.get(reminder.recipient)
        reminder.claim(address or "", now, self.clock.fixed)
        try:
            self.log.save(reminder)  # the claim: a second sender loses here
        except IntegrityError:
            return None
        error = self._send(reminder, address, now)
        if error is None:
            reminder.delivered(address or "", self.clock.now(), self.clock.fixed)
            return self._outcome(reminder, "sent", address or "")
        reminder.failed(error, self.clock.now(), self.policy.retry_minutes, self.clock.fixed)
        return self._outcome(reminder, reminder.delivery, address or "", error)

    def _send(self, reminder: Reminder, address: str | None, now: datetime) -> str | None:
        """Mail the reminder; the error if it could not be."""
        assert self.mailer is not None
        if address is None:
            return f"no mail address for {reminder.recipient}: add it under [people] in settings"
        message = compose(reminder, self.park, address, self._local(now).date())
        try:
            self.mailer.send(message)
        except Exception as e:  # the server's refusal, a network error: recorded, retried
            log.warning("mail of reminder %s to %s failed: %s", reminder.id, address, e)
            return f"{type(e).__name__}: {e}"
        return None

    def _outcome(
        self, reminder: Reminder, outcome: str, to: str, detail: str | None = None
    ) -> Delivery | None:
        try:
            self.log.save(reminder)
        except IntegrityError:
            return None  # another sender recorded first (after our claim had lapsed)
        return Delivery(str(reminder.id), outcome, to, detail)

    def _stale(self, reminder: Reminder) -> str | None:
        """Why the reminder is no longer worth a mail, if it is not."""
        if not self._still_pending(reminder):
            return "its deadline was met, moved or ended before the mail went out"
        later = self._later_step(reminder)
        if later is not None:  # recorded late, or while mail was off: only the latest goes out
            return f"a later step of the same deadline ({later}) was recorded"
        return None

    def _later_step(self, reminder: Reminder) -> str | None:
        """A later reminder (for a reminder) or escalation (for an escalation) of the same
        deadline, if one was recorded: the caseworker and the director each get the latest."""
        mine = _order(reminder.step)
        for row in self.read_models.reminders_of(str(reminder.case_id)):
            same = (row["kind"], row["due_on"]) == (reminder.kind, reminder.due_on)
            theirs = _order(row["step"])
            if same and theirs[0] == mine[0] and theirs[1] > mine[1]:
                return str(row["step"])
        return None

    def _still_pending(self, reminder: Reminder) -> bool:
        subject = self._subject(reminder.case_id, reminder.kind)
        deadline = subject.pending(reminder.kind) if subject else None
        return deadline is not None and deadline.due_on == reminder.due_on

    # ---- shared -------------------------------------------------------------------------------

    def tick(self) -> tuple[list[dict[str, Any]], list[Delivery]]:
        """One scheduler tick: scan, then mail what is ready."""
        return self.scan(), self.deliver()

    def _find(self, aggregate_id: UUID) -> Any:
        try:
            return self.log.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.park.timezone))

    def _at_most_now(self, now: datetime | None) -> datetime:
        real = self.clock.now()
        if now is None:
            return real
        if now.tzinfo is None:
            now = now.replace(tzinfo=ZoneInfo(self.park.timezone))
        if now > real:
            raise Refused(
                "--now {now} is in the future (it is {real} now): a scan records only what has "
                "come due; `incubator reminders preview --days N` shows what is coming",
                field="now",
                now=f"{self._local(now):%Y-%m-%dT%H:%M}",
                real=f"{self._local(real):%Y-%m-%dT%H:%M}",
            )
        return now.astimezone(UTC)


def _order(step: str) -> tuple[str, int]:
    """A step's sort and its place among its sort: remind-7 → (remind, -7), escalate-2 →
    (escalate, 2); later steps have higher places."""
    name, _, number = step.partition("-")
    place = int(number) if number.isdigit() else 0
    return name, -place if name == "remind" else place


def _start(deadline: Deadline) -> date:
    assert deadline.start_on is not None  # every deadline the clocks derive has its start
    return deadline.start_on


def reminder_view(reminder: Reminder) -> dict[str, Any]:
    return {
        "id": str(reminder.id),
        "type": "DeadlineEscalated" if reminder.level else "ReminderIssued",
        "case_id": str(reminder.case_id),
        "organization": reminder.organization,
        "kind": reminder.kind,
        "due_on": reminder.due_on.isoformat(),
        "step": reminder.step,
        "to": reminder.recipient,
        "responsible": reminder.responsible,
    }
