"""What every command carries: who does it, on which business date, why, and when it is written.

Each aggregate declares the base of its events (`class Event(Aggregate.Event)`) and derives
every event class from it: without one, the eventsourcing library defines it and copies each
event class into a subclass of it, so every event class is made (as a dataclass) twice when
the aggregate's module is imported, a tenth of a command's start-up. The copies kept the
classes' names, so the events' topics are the same either way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lifecycle.bounds import NAME, NOTE, Text, day
from lifecycle.errors import Refused


@dataclass(frozen=True, kw_only=True)
class Stamped:
    """What every event of a person's step carries besides its date, actor and reason: the role
    the actor acted in (None: a command line without accounts, or a log older than roles), and
    whether the clock stood still (a rehearsal on a database marked for it)."""

    role: str | None = None
    rehearsal: bool = False


@dataclass(frozen=True)
class Step:
    actor: str
    on: date  # the effective business date (--on)
    recorded_at: datetime  # when the event is written, from the injected clock
    reason: str | None = None
    role: str | None = None  # the role the actor is authenticated in
    rehearsal: bool = False  # the clock is fixed (INCUBATOR_NOW on a rehearsal database)

    def __post_init__(self) -> None:
        # The bounds hold for every caller, not only the command line's.
        NAME.check(self.actor, "--actor")
        day(self.on, "--on")
        if self.reason is not None:
            NOTE.check(self.reason, "--reason")

    def stamp(self, **data: Any) -> dict[str, Any]:
        """The keyword arguments of an event of this step (`data` may move its date)."""
        stamped = {
            "timestamp": self.recorded_at,
            "on": self.on,
            "actor": self.actor,
            "role": self.role,
            "rehearsal": self.rehearsal,
        }
        return stamped | data

    def require_reason(self, refusal: str, **params: Any) -> str:
        """The reason, or `Refused(refusal, **params)` (which says what the reason is for)."""
        if not self.reason or not self.reason.strip():
            raise Refused(refusal, field="reason", **params)
        return self.reason.strip()


def require_text(value: str | None, option: str, command: str, bound: Text = NAME) -> str:
    if value is None or not value.strip():
        raise Refused(
            "{command} needs {option} with some text",
            field=option.removeprefix("--").replace("-", "_"),
            command=command,
            option=option,
        )
    return bound.check(value, option)
