"""Calendar arithmetic used by the deadlines."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(start: date, months: int) -> date:
    """Calendar months, clipped to the month's end: 2014-01-31 + 1 month = 2014-02-28."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
