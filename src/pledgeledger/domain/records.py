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
    billion"). Floors do not cap what sits under them (invariants 2 and 3).
    """

    EXACT = "exact"
    UP_TO = "up_to"
    AT_LEAST = "at_least"


@attrs.frozen
class Source:
    """Where a figure came from. A URL is never invented: leave it out when unknown."""

    outlet: str
    url: str | None = None
    published_on: date | None = None
    quote: str | None = None


@attrs.frozen
class Amount:
    """A decimal value with its unit and bound; amounts of different units never add up."""

    value: Decimal
    unit: str
    bound: Bound = Bound.EXACT

    def __str__(self) -> str:
        prefix = {Bound.EXACT: "", Bound.UP_TO: "up to ", Bound.AT_LEAST: "at least "}[self.bound]
        return f"{prefix}{self.value} {self.unit}"


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
    amount: Decimal
    unit: str
    bound: Bound = Bound.EXACT
    sector: str
    agreement: str | None = None
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit and bound."""
        return Amount(self.amount, self.unit, self.bound)

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Tranche:
    """A part of a pledge or of another tranche, allocated to something concrete."""

    type: Literal["tranche"] = "tranche"
    id: str
    parent: str
    amount: Decimal
    unit: str
    bound: Bound = Bound.EXACT
    sector: str
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit and bound."""
        return Amount(self.amount, self.unit, self.bound)

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
    amount: Decimal
    unit: str
    bound: Bound = Bound.EXACT
    sector: str
    agreement: str | None = None
    announced_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit and bound."""
        return Amount(self.amount, self.unit, self.bound)

    @property
    def world_date(self) -> date:
        return self.announced_on


@attrs.frozen(kw_only=True)
class Delivery:
    """Money disbursed or goods delivered against a pledge or tranche."""

    type: Literal["delivery"] = "delivery"
    id: str
    parent: str
    amount: Decimal
    unit: str
    delivered_on: date
    sources: tuple[Source, ...]

    @property
    def figure(self) -> Amount:
        """The amount as one value with its unit and bound."""
        return Amount(self.amount, self.unit)

    @property
    def world_date(self) -> date:
        return self.delivered_on


@attrs.frozen(kw_only=True)
class Amendment:
    """A correction that revises a figure (and optionally its bound); never an edit in place."""

    type: Literal["amendment"] = "amendment"
    id: str
    target: str
    amount: Decimal
    bound: Bound | None = None
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


Event = Agreement | Pledge | Tranche | LetterOfIntent | Delivery | Amendment | Withdrawal
"""Any record the ledger accepts."""

EVENT_TYPES: dict[str, type[Event]] = {
    "agreement": Agreement,
    "pledge": Pledge,
    "tranche": Tranche,
    "loi": LetterOfIntent,
    "delivery": Delivery,
    "amendment": Amendment,
    "withdrawal": Withdrawal,
}
"""The ``type`` field of a JSON Lines record, mapped to its class."""
