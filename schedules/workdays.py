"""Working days: China's official calendar of public holidays and adjusted working days.

A reminder that would go out on a holiday or weekend goes out on the working day before; an
escalation, on the working day after; a period whose last day is a day off ends on the next
working day (lifecycle/deadlines.py). The official calendar comes from the `chinese-calendar`
package, which knows the years the State Council had announced when it was released, and from
the settings file, which may give a year's notice itself (`[calendar.2027]`): a year the settings
give wins over the package. For a year neither knows, the weekends alone are the days off, and a
warning says so once per year.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import chinese_calendar

log = logging.getLogger("incubator.workdays")
# No real run of days off is longer than the Spring Festival's nine; a search stops well after.
_LONGEST_SEARCH = 60


@dataclass(frozen=True)
class YearCalendar:
    """One year as the State Council's notice gives it: the days off besides the weekends
    (放假), and the weekend days that are working days (调休上班)."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str | None = None  # the notice, for people: 国办发明电〔2025〕7号

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5


class WorkingDays:
    """Which days are working days; `official=False` counts every weekday as one. `years`:
    the years the settings file gives, which win over the package's."""

    def __init__(
        self,
        official: bool = True,
        warn: Callable[[str], None] | None = None,
        years: Mapping[int, YearCalendar] | None = None,
    ) -> None:
        self.official = official
        self.years = dict(years or {})
        self._warn = warn or log.warning
        self._unknown_years: set[int] = set()
        # chinese-calendar checks each date against every year it knows (min and max over all
        # its holidays, ~10 µs a call): a rebuild asks about the same few thousand days 200,000
        # times.
        self._known: dict[date, bool] = {}

    def is_working(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._is_working(day)
        return known

    def _is_working(self, day: date) -> bool:
        if not self.official:
            return day.weekday() < 5
        own = self.years.get(day.year)
        if own is not None:
            return own.is_working(day)
        if day.year not in self._unknown_years:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                self._unknown_years.add(day.year)
                self._warn(
                    f"the official holiday calendar (chinese-calendar "
                    f"{calendar_release()}) does not know {day.year} yet and the settings "
                    f"file gives no [calendar.{day.year}]: in {day.year} only weekends count as "
                    f"days off; add the State Council's notice to the settings file"
                )
        return day.weekday() < 5

    def knows(self, year: int) -> bool:
        """Whether the days off of `year` are known: from the settings or the package (or
        only weekends are days off anyway: `official=False`)."""
        return not self.official or year in self.years or package_knows(year)

    def unknown_ahead(self, today: date, days: int = 31) -> list[int]:
        """The years from `today` to `days` later whose days off are not known: from December
        1 the next year is among them (a month ahead, time to add its notice)."""
        last = today + timedelta(days=days)
        return [year for year in range(today.year, last.year + 1) if not self.knows(year)]

    def on_or_before(self, day: date) -> date:
        return self._walk(day, -1)

    def on_or_after(self, day: date) -> date:
        return self._walk(day, 1)

    def _walk(self, day: date, direction: int) -> date:
        for offset in range(_LONGEST_SEARCH):
            candidate = day + timedelta(days=offset * direction)
            if self.is_working(candidate):
                return candidate
        raise AssertionError(f"no working day within {_LONGEST_SEARCH} days of {day}")

    def fingerprint(self) -> str:
        """What the answers depend on: the package's release and the settings' years. Stored
        answers (the due dates' reminder times) are rebuilt when it changes."""
        years = ";".join(
            f"{year}:{sorted(c.holidays)}:{sorted(c.workdays)}"
            for year, c in sorted(self.years.items())
        )
        if not self.official:
            return "weekends"
        return f"chinese-calendar {calendar_release()}|{zlib.crc32(years.encode()):08x}"


def package_knows(year: int) -> bool:
    """Whether the installed chinese-calendar knows the holidays of `year`."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def package_last_year() -> int:
    """The last year the installed chinese-calendar knows."""
    last: date = max(chinese_calendar.holidays)
    return last.year


@cache
def calendar_release() -> str:
    """The installed release of chinese-calendar (which years it knows depends on it): read
    from the package, as every command's schema check asks (the installed packages' metadata is
    a search of the whole environment)."""
    release = getattr(chinese_calendar, "__version__", None)
    if isinstance(release, str):
        return release
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "?"
