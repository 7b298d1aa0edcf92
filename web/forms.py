"""The forms of the web pages, built from the command messages (commands/messages.py).

A form is the message's parameters as fields (their kind decides the input), labelled with the
message's own help in the page's language. What a person submits becomes the message the same
way the command line's options do: each value read by its kind, the whole checked by the message.
No form is written by hand, so a new command has its form the day it has its message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from commands import messages
from commands.messages import CASE, SCORES, Command, Kind, Param
from lifecycle.bounds import Invalid

# What a page's address names already (the case of /orgs/{id}), so its forms never ask it. The
# accounts page names no account: each of its forms asks which one.
ADDRESSED = (CASE,)

# How each kind of parameter is typed in a browser.
INPUTS: dict[str, str] = {
    "date": "date",
    "count": "number",
    "stars": "number",
    "yuan": "number",
    "score": "number",
    "text": "textarea",
    "scores": "scores",
    "verdict": "verdict",
    "password": "password",
}


@dataclass(frozen=True)
class Field:
    name: str  # the message's field, also the form's
    label: str
    input: str  # text, textarea, date, number, select, verdict, scores, password, lines
    required: bool
    choices: tuple[str, ...] = ()
    many: bool = False
    placeholder: str = ""
    context: str = ""  # the catalog's context for the names of its choices (web/labels.py)
    names: Mapping[str, str] | None = None  # the park's names of its choices (sites, fields)

    @property
    def short(self) -> str:
        """The field's name alone, as a refusal beside it names it."""
        return head(self.label)


@dataclass(frozen=True)
class Form:
    message: type[Command]
    fields: tuple[Field, ...]
    title: str
    help: str

    @property
    def verb(self) -> str:
        return self.message.verb


def form_for(
    message: type[Command],
    chinese: bool,
    hidden: Sequence[str] = (),
    choices: Mapping[str, Mapping[str, str]] | None = None,
) -> Form:
    """The form of `message`; the ids the page already knows (the case) are not asked.
    `choices`: what the park allows in a field the message takes as text (its sites, its
    fields), by field, each value with the name the page shows: a list to choose from."""
    fields = []
    for name, spec in messages.params(message):
        if spec.kind in ADDRESSED or name in hidden:
            continue
        field = _field(message, name, spec, chinese)
        named = (choices or {}).get(name)
        if named and not spec.many:
            field = replace(
                field, input="select", choices=tuple(named), names=named, label=head(field.label)
            )
        fields.append(field)
    title, help_text = _title(message, chinese)
    return Form(message, tuple(_ordered(fields)), title, help_text)


def _title(message: type[Command], chinese: bool) -> tuple[str, str]:
    text = message.zh if chinese else message.en
    first = text.split(":")[0].split(":")[0].split("(")[0].strip().rstrip("。.")
    return first, text


_HEAD_ENDS = re.compile(r"[:：(（;；,，]")


def head(text: str) -> str:
    """What a help text names, without what it goes on to explain: "领域: 中文名(公益慈善)或
    英文键" is 领域, "the password (at least 10 characters)" the password."""
    return _HEAD_ENDS.split(text, maxsplit=1)[0].strip().rstrip("。.")


def _ordered(fields: list[Field]) -> list[Field]:
    """The command's own fields first, then the date and the reason every command has."""
    own = [f for f in fields if f.name not in ("on", "reason")]
    return own + [f for f in fields if f.name in ("on", "reason")]


def _field(message: type[Command], name: str, spec: Param, chinese: bool) -> Field:
    kind = spec.kind
    if kind.choices:
        shape = "select"
    elif spec.many and kind is not SCORES:
        shape = "lines"
    else:
        shape = INPUTS.get(kind.name, "text")
    placeholder = "王芳=78" if kind is SCORES else ""  # the label says the rest, in its language
    return Field(
        name=name,
        label=spec.zh if chinese else spec.en,
        input=shape,
        required=messages.required(message, name),
        choices=kind.choices,
        many=spec.many,
        placeholder="" if shape in ("select", "verdict", "date") else placeholder,
        context=kind.name,
    )


def message_from(
    message: type[Command], form: Mapping[str, Any], known: Mapping[str, Any]
) -> Command:
    """The message a submitted form makes: each value read by its kind, as the command line
    reads an option; `known` holds what the page fixed (the case). Raises Invalid, naming the
    field, for a value that is not of its kind or a field that is missing."""
    given: dict[str, Any] = dict(known)
    for name, spec in messages.params(message):
        if name in known:
            continue
        value = _read(spec.kind, spec.many, form.get(name), name)
        # a required field left empty is given as None: the message refuses it, naming it
        if value is not None or messages.required(message, name):
            given[name] = value
    try:
        return message(**given)
    except Invalid as refusal:
        refusal.field = refusal.field or None
        raise


def _read(kind: Kind, many: bool, raw: Any, name: str) -> Any:
    if raw is None:
        return None
    if isinstance(raw, list):
        raw = "\n".join(str(r) for r in raw)
    text = str(raw).strip()
    if not text:
        return None
    try:
        if kind.pair is not None:  # pass / fail
            if text not in kind.pair:
                raise Invalid(name, text, "must be one of {options}", options=", ".join(kind.pair))
            return text == kind.pair[0]
        if many:
            return tuple(line.strip() for line in text.splitlines() if line.strip())
        if kind.choices:
            return kind.check(text, name)
        return kind.parse(text, name)
    except Invalid as refusal:
        refusal.field = name
        raise
