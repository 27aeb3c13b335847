"""How the totals grew: cumulative figures per group and unit at the end of every period.

The input is the read models' net change per key, unit and world date (``daily``, already
filtered by ``known_at``), in date order; the output is, for every period from the first with
data to the last, one point per series (group key and unit) that has had a non-zero figure by
then. A series stays once it appears, so charts draw continuous lines, including a drop back to
zero after a withdrawal. Each point holds the figures as of the period's end (world time), so the
last point of a series equals the current totals of its row (``tests/test_timeline.py``).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import attrs

from .projections import Group, Totals

__all__ = ["EVERY", "Every", "TimelinePoint", "period_end", "timeline_points"]

Every = Literal["day", "week", "month", "quarter", "year"]
EVERY: tuple[Every, ...] = ("day", "week", "month", "quarter", "year")


@attrs.frozen(kw_only=True)
class TimelinePoint(Totals):
    """Cumulative figures of one group key and unit as of ``period_end`` (world date).

    A row of totals with a date: the last point of a series equals that series' row of
    ``totals(as_of=...)``, so they share one definition of the figures.
    """

    period_end: date

    def as_dict(self) -> dict[str, str | None]:
        """JSON shape: ``period_end``, then the keys of :meth:`Totals.as_dict`."""
        return {"period_end": self.period_end.isoformat(), **super().as_dict()}


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


def _sort_key(series: tuple[str | None, str]) -> tuple[bool, str, str]:
    key, unit = series
    return (key is None, key or "", unit)


def timeline_points(
    changes: Iterable[tuple[str | None, str, date, list[Decimal]]],
    by: Group,
    every: Every,
    *,
    depth: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Iterator[TimelinePoint]:
    """Fold date-ordered net changes into cumulative points (see the module docstring).

    ``depth`` rolls sector keys up; points before ``start`` are left out (their changes still
    count); ``end`` clips the last point's date, since later changes were not read.
    """
    totals: dict[tuple[str | None, str], list[Decimal]] = {}
    shown: set[tuple[str | None, str]] = set()
    current: date | None = None

    def emit(at: date) -> Iterator[TimelinePoint]:
        for series, figures in totals.items():
            if series not in shown and any(figures):
                shown.add(series)
        if start is not None and at < start:
            return
        day = at if end is None else min(at, end)
        for series in sorted(shown, key=_sort_key):
            pledged, allocated, delivered, intended = totals[series]
            yield TimelinePoint(
                group=by, key=series[0], unit=series[1], period_end=day, pledged=pledged,
                allocated=allocated, delivered=delivered, intended=intended,
            )  # fmt: skip

    for key, unit, day, figures in changes:
        if depth is not None and key is not None:
            key = "/".join(key.split("/")[:depth])
        target = period_end(day, every)
        if current is None:
            current = target
        while current < target:
            yield from emit(current)
            current = period_end(current + timedelta(days=1), every)
        found = totals.get((key, unit))
        if found is None:
            totals[(key, unit)] = list(figures)
        else:
            for i in range(4):
                found[i] += figures[i]
    if current is not None:
        yield from emit(current)
        if end is not None:
            last = period_end(end, every)
            while current < last:
                current = period_end(current + timedelta(days=1), every)
                yield from emit(current)
