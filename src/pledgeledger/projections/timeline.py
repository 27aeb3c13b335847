"""How the totals grew: cumulative figures per group and unit at the end of every period.

The input is the read models' net change per key, unit and world date (``daily``, already
filtered by ``known_at`` and ``as_of``), in date order; the output is, for every period from the
first with data to the last, one point per series (group key and unit) that has had a non-zero
figure by then. A series stays once it appears, so charts draw continuous lines, including a
drop back to zero after a withdrawal. Each point holds the figures as of the period's end (world
time), so the last point of a series equals the current totals of its row
(``tests/test_timeline.py``).

Two plain parts: :func:`_periods` walks the periods in order, handing each its changes (none
for a quiet one), and :class:`_Running` keeps the running figures and which series are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from itertools import groupby, takewhile

from pledgeledger.domain.periods import Every, period_end, periods_after
from pledgeledger.domain.query import Query
from pledgeledger.domain.totals import Group, TimelinePoint, roll_up, row_order

__all__ = ["timeline_points"]

Change = tuple[str | None, str, date, list[Decimal]]
"""A row of ``ReadModels.daily``: group key, unit, world date and the net change of each of a
row's :data:`~pledgeledger.domain.totals.SUMS`."""
Series = tuple[str | None, str]
"""A line of the timeline: a (rolled-up) group key and a unit."""


def timeline_points(changes: Iterable[Change], query: Query) -> Iterator[TimelinePoint]:
    """Fold date-ordered net changes into cumulative points (see the module docstring).

    ``query.depth`` rolls sector keys up; points of periods ending before ``query.start`` are
    left out (their changes still count); ``query.as_of`` carries the timeline on to the
    period that holds it and clips that last point's date, since later changes were not read.
    """
    running = _Running(query.by, query.depth)
    for end, batch in _periods(changes, query.every, query.as_of):
        for key, unit, _, change in batch:
            running.add(key, unit, change)
        running.close_period()
        if query.start is None or end >= query.start:
            yield from running.points(end if query.as_of is None else min(end, query.as_of))


def _periods(
    changes: Iterable[Change], every: Every, until: date | None
) -> Iterator[tuple[date, Iterable[Change]]]:
    """Every period from the first with a change to the last with one (or to the one holding
    ``until``, when that is later): its end and its changes, in order.

    Each period's changes must be read before the next period is asked for (they are read
    from ``changes`` as they are handed out, so a long timeline streams).
    """
    last: date | None = None
    for end, batch in groupby(changes, key=lambda change: period_end(change[2], every)):
        if last is not None:
            yield from _quiet(last, end, every)
        yield end, batch
        last = end
    if last is not None and until is not None:
        final = period_end(until, every)
        if final > last:
            yield from _quiet(last, final, every)
            yield final, ()


def _quiet(after: date, before: date, every: Every) -> Iterator[tuple[date, Iterable[Change]]]:
    """The periods strictly between the ones ending on ``after`` and ``before``, with no
    changes: their points repeat the figures of the period before."""
    for end in takewhile(lambda end: end < before, periods_after(after, every)):
        yield end, ()


class _Running:
    """The cumulative figures of every series so far, and which series the timeline shows:
    those that had a non-zero figure at the end of some period (a pledge withdrawn within the
    period it was made in never shows)."""

    def __init__(self, group: Group, depth: int | None) -> None:
        self.group = group
        self.depth = depth
        self.figures: dict[Series, list[Decimal]] = {}
        self.shown: set[Series] = set()
        self.order: list[Series] = []
        """:attr:`shown` in the order rows are listed (:func:`row_order`)."""

    def add(self, key: str | None, unit: str, change: list[Decimal]) -> None:
        series = (roll_up(key, self.depth), unit)
        found = self.figures.get(series)
        if found is None:
            self.figures[series] = list(change)
        else:
            for i, value in enumerate(change):
                found[i] += value

    def close_period(self) -> None:
        """A period ends: the series with a figure now are shown from here on."""
        new = [s for s, f in self.figures.items() if s not in self.shown and any(f)]
        if new:
            self.shown.update(new)
            self.order = sorted(self.shown, key=lambda s: row_order(*s))

    def points(self, day: date) -> Iterator[TimelinePoint]:
        """The shown series' figures as they are now, as points dated ``day``."""
        for key, unit in self.order:
            yield TimelinePoint.of_sums(
                self.group, key, unit, self.figures[(key, unit)], period_end=day
            )
