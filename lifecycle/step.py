"""What every command carries: who does it, on which business date, why, and when it is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lifecycle.errors import Refused


@dataclass(frozen=True)
class Step:
    actor: str
    on: date  # the effective business date (--on)
    recorded_at: datetime  # when the event is written, from the injected clock
    reason: str | None = None

    def require_reason(self, command: str, why: str = "") -> str:
        if not self.reason or not self.reason.strip():
            raise Refused(f"{command} needs --reason{why}")
        return self.reason.strip()


def require_text(value: str | None, option: str, command: str) -> str:
    if value is None or not value.strip():
        raise Refused(f"{command} needs {option} with some text")
    return value.strip()
