"""What every parameter of a command may hold: a type, a range, a length.

The command line checks them at the door and the domain checks them again, so no caller can
record what a read model or a person's terminal cannot hold. A refusal (`Invalid`) names the
parameter, shows what was given (shortened, made printable) and says what is allowed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from lifecycle.errors import Refused, Term

NAME_LENGTH = 100  # a name: an organization's, a person's, a branch's, a code
TEXT_LENGTH = 2000  # a note, a reason, a service: lines allowed
MEMBERS_MAX = 10_000  # party members of one organization: far above any real one
# Yuan: a fund, an amount asked, an award, a tranche. A billion is far above any park's fund
# (the first Yijinhuoluo round shared 440,000) and leaves every sum of a round exact in 2 decimals.
MONEY_MAX = Decimal(1_000_000_000)
CENT = Decimal("0.01")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
SHOWN = 40  # characters of a refused value that a message repeats

# Bidirectional overrides and isolates reorder what a reader sees (a name that reads one way
# and sorts another); they are refused in text and shown escaped.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")
_HEX = re.compile(r"[0-9a-f-]+")
_MONEY = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


class Invalid(Refused):
    """A parameter's value is outside what it may hold."""

    def __init__(
        self,
        param: str,
        given: object,
        allowed: str,
        *,
        blank: bool = False,
        secret: bool = False,
        **params: Any,
    ) -> None:
        """`allowed` says what the parameter may hold: a template of `params` (a Term, so the
        web can translate it alone); `blank`: what was given has nothing to see; `secret`: what
        was given is never repeated (a password)."""
        self.param = param
        if secret:
            template = Term("{param} {allowed}")
        elif blank:
            template = Term("{param} {allowed}, and not empty or only invisible ones; got {given}")
        else:
            template = Term("{param} {allowed}; got {given}")
        shown_params = {} if secret else {"given": shown(given)}
        super().__init__(
            template,
            field=field_of(param),
            param=param,
            allowed=Term(allowed),
            **shown_params,
            **params,
        )
        self.detail = str(self).removeprefix(f"{param} ")  # without the parameter


def field_of(param: str) -> str:
    """The message field a command-line parameter names: --party-members is party_members."""
    if param == "ORG":
        return "org"
    return param.split(" ", maxsplit=1)[0].removeprefix("--").replace("-", "_")


def shown(value: object, limit: int = SHOWN) -> str:
    """A value as a message may repeat it: cut after `limit` characters, and every character
    that is not plainly visible (controls, zero-width ones, bytes not UTF-8) escaped."""
    text = str(value)
    cut = text[:limit]
    more = f"… ({len(text)} characters)" if len(text) > limit else ""
    return "'" + "".join(c if c.isprintable() else _escaped(c) for c in cut) + more + "'"


def neutral(text: str, keep_newlines: bool = False) -> str:
    """`text` with everything a terminal would act on made visible: control characters, bidi
    overrides, and bytes that were not UTF-8 (a shell passes them as lone surrogates)."""
    if text.isprintable() and not any(c in _BIDI for c in text):
        return text
    return "".join(_visible(c, keep_newlines) for c in text)


def _visible(c: str, keep_newlines: bool) -> str:
    if keep_newlines and c == "\n":
        return c
    if c in _BIDI or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp"):
        return _escaped(c)
    return c


def _escaped(c: str) -> str:
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True)
class Text:
    """Valid Unicode, stripped, no control characters (newlines where `lines`), not only
    invisible characters, at most `length` characters."""

    length: int = NAME_LENGTH
    lines: bool = False

    @property
    def allowed(self) -> str:
        if self.lines:
            return Term(
                "must be text (lines allowed) of 1 to {length} characters, without control "
                "characters"
            )
        return Term(
            "must be text on one line of 1 to {length} characters, without control characters"
        )

    def check(self, value: str, param: str) -> str:
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise Invalid(param, value, "must be valid UTF-8 text")
        text = value.strip()
        if self.lines:
            text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
        for c in text:
            if (c != "\n" or not self.lines) and (
                c in _BIDI or unicodedata.category(c) in ("Cc", "Zl", "Zp")
            ):
                raise Invalid(param, value, self.allowed, length=self.length)
        if not any(_seen(c) for c in text):
            raise Invalid(param, value, self.allowed, length=self.length, blank=True)
        if len(text) > self.length:
            raise Invalid(param, value, self.allowed, length=self.length)
        return text

    def optional(self, value: str | None, param: str) -> str | None:
        """None for a missing or blank value, else the checked text."""
        if value is None or not value.strip():
            return None
        return self.check(value, param)


def _seen(c: str) -> bool:
    """A character a reader sees: not a space, not a format character (zero-width ones)."""
    return not c.isspace() and unicodedata.category(c) not in ("Cf", "Mn", "Me", "Cc")


