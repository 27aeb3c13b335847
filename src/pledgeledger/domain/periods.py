"""Periods of world time: what ``--every`` means and where each period ends."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Literal

__all__ = ["EVERY", "Every", "period_end", "periods_after"]

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


def periods_after(end: date, every: Every) -> Iterator[date]:
    """The ends of the periods that follow the one ending on ``end``, in order, endlessly.

    The caller stops where it needs to: a timeline walks on from one period with changes to
    the next, and past the last one up to its as-of date.
    """
    while True:
        end = period_end(end + timedelta(days=1), every)
        yield end
