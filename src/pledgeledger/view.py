"""Frozen, read-only records handed to API users and exporters.

They are copies, not windows into the aggregates: nothing a caller does to them can change the
ledger, and the internals can change without breaking anyone who reads these.

A :class:`LedgerView` reads through a :class:`Snapshot`, a protocol defined here: this module
sits below the ledger and knows nothing of it, so anything that can give a snapshot (the
:class:`~pledgeledger.Ledger`, or a fake in a test) can be viewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import attrs

from pledgeledger.domain.periods import Every
from pledgeledger.domain.query import Query
from pledgeledger.domain.records import Amendment, Bound, Event, Source, Withdrawal
from pledgeledger.domain.rules import DeliveryNode, LetterState, Node, PledgeTree
from pledgeledger.domain.totals import Group, TimelinePoint, Totals

__all__ = [
    "CorrectionView",
    "DeliveryView",
    "LedgerView",
    "LetterView",
    "LoggedEvent",
    "NodeView",
    "Snapshot",
    "SnapshotSource",
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


class Snapshot(Protocol):
    """A read-only source pinned to one log position: all a :class:`LedgerView` reads.

    Every answer is of the events up to ``head``, whatever was recorded since, and each call
    answers afresh (the view caches). ``totals`` and ``timeline`` may raise
    :class:`~pledgeledger.errors.StaleView` when they can no longer answer for ``head``.
    """

    @property
    def head(self) -> int:
        """The log position the snapshot is pinned to."""
        ...

    def events(self) -> Iterator[LoggedEvent]:
        """The events up to ``head``, in log order."""
        ...

    def totals(self, query: Query) -> Iterable[Totals]:
        """``Ledger.totals(query)``, for the events up to ``head``."""
        ...

    def timeline(self, query: Query) -> Iterable[TimelinePoint]:
        """``Ledger.timeline(query)``, for the events up to ``head``."""
        ...


class SnapshotSource(Protocol):
    """What :meth:`LedgerView.of` takes: anything that can give a :class:`Snapshot` of
    itself as it is now (a :class:`~pledgeledger.Ledger` does)."""

    def snapshot(self) -> Snapshot: ...


class _Answers:
    """A snapshot's answers, each computed on first use and kept: asked twice, a view gives
    the very same rows, even if the second time could no longer be answered (StaleView)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._totals: dict[Query, tuple[Totals, ...]] = {}
        self._timelines: dict[Query, tuple[TimelinePoint, ...]] = {}

    def totals(self, query: Query) -> tuple[Totals, ...]:
        found = self._totals.get(query)
        if found is None:
            found = self._totals[query] = tuple(self.snapshot.totals(query))
        return found

    def timeline(self, query: Query) -> tuple[TimelinePoint, ...]:
        found = self._timelines.get(query)
        if found is None:
            found = self._timelines[query] = tuple(self.snapshot.timeline(query))
        return found


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

    Made with :meth:`of`; the constructor's ``reader`` is private. A view holds a
    :class:`Snapshot`, never the ledger itself, so nothing handed a view can write.
    """

    head: int
    as_of: date | None = None
    known_at: datetime | None = None
    version: str = attrs.field(factory=_library_version)
    _reader: _Answers = attrs.field(alias="reader", kw_only=True, repr=False, eq=False)

    @classmethod
    def of(
        cls,
        source: SnapshotSource,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> LedgerView:
        """A view of ``source`` (a :class:`~pledgeledger.Ledger`) as it is now, narrowed to
        ``as_of`` and ``known_at`` (a naive ``known_at`` is UTC, as in a query)."""
        narrowed = Query(as_of=as_of, known_at=known_at)  # checked the way queries are
        snapshot = source.snapshot()
        return cls(snapshot.head, narrowed.as_of, narrowed.known_at, reader=_Answers(snapshot))

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
        return (logged for logged in self._reader.snapshot.events() if self._counts(logged))

    def totals(self, by: Group = "sector", *, depth: int | None = None) -> tuple[Totals, ...]:
        """Totals per group and unit, as ``pledgeledger totals`` computes them."""
        query = Query(by=by, depth=depth, as_of=self.as_of, known_at=self.known_at)
        return self._reader.totals(query)

    def timeline(
        self, by: Group = "sector", *, every: Every = "month", depth: int | None = None
    ) -> tuple[TimelinePoint, ...]:
        """Cumulative totals per group and unit at the end of every period (``every``: day,
        week, month, quarter or year), as ``Ledger.timeline`` computes them."""
        query = Query(by=by, every=every, depth=depth, as_of=self.as_of, known_at=self.known_at)
        return self._reader.timeline(query)

    def metadata(self) -> dict[str, str | int | None]:
        """What the snapshot is of, for exporters to embed: JSON-ready and deterministic."""
        return {
            "head": self.head,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "known_at": self.known_at.isoformat() if self.known_at else None,
            "pledgeledger": self.version,
        }
