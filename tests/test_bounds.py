"""The bounds of every parameter (lifecycle/bounds.py): at the door and in the domain; and
stored data that reaches a terminal with its control characters neutralized."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from commands.bootstrap import bootstrap
from lifecycle import bounds
from lifecycle.bounds import Invalid
from lifecycle.errors import Refused
from lifecycle.scores import Panel
from lifecycle.step import Step
from tests.conftest import who

AT = datetime(2014, 1, 6, 2, 0, tzinfo=UTC)
INCUBATOR = str(Path(sys.executable).with_name("incubator"))


@pytest.mark.parametrize(
    "given",
    [
        "x\udcff",  # a byte that was not UTF-8, as Python decodes a shell's argument
        "\x1b[2J",
        "a\x1b]0;title\x07b",
        "a\x00b",
        "a\rb",
        "a\nb",  # a name is one line
        "\u200b",  # only invisible characters
        "\u200b\u200d \t",
        "abc\u202edef",  # a bidi override reorders what a reader sees
        "a\u2028b",
        "x" * 101,
        "   ",
    ],
)
def test_a_name_refuses_what_no_person_could_read(given: str) -> None:
    with pytest.raises(Invalid) as refused:
        bounds.NAME.check(given, "--name")
    message = str(refused.value)
    assert message.startswith("--name must be"), message
    assert message.isprintable() and "\x1b" not in message, message


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("  爱心志愿者协会 ", "爱心志愿者协会"),
        ("Café Ünïcode", "Café Ünïcode"),
        (
            "👩\u200d👩\u200d👧 family",
            "👩\u200d👩\u200d👧 family",
        ),  # a zero-width joiner among seen ones
        ("x" * 100, "x" * 100),
    ],
)
def test_a_name_keeps_ordinary_text(given: str, kept: str) -> None:
    assert bounds.NAME.check(given, "--name") == kept


def test_a_note_keeps_its_lines_and_refuses_other_controls() -> None:
    assert (
        bounds.NOTE.check(" 走访:\r\n团队 12 人  \n第二行 ", "--note")
        == "走访:\n团队 12 人\n第二行"
    )
    with pytest.raises(Invalid, match="--note must be text \\(lines allowed\\)"):
        bounds.NOTE.check("a\x1b[31mb", "--note")
    with pytest.raises(Invalid):
        bounds.NOTE.check("x" * (bounds.TEXT_LENGTH + 1), "--note")


def test_a_refusal_shows_what_was_given_shortened_and_printable() -> None:
    with pytest.raises(Invalid) as refused:
        bounds.NAME.check("\x1b[2J" + "y" * 100_000, "--name")
    message = str(refused.value)
    assert len(message) < 300, message
    assert "\\x1b[2J" in message and "(100004 characters)" in message, message
    assert shown_bytes() == "'x\\xff'"


def shown_bytes() -> str:
    return bounds.shown("x\udcff")


@pytest.mark.parametrize(
    "given", ["-1", "10001", "٣", "1_0", "+3", "3.0", "1e3", "", " ", "NaN", "9" * 30, "0x10"]
)
def test_counts_are_plain_digits_within_range(given: str) -> None:
    with pytest.raises(Invalid, match="must be a whole number from 0 to 10000"):
        bounds.MEMBERS.parse(given, "--formal")


def test_counts_in_range_are_read() -> None:
    assert bounds.MEMBERS.parse(" 007 ", "--formal") == 7
    assert bounds.MEMBERS.parse("10000", "--formal") == 10_000
    assert bounds.STARS.parse("5", "--stars") == 5
    with pytest.raises(Invalid):
        bounds.STARS.parse("6", "--stars")
    with pytest.raises(Invalid):
        bounds.MEMBERS.check(True, "--formal")  # a flag is not a count


@pytest.mark.parametrize(
    "given", ["٨٠", "8_0", "0E+1000000", "-0", "NaN", "Infinity", "100.01", "1e2", "78.125", ".5"]
)
def test_scores_are_plain_decimals_from_0_to_100(given: str) -> None:
    with pytest.raises(Invalid, match="must be a number from 0 to 100"):
        bounds.score(given, "the score of '王芳'")


@pytest.mark.parametrize(
    ("given", "stored"),
    [("80", "80"), ("80.0", "80"), ("080", "80"), ("80.50", "80.5"), ("0.00", "0"), ("100", "100")],
)
def test_scores_are_stored_normalized(given: str, stored: str) -> None:
    assert str(bounds.score(given, "score")) == stored
    assert str(Panel.parse([f"王芳={given}"]).scores["王芳"]) == stored


def test_a_panel_built_in_code_is_held_to_the_same_bounds() -> None:
    for bad in (Decimal("NaN"), Decimal("-0"), Decimal(101), Decimal("0E+1000000"), 80):
        with pytest.raises(Invalid):
            Panel({"王芳": bad})  # type: ignore[dict-item]
    with pytest.raises(Invalid):
        Panel({"\x1b[2J": Decimal(80)})


@pytest.mark.parametrize(
    "given", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "2014-02-30", "2014-1-1", "x"]
)
def test_dates_lie_within_the_years_kept(given: str) -> None:
    with pytest.raises(Invalid, match="must be a date"):
        bounds.parse_day(given, "--on")


def test_a_step_checks_its_actor_date_and_reason() -> None:
    for changes in (
        {"actor": "\x1b[2J"},
        {"actor": "x\udcff"},
        {"on": date(1, 1, 1)},
        {"on": date(2099 + 2, 1, 1)},
        {"reason": "\x00"},
    ):
        fields: dict[str, Any] = {"actor": "王芳", "on": date(2014, 1, 6), "recorded_at": AT}
        with pytest.raises(Invalid):
            Step(**(fields | changes))


@pytest.mark.parametrize(
    ("given", "found"),
    [
        ("5e14e9f0", "5e14e9f0"),
        ("5E14E9F0", "5e14e9f0"),
        ("5e14e9f0-5615-4455-8826-b7d1c36e873b", UUID("5e14e9f0-5615-4455-8826-b7d1c36e873b")),
    ],
)
def test_ids_are_a_uuid_or_a_prefix(given: str, found: object) -> None:
    assert bounds.id_prefix(given, "ORG") == found


@pytest.mark.parametrize("given", ["abc", "", "zzzz", "5e14 e9f0", "a" * 37, "f" * 100_000, "--"])
def test_other_ids_are_refused(given: str) -> None:
    with pytest.raises(Invalid, match="must be an id"):
        bounds.id_prefix(given, "ORG")


def test_the_domain_refuses_what_the_door_would(sqlite_url: str, clock: Any) -> None:
    """No caller (the web and the API to come) can write what a read model cannot hold."""
    system = bootstrap(sqlite_url, clock=clock)
    try:
        apply: dict[str, Any] = {
            "name": "爱心协会",
            "field": "charity",
            "legal_status": "filed",
            "track": "incubation",
            "site": "main",
        }
        bad_ones: list[dict[str, Any]] = [
            {"name": "\u200b"},
            {"contact": "\x1b[2J"},
            {"party_members": 10**25},
        ]
        for bad in bad_ones:
            with pytest.raises(Refused):
                system.service.apply(who("2014-01-06"), **(apply | bad))
        with pytest.raises(Refused):
            system.service.apply(who("2014-01-06", actor="a\udcff"), **apply)
        assert system.log.recorder.max_notification_id() in (None, 0)
    finally:
        system.close_all()


def _past_the_domain(sqlite_url: str, clock: Any) -> str:
    """A case whose name and actor hold escape sequences, as an old release could store them."""
    from lifecycle.organization import OrganizationCase

    system = bootstrap(sqlite_url, clock=clock)
    try:
        case = OrganizationCase._create(
            OrganizationCase.ApplicationReceived,
            id=UUID("5e14e9f0-5615-4455-8826-b7d1c36e873b"),
            timestamp=AT,
            on=date(2014, 1, 6),
            actor="\x1b]0;pwned\x07李娜",
            reason=None,
            name="\x1b[2J[bold red]爱心\u202e协会",
            field="charity",
            legal_status="filed",
            track="incubation",
            site="main",
            contact="\x9b31m张伟",
            party_members=None,
        )
        system.log.save(case)
    finally:
        system.close_all()
    return str(case.id)


@pytest.mark.parametrize(
    "command",
    [
        ["org", "list"],
        ["org", "show", "5e14e9f0"],
        ["org", "history", "5e14e9f0"],
        ["org", "history", "5e14e9f0", "--csv"],
        ["org", "find", "爱心"],
        ["org", "list", "--json"],
        ["org", "show", "5e14e9f0", "--json"],
        ["org", "history", "5e14e9f0", "--json"],
    ],
)
def test_escape_sequences_already_stored_are_printed_neutralized(
    sqlite_url: str, clock: Any, command: list[str]
) -> None:
    _past_the_domain(sqlite_url, clock)
    done = subprocess.run(
        [INCUBATOR, "--database", sqlite_url, *command],
        capture_output=True,
        timeout=60,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    for raw in ("\x1b", "\x9b", "\u202e", "\x07"):
        assert raw not in out, (raw, out)
    assert "爱心" in out, out
    if "--json" in command:
        # the data itself is kept as stored: JSON escapes what a terminal would act on
        assert "\x1b[2J[bold red]爱心\u202e协会" in _strings(json.loads(out)), out
    elif "--csv" not in command:
        assert "\\x1b" in out, out  # shown, escaped, not acted upon
        assert "[bold red]" in out, out  # Rich markup in data is text, not style


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*map(_strings, value)) if value else set()
    return set()
