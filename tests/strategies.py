"""Hypothesis strategies for the ledger's values and events.

Amounts are decimals with at most two places and at most 13 digits before the point, so that
any sum the tests make stays exact within Python's default 28-digit decimal context.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from pledgeledger import (
    Agreement,
    Amendment,
    Bound,
    Delivery,
    Event,
    LetterOfIntent,
    Pledge,
    Source,
    Tranche,
    Withdrawal,
)
from pledgeledger.domain.records import Lapse, Report

MAX_AMOUNT = Decimal("9999999999999.99")

amounts: st.SearchStrategy[Decimal] = st.decimals(
    min_value=Decimal("0.01"),
    max_value=MAX_AMOUNT,
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
"""Positive, finite amounts with at most two decimal places."""

figures: st.SearchStrategy[Decimal | None] = st.none() | amounts
"""A figure's amount: as for ``amounts``, or undisclosed (``None``)."""
ends: st.SearchStrategy[Decimal | None] = st.none() | amounts
"""A stated low or high (shapes only: these strategies do not keep ranges valid)."""
maybe_ids: st.SearchStrategy[str | None] = st.none() | st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=16
)

any_decimals: st.SearchStrategy[Decimal] = st.decimals(allow_nan=False)
"""Any decimal that equals itself: negative, zero, huge exponents, infinities."""

bounds: st.SearchStrategy[Bound] = st.sampled_from(Bound)
units: st.SearchStrategy[str] = st.sampled_from(["USD", "JPY", "EUR", "t LNG/yr", "missiles"])
words: st.SearchStrategy[str] = st.text(min_size=1, max_size=12)
ids: st.SearchStrategy[str] = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=16
)
sectors: st.SearchStrategy[str] = st.lists(
    st.sampled_from(["energy", "nuclear", "gas", "ai", "chips", "shipbuilding"]),
    min_size=1,
    max_size=3,
).map("/".join)
dates: st.SearchStrategy[date] = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1))

sources: st.SearchStrategy[Source] = st.builds(
    Source,
    outlet=words,
    url=st.none() | st.just("https://example.org/report"),
    published_on=st.none() | dates,
    quote=st.none() | st.text(max_size=40),
)
source_lists: st.SearchStrategy[tuple[Source, ...]] = st.lists(sources, min_size=1, max_size=3).map(
    tuple
)

agreements: st.SearchStrategy[Agreement] = st.builds(
    Agreement,
    id=ids,
    title=words,
    parties=st.lists(words, max_size=3).map(tuple),
    signed_on=dates,
    sources=source_lists,
)
pledges: st.SearchStrategy[Pledge] = st.builds(
    Pledge,
    id=ids,
    pledger=words,
    recipient=words,
    amount=figures,
    unit=units,
    bound=bounds,
    low=ends,
    high=ends,
    sector=sectors,
    agreement=st.none() | ids,
    toward=maybe_ids,
    converts=maybe_ids,
    due_by=st.none() | dates,
    announced_on=dates,
    sources=source_lists,
)
tranches: st.SearchStrategy[Tranche] = st.builds(
    Tranche,
    id=ids,
    parent=ids,
    amount=figures,
    unit=units,
    bound=bounds,
    low=ends,
    high=ends,
    sector=sectors,
    converts=maybe_ids,
    due_by=st.none() | dates,
    announced_on=dates,
    sources=source_lists,
)
letters: st.SearchStrategy[LetterOfIntent] = st.builds(
    LetterOfIntent,
    id=ids,
    party=words,
    counterparty=words,
    amount=figures,
    unit=units,
    bound=bounds,
    low=ends,
    high=ends,
    sector=sectors,
    agreement=st.none() | ids,
    toward=maybe_ids,
    due_by=st.none() | dates,
    announced_on=dates,
    sources=source_lists,
)
deliveries: st.SearchStrategy[Delivery] = st.builds(
    Delivery,
    id=ids,
    parent=ids,
    amount=figures,
    unit=units,
    bound=st.none() | bounds,
    low=ends,
    high=ends,
    delivered_on=dates,
    sources=source_lists,
)
amendments: st.SearchStrategy[Amendment] = st.builds(
    Amendment,
    id=ids,
    target=ids,
    amount=amounts,
    bound=st.none() | bounds,
    low=ends,
    high=ends,
    adopts=maybe_ids,
    reason=words,
    announced_on=dates,
    sources=source_lists,
)
withdrawals: st.SearchStrategy[Withdrawal] = st.builds(
    Withdrawal, id=ids, target=ids, reason=words, announced_on=dates, sources=source_lists
)
lapses: st.SearchStrategy[Lapse] = st.builds(
    Lapse, id=ids, target=ids, reason=words, announced_on=dates, sources=source_lists
)
reports: st.SearchStrategy[Report] = st.builds(
    Report,
    id=ids,
    about=ids,
    amount=figures,
    unit=units,
    bound=bounds,
    low=ends,
    high=ends,
    reported_on=dates,
    sources=source_lists,
)

EVENT_STRATEGIES: dict[str, st.SearchStrategy[Event]] = {
    "agreement": agreements,
    "pledge": pledges,
    "tranche": tranches,
    "loi": letters,
    "delivery": deliveries,
    "amendment": amendments,
    "withdrawal": withdrawals,
    "lapse": lapses,
    "report": reports,
}
"""One strategy per ``type`` of DESIGN.md's file format."""

events: st.SearchStrategy[Event] = st.one_of(*EVENT_STRATEGIES.values())
