"""Folding records into the read-model tables: the reference fold's postings, without the log.

``tests/reference.py`` (the ``Projector``) is the reference: it keeps every pledge tree in
memory and turns each event into postings. :class:`Folder` makes the same postings, but keeps
what it needs per record (sector, its parent's sector, whether the parent is a tranche, the
root's group keys, unit, current figure and range, active, world date, what its active
tranches add up to, what it is tied toward) in the ``records`` table, with a bounded cache in
front, so that a log of millions of events folds in constant memory. Postings are summed in
memory per bucket (group keys, unit, world date, recorded time) and written by :meth:`flush`
together with the position they reach, in the caller's transaction.

Every figure a record adds to the totals is a *vector* of the deltas of
:data:`~.readmodels.POSTING_FIGURES`, a function of the record's row alone
(:meth:`Folder._node_vector` for a pledge or tranche, whose vector depends on what its active
tranches add up to, kept on its row). An event changes some rows; the postings are the
differences of their vectors before and after, under each row's sector. So the totals are
always the sum of the vectors of the records as they stand.

Ranges make one case harder. A node's range is not linear in its tranches (a pledge is never
lower than what is carved out of it: a maximum), so a tranche that arrives *late* (dated before
tranches already recorded in its tree, as late news is) cannot post a simple difference dated
its own day: that difference depends on which of the later tranches it is compared with. The
totals as of every date from the late tranche's to the tree's latest must then be restated:
:meth:`Folder._restate` recomputes the tree's vectors as of each of those dates, with and
without the tranche, and posts the differences at each date. Corrections and tranches in date
order (the common case, and every import of a file sorted by date) take the simple path.

It works on the JSON-shaped records as stored (``entry``), which the write path has at hand
and the runner gets from the events the mapper decodes (:meth:`.store.reading.Log.read`).
The equality with the reference is property-tested (``tests/test_readmodels.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from operator import add, itemgetter, sub
from typing import Any

from pledgeledger.domain.figures import Kids, held, interval_of, own_range, tree_ranges
from pledgeledger.domain.records import Bound
from pledgeledger.domain.totals import ZERO
from pledgeledger.projections.readmodels import (
    NUMERIC_COLUMNS,
    POSTING_FIGURES,
    RECORD_COLUMNS,
    TableSet,
    sums_for,
)
from pledgeledger.store.database import Tx

__all__ = ["Folder"]

# Positions in a cached record row (the columns of ``records`` after ``id``).
(
    TYPE,
    ROOT,
    PARENT,
    SECTOR,
    PSECTOR,
    PTRANCHE,
    AGREEMENT,
    PLEDGER,
    RECIPIENT,
    UNIT,
    AMOUNT,
    ACTIVE,
    DAY,
    BOUND,
    LOW,
    HIGH,
    TOWARD,
    KAMT,
    KLOW,
    KHIGH,
    KOPEN,
    LATEST,
    DUE,
) = range(23)
WIDTH = 23
WORLD_DATE = {
    "agreement": "signed_on",
    "pledge": "announced_on",
    "tranche": "announced_on",
    "loi": "announced_on",
    "delivery": "delivered_on",
    "amendment": "announced_on",
    "withdrawal": "announced_on",
    "lapse": "announced_on",
    "report": "reported_on",
}
_TEXT_COLUMNS = (ROOT, PARENT, SECTOR, PSECTOR, AGREEMENT, PLEDGER, RECIPIENT, UNIT, TOWARD)
_NUMERIC = tuple(i - 1 for i, name in enumerate(RECORD_COLUMNS) if name in NUMERIC_COLUMNS)
_CHANGING = (
    "amount",
    "active",
    "bound",
    "low",
    "high",
    "kids_amount",
    "kids_low",
    "kids_high",
    "kids_open",
    "latest",
)
"""The columns an event may change in a row already written (figures, status, what its
tranches add up to, its tree's latest date)."""
_CHANGING_AT = tuple(RECORD_COLUMNS.index(c) for c in _CHANGING)

# Positions in a vector (the deltas of POSTING_FIGURES).
_AT = {name: i for i, name in enumerate(POSTING_FIGURES)}
V_PLEDGED, V_ALLOCATED, V_DELIVERED, V_INTENDED = (_AT[n] for n in POSTING_FIGURES[:4])
V_UNDISCLOSED = _AT["undisclosed"]
FIGURES = len(POSTING_FIGURES)
_TOTALS_SECTOR_OF = itemgetter(*(_AT[n] for n in sums_for("sector")))
_TOTALS_TREE_OF = itemgetter(*(_AT[n] for n in sums_for("agreement")))
"""A posting's figures as a row's sums, grouped by sector and by agreement, pledger or
recipient (which read the ``tree_*`` ranges)."""

Bucket = tuple[str, str | None, str, str, str, str, str]
"""sector, agreement, pledger, recipient, unit, world date, recorded time."""
Vector = list[Decimal]
Sums = dict[tuple[str, ...], list[Decimal]]

_ONE = Decimal(1)


def _zeros() -> Vector:
    return [ZERO] * FIGURES


_RANGES = {
    prefix: (_AT[prefix + "_low"], _AT[prefix + "_high"], _AT[prefix + "_open"])
    for prefix in (
        "pledged",
        "allocated",
        "tree_pledged",
        "tree_allocated",
        "delivered",
        "intended",
    )
}
"""Where a figure's range goes in a vector: its low, its finite high, its unbounded count."""
_PLEDGED, _ALLOCATED, _TREE_PLEDGED, _TREE_ALLOCATED = (
    _RANGES[p] for p in ("pledged", "allocated", "tree_pledged", "tree_allocated")
)
V_PLEDGED_TOWARD, V_TREE_PLEDGED_TOWARD, V_INTENDED_TOWARD = (
    _AT[n] for n in ("pledged_toward", "tree_pledged_toward", "intended_toward")
)


def _put_range(
    vector: Vector, at: tuple[int, int, int], low: Decimal, high: Decimal | None
) -> None:
    vector[at[0]] = low
    if high is None:
        vector[at[2]] = _ONE
    else:
        vector[at[1]] = high


def _as_child(row: list[Any]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """What a node adds to its parent's ``kids_*``: headline, effective low, finite high and
    whether its high is unbounded (all zero once it is inactive)."""
    if not row[ACTIVE]:
        return ZERO, ZERO, ZERO, ZERO
    low = max(row[LOW], row[KLOW])
    high = row[HIGH]
    return row[AMOUNT] or ZERO, low, high or ZERO, ZERO if high is not None else _ONE


def _node_vector(row: list[Any], kids: Kids | None = None) -> Vector:
    """What an (active) pledge or tranche adds to the totals: its own part under its sector
    (allocated too, for a tranche), and for a pledge its whole tree's part (the ``tree_*``
    figures, which only totals by agreement, pledger or recipient read). ``kids`` replaces what
    its row says its tranches add up to (for a restated date)."""
    vector = [ZERO] * FIGURES
    if not row[ACTIVE]:
        return vector
    if kids is None:
        kids = Kids(row[KAMT], row[KLOW], row[KHIGH], int(row[KOPEN]))
    amount, low, high = row[AMOUNT], row[LOW], row[HIGH]
    k_amount, k_low, k_high, k_open = kids
    headline, own_low, own_high = own_range(amount, low, high, k_amount, k_low, k_high, k_open)
    vector[V_PLEDGED] = headline
    _put_range(vector, _PLEDGED, own_low, own_high)
    if row[PARENT] is not None:
        vector[V_ALLOCATED] = headline
        _put_range(vector, _ALLOCATED, own_low, own_high)
    else:
        pledged, allocated = tree_ranges(amount, low, high, k_amount, k_low, k_high, k_open)
        _put_range(vector, _TREE_PLEDGED, pledged[1], pledged[2])
        _put_range(vector, _TREE_ALLOCATED, allocated[1], allocated[2])
        if row[TOWARD] is not None:
            vector[V_PLEDGED_TOWARD] = headline
            vector[V_TREE_PLEDGED_TOWARD] = pledged[0]
    if amount is None:
        vector[V_UNDISCLOSED] = _ONE
    return vector


def _leaf_vector(row: list[Any]) -> Vector:
    """What an active delivery (delivered) or LOI (intended) adds to the totals."""
    vector = [ZERO] * FIGURES
    if not row[ACTIVE]:
        return vector
    headline, low, high = held(row[AMOUNT] or ZERO, row[LOW], row[HIGH])
    if row[TYPE] == "delivery":
        vector[V_DELIVERED] = headline
        _put_range(vector, _RANGES["delivered"], low, high)
    else:
        vector[V_INTENDED] = headline
        _put_range(vector, _RANGES["intended"], low, high)
        if row[TOWARD] is not None:
            vector[V_INTENDED_TOWARD] = headline
    if row[AMOUNT] is None:
        vector[V_UNDISCLOSED] = _ONE
    return vector


def _minus(after: Vector, before: Vector) -> Vector:
    return list(map(sub, after, before))


def _figure_of(entry: dict[str, Any], bound: str | None = None) -> tuple[Any, ...]:
    """Amount, bound and range (low, high) of an entry's figure, as ``records`` keeps them;
    ``bound`` is used when the entry gives none (an amendment keeps its target's)."""
    raw = entry.get("amount")
    amount = None if raw is None else Decimal(raw)
    kept = entry.get("bound") or bound or Bound.EXACT.value
    low, high = (Decimal(entry[k]) if entry.get(k) is not None else None for k in ("low", "high"))
    interval = interval_of(amount, Bound(kept), low, high)
    return amount, kept, interval.low, interval.high


class Folder:
    """Applies records, in log order, to one table set within one transaction at a time."""

    def __init__(self, tables: TableSet, *, cache_limit: int = 50_000) -> None:
        self.tables = tables
        self.cache_limit = cache_limit
        self.cache: dict[str, list[Any] | None] = {}
        self.new: dict[str, list[Any]] = {}
        self.changed: dict[str, list[Any]] = {}
        self.new_children: dict[str, list[str]] = {}
        self.buckets: dict[Bucket, list[Decimal]] = {}
        self.totals: Sums = {}
        self.tx: Tx | None = None
        self.applied = 0

    def bind(self, tx: Tx) -> None:
        """Work in ``tx`` from now on (the runner commits page by page)."""
        self.tx = tx

    def _tx(self) -> Tx:
        assert self.tx is not None, "Folder.bind(tx) first"
        return self.tx

    # -- records -------------------------------------------------------------------------

    def _row(self, raw: tuple[Any, ...]) -> list[Any]:
        row = list(raw[1:])
        tx = self._tx()
        if tx.backend != "sqlite":
            for i in _TEXT_COLUMNS:
                if row[i] is not None:
                    row[i] = tx.untext(row[i])
        for i in _NUMERIC:
            if row[i] is not None and type(row[i]) is not Decimal:
                row[i] = Decimal(row[i])
        row[ACTIVE] = bool(row[ACTIVE])
        return row

    def prefetch(self, ids: Iterable[str]) -> None:
        """Load the rows of ``ids`` that are not cached yet, in a few queries."""
        missing = list({i for i in ids if i not in self.cache})
        tx = self._tx()
        table = tx.table(self.tables.records)
        columns = ", ".join(RECORD_COLUMNS)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found = tx.fetchall(
                f"SELECT {columns} FROM {table} WHERE id IN ({marks})",
                [tx.text(i) for i in chunk],
            )
            for i in chunk:
                self.cache[i] = None
            for raw in found:
                self.cache[tx.untext(raw[0])] = self._row(raw)

    def get(self, record_id: str) -> list[Any] | None:
        """The row of ``record_id`` (a list to update in place and :meth:`touch`), or None."""
        try:
            return self.cache[record_id]
        except KeyError:
            pass
        tx = self._tx()
        raw = tx.fetchone(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM {tx.table(self.tables.records)} WHERE id = ?",
            (tx.text(record_id),),
        )
        row = self.cache[record_id] = None if raw is None else self._row(raw)
        return row

    def _must(self, record_id: str, by: str) -> list[Any]:
        row = self.get(record_id)
        assert row is not None, f"{by}: {record_id} was never recorded"
        return row

    def root_of(self, record_id: str) -> str | None:
        """The root record whose aggregate owns ``record_id`` (the write path's index)."""
        row = self.get(record_id)
        return None if row is None else str(row[ROOT])

    def _put(self, record_id: str, row: list[Any]) -> None:
        self.cache[record_id] = row
        self.new[record_id] = row

    def _touch(self, record_id: str, row: list[Any]) -> None:
        """``row`` (figures, kids, active or latest) changed: write it at the next flush."""
        if record_id not in self.new:
            self.changed[record_id] = row

    def _children(self, record_id: str) -> list[str]:
        """The tranches directly under ``record_id``: those written, and those folded since.
        Reads only, so that folding never writes before :meth:`flush` (the write path
        folds while it validates, before it holds the writers' lock)."""
        tx = self._tx()
        written = [
            tx.untext(r[0])
            for r in tx.fetchall(
                f"SELECT id FROM {tx.table(self.tables.records)} "
                "WHERE parent = ? AND type = 'tranche'",
                (tx.text(record_id),),
            )
        ]
        return written + self.new_children.get(record_id, [])

    def _chain(self, record_id: str, row: list[Any]) -> list[tuple[str, list[Any]]]:
        """``record_id`` and its ancestors up to the pledge, with their rows."""
        chain = [(record_id, row)]
        while row[PARENT] is not None:
            parent_id = row[PARENT]
            row = self._must(parent_id, record_id)
            chain.append((parent_id, row))
        return chain

    # -- postings ------------------------------------------------------------------------

    def _post(self, row: list[Any], sector: str, day: str, at: str, vector: Vector) -> None:
        if not any(vector):
            return
        key = (sector, row[AGREEMENT], row[PLEDGER], row[RECIPIENT], row[UNIT], day, at)
        sums = self.buckets.get(key)
        if sums is None:
            self.buckets[key] = list(vector)
        else:
            sums[:] = map(add, sums, vector)

    def _update(
        self,
        record_id: str,
        row: list[Any],
        change: Any,
        day: str,
        at: str,
        *,
        post: bool = True,
    ) -> None:
        """Change a pledge's or tranche's row by ``change(row)`` and post what that changes:
        its own vector and those of its ancestors, whose ``kids_*`` follow it up the tree as
        far as what each adds to its parent changes (``post=False``: change the rows only,
        the caller posts)."""
        was = _node_vector(row) if post else None
        old = _as_child(row)
        change(row)
        self._touch(record_id, row)
        if was is not None:
            self._post(row, row[SECTOR], day, at, _minus(_node_vector(row), was))
        new = _as_child(row)
        node = row
        while new != old and node[PARENT] is not None:
            node_id = node[PARENT]
            node = self._must(node_id, record_id)
            was = _node_vector(node) if post else None
            old_parent = _as_child(node)
            node[KAMT] += new[0] - old[0]
            node[KLOW] += new[1] - old[1]
            node[KHIGH] += new[2] - old[2]
            node[KOPEN] += new[3] - old[3]
            self._touch(node_id, node)
            if was is not None:
                self._post(node, node[SECTOR], day, at, _minus(_node_vector(node), was))
            old, new = old_parent, _as_child(node)

    def _leaf(self, row: list[Any], change: Any, day: str, at: str) -> None:
        """Change a delivery's or LOI's row by ``change(row)`` and post the difference."""
        before = _leaf_vector(row)
        change(row)
        self._post(row, row[SECTOR], day, at, _minus(_leaf_vector(row), before))

    def apply(self, entry: dict[str, Any], at: str) -> None:
        """Fold one record (as stored) recorded at ``at`` (:func:`codec.utc_text`)."""
        kind = entry["type"]
        record_id = entry["id"]
        day = entry[WORLD_DATE[kind]]
        self.applied += 1
        if kind == "tranche":
            self._tranche(record_id, entry, day, at)
        elif kind == "delivery":
            parent_id = entry["parent"]
            parent = self._must(parent_id, record_id)
            amount, bound, low, high = _figure_of(entry)
            row = self._new_row("delivery", parent[ROOT], parent_id, parent[SECTOR], day)
            row[AGREEMENT:UNIT] = parent[AGREEMENT:UNIT]
            row[UNIT] = parent[UNIT]
            self._figure(row, amount, bound, low, high)
            self._put(record_id, row)
            self._post(row, row[SECTOR], day, at, _leaf_vector(row))
        elif kind == "pledge":
            row = self._new_row("pledge", record_id, None, entry["sector"], day)
            row[AGREEMENT] = entry.get("agreement")
            row[PLEDGER], row[RECIPIENT], row[UNIT] = (
                entry["pledger"],
                entry["recipient"],
                entry["unit"],
            )
            self._figure(row, *_figure_of(entry))
            self._node_extras(row, entry, day)
            row[TOWARD] = entry.get("toward")
            self._put(record_id, row)
            self._post(row, row[SECTOR], day, at, _node_vector(row))
            self._convert(entry, day, at)
        elif kind == "loi":
            row = self._new_row("loi", record_id, None, entry["sector"], day)
            row[AGREEMENT] = entry.get("agreement")
            row[PLEDGER], row[RECIPIENT], row[UNIT] = (
                entry["party"],
                entry["counterparty"],
                entry["unit"],
            )
            self._figure(row, *_figure_of(entry))
            row[TOWARD] = entry.get("toward")
            row[DUE] = entry.get("due_by")
            self._put(record_id, row)
            self._post(row, row[SECTOR], day, at, _leaf_vector(row))
        elif kind == "agreement":
            self._put(record_id, self._new_row("agreement", record_id, None, None, day))
        elif kind == "report":
            about = self._must(entry["about"], record_id)
            self._put(record_id, self._new_row("report", about[ROOT], entry["about"], None, day))
        else:
            self._correct(kind, entry, record_id, day, at)

    @staticmethod
    def _new_row(
        kind: str, root: str, parent: str | None, sector: str | None, day: str
    ) -> list[Any]:
        row: list[Any] = [None] * WIDTH
        row[TYPE], row[ROOT], row[PARENT], row[SECTOR] = kind, root, parent, sector
        row[PTRANCHE] = False
        row[ACTIVE] = True
        row[DAY] = day
        return row

    @staticmethod
    def _figure(
        row: list[Any], amount: Decimal | None, bound: str, low: Decimal, high: Decimal | None
    ) -> None:
        row[AMOUNT], row[BOUND], row[LOW], row[HIGH] = amount, bound, low, high

    @staticmethod
    def _node_extras(row: list[Any], entry: dict[str, Any], day: str) -> None:
        row[KAMT] = row[KLOW] = row[KHIGH] = row[KOPEN] = ZERO
        row[DUE] = entry.get("due_by")
        if row[PARENT] is None:
            row[LATEST] = day

    def _tranche(self, record_id: str, entry: dict[str, Any], day: str, at: str) -> None:
        parent_id = entry["parent"]
        parent = self._must(parent_id, record_id)
        row = self._new_row("tranche", parent[ROOT], parent_id, entry["sector"], day)
        row[PSECTOR] = parent[SECTOR]
        row[PTRANCHE] = parent[PARENT] is not None
        row[AGREEMENT], row[PLEDGER], row[RECIPIENT] = (
            parent[AGREEMENT],
            parent[PLEDGER],
            parent[RECIPIENT],
        )
        row[UNIT] = entry["unit"]
        self._figure(row, *_figure_of(entry))
        self._node_extras(row, entry, day)
        row[ACTIVE] = False  # it enters as a change from nothing to its figure

        def enter(target: list[Any]) -> None:
            self._put(record_id, target)
            self.new_children.setdefault(parent_id, []).append(record_id)
            target[ACTIVE] = True

        root_id = row[ROOT]
        root = self._must(root_id, record_id)
        if root[LATEST] is not None and day < root[LATEST]:
            self._restate(
                root_id,
                root,
                day,
                at,
                lambda: self._update(record_id, row, enter, day, at, post=False),
            )
        else:
            if root[LATEST] is None or day > root[LATEST]:
                root[LATEST] = day
                self._touch(root_id, root)
            self._update(record_id, row, enter, day, at)
        self._convert(entry, day, at)

    def _convert(self, entry: dict[str, Any], day: str, at: str) -> None:
        """A pledge or tranche that converts a letter of intent: from its date, the letter no
        longer counts as intended."""
        letter_id = entry.get("converts")
        if letter_id is None:
            return
        letter = self._must(letter_id, entry["id"])

        def end(row: list[Any]) -> None:
            row[ACTIVE] = False

        self._leaf(letter, end, day, at)
        self._touch(letter_id, letter)

    def _correct(self, kind: str, entry: dict[str, Any], record_id: str, day: str, at: str) -> None:
        target_id = entry["target"]
        target = self._must(target_id, record_id)
        self._put(record_id, self._new_row(kind, target[ROOT], target_id, None, day))
        target_type = target[TYPE]
        if target_type == "agreement":
            if kind == "withdrawal":
                target[ACTIVE] = False
                self._touch(target_id, target)
            return
        amending = kind == "amendment"
        figure = _figure_of(entry, target[BOUND]) if amending else None

        def amend(row: list[Any]) -> None:
            assert figure is not None
            self._figure(row, *figure)

        def end(row: list[Any]) -> None:
            row[ACTIVE] = False

        if target_type in ("pledge", "tranche"):
            if amending:
                self._update(target_id, target, amend, day, at)
            else:
                self._end_subtree(target_id, target, day, at)
            return
        self._leaf(target, amend if amending else end, day, at)
        self._touch(target_id, target)

    def _end_subtree(self, node_id: str, node: list[Any], day: str, at: str) -> None:
        """A withdrawal or lapse of a node: it and its whole active subtree stop counting."""
        for child_id in self._children(node_id):
            child = self.get(child_id)
            if child is not None and child[ACTIVE]:
                self._drop(child_id, child, day, at)

        def end(row: list[Any]) -> None:
            row[ACTIVE] = False

        self._update(node_id, node, end, day, at)

    def _drop(self, node_id: str, node: list[Any], day: str, at: str) -> None:
        """A node under a withdrawn one: it stops counting with everything under it (its
        parent stops counting too, so its ``kids_*`` need no update)."""
        for child_id in self._children(node_id):
            child = self.get(child_id)
            if child is not None and child[ACTIVE]:
                self._drop(child_id, child, day, at)
        self._post(node, node[SECTOR], day, at, [-v for v in _node_vector(node)])
        node[ACTIVE] = False
        self._touch(node_id, node)

    # -- late tranches ---------------------------------------------------------------------

    def _tree(self, root_id: str, root: list[Any]) -> Iterator[tuple[str, list[Any]]]:
        """The active nodes of a tree, parents before children."""
        stack = [(root_id, root)]
        while stack:
            node_id, node = stack.pop()
            yield node_id, node
            for child_id in self._children(node_id):
                child = self.get(child_id)
                if child is not None and child[ACTIVE]:
                    stack.append((child_id, child))

    @staticmethod
    def _as_of(nodes: list[tuple[str, list[Any]]], day: str) -> dict[str, Vector]:
        """Each node's vector in the tree as it stood on ``day``: only the nodes dated on or
        before it, with what their visible tranches add up to recomputed."""
        visible = [(i, n) for i, n in nodes if n[DAY] <= day]
        sums: dict[str, list[Decimal]] = {}
        vectors: dict[str, Vector] = {}
        for node_id, node in reversed(visible):  # children before parents
            kids = sums.get(node_id, [ZERO, ZERO, ZERO, ZERO])
            own = Kids(kids[0], kids[1], kids[2], int(kids[3]))
            vectors[node_id] = _node_vector(node, own)
            if node[PARENT] is not None:
                low = max(node[LOW], own.low)
                high = node[HIGH]
                above = sums.setdefault(node[PARENT], [ZERO, ZERO, ZERO, ZERO])
                above[0] += node[AMOUNT] or ZERO
                above[1] += low
                above[2] += high or ZERO
                above[3] += ZERO if high is not None else _ONE
        return vectors

    def _restate(self, root_id: str, root: list[Any], day: str, at: str, change: Any) -> None:
        """Make ``change()`` (adding a tranche dated ``day``, before the tree's latest node)
        and post what it changes in the totals as of every date from ``day`` on: at each
        date the tree has a node, the difference its vectors as of that date make, less
        what was posted for the dates before (see the module's docstring)."""
        before_nodes = list(self._tree(root_id, root))
        change()
        after_nodes = list(self._tree(root_id, root))
        days = sorted({day} | {n[DAY] for _, n in after_nodes if n[DAY] > day})
        rows = dict(after_nodes)
        posted: dict[str, Vector] = {}
        for when in days:
            before = self._as_of(before_nodes, when)
            after = self._as_of(after_nodes, when)
            for node_id, node in rows.items():
                made = _minus(after.get(node_id, _zeros()), before.get(node_id, _zeros()))
                already = posted.get(node_id)
                delta = made if already is None else _minus(made, already)
                self._post(node, node[SECTOR], when, at, delta)
                posted[node_id] = made

    # -- writing -------------------------------------------------------------------------

    def _flush_records(self) -> None:
        """Insert the rows made since the last flush and update the ones changed."""
        tx = self._tx()
        num = tx.num
        text = tx.text

        def stored(record_id: str, row: list[Any]) -> tuple[Any, ...]:
            out = [text(record_id), *row]
            for i in _TEXT_COLUMNS:
                if out[i + 1] is not None:
                    out[i + 1] = text(out[i + 1])
            for i in _NUMERIC:
                if out[i + 1] is not None:
                    out[i + 1] = num(out[i + 1])
            out[PTRANCHE + 1] = int(bool(row[PTRANCHE]))
            out[ACTIVE + 1] = int(row[ACTIVE])
            return tuple(out)

        marks = ", ".join("?" * len(RECORD_COLUMNS))
        table = tx.table(self.tables.records)
        tx.executemany(
            f"INSERT INTO {table} ({', '.join(RECORD_COLUMNS)}) VALUES ({marks})",
            [stored(i, r) for i, r in self.new.items()],
        )
        assignments = ", ".join(f"{c} = ?" for c in _CHANGING)
        updates = []
        for record_id, row in self.changed.items():
            values = stored(record_id, row)
            updates.append((*(values[k] for k in _CHANGING_AT), values[0]))
        tx.executemany(f"UPDATE {table} SET {assignments} WHERE id = ?", updates)
        self.new.clear()
        self.changed.clear()
        self.new_children.clear()

    def flush(self, position: int | None) -> None:
        """Write the records and postings folded so far; with a ``position``, also the totals
        (summed in memory until then: a few rows, rewritten once per transaction rather than
        once per page) and the position they reach, which must be written together.

        Postings are written with the set's position before this flush as their ``base``:
        their events all come after it, and the transaction that writes them started at or
        after it, which is what bounds a :class:`~pledgeledger.view.LedgerView` to its head.
        """
        tx = self._tx()
        self._flush_records()
        text, num = tx.text, tx.num
        pg = tx.backend != "sqlite"
        totals = self.totals
        base = self.tables.position(tx) if self.buckets else 0
        rows = []
        sector_sums, tree_sums = _TOTALS_SECTOR_OF, _TOTALS_TREE_OF
        for (sector, agreement, pledger, recipient, unit, day, at), sums in self.buckets.items():
            if not any(sums):
                continue
            if pg:
                sector, pledger, recipient, unit = (
                    text(sector),
                    text(pledger),
                    text(recipient),
                    text(unit),
                )
                agreement = None if agreement is None else text(agreement)
            rows.append(
                (
                    sector,
                    agreement,
                    pledger,
                    recipient,
                    unit,
                    day,
                    at,
                    *[num(v) if v else None for v in sums],
                    base,
                )
            )
            by_sector, by_tree = sector_sums(sums), tree_sums(sums)
            for key, picked in (
                (("sector", sector, unit), by_sector),
                (("agreement", agreement or "", unit), by_tree),
                (("pledger", pledger, unit), by_tree),
                (("recipient", recipient, unit), by_tree),
            ):
                found = totals.get(key)
                if found is None:
                    totals[key] = list(picked)
                else:
                    found[:] = map(add, found, picked)
        self.buckets.clear()
        columns = ", ".join(POSTING_FIGURES)
        marks = ", ".join("?" * (len(POSTING_FIGURES) + 8))
        tx.executemany(
            f"INSERT INTO {tx.table(self.tables.postings)} (sector, agreement, pledger, "
            f"recipient, unit, world_date, recorded_at, {columns}, base) VALUES ({marks})",
            rows,
        )
        if len(self.cache) > self.cache_limit:
            self.cache.clear()  # every row is written by now: re-read on demand
        if position is None:
            return
        figures = sums_for("sector")  # the totals' columns, whatever the group
        update = ", ".join(f"{f} = {tx.add('t.' + f, 'excluded.' + f)}" for f in figures)
        marks = ", ".join("?" * (len(figures) + 3))
        tx.executemany(
            f"INSERT INTO {tx.table(self.tables.totals)} AS t (grp, key, unit, "
            f"{', '.join(figures)}) VALUES ({marks}) "
            f"ON CONFLICT (grp, key, unit) DO UPDATE SET {update}",
            [(g, k, u, *(num(v) for v in s)) for (g, k, u), s in totals.items()],
        )
        totals.clear()
        self.tables.set_position(tx, position)
