"""Folding records into the read-model tables: :class:`Projector`'s postings, without the log.

:class:`pledgeledger.projections.Projector` is the reference: it keeps every pledge tree in
memory and turns each event into postings. :class:`Folder` makes the same postings, but keeps
what it needs per record (sector, its parent's sector, whether the parent is a tranche, the
root's group keys, unit, current amount, active) in the ``records`` table, with a bounded cache
in front, so that a log of millions of events folds in constant memory. Postings are summed in
memory per bucket (group keys, unit, world date, recorded time) and written by :meth:`flush`
together with the position they reach, in the caller's transaction.

It works on the JSON-shaped records as stored (``entry``), which the write path has at hand
and the runner gets from the events the mapper decodes (:meth:`.store.reading.Log.read`).
The equality with the reference is property-tested (``tests/test_readmodels.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pledgeledger.domain.totals import ZERO
from pledgeledger.projections.readmodels import RECORD_COLUMNS, TableSet
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
) = range(12)
WORLD_DATE = {
    "agreement": "signed_on",
    "pledge": "announced_on",
    "tranche": "announced_on",
    "loi": "announced_on",
    "delivery": "delivered_on",
    "amendment": "announced_on",
    "withdrawal": "announced_on",
}
_TEXT_COLUMNS = (ROOT, PARENT, SECTOR, PSECTOR, AGREEMENT, PLEDGER, RECIPIENT, UNIT)

Bucket = tuple[str, str | None, str, str, str, str, str]
"""sector, agreement, pledger, recipient, unit, world date, recorded time."""


Sums = dict[tuple[str, ...], list[Decimal]]


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
        if row[AMOUNT] is not None and type(row[AMOUNT]) is not Decimal:
            row[AMOUNT] = Decimal(row[AMOUNT])
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

    def root_of(self, record_id: str) -> str | None:
        """The root record whose aggregate owns ``record_id`` (the write path's index)."""
        row = self.get(record_id)
        return None if row is None else str(row[ROOT])

    def _put(self, record_id: str, row: list[Any]) -> None:
        self.cache[record_id] = row
        self.new[record_id] = row

    def _touch(self, record_id: str, row: list[Any]) -> None:
        """``row`` (amount or active) changed: write it at the next flush."""
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

    # -- postings ------------------------------------------------------------------------

    def _post(
        self, row: list[Any], sector: str, day: str, at: str, figures: tuple[Decimal, ...]
    ) -> None:
        key = (sector, row[AGREEMENT], row[PLEDGER], row[RECIPIENT], row[UNIT], day, at)
        sums = self.buckets.get(key)
        if sums is None:
            self.buckets[key] = list(figures)
        else:
            sums[0] += figures[0]
            sums[1] += figures[1]
            sums[2] += figures[2]
            sums[3] += figures[3]

    def _node(self, row: list[Any], value: Decimal, day: str, at: str) -> None:
        """A pledge's or tranche's amount changed by ``value``: post it under the node's
        sector and take it back from its parent's (as ``Projector._node_postings``)."""
        if row[PARENT] is None:
            self._post(row, row[SECTOR], day, at, (value, ZERO, ZERO, ZERO))
            return
        self._post(row, row[SECTOR], day, at, (value, value, ZERO, ZERO))
        back = -value
        self._post(row, row[PSECTOR], day, at, (back, back if row[PTRANCHE] else ZERO, ZERO, ZERO))

    def apply(self, entry: dict[str, Any], at: str) -> None:
        """Fold one record (as stored) recorded at ``at`` (:func:`codec.utc_text`)."""
        kind = entry["type"]
        record_id = entry["id"]
        day = entry[WORLD_DATE[kind]]
        self.applied += 1
        if kind == "tranche" or kind == "delivery":
            parent_id = entry["parent"]
            parent = self.get(parent_id)
            assert parent is not None, f"{record_id}: parent {parent_id} was never recorded"
            value = Decimal(entry["amount"])
            if kind == "tranche":
                row = [
                    "tranche",
                    parent[ROOT],
                    parent_id,
                    entry["sector"],
                    parent[SECTOR],
                    parent[PARENT] is not None,
                    parent[AGREEMENT],
                    parent[PLEDGER],
                    parent[RECIPIENT],
                    entry["unit"],
                    value,
                    True,
                ]
                self._put(record_id, row)
                self.new_children.setdefault(parent_id, []).append(record_id)
                self._node(row, value, day, at)
            else:
                row = [
                    "delivery",
                    parent[ROOT],
                    parent_id,
                    parent[SECTOR],
                    None,
                    False,
                    parent[AGREEMENT],
                    parent[PLEDGER],
                    parent[RECIPIENT],
                    parent[UNIT],
                    value,
                    True,
                ]
                self._put(record_id, row)
                self._post(row, row[SECTOR], day, at, (ZERO, ZERO, value, ZERO))
        elif kind == "pledge":
            value = Decimal(entry["amount"])
            row = [
                "pledge",
                record_id,
                None,
                entry["sector"],
                None,
                False,
                entry.get("agreement"),
                entry["pledger"],
                entry["recipient"],
                entry["unit"],
                value,
                True,
            ]
            self._put(record_id, row)
            self._node(row, value, day, at)
        elif kind == "loi":
            value = Decimal(entry["amount"])
            row = [
                "loi",
                record_id,
                None,
                entry["sector"],
                None,
                False,
                entry.get("agreement"),
                entry["party"],
                entry["counterparty"],
                entry["unit"],
                value,
                True,
            ]
            self._put(record_id, row)
            self._post(row, row[SECTOR], day, at, (ZERO, ZERO, ZERO, value))
        elif kind == "agreement":
            self._put(record_id, ["agreement", record_id, *([None] * 8), None, True])
        else:
            self._correct(kind, entry, record_id, day, at)

    def _correct(self, kind: str, entry: dict[str, Any], record_id: str, day: str, at: str) -> None:
        target_id = entry["target"]
        target = self.get(target_id)
        assert target is not None, f"{record_id}: target {target_id} was never recorded"
        self._put(record_id, [kind, target[ROOT], target_id, *([None] * 7), None, True])
        target_type = target[TYPE]
        if target_type == "agreement":
            if kind == "withdrawal":
                target[ACTIVE] = False
                self._touch(target_id, target)
            return
        amending = kind == "amendment"
        if target_type in ("pledge", "tranche"):
            if amending:
                new = Decimal(entry["amount"])
                self._node(target, new - target[AMOUNT], day, at)
                target[AMOUNT] = new
                self._touch(target_id, target)
            else:
                self._withdraw_subtree(target_id, target, day, at)
            return
        delta = Decimal(entry["amount"]) - target[AMOUNT] if amending else -target[AMOUNT]
        loi = target_type == "loi"
        figures = (ZERO, ZERO, ZERO, delta) if loi else (ZERO, ZERO, delta, ZERO)
        self._post(target, target[SECTOR], day, at, figures)
        if amending:
            target[AMOUNT] = Decimal(entry["amount"])
        else:
            target[ACTIVE] = False
        self._touch(target_id, target)

    def _withdraw_subtree(self, node_id: str, node: list[Any], day: str, at: str) -> None:
        self._node(node, -node[AMOUNT], day, at)
        node[ACTIVE] = False
        self._touch(node_id, node)
        for child_id in self._children(node_id):
            child = self.get(child_id)
            if child is not None and child[ACTIVE]:
                self._withdraw_subtree(child_id, child, day, at)

    # -- writing -------------------------------------------------------------------------

    def _flush_records(self) -> None:
        """Insert the rows made since the last flush and update the ones changed."""
        tx = self._tx()
        num = tx.num
        if tx.backend == "sqlite":
            new = [
                (
                    i,
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    int(bool(r[5])),
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    None if r[10] is None else str(r[10]),
                    int(r[11]),
                )
                for i, r in self.new.items()
            ]
        else:
            text = tx.text
            new = []
            for record_id, row in self.new.items():
                out = [text(record_id), *row]
                for i in _TEXT_COLUMNS:
                    if out[i + 1] is not None:
                        out[i + 1] = text(out[i + 1])
                out[PTRANCHE + 1] = int(bool(row[PTRANCHE]))
                out[ACTIVE + 1] = int(row[ACTIVE])
                new.append(tuple(out))
        marks = ", ".join("?" * len(RECORD_COLUMNS))
        table = tx.table(self.tables.records)
        tx.executemany(f"INSERT INTO {table} ({', '.join(RECORD_COLUMNS)}) VALUES ({marks})", new)
        tx.executemany(
            f"UPDATE {table} SET amount = ?, active = ? WHERE id = ?",
            [
                (None if r[AMOUNT] is None else num(r[AMOUNT]), int(r[ACTIVE]), tx.text(i))
                for i, r in self.changed.items()
            ],
        )
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
        for (sector, agreement, pledger, recipient, unit, day, at), sums in self.buckets.items():
            p, a, d, i = sums
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
                    num(p) if p else None,
                    num(a) if a else None,
                    num(d) if d else None,
                    num(i) if i else None,
                    base,
                )
            )
            for key in (
                ("sector", sector, unit),
                ("agreement", agreement or "", unit),
                ("pledger", pledger, unit),
                ("recipient", recipient, unit),
            ):
                found = totals.get(key)
                if found is None:
                    totals[key] = [p, a, d, i]
                else:
                    found[0] += p
                    found[1] += a
                    found[2] += d
                    found[3] += i
        self.buckets.clear()
        tx.executemany(
            f"INSERT INTO {tx.table(self.tables.postings)} (sector, agreement, pledger, "
            "recipient, unit, world_date, recorded_at, pledged, allocated, delivered, "
            "intended, base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        if len(self.cache) > self.cache_limit:
            self.cache.clear()  # every row is written by now: re-read on demand
        if position is None:
            return
        update = ", ".join(
            f"{f} = {tx.add('t.' + f, 'excluded.' + f)}"
            for f in ("pledged", "allocated", "delivered", "intended")
        )
        tx.executemany(
            f"INSERT INTO {tx.table(self.tables.totals)} AS t (grp, key, unit, pledged, "
            "allocated, delivered, intended) VALUES (?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (grp, key, unit) DO UPDATE SET {update}",
            [
                (g, k, u, num(s[0]), num(s[1]), num(s[2]), num(s[3]))
                for (g, k, u), s in totals.items()
            ],
        )
        totals.clear()
        self.tables.set_position(tx, position)
