"""What every command carries: who does it, on which business date, why, and when it is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lifecycle.bounds import NAME, NOTE, Text, day
from lifecycle.errors import Refused


@dataclass(frozen=True)
class Step:
    actor: str
    on: date  # the effective business date (--on)
    recorded_at: datetime  # when the event is written, from the injected clock
    reason: str | None = None

    def __post_init__(self) -> None:
        # The bounds hold for every caller, not only the command line's.
        NAME.check(self.actor, "--actor")
        day(self.on, "--on")
        if self.reason is not None:
            NOTE.check(self.reason, "--reason")

    def require_reason(self, command: str, why: str = "") -> str:
        if not self.reason or not self.reason.strip():
            raise Refused(f"{command} needs --reason{why}")
        return self.reason.strip()


def require_text(value: str | None, option: str, command: str, bound: Text = NAME) -> str:
    if value is None or not value.strip():
        raise Refused(f"{command} needs {option} with some text")
    return bound.check(value, option)
