"""Frozen, read-only records handed to API users and exporters.

They are copies, not windows into the aggregates: nothing a caller does to them can change the
ledger, and the internals can change without breaking anyone who reads these.

A :class:`LedgerView` reads through a :class:`Snapshot`, a protocol defined here: this module
sits below the ledger and knows nothing of it, so anything that can give a snapshot (the
:class:`~pledgeledger.Ledger`, or a fake in a test) can be viewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs

from pledgeledger.domain.figures import Interval, interval_of
from pledgeledger.domain.periods import Every
from pledgeledger.domain.query import Query
from pledgeledger.domain.records import (
    Amendment,
    Amount,
    Bound,
    Correction,
    Event,
    Figured,
    Pledge,
    Report,
    Source,
)
from pledgeledger.domain.rules import ACTIVE, DeliveryNode, LetterState, Node, PledgeTree
from pledgeledger.domain.totals import ZERO, Group, TimelinePoint, Totals

__all__ = [
    "NO_TIES",
    "Conflict",
    "CorrectionView",
    "DeliveryView",
    "LedgerView",
    "LetterView",
    "LoggedEvent",
    "NodeView",
    "OverdueView",
    "ReportView",
    "ReportedFigure",
    "Snapshot",
    "SnapshotSource",
    "TiedView",
    "Ties",
    "compact",
    "compact_figure",
    "compact_range",
    "conflict_of",
]


@attrs.frozen
class LoggedEvent:
    """An event as recorded: its position in the log and when it was recorded."""

    position: int
    recorded_at: datetime
    event: Event


@attrs.frozen
class ReportView:
    """What one source said about a record's figure: kept beside the counted one, never
    counted itself."""

    id: str
    amount: Decimal | None
    unit: str
    bound: Bound
    low: Decimal | None
    high: Decimal | None
    reported_on: date
    sources: tuple[Source, ...]

    @classmethod
    def of(cls, report: Report) -> ReportView:
        r = report
        return cls(r.id, r.amount, r.unit, r.bound, r.low, r.high, r.reported_on, r.sources)

    @property
    def figure(self) -> Amount:
        return Amount(self.amount, self.unit, self.bound, self.low, self.high)


@attrs.frozen
class CorrectionView:
    """An amendment, withdrawal or lapse of a figure, with why and who said so.

    For an amendment: the figure it set (``amount``, and ``bound``, ``low`` and ``high`` as
    they stand after it), the figure it replaced (``was``) and the report it adopted, if any.
    """

    id: str
    kind: str
    amount: Decimal | None
    reason: str
    announced_on: date
    sources: tuple[Source, ...]
    bound: Bound | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    adopts: str | None = None
    was: Amount | None = None

    @classmethod
    def of(cls, event: Correction, was: Amount | None = None) -> CorrectionView:
        if not isinstance(event, Amendment):
            return cls(event.id, event.type, None, event.reason, event.announced_on, event.sources)
        bound = event.bound or (was.bound if was is not None else None)
        return cls(
            event.id,
            event.type,
            event.amount,
            event.reason,
            event.announced_on,
            event.sources,
            bound=bound,
            low=event.low,
            high=event.high,
            adopts=event.adopts,
            was=was,
        )

    @property
    def figure(self) -> Amount | None:
        """The figure the amendment set (``None`` for a withdrawal or lapse)."""
        if self.amount is None or self.was is None:
            return None
        return Amount(self.amount, self.was.unit, self.bound or Bound.EXACT, self.low, self.high)


def _history(original: Amount, corrections: Iterable[Correction]) -> tuple[CorrectionView, ...]:
    """The corrections of a figure, each with the figure it replaced."""
    views = []
    current = original
    for correction in corrections:
        view = CorrectionView.of(correction, current)
        views.append(view)
        current = view.figure or current
    return tuple(views)


@attrs.frozen
class TiedView:
    """A record tied toward another (``toward``): reported as part of it, or as a candidate
    use of it, and never added to it."""

    id: str
    kind: str
    amount: Decimal | None
    unit: str
    bound: Bound
    low: Decimal
    high: Decimal | None


@attrs.frozen
class Ties:
    """What is tied toward a record: the active records, and their sum (``amount``, with its
    range ``low`` to ``high``; ``None``: unbounded), to read beside the record's headroom."""

    records: tuple[TiedView, ...] = ()
    amount: Decimal = ZERO
    low: Decimal = ZERO
    high: Decimal | None = ZERO

    @classmethod
    def of(cls, records: Iterable[TiedView]) -> Ties:
        found = tuple(records)
        total = Interval.total(Interval(t.low, t.high) for t in found)
        amount = sum((t.amount or ZERO for t in found), ZERO)
        return cls(found, amount, total.low, total.high)


NO_TIES = Ties()


