"""Periods of world time: what ``--every`` means and where each period ends."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Literal

__all__ = ["EVERY", "Every", "period_end"]

Every = Literal["day", "week", "month", "quarter", "year"]
EVERY: tuple[Every, ...] = ("day", "week", "month", "quarter", "year")


def period_end(day: date, every: Every) -> date:
    """The last day of the period that contains ``day`` (weeks end on Sunday, ISO 8601)."""
    if every == "day":
        return day
    if every == "week":
        return day + timedelta(days=6 - day.weekday())
    if every == "year":
        return date(day.year, 12, 31)
    month = day.month if every == "month" else (day.month - 1) // 3 * 3 + 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])
