"""The settings file: defaults that describe the 1+1+6 park, overrides, and clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from commands.settings import SettingsError, load_settings


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
        ("pass_mark = 60", "unknown key\\(s\\) pass_mark; allowed: evaluation, fields"),
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
