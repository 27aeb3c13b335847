"""Frozen, read-only records handed to API users and exporters.

They are copies, not windows into the aggregates: nothing a caller does to them can change the
ledger, and the internals can change without breaking anyone who reads these.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import attrs

from .domain import DeliveryNode, LetterState, Node, PledgeTree
from .events import Amendment, Bound, Event, Source, Withdrawal

__all__ = ["CorrectionView", "DeliveryView", "LetterView", "LoggedEvent", "NodeView"]


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
            d.id, d.amount, d.unit, d.world_date, d.active, d.record.sources,
            tuple(CorrectionView.of(c) for c in d.corrections),
        )  # fmt: skip


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
            r.id, r.party, r.counterparty, letter.amount, r.unit, letter.bound, r.sector,
            r.agreement, r.announced_on, letter.active, r.sources,
            tuple(CorrectionView.of(c) for c in letter.corrections),
        )  # fmt: skip
