"""Clocks, calendars and the deadlines derived from a case's events."""
