"""Frozen, read-only records handed to API users and exporters.

They are copies, not windows into the aggregates: nothing a caller does to them can change the
ledger, and the internals can change without breaking anyone who reads these.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from pledgeledger.domain.records import Amendment, Bound, Event, Source, Withdrawal
from pledgeledger.domain.rules import DeliveryNode, LetterState, Node, PledgeTree

if TYPE_CHECKING:
    from pledgeledger.domain.periods import Every
    from pledgeledger.domain.totals import Group, TimelinePoint, Totals
    from pledgeledger.ledger import Ledger, Pin

__all__ = [
    "CorrectionView",
    "DeliveryView",
    "LedgerView",
    "LetterView",
    "LoggedEvent",
    "NodeView",
]


@attrs.frozen
class LoggedEvent:
    """An event as recorded: its position in the log and when it was recorded."""

    position: int
    recorded_at: datetime
    event: Event


@attrs.frozen
class CorrectionView:
    """An amendment or withdrawal of a figure, with why and who said so."""

    id: str
    kind: str
    amount: Decimal | None
    reason: str
    announced_on: date
    sources: tuple[Source, ...]

    @classmethod
    def of(cls, event: Amendment | Withdrawal) -> CorrectionView:
        amount = event.amount if isinstance(event, Amendment) else None
        return cls(event.id, event.type, amount, event.reason, event.announced_on, event.sources)


@attrs.frozen
class DeliveryView:
    """A delivery with its current figure and history."""

    id: str
    amount: Decimal
    unit: str
    delivered_on: date
    active: bool
    sources: tuple[Source, ...]
    corrections: tuple[CorrectionView, ...]

    @classmethod
    def of(cls, d: DeliveryNode) -> DeliveryView:
        return cls(
            d.id,
            d.amount,
            d.unit,
            d.world_date,
            d.active,
            d.record.sources,
            tuple(CorrectionView.of(c) for c in d.corrections),
        )


@attrs.frozen
class NodeView:
    """A pledge or tranche with its figures, headroom, history and sources.

    ``headroom`` is what can still be carved out in tranches (``None`` under an ``at_least``
    bound, which caps nothing); ``delivered`` counts this node and everything under it.
    """

    id: str
    kind: str
    amount: Decimal
    unit: str
    bound: Bound
    sector: str
    announced_on: date
    active: bool
    allocated: Decimal
    delivered: Decimal
    headroom: Decimal | None
    sources: tuple[Source, ...]
    corrections: tuple[CorrectionView, ...]
    tranches: tuple[NodeView, ...]
    deliveries: tuple[DeliveryView, ...]

    @classmethod
    def of(cls, tree: PledgeTree, node: Node) -> NodeView:
        allocated = tree.allocated(node)
        return cls(
            id=node.id,
            kind=node.kind,
            amount=node.amount,
            unit=node.unit,
            bound=node.bound,
            sector=node.sector,
            announced_on=node.world_date,
            active=node.active,
            allocated=allocated,
            delivered=tree.delivered(node),
            headroom=None if node.bound is Bound.AT_LEAST else node.amount - allocated,
            sources=node.record.sources,
            corrections=tuple(CorrectionView.of(c) for c in node.corrections),
            tranches=tuple(cls.of(tree, tree.nodes[c]) for c in node.children),
            deliveries=tuple(DeliveryView.of(tree.deliveries[d]) for d in node.deliveries),
        )


@attrs.frozen
class LetterView:
    """A letter of intent with its current figure and history."""

    id: str
    party: str
    counterparty: str
    amount: Decimal
    unit: str
    bound: Bound
    sector: str
    agreement: str | None
    announced_on: date
    active: bool
    sources: tuple[Source, ...]
    corrections: tuple[CorrectionView, ...]

    @classmethod
    def of(cls, letter: LetterState) -> LetterView:
        r = letter.record
        return cls(
            r.id,
            r.party,
            r.counterparty,
            letter.amount,
            r.unit,
            letter.bound,
            r.sector,
            r.agreement,
            r.announced_on,
            letter.active,
            r.sources,
            tuple(CorrectionView.of(c) for c in letter.corrections),
        )


def _library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only exports need it

    try:
        return version("pledgeledger")
    except PackageNotFoundError:  # pragma: no cover  # running from a source tree
        return "0+unknown"


class _Reader:
    """The few read calls a :class:`LedgerView` needs, and nothing else.

    Private on purpose: exporters see the view's methods, which return frozen records, and
    never the :class:`Ledger` (which can write) or its event store. Every answer is for the
    events up to ``pin.head``, whatever was recorded since (see :class:`LedgerView`).
    """

    def __init__(self, ledger: Ledger, pin: Pin) -> None:
        self._ledger = ledger
        self._pin = pin
        self._totals: dict[tuple[str, int | None], tuple[Totals, ...]] = {}
        self._timelines: dict[tuple[str, str, int | None], tuple[TimelinePoint, ...]] = {}

    def events(self, head: int) -> Iterator[LoggedEvent]:
        for logged in self._ledger.events():
            if logged.position > head:
                return
            yield logged

    def totals(
        self, by: Group, depth: int | None, as_of: date | None, known_at: datetime | None
    ) -> tuple[Totals, ...]:
        key = (by, depth)
        if key not in self._totals:
            rows = self._ledger._totals(by, depth, as_of, known_at, self._pin)
            self._totals[key] = tuple(rows)
        return self._totals[key]

    def timeline(
        self,
        by: Group,
        every: Every,
        depth: int | None,
        as_of: date | None,
        known_at: datetime | None,
    ) -> tuple[TimelinePoint, ...]:
        key = (by, every, depth)
        if key not in self._timelines:
            points = self._ledger._iter_timeline(by, every, depth, as_of, known_at, None, self._pin)
            self._timelines[key] = tuple(points)
        return self._timelines[key]


@attrs.frozen
class LedgerView:
    """A read-only snapshot of a ledger: what exporters (and reporting code) are handed.

    ``head`` is the log position the snapshot was taken at; ``as_of`` (a world date) and
    ``known_at`` (a recorded time, aware) narrow it the way ``totals --as-of/--known-at`` do,
    and apply to every method alike, so an export is one consistent picture. Every method
    returns frozen records or tuples of them; results are computed on first use and cached,
    so asking twice gives the very same answer.

    Events recorded after ``head`` count nowhere, even if they were recorded before a method
    was first called: ``events()`` stops at ``head``, and ``totals()``/``timeline()`` then sum
    the read models' postings of the events up to ``head`` only (see :mod:`.readmodels`). The
    one thing a view cannot answer across is a replay that rebuilt those postings after it
    was taken, while more events were recorded: a call that needs them then raises
    :class:`~pledgeledger.errors.StaleView` (take a new view; ``pledgeledger export`` does
    so by itself).

    Made with :meth:`of`; the constructor's ``reader`` is private.
    """

    head: int
    as_of: date | None = None
    known_at: datetime | None = None
    version: str = attrs.field(factory=_library_version)
    _reader: _Reader = attrs.field(alias="reader", kw_only=True, repr=False, eq=False)

    @classmethod
    def of(
        cls, ledger: Ledger, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> LedgerView:
        """A view of ``ledger`` as it is now, narrowed to ``as_of`` and ``known_at``."""
        if known_at is not None and known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
        pin = ledger._pin()  # the head, read where the read models are
        return cls(pin.head, as_of, known_at, reader=_Reader(ledger, pin))

    def _counts(self, logged: LoggedEvent) -> bool:
        if logged.position > self.head:
            return False
        if self.as_of is not None and logged.event.world_date > self.as_of:
            return False
        return self.known_at is None or logged.recorded_at <= self.known_at

    def events(self) -> Iterator[LoggedEvent]:
        """The events in log order, up to ``head`` and within ``as_of``/``known_at``.

        Streams from the log (a big ledger is not held in memory); call it again to read them
        again. The events are the ones ``pledgeledger import`` reads, so an export of them
        re-imports (see :func:`pledgeledger.unstructure_event`).
        """
        return (logged for logged in self._reader.events(self.head) if self._counts(logged))

    def totals(self, by: Group = "sector", *, depth: int | None = None) -> tuple[Totals, ...]:
        """Totals per group and unit, as ``pledgeledger totals`` computes them."""
        return self._reader.totals(by, depth, self.as_of, self.known_at)

    def timeline(
        self, by: Group = "sector", *, every: Every = "month", depth: int | None = None
    ) -> tuple[TimelinePoint, ...]:
        """Cumulative totals per group and unit at the end of every period (``every``: day,
        week, month, quarter or year), as ``Ledger.timeline`` computes them."""
        return self._reader.timeline(by, every, depth, self.as_of, self.known_at)

    def metadata(self) -> dict[str, str | int | None]:
        """What the snapshot is of, for exporters to embed: JSON-ready and deterministic."""
        return {
            "head": self.head,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "known_at": self.known_at.isoformat() if self.known_at else None,
            "pledgeledger": self.version,
        }