NAME = Text()
NOTE = Text(TEXT_LENGTH, lines=True)


@dataclass(frozen=True)
class Count:
    """A whole number from `low` to `high`, in plain decimal digits."""

    low: int = 0
    high: int = MEMBERS_MAX

    allowed = Term("must be a whole number from {low} to {high} (digits 0-9 only)")

    def parse(self, text: str, param: str) -> int:
        plain = text.strip()
        if not _DIGITS.fullmatch(plain) or len(plain) > len(str(self.high)) + 2:
            raise Invalid(param, text, self.allowed, low=self.low, high=self.high)
        return self.check(int(plain), param)

    def check(self, value: int, param: str) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not self.low <= value <= self.high
        ):
            raise Invalid(param, value, self.allowed, low=self.low, high=self.high)
        return value


@dataclass(frozen=True)
class Seconds:
    """A length of time in seconds, from `low` to `high`, in plain digits (2, 0.5)."""

    low: float
    high: float

    def parse(self, text: str, param: str) -> float:
        plain = text.strip()
        allowed = Term("must be a number of seconds from {low} to {high}")
        low, high = f"{self.low:g}", f"{self.high:g}"
        if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,6})?", plain):
            raise Invalid(param, text, allowed, low=low, high=high)
        value = float(plain)
        if not self.low <= value <= self.high:
            raise Invalid(param, text, allowed, low=low, high=high)
        return value


MEMBERS = Count()
STARS = Count(1, 5)
MIN_SCORES = Count(1, 50)  # expert scores a round's project needs before an award


@dataclass(frozen=True)
class Money:
    """An amount of yuan from `low` to `high`, exact, with two places (3500.5 is 3500.50), written
    in plain digits with at most 2 decimals: no float, no exponent, no thousands separator."""

    low: Decimal = CENT
    high: Decimal = MONEY_MAX

    allowed = Term(
        "must be an amount of yuan from {low} to {high}, in digits 0-9 with at most 2 decimals "
        "(like 440000 or 3500.50)"
    )

    def parse(self, text: str, param: str) -> Decimal:
        plain = text.strip()
        if not _MONEY.fullmatch(plain):
            raise Invalid(param, text, self.allowed, low=self.low, high=self.high)
        return self.check(Decimal(plain), param)

    def check(self, value: object, param: str) -> Decimal:
        """Typed already: a Decimal or a whole number (from code or JSON), or text as typed;
        never a float, whose digits are not the ones a person wrote."""
        if isinstance(value, str):
            return self.parse(value, param)
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        if (
            not isinstance(value, Decimal)
            or not value.is_finite()
            or not self.low <= value <= self.high
            or value.quantize(CENT) != value  # a third decimal that is not 0
        ):
            raise Invalid(param, value, self.allowed, low=self.low, high=self.high)
        return value.quantize(CENT)


MONEY = Money()


def score(text: str, param: str) -> Decimal:
    """An expert's score: 0 to 100 with at most 2 decimals, in plain digits (78, 82.5)."""
    plain = text.strip()
    allowed = Term("must be a number from 0 to 100 with at most 2 decimals, digits 0-9 (like 78.5)")
    if not _DECIMAL.fullmatch(plain):
        raise Invalid(param, text, allowed)
    value = Decimal(plain)
    if value > 100:
        raise Invalid(param, text, allowed)
    return normalized(value)


def normalized(value: Decimal) -> Decimal:
    """One way to write a number: 80.50 is 80.5, 80.0 is 80."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def day(value: date, param: str) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise Invalid(
            param,
            value.isoformat(),
            "must be a date from {first} to {last}",
            first=FIRST_DAY,
            last=LAST_DAY,
        )
    return value


def parse_day(text: str, param: str) -> date:
    """A date written YYYY-MM-DD, within the years the system keeps."""
    plain = text.strip()
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", plain):
            raise ValueError(plain)
        value = date.fromisoformat(plain)
    except ValueError:
        raise Invalid(param, text, "must be a date like 2014-01-08 (YYYY-MM-DD)") from None
    return day(value, param)


def id_prefix(text: str, param: str) -> UUID | str:
    """A whole UUID, or the first 4 to 36 characters of one (lower-case hex and dashes)."""
    plain = text.strip()
    allowed = Term("must be an id (a UUID, or its first 4 to 36 characters, as `org list` shows)")
    if len(plain) > 45:  # a UUID in any form the standard library reads, and no longer
        raise Invalid(param, text, allowed)
    try:
        return UUID(plain)
    except ValueError:
        pass
    prefix = plain.lower()
    if not 4 <= len(prefix) <= 36 or not _HEX.fullmatch(prefix):
        raise Invalid(param, text, allowed)
    return prefix
