"""How the totals grew: cumulative figures per group and unit at the end of every period.

The input is the read models' net change per key, unit and world date (``daily``, already
filtered by ``known_at``), in date order; the output is, for every period from the first with
data to the last, one point per series (group key and unit) that has had a non-zero figure by
then. A series stays once it appears, so charts draw continuous lines, including a drop back to
zero after a withdrawal. Each point holds the figures as of the period's end (world time), so the
last point of a series equals the current totals of its row (``tests/test_timeline.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal

from pledgeledger.domain.periods import Every, period_end
from pledgeledger.domain.totals import Group, TimelinePoint, roll_up, row_order

__all__ = ["timeline_points"]


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
        for series in sorted(shown, key=lambda s: row_order(*s)):
            pledged, allocated, delivered, intended = totals[series]
            yield TimelinePoint(
                group=by,
                key=series[0],
                unit=series[1],
                period_end=day,
                pledged=pledged,
                allocated=allocated,
                delivered=delivered,
                intended=intended,
            )

    for key, unit, day, figures in changes:
        key = roll_up(key, depth)
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
