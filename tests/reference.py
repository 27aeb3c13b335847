"""The reference fold: the executable specification the read models are tested against.

Each event becomes signed *postings* ("under these group keys, in this unit, this much more (or
less) was pledged, allocated, delivered or intended, with these ranges, on this world date, as
recorded at this time"), and totals are their sums. Because every figure is a sum of postings,
any grouping adds up to the same grand totals (invariant 6), and the bitemporal questions are
filters: ``as_of`` keeps postings whose world date is on or before it, ``known_at`` keeps
postings recorded at or before it.

Sector spreading (DESIGN.md, "Totals"): each node of a pledge's tree counts, under its own
sector, the part it holds beyond its active children, so each amount ends up under the most
specific sector known and a parent shows only what it holds beyond its children.

Ranges (docs/semantics.md, "Ranges") are not linear in a tree's records: a pledge is never lower
than the sum of what is carved out of it. So this fold does not post differences of records; it
posts differences of *whole trees as of every date*: after each event, the postings of a tree,
summed up to any world date, equal the figures of the tree as it stood on that date
(:meth:`pledgeledger.domain.rules.PledgeTree.as_of`), computed here from scratch. That is
slow and plainly right, which is what a reference is for.

:class:`Projector` keeps whole pledge trees in memory, which is simple enough to check by eye;
the ledger answers from the read models (:mod:`pledgeledger.projections`), which post the same
sums without holding the log. The tests check that both agree, event by event.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import attrs

from pledgeledger.domain.records import (
    Agreement,
    Event,
    LetterOfIntent,
    Pledge,
    Report,
    Tranche,
)
from pledgeledger.domain.rules import Conversion, LetterState, Node, PledgeTree
from pledgeledger.domain.totals import SUMS, ZERO, Group, Totals, roll_up, row_order

__all__ = ["Posting", "Projector", "sum_postings"]

_AT = {name: i for i, name in enumerate(SUMS)}
Vector = tuple[Decimal, ...]
NOTHING: Vector = (ZERO,) * len(SUMS)


@attrs.frozen
class Posting:
    """One signed change to the totals of one group-key combination and unit.

    ``sums`` are the changes of a row's :data:`~pledgeledger.domain.totals.SUMS` when grouping
    by sector; ``tree`` when grouping by agreement, pledger or recipient (they differ in the
    ranges of pledged and allocated, and in pledged_toward).
    """

    sector: str
    agreement: str | None
    pledger: str
    recipient: str
    unit: str
    world_date: date
    recorded_at: datetime
    sums: Vector
    tree: Vector


def _vector(**figures: Decimal | None) -> list[Decimal]:
    out = list(NOTHING)
    for name, value in figures.items():
        if value is not None:
            out[_AT[name]] += value
    return out


def _add_range(out: list[Decimal], prefix: str, low: Decimal, high: Decimal | None) -> None:
    out[_AT[f"{prefix}_low"]] += low
    if high is None:
        out[_AT[f"{prefix}_open"]] += 1
    else:
        out[_AT[f"{prefix}_high"]] += high


def _held(headline: Decimal, low: Decimal, high: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """The range widened to hold its headline (a floor carved beyond its figure)."""
    return min(low, headline), None if high is None else max(high, headline)


Key = tuple[str, str | None, str, str, str]
Profile = dict[Key, tuple[list[Decimal], list[Decimal]]]


def _tree_profile(tree: PledgeTree | None) -> Profile:
    """Every figure a tree adds to the totals, per sector: (by sector, by tree groupings)."""
    out: Profile = {}
    if tree is None:
        return out
    root = tree.records[tree.root]
    assert isinstance(root, Pledge)
    keys = (root.agreement, root.pledger, root.recipient)

    def at(sector: str, unit: str) -> tuple[list[Decimal], list[Decimal]]:
        return out.setdefault((sector, *keys, unit), (list(NOTHING), list(NOTHING)))

    lows: dict[str, Decimal] = {}

    def effective_low(node: Node) -> Decimal:
        if node.id not in lows:
            kids = [tree.nodes[c] for c in node.children if tree.nodes[c].active]
            lows[node.id] = max(node.figure.low, sum((effective_low(k) for k in kids), ZERO))
        return lows[node.id]

    for node in tree.nodes.values():
        if not node.active:
            continue
        kids = [tree.nodes[c] for c in node.children if tree.nodes[c].active]
        amount = node.amount or ZERO
        headline = amount - sum((k.amount or ZERO for k in kids), ZERO)
        kid_lows = sum((effective_low(k) for k in kids), ZERO)
        highs = [k.figure.high for k in kids]
        kid_high = None if None in highs else sum((h for h in highs if h is not None), ZERO)
        low = ZERO if kid_high is None else max(ZERO, effective_low(node) - kid_high)
        high = None if node.figure.high is None else node.figure.high - kid_lows
        low, high = _held(headline, low, high)
        sums, tree_sums = at(node.sector, node.unit)
        for target in (sums, tree_sums):
            target[_AT["pledged"]] += headline
            target[_AT["undisclosed"]] += 1 if node.amount is None else 0
            if node.parent is not None:
                target[_AT["allocated"]] += headline
        _add_range(sums, "pledged", low, high)
        if node.parent is not None:
            _add_range(sums, "allocated", low, high)
        else:
            if root.toward is not None:
                sums[_AT["pledged_toward"]] += headline
                tree_sums[_AT["pledged_toward"]] += amount
            _add_range(tree_sums, "pledged", *_held(amount, effective_low(node), node.figure.high))
            cap = kid_high
            if node.figure.high is not None:
                cap = node.figure.high if cap is None else min(cap, node.figure.high)
            kid_amount = sum((k.amount or ZERO for k in kids), ZERO)
            _add_range(tree_sums, "allocated", *_held(kid_amount, kid_lows, cap))
        for d in node.deliveries:
            delivery = tree.deliveries[d]
            if not delivery.active:
                continue
            figure = delivery.figure
            for target in (sums, tree_sums):
                target[_AT["delivered"]] += delivery.amount or ZERO
                target[_AT["undisclosed"]] += 1 if delivery.amount is None else 0
                _add_range(target, "delivered", figure.low, figure.high)
    return out


def _letter_vector(letter: LetterState) -> list[Decimal]:
    if not letter.active:
        return list(NOTHING)
    figure = letter.figure
    amount = letter.amount or ZERO
    out = _vector(intended=amount, undisclosed=Decimal(1 if letter.amount is None else 0))
    _add_range(out, "intended", figure.low, figure.high)
    if letter.record.toward is not None:
        out[_AT["intended_toward"]] += amount
    return out


def _minus(a: list[Decimal], b: list[Decimal]) -> list[Decimal]:
    return [x - y for x, y in zip(a, b, strict=True)]


class Projector:
    """Folds events, in log order, into postings.

    It keeps the same :class:`PledgeTree` and :class:`LetterState` state as the aggregates (so
    both sides share one meaning of every event's rules), plus an index from every record id
    to the tree or letter that owns it; what the state adds to the totals is computed here.
    """

    def __init__(self) -> None:
        self.trees: dict[str, PledgeTree] = {}
        self.owner: dict[str, str] = {}
        self.letters: dict[str, LetterState] = {}

    def _letter_postings(
        self, letter: LetterState, before: list[Decimal], when: date, at: datetime
    ) -> list[Posting]:
        r = letter.record
        change = tuple(_minus(_letter_vector(letter), before))
        if not any(change):
            return []
        return [
            Posting(
                r.sector, r.agreement, r.party, r.counterparty, r.unit, when, at, change, change
            )
        ]

    def _tree_postings(
        self, before: PledgeTree | None, after: PledgeTree, since: date, at: datetime
    ) -> list[Posting]:
        """What it takes for the postings of a tree to sum, up to any date, to the tree as of
        that date: at every date from ``since`` on, the change the event made to the tree as
        of that date, less the change already posted for the dates before."""
        days = sorted(
            {since} | {e.world_date for e in after.records.values() if e.world_date > since}
        )
        posted: dict[Key, tuple[list[Decimal], list[Decimal]]] = {}
        postings: list[Posting] = []
        for day in days:
            old = _tree_profile(None if before is None else before.as_of(day))
            new = _tree_profile(after.as_of(day))
            for key in sorted(set(old) | set(new), key=repr):
                empty = (list(NOTHING), list(NOTHING))
                was, now = old.get(key, empty), new.get(key, empty)
                made = (_minus(now[0], was[0]), _minus(now[1], was[1]))
                done = posted.get(key, empty)
                change = (_minus(made[0], done[0]), _minus(made[1], done[1]))
                posted[key] = made
                if any(change[0]) or any(change[1]):
                    postings.append(Posting(*key, day, at, tuple(change[0]), tuple(change[1])))
        return postings

    def apply(self, event: Event, recorded_at: datetime) -> list[Posting]:
        """Fold one event and return the postings it makes."""
        when = event.world_date
        if isinstance(event, Agreement):
            self.owner[event.id] = event.id
            return []
        if isinstance(event, LetterOfIntent):
            letter = LetterState.start(event)
            self.letters[event.id] = letter
            self.owner[event.id] = event.id
            return self._letter_postings(letter, list(NOTHING), when, recorded_at)
        postings: list[Posting] = []
        if isinstance(event, Report) and event.about not in self.owner:
            return []  # as of a date before its record (a report may precede it): nothing
        if isinstance(event, Pledge):
            tree = PledgeTree.start(event)
            self.trees[event.id] = tree
            self.owner[event.id] = event.id
            postings = self._tree_postings(None, tree, when, recorded_at)
        else:
            ref = getattr(event, "parent", None) or getattr(event, "target", None)
            ref = ref or getattr(event, "about", None)
            assert ref is not None
            root = self.owner[ref]
            self.owner[event.id] = root
            if root in self.letters:
                letter = self.letters[root]
                before = _letter_vector(letter)
                letter.apply(event)
                return self._letter_postings(letter, before, when, recorded_at)
            if root not in self.trees:  # an agreement's withdrawal: nothing to post
                return []
            tree = self.trees[root]
            if isinstance(event, Report):
                tree.apply(event)
                return []
            before_tree = copy.deepcopy(tree)
            tree.apply(event)
            postings = self._tree_postings(before_tree, tree, when, recorded_at)
        if isinstance(event, Pledge | Tranche) and event.converts is not None:
            letter = self.letters[event.converts]
            before = _letter_vector(letter)
            letter.convert(Conversion(event.id, when))
            postings.extend(self._letter_postings(letter, before, when, recorded_at))
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
        row = sums.setdefault((key, p.unit), list(NOTHING))
        for i, value in enumerate(p.sums if by == "sector" else p.tree):
            row[i] += value
    rows = [
        Totals.of_sums(by, key, unit, figures)
        for (key, unit), figures in sums.items()
        if any(figures)
    ]
    rows.sort(key=lambda r: row_order(r.key, r.unit))
    return rows
