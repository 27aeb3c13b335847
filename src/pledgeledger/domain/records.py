"""The ledger's records: what a news report announces, as one immutable event each.

These are the user-facing events of DESIGN.md (one JSON Lines line each). They are frozen attrs
classes so that two parses of the same line compare equal, which is what idempotent import
relies on: a known ``id`` with equal content is skipped, with different content refused.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Literal

import attrs

MAX_INTEGER_DIGITS = 18
"""Digits an amount may have before the decimal point: 10^18 - 1 covers any pledge in any
currency (Indonesian rupiah included), and with :data:`MAX_DECIMAL_PLACES` keeps amounts within
24 significant digits, so sums in Python's default 28-digit context stay exact below 10^22."""
MAX_DECIMAL_PLACES = 6
"""Digits an amount may have after the decimal point."""


class Bound(enum.StrEnum):
    """How a reported figure bounds the truth.

    ``up_to`` is a ceiling ("up to $100 billion"), ``at_least`` a floor ("more than $330
    billion"), ``about`` an approximation ("some $20 billion": within
    :data:`~pledgeledger.domain.figures.ABOUT_SPREAD` of the figure unless a range is stated).
    Floors do not cap what sits under them (invariants 2 and 3); every other bound caps with
    its headline figure.
    """

    EXACT = "exact"
    UP_TO = "up_to"
    AT_LEAST = "at_least"
    ABOUT = "about"


def _exact_is_none(bound: Bound | None) -> Bound | None:
    """A delivery's bound as stored: ``exact``, the default, is kept as ``None``.

    Deliveries had no bound before 0.3, so their stored entries have none; keeping the default
    as ``None`` (left out when stored) makes a line with ``"bound": "exact"`` equal to one
    without it, as for every other default, and old entries equal to what they always were.
    """
    return None if bound is Bound.EXACT else bound


@attrs.frozen
class Source:
    """Where a figure came from. A URL is never invented: leave it out when unknown."""

    outlet: str
    url: str | None = None
    published_on: date | None = None
    quote: str | None = None


_PREFIX = {
    Bound.EXACT: "",
    Bound.UP_TO: "up to ",
    Bound.AT_LEAST: "at least ",
    Bound.ABOUT: "about ",
}


@attrs.frozen
class Amount:
    """A figure: a decimal value with its unit, bound and optional stated range.

    ``value`` is ``None`` for an undisclosed figure (a report that gives no number); ``low``
    and ``high`` are a range the report states around the headline ``value``. Amounts of
    different units never add up.
    """

    value: Decimal | None
    unit: str
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None

    def __str__(self) -> str:
        if self.value is None:
            return f"undisclosed {self.unit}"
        text = f"{_PREFIX[self.bound]}{self.value} {self.unit}"
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else str(self.low)
            high = "" if self.high is None else str(self.high)
            text += f" ({low}-{high})"
        return text


@attrs.frozen(kw_only=True)
class Agreement:
    """A named framework that pledges and LOIs sit under."""

    type: Literal["agreement"] = "agreement"
    id: str
    title: str
    parties: tuple[str, ...] = ()
    signed_on: date
    sources: tuple[Source, ...]

    @property
    def world_date(self) -> date:
        return self.signed_on


@attrs.frozen(kw_only=True)
class Pledge:
    """A binding commitment by a pledger to a recipient: the root of a tree of tranches."""

    type: Literal["pledge"] = "pledge"
    id: str
    pledger: str
    recipient: str
    amount: Decimal | None
    unit: str
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None
    sector: str
    agreement: str | None = None
    toward: str | None = None
    converts: str | None = None
    due_by: date | None = None
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit, bound and stated range."""
        return Amount(self.amount, self.unit, self.bound, self.low, self.high)

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Tranche:
    """A part of a pledge or of another tranche, allocated to something concrete."""

    type: Literal["tranche"] = "tranche"
    id: str
    parent: str
    amount: Decimal | None
    unit: str
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None
    sector: str
    converts: str | None = None
    due_by: date | None = None
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit, bound and stated range."""
        return Amount(self.amount, self.unit, self.bound, self.low, self.high)

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class LetterOfIntent:
    """A non-binding letter of intent or expression of interest: counted as intended only."""

    type: Literal["loi"] = "loi"
    id: str
    party: str
    counterparty: str
    amount: Decimal | None
    unit: str
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None
    sector: str
    agreement: str | None = None
    toward: str | None = None
    due_by: date | None = None
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit, bound and stated range."""
        return Amount(self.amount, self.unit, self.bound, self.low, self.high)

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Delivery:
    """Money disbursed or goods delivered against a pledge or tranche."""

    type: Literal["delivery"] = "delivery"
    id: str
    parent: str
    amount: Decimal | None
    unit: str
    bound: Bound | None = attrs.field(default=None, converter=_exact_is_none)
    low: Decimal | None = None
    high: Decimal | None = None
    delivered_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit, bound and stated range."""
        return Amount(self.amount, self.unit, self.bound or Bound.EXACT, self.low, self.high)

    @property
    def world_date(self) -> date:
        return self.delivered_on


@attrs.frozen(kw_only=True)
class Amendment:
    """A correction that revises a figure (and optionally its bound); never an edit in place.

    It states the figure anew: ``low`` and ``high`` are its range (none when left out), and
    ``bound`` is kept from before when left out. ``adopts`` names the report whose figure it
    makes the counted one.
    """

    type: Literal["amendment"] = "amendment"
    id: str
    target: str
    amount: Decimal
    bound: Bound | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    adopts: str | None = None
    reason: str
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Withdrawal:
    """A correction that cancels a record (and, for a pledge or tranche, its whole subtree)."""

    type: Literal["withdrawal"] = "withdrawal"
    id: str
    target: str
    reason: str
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Lapse:
    """A correction that records a deadline passed: the record stops counting, as withdrawn,
    but shows as lapsed (and so does, for a pledge or tranche, its whole subtree)."""

    type: Literal["lapse"] = "lapse"
    id: str
    target: str
    reason: str
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Report:
    """What one source said about the figure of a pledge, tranche, LOI or delivery.

    Kept beside the counted figure and never counted itself: two outlets that disagree are
    both on record, and an amendment may adopt one (``adopts``).
    """

    type: Literal["report"] = "report"
    id: str
    about: str
    amount: Decimal | None
    unit: str
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None
    reported_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The reported amount as one value with its unit, bound and stated range."""
        return Amount(self.amount, self.unit, self.bound, self.low, self.high)

    @property
    def world_date(self) -> date:
        return self.reported_on


Event = (
    Agreement
    | Pledge
    | Tranche
    | LetterOfIntent
    | Delivery
    | Amendment
    | Withdrawal
    | Lapse
    | Report
)
"""Any record the ledger accepts."""

Correction = Amendment | Withdrawal | Lapse
"""A record that changes another: a new figure, a cancellation, a deadline passed."""
Figured = Pledge | Tranche | LetterOfIntent | Delivery
"""A record with a counted figure (which reports may be about)."""

EVENT_TYPES: dict[str, type[Event]] = {
    "agreement": Agreement,
    "pledge": Pledge,
    "tranche": Tranche,
    "loi": LetterOfIntent,
    "delivery": Delivery,
    "amendment": Amendment,
    "withdrawal": Withdrawal,
    "lapse": Lapse,
    "report": Report,
}
"""The ``type`` field of a JSON Lines record, mapped to its class."""
