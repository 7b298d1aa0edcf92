"""The settings file: the park's sites, workspaces, fields and the numbers its rules use.

The defaults (commands/defaults.toml) are the "1+1+6" park of DOMAIN.md. A user's file overrides
them: keys of [evaluation] and [periods] one by one; [fields] and [sites], when given, whole.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Collection
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lifecycle.deadlines import ALL_KINDS
from lifecycle.park import AccountPolicy, Park, Rules, Site, VentureRules
from schedules.reminders import RECIPIENTS, DeadlinePolicy, ReminderPolicy
from schedules.workdays import WorkingDays, YearCalendar

DEFAULTS_FILE = "defaults.toml"
SETTINGS_LIMIT = (
    1024 * 1024
)  # bytes: the defaults are 4 KiB; a park with thousands of workspaces fits
_SECTIONS = {
    "evaluation": {"pass_mark": (0, 100), "min_experts": (1, 50), "exit_window_days": (0, 366)},
    "periods": {
        "growth_review_months": (1, 120),
        "in_shell_months": (1, 120),
        "follow_up_months": (1, 120),
        "inspection_days": (1, 366),
        "entry_evaluation_days": (1, 366),
        "member_discovery_days": (1, 366),
        "midterm_report_months": (1, 120),
        "final_report_months": (1, 120),
    },
}
# Keys of those sections that are true or false.
_FLAGS = {"evaluation": set[str](), "periods": {"ends_on_working_day"}}
# [calendar.<year>]: the State Council's notice of a year (国务院办公厅关于部分节假日安排的通知).
_CALENDAR_KEYS = {"holidays", "workdays", "source"}
# [venture]: venture-philanthropy rounds' defaults and the reports an award agrees.
_VENTURE = {"pass_mark": (0, 100), "min_scores": (1, 50)}
# [accounts]: how long a login lasts, how failed logins lock an account.
_ACCOUNTS = {
    "session_minutes": (5, 43_200),
    "lock_after_failures": (1, 100),
    "failure_window_minutes": (1, 1_440),
    "lock_minutes": (1, 1_440),
}
_TOP_LEVEL = {
    "park",
    "accounts",
    "venture",
    "timezone",
    "evaluation",
    "periods",
    "fields",
    "sites",
    "reminders",
    "people",
    "audit",
    "calendar",
}
# [reminders]: the park-wide keys, and the deadline keys that [reminders.<kind>] may override.
_REMINDER_KEYS = {
    "send_at",
    "official_calendar",
    "director",
    "scan_interval_seconds",
    "retry_minutes",
    "claim_minutes",
}
_DEADLINE_KEYS = {
    "remind_days_before",
    "recipient",
    "escalate_after_days",
    "escalate_every_days",
    "escalation_steps",
}
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
            return _park(data, Path(path).parent)
        except SettingsError as e:
            raise SettingsError(f"settings file {path}: {e}") from None
    return _park(data, Path.cwd())


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_text_of(path))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"settings file {path} is not valid TOML: {e}") from None
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        raise SettingsError(
            f"settings file {path} nests arrays or tables too deeply to be a settings file"
        ) from None


def _text_of(path: Path) -> str:
    """The file's text: only from a regular file (a FIFO would never end, a device like
    /dev/zero never stop), at most SETTINGS_LIMIT bytes, in UTF-8."""
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SettingsError(f"settings file {path} does not exist") from None
    except OSError as e:
        raise SettingsError(f"settings file {path} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise SettingsError(f"settings file {path} is not a regular file; name a TOML file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(SETTINGS_LIMIT + 1)
        except OSError as e:
            raise SettingsError(f"settings file {path} cannot be read: {e.strerror or e}") from None
    if len(data) > SETTINGS_LIMIT:
        raise SettingsError(
            f"settings file {path} is larger than {SETTINGS_LIMIT // 1024} KiB; "
            f"a park's settings fit in a few"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SettingsError(f"settings file {path} is not UTF-8 text: {e}") from None


def _merge(data: dict[str, Any], user: dict[str, Any]) -> None:
    unknown = set(user) - _TOP_LEVEL
    if unknown:
        raise SettingsError(
            f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_LEVEL))}"
        )
    for key, value in user.items():
        if key in _SECTIONS:
            data[key].update(_only(_table(value, key), {*_SECTIONS[key], *_FLAGS[key]}, key))
        elif key == "calendar":  # a year given replaces that year's, whole
            data.setdefault(key, {}).update(_table(value, key))
        elif key == "venture":
            data[key].update(_only(_table(value, key), _VENTURE, key))
        elif key == "accounts":
            data[key].update(_only(_table(value, key), _ACCOUNTS, key))
        elif key == "reminders":
            _merge_reminders(data["reminders"], _table(value, key))
        else:
            data[key] = value


def _park(data: dict[str, Any], folder: Path) -> Park:
    numbers = {
        name: _number(data[section][name], f"{section}.{name}", low, high)
        for section, keys in _SECTIONS.items()
        for name, (low, high) in keys.items()
    }
    official = _flag(data["reminders"]["official_calendar"], "reminders.official_calendar")
    days = WorkingDays(official=official, years=_calendar(data.get("calendar", {})))
    rules = Rules(
        pass_mark=Decimal(str(numbers.pop("pass_mark"))),
        **{name: int(value) for name, value in numbers.items()},
        ends_on_working_day=_flag(
            data["periods"]["ends_on_working_day"], "periods.ends_on_working_day"
        ),
        calendar=days,
    )
    if rules.final_report_months <= rules.midterm_report_months:
        raise SettingsError(
            f"periods.final_report_months ({rules.final_report_months}) must be after "
            f"periods.midterm_report_months ({rules.midterm_report_months})"
        )
    fields = _fields(data["fields"])
    timezone = _timezone(data["timezone"])
    sites = {key: _site(key, value) for key, value in _table(data["sites"], "sites").items()}
    if not sites:
        raise SettingsError("[sites] must name at least one site")
    return Park(
        name=_text(data["park"], "park"),
        timezone=timezone,
        sites=sites,
        fields=fields,
        rules=rules,
        venture=_venture(data["venture"]),
        accounts=AccountPolicy(
            **{
                name: int(_number(data["accounts"][name], f"accounts.{name}", low, high))
                for name, (low, high) in _ACCOUNTS.items()
            }
        ),
        reminders=_reminders(data["reminders"], data.get("people", {}), timezone, days),
        signing_key=_signing_key(data.get("audit", {}), folder),
    )


def _venture(data: dict[str, Any]) -> VentureRules:
    numbers = {
        name: _number(data[name], f"venture.{name}", low, high)
        for name, (low, high) in _VENTURE.items()
    }
    return VentureRules(
        pass_mark=Decimal(str(numbers["pass_mark"])), min_scores=int(numbers["min_scores"])
    )


def _signing_key(audit: Any, folder: Path) -> str | None:
    """[audit] signing_key: the Ed25519 key that signs checkpoints (relative to the settings
    file's folder)."""
    table = _only(_table(audit, "audit"), {"signing_key"}, "audit")
    if "signing_key" not in table:
        return None
    return str(folder / _text(table["signing_key"], "audit.signing_key"))


def _merge_reminders(data: dict[str, Any], user: dict[str, Any]) -> None:
    allowed = _REMINDER_KEYS | _DEADLINE_KEYS | set(ALL_KINDS)
    bad = set(user) - allowed
    if bad:
        raise SettingsError(
            f"unknown key(s) in [reminders]: {', '.join(sorted(bad))}; allowed: "
            f"{', '.join(sorted(_REMINDER_KEYS | _DEADLINE_KEYS))}, and a table per deadline: "
            f"{', '.join(f'[reminders.{k}]' for k in ALL_KINDS)}"
        )
    for key, value in user.items():
        if key in ALL_KINDS:
            table = _only(_table(value, f"reminders.{key}"), _DEADLINE_KEYS, f"reminders.{key}")
            data.setdefault(key, {}).update(table)
        else:
            data[key] = value


def _reminders(
    data: dict[str, Any], people: Any, timezone: str, days: WorkingDays
) -> ReminderPolicy:
    deadlines = {}
    for kind in ALL_KINDS:
        own = data.get(kind, {})
        merged = {k: v for k, v in data.items() if k in _DEADLINE_KEYS} | own
        # a bad value is named where it was written: [reminders] or [reminders.<kind>]
        where = {k: f"reminders.{kind}" if k in own else "reminders" for k in merged}
        deadlines[kind] = _deadline(merged, where)
    addresses = {
        _text(name, "people"): _address(address, f"people.{name}")
        for name, address in _table(people, "people").items()
    }
    return ReminderPolicy(
        timezone=timezone,
        send_at=_clock_time(data["send_at"], "reminders.send_at"),
        official_calendar=_flag(data["official_calendar"], "reminders.official_calendar"),
        director=_text(data["director"], "reminders.director"),
        scan_interval_seconds=int(
            _number(data["scan_interval_seconds"], "reminders.scan_interval_seconds", 5, 86_400)
        ),
        retry_minutes=_days(data["retry_minutes"], "reminders.retry_minutes", 1, 10_080),
        claim_minutes=int(_number(data["claim_minutes"], "reminders.claim_minutes", 1, 1_440)),
        deadlines=deadlines,
        addresses=addresses,
        days=days,
    )


def _calendar(data: Any) -> dict[int, YearCalendar]:
    """[calendar.<year>]: the days off and adjusted working days of the years the settings
    give; they win over the holiday package's."""
    years = {}
    for key, value in _table(data, "calendar").items():
        where = f"calendar.{key}"
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4):
            raise SettingsError(
                f"[{where}]: a year of four digits is expected, like [calendar.2027]"
            )
        year = int(key)
        if not 2000 <= year <= 2100:
            raise SettingsError(f"[{where}]: the year must be from 2000 to 2100")
        table = _only(_table(value, where), _CALENDAR_KEYS, where)
        holidays = _dates(table.get("holidays", []), f"{where}.holidays", year)
        workdays = _dates(table.get("workdays", []), f"{where}.workdays", year)
        weekdays = sorted(d.isoformat() for d in workdays if d.weekday() < 5)
        if weekdays:
            raise SettingsError(
                f"{where}.workdays lists {', '.join(weekdays)}, which is not a Saturday or a "
                f"Sunday: only weekend days are adjusted working days (调休上班)"
            )
        both = sorted(d.isoformat() for d in holidays & workdays)
        if both:
            raise SettingsError(f"{where}: {', '.join(both)} is both a holiday and a workday")
        source = _text(table["source"], f"{where}.source") if "source" in table else None
        years[year] = YearCalendar(holidays, workdays, source)
    return years


