"""The settings file: defaults that describe the 1+1+6 park, overrides, and clear errors."""

from __future__ import annotations

import os
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from commands.settings import SETTINGS_LIMIT, SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "park.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_defaults_are_the_1_1_6_park() -> None:
    park = load_settings()
    assert list(park.sites) == ["main", "branch", *(f"community-{n}" for n in range(1, 7))]
    assert park.sites["main"].workspaces == tuple(f"M-{n:02d}" for n in range(1, 31))
    assert park.sites["branch"].workspaces[-1] == "B-10"
    assert park.sites["community-1"].workspaces == ("C1-01", "C1-02", "C1-03", "C1-04", "C1-05")
    assert park.sites["community-6"].workspaces[0] == "C6-01"
    assert park.fields["charity"] == "公益慈善"
    assert (park.rules.pass_mark, park.rules.min_experts, park.rules.exit_window_days) == (
        Decimal(60),
        3,
        30,
    )
    assert (
        park.rules.growth_review_months,
        park.rules.in_shell_months,
        park.rules.follow_up_months,
    ) == (5, 10, 12)
    assert park.timezone == "Asia/Shanghai"


def test_a_file_overrides_numbers_one_by_one_and_sites_whole(tmp_path: Path) -> None:
    park = load_settings(
        write(
            tmp_path,
            """
[evaluation]
pass_mark = 65.5
[sites.east]
name = "东区"
workspaces = ["E-1", "E-2"]
""",
        )
    )
    assert park.rules.pass_mark == Decimal("65.5")
    assert park.rules.min_experts == 3
    assert list(park.sites) == ["east"]
    assert park.sites["east"].workspaces == ("E-1", "E-2")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "pass_mark = 60",
            "unknown key\\(s\\) pass_mark; allowed: accounts, audit, calendar, evaluation, fields",
        ),
        (
            "[evaluation]\npass_mark = 'sixty'",
            "evaluation.pass_mark must be a number from 0 to 100",
        ),
        ("[evaluation]\nmin_experts = 2.5", "evaluation.min_experts must be a whole number"),
        ("[evaluation]\nmin_experts = 0", "from 1 to 50, got 0"),
        ("[evaluation]\nquorum = 3", "unknown key\\(s\\) in \\[evaluation\\]: quorum"),
        ("[periods]\nin_shell_months = true", "periods.in_shell_months must be a whole number"),
        ("timezone = 'Mars/Olympus'", "timezone 'Mars/Olympus' is not a known IANA zone"),
        ("[sites.x]\nname = 'x'", "\\[sites.x\\] needs workspaces"),
        ("[sites.x]\nworkspaces = ['A', 'A']", "listed twice"),
        ("[sites.x]\nworkspace_count = 3\ncolour = 'red'", "unknown key\\(s\\) in \\[sites.x\\]"),
        ("sites = {}", "at least one site"),
        ("[fields]\na = '公益'\nb = '公益'", "share a Chinese name"),
        ("[evaluation\n", "is not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match=match) as error:
        load_settings(path)
    assert str(path) in str(error.value)


def test_a_missing_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nowhere.toml")


def test_a_site_needs_at_least_one_workspace(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"sites\.x\.workspaces must list at least one"):
        load_settings(write(tmp_path, "[sites.x]\nworkspaces = []\n"))


# ---- [reminders]: when a day's reminders go out, when a missed deadline escalates -------------

BAD_SEND_AT = (
    'reminders.send_at must be a local time of day like "08:00" (no UTC offset: the park\'s '
    "timezone applies), got "
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("send_at = 09:30:00", time(9, 30)),  # a TOML local time
        ("send_at = 07:05:30", time(7, 5, 30)),
        ('send_at = "09:30"', time(9, 30)),  # the text form of the defaults
    ],
)
def test_send_at_is_a_local_time_of_day_as_text_or_as_a_toml_time(
    tmp_path: Path, text: str, expected: time
) -> None:
    send_at = load_settings(write(tmp_path, f"[reminders]\n{text}\n")).reminders.send_at
    assert send_at == expected
    assert send_at.tzinfo is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('send_at = "08:00+09:00"', f"{BAD_SEND_AT}'08:00+09:00'"),
        ('send_at = "08:00:00+08:00"', f"{BAD_SEND_AT}'08:00:00+08:00'"),
        ('send_at = "08:00Z"', f"{BAD_SEND_AT}'08:00Z'"),
    ],
)
def test_a_send_at_with_a_utc_offset_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"[reminders]\n{text}\n")
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert str(refused.value) == f"settings file {path}: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[reminders]\nescalate_after_days = 0\n",
            "reminders.escalate_after_days must be a whole number from 1 to 366, got 0",
        ),
        (
            "[reminders.inspection]\nescalate_after_days = 0\n",
            "reminders.inspection.escalate_after_days must be a whole number from 1 to 366, got 0",
        ),
    ],
)
def test_an_escalation_on_the_due_date_itself_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    """escalate_after_days = 0 would escalate on the due date, while it can still be met."""
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert str(refused.value) == f"settings file {path}: {message}"


def test_an_escalation_the_day_after_the_due_date_is_the_earliest(tmp_path: Path) -> None:
    path = write(tmp_path, "[reminders.inspection]\nescalate_after_days = 1\n")
    reminders = load_settings(path).reminders
    assert reminders.of("inspection").escalate_after_days == 1


def test_settings_come_only_from_a_regular_file_of_bounded_size(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # opened for reading it would wait for a writer for ever
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * SETTINGS_LIMIT + "\n", encoding="utf-8")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('park = "caf\xe9"\n'.encode("latin-1"))
    cases = {
        "/dev/zero": "is not a regular file",
        str(fifo): "is not a regular file",
        str(tmp_path): "is not a regular file",
        str(big): f"is larger than {SETTINGS_LIMIT // 1024} KiB",
        str(deep): "nests arrays or tables too deeply",
        str(latin): "is not UTF-8 text",
        str(tmp_path / "missing.toml"): "does not exist",
    }
    for path, message in cases.items():
        with pytest.raises(SettingsError) as refused:
            load_settings(path)
        assert str(refused.value).startswith(f"settings file {path} "), refused.value
        assert message in str(refused.value), (path, refused.value)
