"""Time is injected: domain code asks a clock, never the wall."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    # True for a clock that stands still: what it writes is a rehearsal's (events say so).
    @property
    def fixed(self) -> bool: ...

    def now(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    fixed = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests and replays: it stands still."""

    fixed = True

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at.astimezone(UTC)


def local_today(clock: Clock, timezone: str) -> date:
    """Today's date in the park's timezone (Asia/Shanghai by default)."""
    return clock.now().astimezone(ZoneInfo(timezone)).date()