@attrs.frozen
class DeliveryView:
    """A delivery with its current figure and history."""

    id: str
    amount: Decimal | None
    unit: str
    delivered_on: date
    active: bool
    sources: tuple[Source, ...]
    corrections: tuple[CorrectionView, ...]
    bound: Bound = Bound.EXACT
    low: Decimal = ZERO
    high: Decimal | None = None
    reports: tuple[ReportView, ...] = ()
    status: str = ACTIVE

    @property
    def undisclosed(self) -> bool:
        return self.amount is None

    @classmethod
    def of(cls, d: DeliveryNode) -> DeliveryView:
        r = d.record
        figure = d.figure
        return cls(
            d.id,
            d.amount,
            d.unit,
            d.world_date,
            d.active,
            r.sources,
            _history(r.figure, d.corrections),
            bound=d.bound,
            low=figure.low,
            high=figure.high,
            reports=tuple(ReportView.of(x) for x in d.reports),
            status=d.status,
        )


@attrs.frozen
class NodeView:
    """A pledge or tranche with its figures, headroom, history and sources.

    ``headroom`` is what can still be carved out in tranches (``None`` under an ``at_least``
    bound or an undisclosed figure, which cap nothing); ``delivered`` counts this node and
    everything under it. ``low`` and ``high`` are the node's range: its figure's, but never
    below what its active tranches hold (``high`` ``None``: unbounded).
    """

    id: str
    kind: str
    amount: Decimal | None
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
    low: Decimal = ZERO
    high: Decimal | None = None
    reports: tuple[ReportView, ...] = ()
    toward: str | None = None
    tied: Ties = NO_TIES
    converts: str | None = None
    due_by: date | None = None
    status: str = ACTIVE

    @property
    def undisclosed(self) -> bool:
        return self.amount is None

    @classmethod
    def of(cls, tree: PledgeTree, node: Node, ties: Mapping[str, Ties] | None = None) -> NodeView:
        allocated = tree.allocated(node)
        tranches = tuple(cls.of(tree, tree.nodes[c], ties) for c in node.children)
        figure = node.figure
        carved = sum((t.low for t in tranches if t.active), ZERO)
        record = node.record
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
            headroom=None if not node.caps or node.amount is None else node.amount - allocated,
            sources=record.sources,
            corrections=_history(record.figure, node.corrections),
            tranches=tranches,
            deliveries=tuple(DeliveryView.of(tree.deliveries[d]) for d in node.deliveries),
            low=max(figure.low, carved),
            high=figure.high,
            reports=tuple(ReportView.of(r) for r in node.reports),
            toward=record.toward if isinstance(record, Pledge) else None,
            tied=(ties or {}).get(node.id, NO_TIES),
            converts=record.converts,
            due_by=record.due_by,
            status=node.status,
        )


@attrs.frozen
class LetterView:
    """A letter of intent with its current figure and history.

    ``converted_by`` names the pledge or tranche it turned into (from ``converted_on``), after
    which it no longer counts as intended.
    """

    id: str
    party: str
    counterparty: str
    amount: Decimal | None
    unit: str
    bound: Bound
    sector: str
    agreement: str | None
    announced_on: date
    active: bool
    sources: tuple[Source, ...]
    corrections: tuple[CorrectionView, ...]
    low: Decimal = ZERO
    high: Decimal | None = None
    reports: tuple[ReportView, ...] = ()
    toward: str | None = None
    tied: Ties = NO_TIES
    converted_by: str | None = None
    converted_on: date | None = None
    due_by: date | None = None
    status: str = ACTIVE

    @property
    def undisclosed(self) -> bool:
        return self.amount is None

    @classmethod
    def of(cls, letter: LetterState, ties: Ties = NO_TIES) -> LetterView:
        r = letter.record
        figure = letter.figure
        conversion = letter.conversion
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
            _history(r.figure, letter.corrections),
            low=figure.low,
            high=figure.high,
            reports=tuple(ReportView.of(x) for x in letter.reports),
            toward=r.toward,
            tied=ties,
            converted_by=None if conversion is None else conversion.by,
            converted_on=None if conversion is None else conversion.on,
            due_by=r.due_by,
            status=letter.status,
        )


@attrs.frozen
class ReportedFigure:
    """One figure a source gave for a record: the record's own, an amendment's or a report's
    (``kind`` and ``event`` say which), with the outlet and when it was reported (the source's
    publication date, else the event's world date)."""

    amount: Decimal | None
    bound: Bound
    outlet: str
    reported_on: date
    kind: str
    event: str

    def as_dict(self) -> dict[str, str | None]:
        """The JSON shape of ``pledgeledger conflicts``."""
        return {
            "amount": None if self.amount is None else str(self.amount),
            "bound": self.bound.value,
            "outlet": self.outlet,
            "reported_on": self.reported_on.isoformat(),
        }