def _dates(value: Any, where: str, year: int) -> frozenset[date]:
    """A list of dates of `year`: TOML dates (2027-01-01) or texts ("2027-01-01")."""
    if not isinstance(value, list):
        raise SettingsError(f"{where} must be a list of dates like 2027-01-01, got {value!r}")
    days = set()
    for item in value:
        try:
            day = item if type(item) is date else date.fromisoformat(_text(item, where))
        except (ValueError, SettingsError):
            raise SettingsError(
                f"{where} must be a list of dates like 2027-01-01, got {item!r}"
            ) from None
        if day.year != year:
            raise SettingsError(f"{where}: {day} is not in {year}")
        days.add(day)
    return frozenset(days)


def _deadline(data: dict[str, Any], where: dict[str, str]) -> DeadlinePolicy:
    def named(key: str) -> str:
        return f"{where[key]}.{key}"

    recipient = data.get("recipient")
    if recipient is not None and recipient not in RECIPIENTS:
        raise SettingsError(
            f"{named('recipient')} must be one of {', '.join(RECIPIENTS)}, got {recipient!r}"
        )

    def whole(key: str, low: int, high: int) -> int:
        return int(_number(data[key], named(key), low, high))

    return DeadlinePolicy(
        remind_days_before=_days(data["remind_days_before"], named("remind_days_before"), 0, 366),
        recipient=recipient,
        escalate_after_days=whole("escalate_after_days", 1, 366),
        escalate_every_days=whole("escalate_every_days", 1, 366),
        escalation_steps=whole("escalation_steps", 0, 52),
    )


