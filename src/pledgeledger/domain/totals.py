"""What a total is: one row of figures per group key and unit, and how rows roll up and sort.

Every answer of the ledger (``totals``, ``timeline``, exports, the reference fold in the tests)
is made of :class:`Totals` rows, so the vocabulary lives here once: the groupings
(:data:`GROUPS`), the sector roll-up of ``--depth`` (:func:`roll_up`), the order rows are shown
in (:func:`row_order`) and the derived ``unallocated`` figure.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import attrs

__all__ = [
    "GROUPS",
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
TOTALS_FIELDS = ("unit", "pledged", "allocated", "delivered", "intended", "unallocated")
"""The keys of a row after the group key, in the order of DESIGN.md's JSON keys."""


def roll_up(key: str | None, depth: int | None) -> str | None:
    """A sector path cut to its first ``depth`` segments (``energy/nuclear`` -> ``energy``)."""
    if depth is None or key is None:
        return key
    return "/".join(key.split("/")[:depth])


def row_order(key: str | None, unit: str) -> tuple[bool, str, str]:
    """How rows are sorted: by key (the ``None`` key, "no agreement", last), then by unit."""
    return (key is None, key or "", unit)


@attrs.frozen
class Totals:
    """One row of totals: a group key and unit with its figures.

    ``unallocated`` is derived, so ``pledged == allocated + unallocated`` holds by construction.
    """

    group: Group
    key: str | None
    unit: str
    pledged: Decimal
    allocated: Decimal
    delivered: Decimal
    intended: Decimal

    @property
    def unallocated(self) -> Decimal:
        return self.pledged - self.allocated

    def as_dict(self) -> dict[str, str | None]:
        """The JSON shape of DESIGN.md: the group name as key, figures as decimal strings."""
        return {
            self.group: self.key,
            "unit": self.unit,
            "pledged": str(self.pledged),
            "allocated": str(self.allocated),
            "delivered": str(self.delivered),
            "intended": str(self.intended),
            "unallocated": str(self.unallocated),
        }


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
