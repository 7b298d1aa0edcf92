"""Domain errors. Every refusal says what is wrong and what is allowed; nothing is recorded.

A refusal keeps its message as a template and its values apart (`Refused("the date {on} is
before ...", on=day)`), so that each adapter can say it in its own language: the command line
prints the English; the web translates the template with its catalog (web/locales) and shows
the values as its language writes them. `field` names the parameter the refusal concerns, for a
form to show the message beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Term(str):
    """A word of the domain given as a refusal's value ("the exit evaluation"): translated like
    a template where the refusal is shown in another language."""


class Said(Exception):
    """An error that each adapter says in its own language: a template and its values."""

    def __init__(self, template: str, /, *, field: str | None = None, **params: Any) -> None:
        self.template, self.params, self.field = template, params, field
        super().__init__(said(template, params))


def said(template: str, params: dict[str, Any], say: Callable[[str], str] = str) -> str:
    """`template` filled in with `params`, each Term among them said (by `say`: a translation)
    and filled in with the same values."""
    if not params:
        return say(template)
    plain = {k: v for k, v in params.items() if not isinstance(v, Term)}
    values = {k: say(v).format(**plain) if isinstance(v, Term) else v for k, v in params.items()}
    return say(template).format(**values)


class Refused(Said):
    """A command broke a rule; the log is unchanged."""


class WrongStage(Refused):
    """The command does not apply to the case's current stage."""

    def __init__(
        self, command: str, stage: str, allowed: list[str], subject: str = Term("the case")
    ) -> None:
        self.command, self.stage, self.allowed = command, stage, allowed
        if allowed:
            template = Term(
                "cannot {command}: {subject} is in stage '{stage}'; "
                "commands allowed from '{stage}': {allowed}"
            )
        else:
            template = Term(
                "cannot {command}: {subject} is in stage '{stage}'; "
                "commands allowed from '{stage}': none: {subject} has ended"
            )
        super().__init__(
            template,
            command=command,
            subject=Term(subject),
            stage=stage,
            allowed=", ".join(allowed),
        )


class NotFound(Refused):
    """No case, branch or workspace with that id."""


class Conflict(Said):
    """Another command changed the same case at the same moment and ours no longer applies."""
