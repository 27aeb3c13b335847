"""What a figure means as a range, and how ranges add up: the one place that says so.

News reports rarely give exact figures: "up to $100 billion", "more than $330 billion", "some
$20 billion", or no number at all. Every counted figure is therefore an :class:`Interval`
(:func:`interval_of`), and every total carries the sum of the intervals beside the sum of the
headline figures. The rules (:mod:`.rules`), the read models (``projections/folder.py``) and the
views (``view.py``) all take intervals from here, so that they cannot disagree on what a figure
means.

A pledge's tree is more than the sum of its figures: a pledge or tranche is never lower than
what has been carved out of it, so its *effective* low is at least the sum of its active
children's effective lows (:func:`effective_low`). Totals by sector spread a tree over its
nodes' sectors, each node counting the part it holds beyond its children (:func:`own_part`);
totals by agreement, pledger or recipient count whole trees (:func:`tree_parts`). See
``docs/semantics.md``, "Ranges".
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from pledgeledger.domain.records import Bound

__all__ = [
    "ABOUT_SPREAD",
    "Interval",
    "Kids",
    "Part",
    "Range",
    "check_figure",
    "effective_low",
    "held",
    "interval_of",
    "own_part",
    "own_range",
    "tree_parts",
    "tree_ranges",
]

ABOUT_SPREAD = Decimal("0.1")
"""How far an ``about`` figure without a stated range may be from the truth, as a fraction
of it: ±10 %. News "about", "some" and "roughly" figures are rounded to one or two significant
digits ("some $20 billion" may be 19 or 21), and ±10 % covers that rounding; a report that
states a range gives it as ``low`` and ``high`` instead."""

_ZERO = Decimal(0)


class Interval(NamedTuple):
    """The range a figure (or a sum of figures) may truly have: ``low`` to ``high``, where a
    ``high`` of ``None`` is unbounded (a floor, or an undisclosed figure).

    Intervals, :class:`Kids` and :class:`Part` are named tuples, not attrs classes: the read
    models make several for every node an event touches, and a tuple costs a fraction of a
    frozen attrs instance to make.
    """

    low: Decimal
    high: Decimal | None

    def plus(self, other: Interval) -> Interval:
        """The range of the sum of two figures."""
        high = None if self.high is None or other.high is None else self.high + other.high
        return Interval(self.low + other.low, high)

    def holds(self, value: Decimal) -> bool:
        """Whether ``value`` lies in the range."""
        return self.low <= value and (self.high is None or value <= self.high)

    @property
    def exact(self) -> bool:
        """Whether the interval is a single value."""
        return self.high is not None and self.low == self.high

    @classmethod
    def zero(cls) -> Interval:
        return cls(_ZERO, _ZERO)

    @classmethod
    def total(cls, intervals: Iterable[Interval]) -> Interval:
        """The sum of ``intervals`` (zero for none)."""
        out = cls.zero()
        for interval in intervals:
            out = out.plus(interval)
        return out


def interval_of(
    amount: Decimal | None,
    bound: Bound | None = Bound.EXACT,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> Interval:
    """The range a figure stands for.

    ``exact`` x is [x, x]; ``up_to`` x is [0, x]; ``at_least`` x is [x, unbounded); ``about``
    x is x ± :data:`ABOUT_SPREAD`; a stated ``low`` or ``high`` replaces that end. An
    undisclosed figure (``amount`` ``None``) is [0, unbounded): it may be anything.
    """
    if amount is None:
        return Interval(_ZERO, None)
    lo: Decimal
    hi: Decimal | None
    match bound:
        case Bound.UP_TO:
            lo, hi = _ZERO, amount
        case Bound.AT_LEAST:
            lo, hi = amount, None
        case Bound.ABOUT:
            spread = amount * ABOUT_SPREAD
            lo, hi = amount - spread, amount + spread
        case _:
            lo, hi = amount, amount
    return Interval(lo if low is None else low, hi if high is None else high)


def check_figure(
    amount: Decimal | None, bound: Bound | None, low: Decimal | None, high: Decimal | None
) -> tuple[list[str], list[str]]:
    """What is wrong with a figure: ``(malformed, out_of_range)``.

    The first list names fields whose combination makes no sense (a range on an ``exact``
    figure, anything but a plain ``amount: null`` for an undisclosed one): the record is
    malformed. The second says how a stated range fails invariant 1 (negative, not finite, or
    not holding its figure): the record is refused.
    """
    malformed: list[str] = []
    out_of_range: list[str] = []
    stated = low is not None or high is not None
    if amount is None:
        if stated:
            malformed.append(
                "low/high: an undisclosed figure (amount null) has no range; give the amount"
            )
        if bound not in (None, Bound.EXACT):
            malformed.append(
                f"bound: an undisclosed figure (amount null) has no bound, got {bound.value}"
            )
        return malformed, out_of_range
    if stated and bound in (None, Bound.EXACT):
        malformed.append(
            "bound: bound exact takes no range; use about, up_to or at_least with low/high"
        )
        return malformed, out_of_range
    for name, value in (("low", low), ("high", high)):
        if value is not None and not (value.is_finite() and value >= 0):
            out_of_range.append(f"{name} must be finite and not negative, got {value}")
    if out_of_range:
        return malformed, out_of_range
    if low is not None and low > amount:
        out_of_range.append(f"low {low} is above the amount {amount}")
    if high is not None and high < amount:
        out_of_range.append(f"high {high} is below the amount {amount}")
    return malformed, out_of_range


class Kids(NamedTuple):
    """What a node's active children (tranches directly under it) add up to: headline
    amounts, effective lows, and highs (the finite part, and how many are unbounded)."""

    amount: Decimal = _ZERO
    low: Decimal = _ZERO
    high: Decimal = _ZERO
    unbounded: int = 0

    @property
    def high_interval(self) -> Decimal | None:
        return None if self.unbounded else self.high


class Part(NamedTuple):
    """A contribution to a row of totals: a headline figure and the range around it.

    Every part holds its headline (``low <= headline <= high``), so rows made of parts do.
    """

    headline: Decimal
    range: Interval

    @classmethod
    def of(cls, headline: Decimal, low: Decimal, high: Decimal | None) -> Part:
        """A part with its range widened, if need be, to hold its headline.

        A headline falls outside the range only in a tree carved beyond a floor (an
        ``at_least`` or undisclosed node whose tranches exceed its stated figure): the node's
        own part then has a negative headline, the visible sign of such a tree, while its
        range says it holds at least nothing. Widening keeps ``low <= headline <= high`` in
        every row, which is what a reader of the range relies on.
        """
        headline, low, top = held(headline, low, high)
        return Part(headline, Interval(low, top))


def effective_low(figure: Interval, kids: Kids) -> Decimal:
    """A pledge's or tranche's low: never below what has been carved out of it."""
    return max(figure.low, kids.low)


Range = tuple[Decimal, Decimal, Decimal | None]
"""A headline with the range that holds it: ``(headline, low, high)``."""


def held(headline: Decimal, low: Decimal, high: Decimal | None) -> Range:
    """:meth:`Part.of` as a plain tuple (the read models' hot path makes millions)."""
    return (
        headline,
        low if low < headline else headline,
        None if high is None else (high if high > headline else headline),
    )


def own_range(
    amount: Decimal | None,
    low: Decimal,
    high: Decimal | None,
    kids_amount: Decimal,
    kids_low: Decimal,
    kids_high: Decimal,
    kids_unbounded: int,
) -> Range:
    """:func:`own_part` on plain values: a node's figure (``amount``, ``low``, ``high``) and
    what its active tranches add up to (as :class:`Kids`)."""
    headline = (amount or _ZERO) - kids_amount
    if kids_unbounded:
        own_low = _ZERO
    else:
        excess = (low if low > kids_low else kids_low) - kids_high
        own_low = excess if excess > _ZERO else _ZERO
    return held(headline, own_low, None if high is None else high - kids_low)


def tree_ranges(
    amount: Decimal | None,
    low: Decimal,
    high: Decimal | None,
    kids_amount: Decimal,
    kids_low: Decimal,
    kids_high: Decimal,
    kids_unbounded: int,
) -> tuple[Range, Range]:
    """:func:`tree_parts` on plain values (see :func:`own_range`)."""
    pledged = held(amount or _ZERO, low if low > kids_low else kids_low, high)
    cap = None if kids_unbounded else kids_high
    if high is not None:
        cap = high if cap is None or high < cap else cap
    return pledged, held(kids_amount, kids_low, cap)


def own_part(amount: Decimal | None, figure: Interval, kids: Kids) -> Part:
    """What a node holds beyond its active children: its share of the totals by sector.

    The headline is its amount less its children's; the range is
    [max(0, Le(n) - sum He(c)), He(n) - sum Le(c)], where Le is the effective low and He the
    high. Each row taken alone gets its true range; a tree's rows are not independent, so
    summed over a tree they may be wider than the tree's own range (``docs/semantics.md``).
    """
    headline, low, high = own_range(
        amount, figure.low, figure.high, kids.amount, kids.low, kids.high, kids.unbounded
    )
    return Part(headline, Interval(low, high))


def tree_parts(amount: Decimal | None, figure: Interval, kids: Kids) -> tuple[Part, Part]:
    """What a whole tree adds to a row of totals by agreement, pledger or recipient, from its
    root's figure and top-level tranches: ``(pledged, allocated)``.

    Pledged is the root's effective range; allocated is the sum of its top-level tranches'
    ranges, its high capped at the root's high (nothing allocated exceeds a ceiling).
    """
    pledged, allocated = tree_ranges(
        amount, figure.low, figure.high, kids.amount, kids.low, kids.high, kids.unbounded
    )
    return (
        Part(pledged[0], Interval(pledged[1], pledged[2])),
        Part(allocated[0], Interval(allocated[1], allocated[2])),
    )