def _days(value: Any, where: str, low: int, high: int) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise SettingsError(f"{where} must be a list of whole numbers, got {value!r}")
    return tuple(int(_number(v, where, low, high)) for v in value)


def _clock_time(value: Any, where: str) -> time:
    """A local time of day: "08:00" or a TOML time 08:00:00, without a UTC offset."""
    try:
        at = value if isinstance(value, time) else time.fromisoformat(_text(value, where))
    except (ValueError, SettingsError):
        at = None
    if at is None or at.tzinfo is not None:
        raise SettingsError(
            f'{where} must be a local time of day like "08:00" (no UTC offset: the park\'s '
            f"timezone applies), got {value!r}"
        )
    return at


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{where} must be true or false, got {value!r}")
    return value


def _address(value: Any, where: str) -> str:
    text = _text(value, where)
    if "@" not in text or " " in text:
        raise SettingsError(f"{where} must be a mail address like name@example.org, got {value!r}")
    return text


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
    table = _only(_table(value, f"sites.{key}"), _SITE_KEYS, f"sites.{key}")
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


def _only(table: dict[str, Any], allowed: Collection[str], where: str) -> dict[str, Any]:
    """The table, if it has no keys but the allowed ones."""
    bad = set(table) - set(allowed)
    if bad:
        raise SettingsError(
            f"unknown key(s) in [{where}]: {', '.join(sorted(bad))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return table


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"[{where}] must be a table, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where} must be a non-empty text, got {value!r}")
    return value.strip()
