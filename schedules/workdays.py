"""Working days: China's official calendar of public holidays and adjusted working days.

A reminder that would go out on a holiday or weekend goes out on the working day before; an
escalation, on the working day after. The official calendar comes from the `chinese-calendar`
package, which knows the years the State Council has announced. For a year it does not know, the
weekends alone are the days off, and a warning says so once per year.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger("incubator.workdays")
# No real run of days off is longer than the Spring Festival's nine; a search stops well after.
_LONGEST_SEARCH = 60


class WorkingDays:
    """Which days are working days; `official=False` counts every weekday as one."""

    def __init__(self, official: bool = True, warn: Callable[[str], None] | None = None) -> None:
        self.official = official
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
        if self.official and day.year not in self._unknown_years:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                self._unknown_years.add(day.year)
                self._warn(
                    f"the official holiday calendar (chinese-calendar "
                    f"{calendar_release()}) does not know {day.year} yet: in {day.year} only "
                    f"weekends count as days off; upgrade chinese-calendar once the year's "
                    f"holidays are announced"
                )
        return day.weekday() < 5

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


def calendar_release() -> str:
    """The installed release of chinese-calendar (which years it knows depends on it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chinese-calendar")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "?"
