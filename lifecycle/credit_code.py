"""The unified social credit code (统一社会信用代码, GB 32100-2015) of a registered organization.

18 characters: the registration authority (1: 机构编制, 5: 民政 for social organizations, 9:
工商 …), the kind of organization, the administrative division (6 digits), the organization code (9
characters), and a check character computed from the 17 before it. The characters are the
digits and the capital letters except I, O, S, V and Z (31 in all), each worth its place in
that list; the check character is the one worth 31 − (Σ value × weight mod 31), mod 31.
"""

from __future__ import annotations

from typing import Any

from lifecycle.bounds import Invalid, shown

CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
AUTHORITIES = "123456789ABCDEFGNY"  # 登记管理部门代码
ALLOWED = "18 characters of the digits 0-9 and the capital letters A-Y except I, O, S, V and Z"


def check_character(first: str) -> str:
    """The check character of the first 17 characters of a code."""
    total = sum(CHARACTERS.index(c) * w for c, w in zip(first, WEIGHTS, strict=True))
    return CHARACTERS[(31 - total % 31) % 31]


def credit_code(value: Any, param: str = "--credit-code") -> str:
    """The code, stripped, or `Invalid` saying what is wrong with it and what is allowed."""
    if not isinstance(value, str):
        raise Invalid(
            param, value, "must be a unified social credit code: {characters}", characters=ALLOWED
        )
    code = value.strip()
    if len(code) != LENGTH:
        raise Invalid(
            param,
            value,
            "must be a unified social credit code of 18 characters (统一社会信用代码), "
            "not {length}",
            length=len(code),
        )
    unused = sorted({c for c in code.upper() if c not in CHARACTERS})
    if unused:
        raise Invalid(
            param,
            value,
            "holds {unused}, which no credit code uses: it is made of {characters}",
            unused=", ".join(map(shown, unused)),
            characters=ALLOWED,
        )
    if code != code.upper():
        raise Invalid(
            param, value, "must be written in capital letters: {upper}", upper=shown(code.upper())
        )
    if code[0] not in AUTHORITIES:
        raise Invalid(
            param,
            value,
            "begins with {first}, which is no registration authority's code: one of 1-9, "
            "A-G, N, Y (5: civil affairs, 民政)",
            first=shown(code[0]),
        )
    if not code[2:8].isdigit():
        raise Invalid(
            param,
            value,
            "must have the administrative division code, 6 digits, as its 3rd to 8th "
            "characters; they are {division}",
            division=shown(code[2:8]),
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise Invalid(
            param,
            value,
            "ends with the check character {given_check}, but its first 17 characters give "
            "{expected}: a character was mistyped or left out",
            given_check=shown(code[17]),
            expected=shown(expected),
        )
    return code
