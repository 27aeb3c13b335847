"""What a total is: one row of figures per group key and unit, and how rows roll up and sort.

Every answer of the ledger (``totals``, ``timeline``, exports, the reference fold in the tests)
is made of :class:`Totals` rows, so the vocabulary lives here once: the groupings
(:data:`GROUPS`), the sector roll-up of ``--depth`` (:func:`roll_up`), the order rows are shown
in (:func:`row_order`) and the derived ``unallocated`` figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Self

import attrs

__all__ = [
    "GROUPS",
    "SUMS",
    "TOTALS_FIELDS",
    "ZERO",
    "Group",
    "TimelinePoint",
    "Totals",
    "roll_up",
    "row_order",
]

Group = Literal["sector", "agreement", "pledger", "recipient"]
GROUPS: tuple[Group, ...] = ("sector", "agreement", "pledger", "recipient")
ZERO = Decimal(0)
TOTALS_FIELDS = (
    "unit",
    "pledged",
    "allocated",
    "delivered",
    "intended",
    "unallocated",
    "pledged_low",
    "pledged_high",
    "allocated_low",
    "allocated_high",
    "delivered_low",
    "delivered_high",
    "intended_low",
    "intended_high",
    "undisclosed",
    "pledged_toward",
    "intended_toward",
)
"""The keys of a row after the group key: DESIGN.md's JSON keys, then the ranges, the count of
undisclosed figures and the parts tied toward other records (docs/semantics.md)."""


SUMS = (
    "pledged",
    "allocated",
    "delivered",
    "intended",
    "pledged_low",
    "pledged_high",
    "pledged_open",
    "allocated_low",
    "allocated_high",
    "allocated_open",
    "delivered_low",
    "delivered_high",
    "delivered_open",
    "intended_low",
    "intended_high",
    "intended_open",
    "undisclosed",
    "pledged_toward",
    "intended_toward",
)
"""What a row of totals is made of: sums, so that rows add up (``--depth`` rolls sector rows
up by adding them) and can be summed from postings. A high is kept as its finite part
(``*_high``) and a count of unbounded parts (``*_open``): it is unbounded while the count is
above zero. :meth:`Totals.of_sums` makes a row of them."""


def roll_up(key: str | None, depth: int | None) -> str | None:
    """A sector path cut to its first ``depth`` segments (``energy/nuclear`` -> ``energy``)."""
    if depth is None or key is None:
        return key
    return "/".join(key.split("/")[:depth])


def row_order(key: str | None, unit: str) -> tuple[bool, str, str]:
    """How rows are sorted: by key (the ``None`` key, "no agreement", last), then by unit."""
    return (key is None, key or "", unit)


def _same_as(name: str) -> Any:
    """A default equal to the row's headline figure ``name``: a row made without ranges is
    exact."""
    return attrs.Factory(lambda row: getattr(row, name), takes_self=True)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@attrs.frozen
class Totals:
    """One row of totals: a group key and unit with its figures.

    ``unallocated`` is derived, so ``pledged == allocated + unallocated`` holds by construction.

    Each figure has a range beside it (``pledged_low`` to ``pledged_high`` and so on; a high of
    ``None`` is unbounded), which holds it: ``low <= figure <= high``. ``undisclosed`` counts
    the records of the row whose figure no report gave, and ``pledged_toward`` and
    ``intended_toward`` the part of pledged and intended tied toward another record (see
    docs/semantics.md). They default to an exact row: ranges equal to the figures, nothing
    undisclosed or tied.
    """

    group: Group
    key: str | None
    unit: str
    pledged: Decimal
    allocated: Decimal
    delivered: Decimal
    intended: Decimal
    pledged_low: Decimal = attrs.field(default=_same_as("pledged"), kw_only=True)
    pledged_high: Decimal | None = attrs.field(default=_same_as("pledged"), kw_only=True)
    allocated_low: Decimal = attrs.field(default=_same_as("allocated"), kw_only=True)
    allocated_high: Decimal | None = attrs.field(default=_same_as("allocated"), kw_only=True)
    delivered_low: Decimal = attrs.field(default=_same_as("delivered"), kw_only=True)
    delivered_high: Decimal | None = attrs.field(default=_same_as("delivered"), kw_only=True)
    intended_low: Decimal = attrs.field(default=_same_as("intended"), kw_only=True)
    intended_high: Decimal | None = attrs.field(default=_same_as("intended"), kw_only=True)
    undisclosed: int = attrs.field(default=0, kw_only=True)
    pledged_toward: Decimal = attrs.field(default=ZERO, kw_only=True)
    intended_toward: Decimal = attrs.field(default=ZERO, kw_only=True)

    @classmethod
    def of_sums(
        cls, group: Group, key: str | None, unit: str, sums: Sequence[Decimal], **extra: Any
    ) -> Self:
        """The row whose :data:`SUMS` are ``sums`` (in that order); ``extra`` are the fields
        of a subclass (a timeline point's ``period_end``)."""
        (
            pledged,
            allocated,
            delivered,
            intended,
            pledged_low,
            pledged_high,
            pledged_open,
            allocated_low,
            allocated_high,
            allocated_open,
            delivered_low,
            delivered_high,
            delivered_open,
            intended_low,
            intended_high,
            intended_open,
            undisclosed,
            pledged_toward,
            intended_toward,
        ) = sums
        return cls(
            group=group,
            key=key,
            unit=unit,
            pledged=pledged,
            allocated=allocated,
            delivered=delivered,
            intended=intended,
            pledged_low=pledged_low,
            pledged_high=None if pledged_open else pledged_high,
            allocated_low=allocated_low,
            allocated_high=None if allocated_open else allocated_high,
            delivered_low=delivered_low,
            delivered_high=None if delivered_open else delivered_high,
            intended_low=intended_low,
            intended_high=None if intended_open else intended_high,
            undisclosed=int(undisclosed),
            pledged_toward=pledged_toward,
            intended_toward=intended_toward,
            **extra,
        )

    @property
    def unallocated(self) -> Decimal:
        return self.pledged - self.allocated

    def range_of(self, figure: str) -> tuple[Decimal, Decimal | None]:
        """The range of ``figure`` (pledged, allocated, delivered or intended): low and high
        (``None``: unbounded)."""
        low: Decimal = getattr(self, f"{figure}_low")
        high: Decimal | None = getattr(self, f"{figure}_high")
        return low, high

    def as_dict(self) -> dict[str, str | int | None]:
        """The JSON shape of DESIGN.md: the group name as key, figures as decimal strings,
        then the ranges (an unbounded high is ``null``), the undisclosed count and the parts
        tied toward other records, in the order of :data:`TOTALS_FIELDS`."""
        return {
            self.group: self.key,
            "unit": self.unit,
            "pledged": str(self.pledged),
            "allocated": str(self.allocated),
            "delivered": str(self.delivered),
            "intended": str(self.intended),
            "unallocated": str(self.unallocated),
            "pledged_low": str(self.pledged_low),
            "pledged_high": _text(self.pledged_high),
            "allocated_low": str(self.allocated_low),
            "allocated_high": _text(self.allocated_high),
            "delivered_low": str(self.delivered_low),
            "delivered_high": _text(self.delivered_high),
            "intended_low": str(self.intended_low),
            "intended_high": _text(self.intended_high),
            "undisclosed": self.undisclosed,
            "pledged_toward": str(self.pledged_toward),
            "intended_toward": str(self.intended_toward),
        }


@attrs.frozen(kw_only=True)
class TimelinePoint(Totals):
    """Cumulative figures of one group key and unit as of ``period_end`` (world date).

    A row of totals with a date: the last point of a series equals that series' row of
    ``totals(as_of=...)``, so they share one definition of the figures.
    """

    period_end: date

    def as_dict(self) -> dict[str, str | int | None]:
        """JSON shape: ``period_end``, then the keys of :meth:`Totals.as_dict`."""
        return {"period_end": self.period_end.isoformat(), **super().as_dict()}
