"""Domain errors. Every refusal says what is wrong and what is allowed; nothing is recorded."""

from __future__ import annotations


class Refused(Exception):
    """A command broke a rule; the log is unchanged."""


class WrongStage(Refused):
    """The command does not apply to the case's current stage."""

    def __init__(
        self, command: str, stage: str, allowed: list[str], subject: str = "the case"
    ) -> None:
        self.command, self.stage, self.allowed = command, stage, allowed
        options = ", ".join(allowed) if allowed else f"none: {subject} has ended"
        super().__init__(
            f"cannot {command}: {subject} is in stage '{stage}'; "
            f"commands allowed from '{stage}': {options}"
        )


class NotFound(Refused):
    """No case, branch or workspace with that id."""


class Conflict(Exception):
    """Another command changed the same case at the same moment and ours no longer applies."""
