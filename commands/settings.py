"""The settings file: the park's sites, workspaces, fields and the numbers its rules use.

The defaults (commands/defaults.toml) are the "1+1+6" park of DOMAIN.md. A user's file overrides
them: keys of [evaluation] and [periods] one by one; [fields] and [sites], when given, whole.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lifecycle.park import Park, Rules, Site

DEFAULTS_FILE = "defaults.toml"
_SECTIONS = {
    "evaluation": {"pass_mark": (0, 100), "min_experts": (1, 50), "exit_window_days": (0, 366)},
    "periods": {
        "growth_review_months": (1, 120),
        "in_shell_months": (1, 120),
        "follow_up_months": (1, 120),
    },
}
_TOP_LEVEL = {"park", "timezone", "evaluation", "periods", "fields", "sites"}
_SITE_KEYS = {"name", "workspaces", "workspace_prefix", "workspace_count"}


class SettingsError(Exception):
    """The settings file is unreadable or says something that cannot be."""


def default_text() -> str:
    return Path(__file__).with_name(DEFAULTS_FILE).read_text(encoding="utf-8")


def load_settings(path: str | Path | None = None) -> Park:
    """The park from the defaults, overridden by the file at `path` if given."""
    data = tomllib.loads(default_text())
    if path is not None:
        user = _read(Path(path))
        try:
            _merge(data, user)
            return _park(data)
        except SettingsError as e:
            raise SettingsError(f"settings file {path}: {e}") from None
    return _park(data)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"settings file {path} cannot be read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"settings file {path} is not valid TOML: {e}") from None


def _merge(data: dict[str, Any], user: dict[str, Any]) -> None:
    unknown = set(user) - _TOP_LEVEL
    if unknown:
        raise SettingsError(
            f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_LEVEL))}"
        )
    for key, value in user.items():
        if key in _SECTIONS:
            section = _table(value, key)
            bad = set(section) - set(_SECTIONS[key])
            if bad:
                raise SettingsError(
                    f"unknown key(s) in [{key}]: {', '.join(sorted(bad))}; "
                    f"allowed: {', '.join(_SECTIONS[key])}"
                )
            data[key].update(section)
        else:
            data[key] = value


def _park(data: dict[str, Any]) -> Park:
    numbers = {
        name: _number(data[section][name], f"{section}.{name}", low, high)
        for section, keys in _SECTIONS.items()
        for name, (low, high) in keys.items()
    }
    rules = Rules(
        pass_mark=Decimal(str(numbers.pop("pass_mark"))),
        **{name: int(value) for name, value in numbers.items()},
    )
    fields = _fields(data["fields"])
    sites = {key: _site(key, value) for key, value in _table(data["sites"], "sites").items()}
    if not sites:
        raise SettingsError("[sites] must name at least one site")
    return Park(
        name=_text(data["park"], "park"),
        timezone=_timezone(data["timezone"]),
        sites=sites,
        fields=fields,
        rules=rules,
    )


def _number(value: Any, where: str, low: int, high: int) -> float | int:
    whole = not where.endswith("pass_mark")
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise SettingsError(f"{where} must be {kind} from {low} to {high}, got {value!r}")
    return value


def _fields(value: Any) -> dict[str, str]:
    table = _table(value, "fields")
    if not table:
        raise SettingsError("[fields] must name at least one field")
    fields = {str(key): _text(name, f"fields.{key}") for key, name in table.items()}
    if len(set(fields.values())) != len(fields):
        raise SettingsError("[fields]: two fields share a Chinese name")
    return fields


def _site(key: str, value: Any) -> Site:
    table = _table(value, f"sites.{key}")
    bad = set(table) - _SITE_KEYS
    if bad:
        raise SettingsError(
            f"unknown key(s) in [sites.{key}]: {', '.join(sorted(bad))}; "
            f"allowed: {', '.join(sorted(_SITE_KEYS))}"
        )
    if "workspaces" in table:
        codes = table["workspaces"]
        if not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
            raise SettingsError(f"sites.{key}.workspaces must be a list of workspace codes")
        if not codes:
            raise SettingsError(f"sites.{key}.workspaces must list at least one workspace")
    elif "workspace_count" in table:
        count = _number(table["workspace_count"], f"sites.{key}.workspace_count", 1, 10_000)
        prefix = str(table.get("workspace_prefix", ""))
        codes = [f"{prefix}{n:02d}" for n in range(1, int(count) + 1)]
    else:
        raise SettingsError(f"[sites.{key}] needs workspaces = [...] or workspace_count")
    if len(set(codes)) != len(codes):
        raise SettingsError(f"sites.{key}: a workspace code is listed twice")
    return Site(
        key=key, name=_text(table.get("name", key), f"sites.{key}.name"), workspaces=tuple(codes)
    )


def _timezone(value: Any) -> str:
    name = _text(value, "timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone '{name}' is not a known IANA zone (Asia/Shanghai)") from None
    return name


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"[{where}] must be a table, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where} must be a non-empty text, got {value!r}")
    return value.strip()
