"""Small builders shared by the tests: JSON-shaped records, a hand-driven clock, snapshots.

The builders return the dicts a JSON Lines file holds, so tests read like the file format of
DESIGN.md. Each takes the fields that matter to a test and fills the rest with plain defaults.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from pledgeledger import GROUPS, Ledger, LoggedEvent, Totals

Record = dict[str, Any]

SOURCES: list[dict[str, str]] = [{"outlet": "Gazette", "url": "https://example.org/1"}]
START = datetime(2025, 1, 1, tzinfo=UTC)


class FakeClock:
    """A clock for ``Ledger.open(..., clock=...)``: returns ``now``, then steps it forward.

    Set ``now`` to choose the recorded time of the next batch; ``calls`` counts how often the
    ledger asked (once per attempt at a batch, so retries show up here).
    """

    def __init__(self, now: datetime = START, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = now
        self.step = step
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.calls += 1
            current = self.now
            self.now = current + self.step
            return current


def agreement(id: str, *, on: str = "2025-01-01", parties: tuple[str, ...] = ("A", "B")) -> Record:
    return {
        "type": "agreement",
        "id": id,
        "title": f"The {id} accord",
        "parties": list(parties),
        "signed_on": on,
        "sources": SOURCES,
    }


def pledge(
    id: str,
    amount: str | None,
    *,
    unit: str = "USD",
    sector: str = "cross-sector",
    on: str = "2025-01-01",
    pledger: str = "Japan",
    recipient: str = "United States",
    agreement: str | None = None,
    bound: str | None = None,
) -> Record:
    record: Record = {
        "type": "pledge",
        "id": id,
        "pledger": pledger,
        "recipient": recipient,
        "amount": amount,
        "unit": unit,
        "sector": sector,
        "announced_on": on,
        "sources": SOURCES,
    }
    if agreement is not None:
        record["agreement"] = agreement
    if bound is not None:
        record["bound"] = bound
    return record


def tranche(
    id: str,
    parent: str,
    amount: str | None,
    *,
    unit: str = "USD",
    sector: str = "energy",
    on: str = "2025-01-01",
    bound: str | None = None,
) -> Record:
    record: Record = {
        "type": "tranche",
        "id": id,
        "parent": parent,
        "amount": amount,
        "unit": unit,
        "sector": sector,
        "announced_on": on,
        "sources": SOURCES,
    }
    if bound is not None:
        record["bound"] = bound
    return record


def loi(
    id: str,
    amount: str | None,
    *,
    unit: str = "USD",
    sector: str = "energy/gas",
    on: str = "2025-01-01",
    party: str = "Exporter Co",
    counterparty: str = "Importer Co",
    agreement: str | None = None,
) -> Record:
    record: Record = {
        "type": "loi",
        "id": id,
        "party": party,
        "counterparty": counterparty,
        "amount": amount,
        "unit": unit,
        "sector": sector,
        "announced_on": on,
        "sources": SOURCES,
    }
    if agreement is not None:
        record["agreement"] = agreement
    return record


def delivery(
    id: str, parent: str, amount: str | None, *, unit: str = "USD", on: str = "2025-01-01"
) -> Record:
    return {
        "type": "delivery",
        "id": id,
        "parent": parent,
        "amount": amount,
        "unit": unit,
        "delivered_on": on,
        "sources": SOURCES,
    }


def amendment(
    id: str, target: str, amount: str, *, on: str = "2025-01-01", bound: str | None = None
) -> Record:
    record: Record = {
        "type": "amendment",
        "id": id,
        "target": target,
        "amount": amount,
        "reason": "revised",
        "announced_on": on,
        "sources": SOURCES,
    }
    if bound is not None:
        record["bound"] = bound
    return record


def withdrawal(id: str, target: str, *, on: str = "2025-01-01") -> Record:
    return {
        "type": "withdrawal",
        "id": id,
        "target": target,
        "reason": "cancelled",
        "announced_on": on,
        "sources": SOURCES,
    }


def lapse(id: str, target: str, *, on: str = "2025-01-01") -> Record:
    return {
        "type": "lapse",
        "id": id,
        "target": target,
        "reason": "deadline passed",
        "announced_on": on,
        "sources": SOURCES,
    }


def report(
    id: str,
    about: str,
    amount: str | None,
    *,
    unit: str = "USD",
    on: str = "2025-01-01",
    bound: str | None = None,
    outlet: str = "Another Paper",
) -> Record:
    """What another outlet said about ``about``'s figure (``amount`` ``None``: no figure)."""
    record: Record = {
        "type": "report",
        "id": id,
        "about": about,
        "amount": amount,
        "unit": unit,
        "reported_on": on,
        "sources": [{"outlet": outlet}],
    }
    if bound is not None:
        record["bound"] = bound
    return record


def dec(*values: int | str) -> tuple[Decimal, ...]:
    """Figures written as plain numbers, as decimals: ``dec(100, "12.5")``."""
    return tuple(Decimal(v) for v in values)


def figures(rows: list[Totals]) -> dict[tuple[str | None, str], tuple[Any, ...]]:
    """Rows keyed by (group key, unit), figures normalised so ``Decimal('40.0') == 40``."""
    return {
        (r.key, r.unit): (r.pledged, r.allocated, r.delivered, r.intended, r.unallocated)
        for r in rows
    }


@attrs.frozen
class Snapshot:
    """Everything a reader can see of a ledger: the log, its head, and every kind of total."""

    events: tuple[LoggedEvent, ...]
    head: int
    totals: tuple[tuple[Totals, ...], ...]


def snapshot(ledger: Ledger) -> Snapshot:
    totals = [tuple(ledger.totals(by=group)) for group in GROUPS]
    totals.append(tuple(ledger.totals(by="sector", depth=1)))
    return Snapshot(tuple(ledger.events()), ledger.head, tuple(totals))
