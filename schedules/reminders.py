"""When the reminders and escalations of a deadline go out: the policy and its schedule.

For every kind of deadline the policy says how many days before the due date reminders go out
(30, 7 and 1 by default), who receives them, and when a missed deadline escalates to the director
(1 day after, then every 7 days, at most 4 steps). A day's reminders go out from 08:00 local time.
A reminder that would fall on a day off goes out on the working day before, an escalation on the
working day after (schedules/workdays.py). A reminder that would fall before the deadline's clock
started (a 30-day reminder of a 14-day clock) is not sent.

Each step has a name ("remind-30", "escalate-2") and a rank, its place in time order: a scan
records the steps whose time has come and whose rank is above the last one recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schedules.workdays import WorkingDays

CASEWORKER, INSTRUCTOR = "caseworker", "instructor"
RECIPIENTS = (CASEWORKER, INSTRUCTOR)


@dataclass(frozen=True)
class DeadlinePolicy:
    remind_days_before: tuple[int, ...] = (30, 7, 1)
    recipient: str | None = None  # None: who answers for the clock (lifecycle/deadlines.py)
    escalate_after_days: int = 1
    escalate_every_days: int = 7
    escalation_steps: int = 4


DEFAULT_POLICY = DeadlinePolicy()


@dataclass(frozen=True)
class Step:
    name: str  # remind-30, escalate-2
    rank: int  # its place in time order among the deadline's steps
    level: int  # 0 for a reminder, 1.. for an escalation
    day: date  # the local working day it goes out
    at: datetime  # from when it goes out (UTC)

    @property
    def is_escalation(self) -> bool:
        return self.level > 0

    @property
    def epoch(self) -> int:
        return int(self.at.timestamp())


@dataclass(frozen=True)
class ReminderPolicy:
    timezone: str = "Asia/Shanghai"
    send_at: time = time(8, 0)
    official_calendar: bool = True
    director: str = "园区主任"
    scan_interval_seconds: int = 300
    retry_minutes: tuple[int, ...] = (1, 5, 30, 120, 360)  # then the mail is given up
    claim_minutes: int = 10  # a sender that said nothing for this long is taken to have died
    deadlines: dict[str, DeadlinePolicy] = field(default_factory=dict)  # by deadline kind
    addresses: dict[str, str] = field(default_factory=dict)  # person -> mail address
    days: WorkingDays = field(default_factory=WorkingDays, compare=False, repr=False)
    _known: dict[tuple[str, date, date], tuple[Step, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def of(self, kind: str) -> DeadlinePolicy:
        return self.deadlines.get(kind) or DEFAULT_POLICY

    def local(self, day: date) -> datetime:
        """From when a step of `day` goes out, in UTC."""
        return datetime.combine(day, self.send_at, ZoneInfo(self.timezone)).astimezone(UTC)

    def steps(self, kind: str, start_on: date, due_on: date) -> tuple[Step, ...]:
        """Every reminder and escalation of one deadline, in time order."""
        key = (kind, start_on, due_on)
        if key not in self._known:
            if len(self._known) > 50_000:
                self._known.clear()
            self._known[key] = self._plan(kind, start_on, due_on)
        return self._known[key]

    def _plan(self, kind: str, start_on: date, due_on: date) -> tuple[Step, ...]:
        policy = self.of(kind)
        planned: list[tuple[date, int, str, int]] = []
        for before in sorted(set(policy.remind_days_before), reverse=True):
            nominal = due_on - timedelta(days=before)
            day = self.days.on_or_before(nominal)
            if nominal <= start_on or day < start_on:
                continue  # not before, nor on, the day the clock started
            planned.append((day, 0, f"remind-{before}", -before))
        for level in range(1, policy.escalation_steps + 1):
            nominal = due_on + timedelta(
                days=policy.escalate_after_days + (level - 1) * policy.escalate_every_days
            )
            planned.append((self.days.on_or_after(nominal), level, f"escalate-{level}", level))
        planned.sort(key=lambda p: (p[0], p[1] > 0, p[3]))
        return tuple(
            Step(name=name, rank=rank, level=level, day=day, at=self.local(day))
            for rank, (day, level, name, _) in enumerate(planned, start=1)
        )


def due_steps(steps: Sequence[Step], after_rank: int, now: datetime) -> list[Step]:
    """What a scan at `now` records: every reminder whose time has come and that ranks above
    the last recorded step, and of the escalations that have come only the latest."""
    come = [s for s in steps if s.rank > after_rank and s.at <= now]
    reminders = [s for s in come if not s.is_escalation]
    escalations = [s for s in come if s.is_escalation]
    return reminders + escalations[-1:]


def next_step(steps: Sequence[Step], after_rank: int) -> Step | None:
    return next((s for s in steps if s.rank > after_rank), None)


def rank_of(steps: Sequence[Step], name: str) -> int | None:
    return next((s.rank for s in steps if s.name == name), None)