@attrs.frozen
class Conflict:
    """A record whose figures disagree: the one the totals count now, and every one reported
    (its own, its amendments', its reports'), compared as amount, bound and range."""

    id: str
    unit: str
    counted: Amount
    """The counted figure; ``low`` and ``high`` are its range (``high`` ``None``: unbounded)."""
    reported: tuple[ReportedFigure, ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``pledgeledger conflicts``: ``id``, ``unit``, ``counted``
        (``amount``, ``bound``, ``low``, ``high``) and ``reported`` (``amount``, ``bound``,
        ``outlet``, ``reported_on``); decimal strings, ``null`` for an undisclosed amount or an
        unbounded high."""
        c = self.counted
        return {
            "id": self.id,
            "unit": self.unit,
            "counted": {
                "amount": None if c.value is None else str(c.value),
                "bound": c.bound.value,
                "low": None if c.low is None else str(c.low),
                "high": None if c.high is None else str(c.high),
            },
            "reported": [r.as_dict() for r in self.reported],
        }


def _reported(event: Figured | Amendment | Report, figure: Amount) -> Iterator[ReportedFigure]:
    kind = "record" if not isinstance(event, Amendment | Report) else event.type
    for source in event.sources:
        yield ReportedFigure(
            figure.value,
            figure.bound,
            source.outlet,
            source.published_on or event.world_date,
            kind,
            event.id,
        )


def _compared(figure: Amount) -> tuple[Any, ...]:
    interval = interval_of(figure.value, figure.bound, figure.low, figure.high)
    return figure.value, figure.bound, interval.low, interval.high


def conflict_of(
    record: Figured,
    corrections: Iterable[Correction],
    reports: Iterable[Report],
    counted: Amount,
    order: Mapping[str, int] | None = None,
) -> Conflict | None:
    """The record's conflict, if its own figure, its amendments' and its reports' disagree
    (compared as amount, bound and range): ``None`` when they all agree.

    ``order`` gives each event's place in the log, so that amendments and reports are listed
    in the order they were recorded.
    """
    figures: list[tuple[Figured | Amendment | Report, Amount]] = [(record, record.figure)]
    current = record.figure
    later: list[tuple[Figured | Amendment | Report, Amount]] = []
    for correction in corrections:
        if isinstance(correction, Amendment):
            current = Amount(
                correction.amount,
                current.unit,
                correction.bound or current.bound,
                correction.low,
                correction.high,
            )
            later.append((correction, current))
    later.extend((r, r.figure) for r in reports)
    if order is not None:
        later.sort(key=lambda pair: order.get(pair[0].id, 0))
    figures.extend(later)
    if len({_compared(f) for _, f in figures}) < 2:
        return None
    interval = interval_of(counted.value, counted.bound, counted.low, counted.high)
    return Conflict(
        record.id,
        record.unit,
        Amount(counted.value, counted.unit, counted.bound, interval.low, interval.high),
        tuple(r for event, figure in figures for r in _reported(event, figure)),
    )


@attrs.frozen
class OverdueView:
    """A record past its deadline (``due_by``) and still counted: what is still undelivered
    (a pledge or tranche: its amount less what was delivered under it) or unconverted (a
    letter of intent: its amount). ``outstanding`` is ``None`` when the amount is undisclosed."""

    id: str
    type: str
    due_by: date
    amount: Decimal | None
    unit: str
    bound: Bound
    delivered: Decimal | None
    outstanding: Decimal | None

    def as_dict(self) -> dict[str, str | None]:
        """The JSON shape of ``pledgeledger overdue`` (docs/semantics.md, "Deadlines")."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "id": self.id,
            "type": self.type,
            "due_by": self.due_by.isoformat(),
            "amount": text(self.amount),
            "unit": self.unit,
            "bound": self.bound.value,
            "delivered": text(self.delivered),
            "outstanding": text(self.outstanding),
        }


_SCALES = (
    (Decimal(10) ** 12, "T"),
    (Decimal(10) ** 9, "B"),
    (Decimal(10) ** 6, "M"),
    (Decimal(10) ** 3, "K"),
)


def compact(value: Decimal) -> str:
    """A figure short enough to read at a glance, and still exact: ``477B``, ``1.5B``,
    ``2.2500000005B``, ``1M``, ``0.5``. Thousands, millions, billions and trillions are K, M,
    B and T; nothing is rounded (a cent of a billion shows as ``1.00000000001B``).

    The one formatter of figures for people: ``totals``, ``show``, ``conflicts`` and the chart
    exporter all print through it.
    """
    size = abs(value)
    for divisor, word in _SCALES:
        if size >= divisor:
            return _plain(value / divisor) + word
    return _plain(value)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def compact_range(low: Decimal, high: Decimal | None) -> str:
    """A range as ``low–high`` (``10B–`` when unbounded above)."""
    return f"{compact(low)}–{'' if high is None else compact(high)}"


def compact_figure(
    amount: Decimal | None,
    bound: Bound | None = None,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> str:
    """A figure as a report gives it: ``up to 73B``, ``about 20B (18B–22B)``,
    ``undisclosed``; the stated range (or an ``about`` figure's) in brackets."""
    if amount is None:
        return "undisclosed"
    prefix = {
        Bound.UP_TO: "up to ",
        Bound.AT_LEAST: "at least ",
        Bound.ABOUT: "about ",
    }.get(bound or Bound.EXACT, "")
    text = prefix + compact(amount)
    if low is not None or high is not None or bound is Bound.ABOUT:
        interval = interval_of(amount, bound, low, high)
        text += f" ({compact_range(interval.low, interval.high)})"
    return text


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
