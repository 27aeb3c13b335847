"""The reference fold: the executable specification the read models are tested against.

Each event becomes signed *postings* ("under these group keys, in this unit, this much more (or
less) was pledged, allocated, delivered or intended, on this world date, as recorded at this
time"), and totals are their sums. Because every figure is a sum of postings, any grouping adds
up to the same grand totals (invariant 6), and the bitemporal questions are filters: ``as_of``
keeps postings whose world date is on or before it, ``known_at`` keeps postings recorded at or
before it. Amendments post the difference, and withdrawals post the reversal of what they
cancel.

Sector spreading (DESIGN.md, "Totals"): a node's amount is posted under its own sector and taken
back from its parent's sector, so each amount ends up under the most specific sector known and a
parent shows only what it holds beyond its children.

:class:`Projector` keeps whole pledge trees in memory, which is simple enough to check by eye;
the ledger answers from the read models (:mod:`pledgeledger.projections`), which post the same
postings without holding the log. The tests check that both agree, event by event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

import attrs

from pledgeledger.domain.records import (
    Agreement,
    Amendment,
    Delivery,
    Event,
    LetterOfIntent,
    Pledge,
    Tranche,
    Withdrawal,
)
from pledgeledger.domain.rules import LetterState, Node, PledgeTree
from pledgeledger.domain.totals import ZERO, Group, Totals, roll_up, row_order

__all__ = ["Posting", "Projector", "sum_postings"]


@attrs.frozen
class Posting:
    """One signed change to the totals of one group-key combination and unit."""

    sector: str
    agreement: str | None
    pledger: str
    recipient: str
    unit: str
    world_date: date
    recorded_at: datetime
    pledged: Decimal = ZERO
    allocated: Decimal = ZERO
    delivered: Decimal = ZERO
    intended: Decimal = ZERO


@attrs.define
class _Keys:
    agreement: str | None
    pledger: str
    recipient: str


class Projector:
    """Folds events, in log order, into postings.

    It keeps the same :class:`PledgeTree` state as the aggregates (so both sides share one
    meaning of every event), plus an index from every record id to the tree that owns it.
    """

    def __init__(self) -> None:
        self.trees: dict[str, PledgeTree] = {}
        self.owner: dict[str, str] = {}
        self.letters: dict[str, LetterState] = {}

    def _keys(self, tree: PledgeTree) -> _Keys:
        root = tree.nodes[tree.root].record
        assert isinstance(root, Pledge)
        return _Keys(root.agreement, root.pledger, root.recipient)

    def _node_postings(
        self, tree: PledgeTree, node: Node, value: Decimal, when: date, at: datetime
    ) -> Iterator[Posting]:
        keys = self._keys(tree)
        is_tranche = node.parent is not None
        yield Posting(
            node.sector,
            keys.agreement,
            keys.pledger,
            keys.recipient,
            node.unit,
            when,
            at,
            pledged=value,
            allocated=value if is_tranche else ZERO,
        )
        if node.parent is not None:
            parent = tree.nodes[node.parent]
            yield Posting(
                parent.sector,
                keys.agreement,
                keys.pledger,
                keys.recipient,
                node.unit,
                when,
                at,
                pledged=-value,
                allocated=-value if parent.parent is not None else ZERO,
            )

    def _delivery_posting(
        self, tree: PledgeTree, parent_id: str, value: Decimal, when: date, at: datetime
    ) -> Posting:
        keys = self._keys(tree)
        parent = tree.nodes[parent_id]
        return Posting(
            parent.sector,
            keys.agreement,
            keys.pledger,
            keys.recipient,
            parent.unit,
            when,
            at,
            delivered=value,
        )

    @staticmethod
    def _letter_posting(letter: LetterState, value: Decimal, when: date, at: datetime) -> Posting:
        r = letter.record
        return Posting(
            r.sector, r.agreement, r.party, r.counterparty, r.unit, when, at, intended=value
        )

    def apply(self, event: Event, recorded_at: datetime) -> list[Posting]:
        """Fold one event and return the postings it makes."""
        when = event.world_date
        postings: list[Posting] = []
        if isinstance(event, Agreement):
            return postings
        if isinstance(event, Pledge):
            tree = PledgeTree.start(event)
            self.trees[event.id] = tree
            self.owner[event.id] = event.id
            postings.extend(
                self._node_postings(tree, tree.nodes[event.id], event.amount, when, recorded_at)
            )
            return postings
        if isinstance(event, LetterOfIntent):
            letter = LetterState.start(event)
            self.letters[event.id] = letter
            self.owner[event.id] = event.id
            return [self._letter_posting(letter, event.amount, when, recorded_at)]
        if isinstance(event, Tranche | Delivery):
            root = self.owner[event.parent]
            tree = self.trees[root]
            tree.apply(event)
            self.owner[event.id] = root
            if isinstance(event, Tranche):
                node = tree.nodes[event.id]
                postings.extend(self._node_postings(tree, node, event.amount, when, recorded_at))
            else:
                postings.append(
                    self._delivery_posting(tree, event.parent, event.amount, when, recorded_at)
                )
            return postings
        assert isinstance(event, Amendment | Withdrawal)
        owner = self.owner.get(event.target)
        self.owner[event.id] = owner or event.target
        if owner is None:  # an agreement's withdrawal: nothing to post
            return postings
        if owner in self.letters:
            letter = self.letters[owner]
            delta = event.amount - letter.amount if isinstance(event, Amendment) else -letter.amount
            letter.apply(event)
            return [self._letter_posting(letter, delta, when, recorded_at)]
        tree = self.trees[owner]
        if event.target in tree.deliveries:
            delivery = tree.deliveries[event.target]
            delta = (
                event.amount - delivery.amount if isinstance(event, Amendment) else -delivery.amount
            )
            postings.append(self._delivery_posting(tree, delivery.parent, delta, when, recorded_at))
        else:
            target = tree.nodes[event.target]
            if isinstance(event, Amendment):
                postings.extend(
                    self._node_postings(
                        tree, target, event.amount - target.amount, when, recorded_at
                    )
                )
            else:
                for node in list(tree.subtree(target)):
                    postings.extend(
                        self._node_postings(tree, node, -node.amount, when, recorded_at)
                    )
        tree.apply(event)
        return postings


def sum_postings(
    postings: Iterable[Posting],
    by: Group = "sector",
    *,
    depth: int | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> list[Totals]:
    """Group and sum postings; rows whose figures are all zero are left out.

    Rows are sorted by key (the ``None`` key, "no agreement", last) and then by unit.
    """
    sums: dict[tuple[str | None, str], list[Decimal]] = {}
    for p in postings:
        if as_of is not None and p.world_date > as_of:
            continue
        if known_at is not None and p.recorded_at > known_at:
            continue
        key = roll_up(getattr(p, by), depth if by == "sector" else None)
        row = sums.setdefault((key, p.unit), [ZERO, ZERO, ZERO, ZERO])
        row[0] += p.pledged
        row[1] += p.allocated
        row[2] += p.delivered
        row[3] += p.intended
    rows = [
        Totals(by, key, unit, *figures) for (key, unit), figures in sums.items() if any(figures)
    ]
    rows.sort(key=lambda r: row_order(r.key, r.unit))
    return rows
