"""The read models: tables next to the events that answer every query without the log.

One *table set* holds everything derived from the log, and the position (notification id) it
has caught up to; see ``docs/projections.md`` for the design.

``records``
    One row per record id: its type, the root record whose aggregate owns it, and for pledges,
    tranches, deliveries and LOIs the state the postings need (sectors, group keys, unit,
    current amount, active). It is the projector's memory (so neither it nor the log is held in
    RAM) and the index the write path routes ids through.
``totals``
    Current figures per group (``sector``, ``agreement``, ``pledger``, ``recipient``), key and
    unit: the dashboard query is a read of a few rows, whatever the size of the log.
``daily``
    The postings summed per group, key, unit, world date and recorded time. ``--as-of D`` and
    ``--known-at T`` keep the rows with ``world_date <= D`` and ``recorded_at <= T``, so the
    answers equal a fold of exactly the qualifying postings, in far fewer rows than postings.

Two table sets exist, ``a`` and ``b``; ``pl_meta`` names the live one. ``replay`` fills the
other from scratch and swaps them in one transaction, so readers never see a half-built view.
A ``None`` agreement is stored as the empty string (agreement ids are never empty); figures are
``TEXT`` decimals on SQLite and ``NUMERIC`` on PostgreSQL (see :mod:`pledgeledger.db`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from .db import Database, Tx
from .projections import Group, Totals

__all__ = ["GROUP_COLUMNS", "SCHEMA_VERSION", "ReadModels", "TableSet"]

SCHEMA_VERSION = "1"
"""Bump when the tables or what they mean change: stale read models are then rebuilt."""

GROUP_COLUMNS: tuple[Group, ...] = ("sector", "agreement", "pledger", "recipient")
RECORD_COLUMNS = (
    "id", "type", "root", "parent", "sector", "parent_sector", "parent_tranche", "agreement",
    "pledger", "recipient", "unit", "amount", "active",
)  # fmt: skip
FIGURES = ("pledged", "allocated", "delivered", "intended")
ZERO = Decimal(0)


@attrs.frozen
class TableSet:
    """The names of one set of read-model tables (``a`` or ``b``)."""

    name: str

    @property
    def records(self) -> str:
        return f"pl_{self.name}_records"

    @property
    def totals(self) -> str:
        return f"pl_{self.name}_totals"

    @property
    def daily(self) -> str:
        return f"pl_{self.name}_daily"

    @property
    def position_table(self) -> str:
        return f"pl_{self.name}_position"

    @property
    def other(self) -> TableSet:
        return TableSet("b" if self.name == "a" else "a")

    def create(self, tx: Tx) -> None:
        text = "TEXT" if tx.backend == "sqlite" else 'TEXT COLLATE "C"'
        num = tx.num_type
        no_rowid = " WITHOUT ROWID" if tx.backend == "sqlite" else ""
        figures = ", ".join(f"{f} {num} NOT NULL" for f in FIGURES)
        records, totals, daily = (tx.table(n) for n in (self.records, self.totals, self.daily))
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.table(self.position_table)} "
            "(id INTEGER PRIMARY KEY, position BIGINT NOT NULL)"
        )
        tx.execute(
            f"INSERT INTO {tx.table(self.position_table)} (id, position) VALUES (1, 0) "
            "ON CONFLICT (id) DO NOTHING"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {records} (id {text} PRIMARY KEY, type TEXT NOT NULL, "
            f"root {text} NOT NULL, parent {text}, sector {text}, parent_sector {text}, "
            f"parent_tranche INTEGER, agreement {text}, pledger {text}, recipient {text}, "
            f"unit {text}, amount {num}, active INTEGER){no_rowid}"
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {self.records}_parent ON {records} (parent)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {totals} (grp TEXT NOT NULL, key {text} NOT NULL, "
            f"unit {text} NOT NULL, {figures}, PRIMARY KEY (grp, key, unit)){no_rowid}"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {daily} (grp TEXT NOT NULL, key {text} NOT NULL, "
            f"unit {text} NOT NULL, world_date {text} NOT NULL, recorded_at {text} NOT NULL, "
            f"{figures}, PRIMARY KEY (grp, key, unit, world_date, recorded_at)){no_rowid}"
        )

    def drop(self, tx: Tx) -> None:
        for name in (self.records, self.totals, self.daily, self.position_table):
            tx.execute(f"DROP TABLE IF EXISTS {tx.table(name)}")

    def position(self, tx: Tx) -> int:
        """The notification id this set has caught up to (0: nothing applied)."""
        return int(tx.scalar(f"SELECT position FROM {tx.table(self.position_table)}") or 0)

    def set_position(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {tx.table(self.position_table)} SET position = ?", (position,))


def _key(group: Group, raw: str, tx: Tx) -> str | None:
    if group == "agreement" and raw == "":
        return None
    return tx.untext(raw)


def _rolled(key: str | None, group: Group, depth: int | None) -> str | None:
    if depth is None or group != "sector" or key is None:
        return key
    return "/".join(key.split("/")[:depth])


def _dec(value: Any) -> Decimal:
    return value if type(value) is Decimal else Decimal(value)


class ReadModels:
    """Creates, finds and queries the live table set of one ledger database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- set-up ----------------------------------------------------------------------------

    def _meta(self, tx: Tx) -> dict[str, str]:
        if tx.backend == "sqlite":
            exists = tx.scalar(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pl_meta'"
            )
        else:
            exists = tx.scalar("SELECT to_regclass(?)", (tx.table("pl_meta"),))
        if not exists:  # a ledger created just now
            return {}
        return dict(tx.fetchall(f"SELECT key, value FROM {tx.table('pl_meta')}"))

    def live(self, tx: Tx) -> TableSet | None:
        """The live table set, or ``None`` when the read models need creating (or rebuilding
        because they were made by another version of the code)."""
        meta = self._meta(tx)
        if meta.get("version") != SCHEMA_VERSION or meta.get("live") not in ("a", "b"):
            return None
        return TableSet(meta["live"])

    def ensure(self) -> None:
        """Create the tables, or replace read models of another schema version by empty
        ones (the runner then refills them from the log)."""
        if self.db.backend == "postgres":
            with self.db.read() as tx:
                if self.live(tx) is not None:
                    return
        else:
            with self.db.read() as tx:
                found = self.live(tx) is not None
            if found:
                return
        with self.db.write() as tx:
            self.ensure_in(tx)

    def ensure_in(self, tx: Tx) -> TableSet:
        """:meth:`ensure` inside an open write transaction; returns the live set."""
        live = self.live(tx)
        if live is not None:
            return live
        meta = tx.table("pl_meta")
        tx.execute(f"CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value TEXT)")
        for stale in (TableSet("a"), TableSet("b")):
            stale.drop(tx)
        live = TableSet("a")
        live.create(tx)
        self.set_meta(tx, live)
        return live

    @staticmethod
    def set_meta(tx: Tx, live: TableSet) -> None:
        meta = tx.table("pl_meta")
        for key, value in (("version", SCHEMA_VERSION), ("live", live.name)):
            tx.execute(
                f"INSERT INTO {meta} (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- queries ---------------------------------------------------------------------------

    def totals(
        self,
        tx: Tx,
        tables: TableSet,
        by: Group,
        *,
        depth: int | None = None,
        as_of: date | None = None,
        known_at: str | None = None,
    ) -> list[Totals]:
        """Totals per key and unit, exactly as :func:`pledgeledger.projections.sum_postings`
        gives them for the postings of the log (``known_at`` as :func:`codec.utc_text`)."""
        figures = ", ".join(FIGURES)
        if as_of is None and known_at is None:
            rows = tx.fetchall(
                f"SELECT key, unit, {figures} FROM {tx.table(tables.totals)} WHERE grp = ?",
                (by,),
            )
        else:
            where = ["grp = ?"]
            params: list[Any] = [by]
            if as_of is not None:
                where.append("world_date <= ?")
                params.append(as_of.isoformat())
            if known_at is not None:
                where.append("recorded_at <= ?")
                params.append(known_at)
            sums = ", ".join(tx.sum(f) for f in FIGURES)
            rows = tx.fetchall(
                f"SELECT key, unit, {sums} FROM {tx.table(tables.daily)} "
                f"WHERE {' AND '.join(where)} GROUP BY key, unit",
                params,
            )
        sums: dict[tuple[str | None, str], list[Decimal]] = {}
        for raw_key, unit, *values in rows:
            key = _rolled(_key(by, raw_key, tx), by, depth)
            row = sums.get((key, tx.untext(unit)))
            if row is None:
                sums[(key, tx.untext(unit))] = [_dec(v) for v in values]
            else:
                for i, value in enumerate(values):
                    row[i] += _dec(value)
        result = [Totals(by, key, unit, *f) for (key, unit), f in sums.items() if any(f)]
        result.sort(key=lambda r: (r.key is None, r.key or "", r.unit))
        return result

    def daily(
        self,
        tx: Tx,
        tables: TableSet,
        by: Group,
        *,
        known_at: str | None = None,
        until: date | None = None,
    ) -> Iterator[tuple[str | None, str, date, list[Decimal]]]:
        """Net changes per key, unit and world date, in date order (the timeline's input)."""
        where = ["grp = ?"]
        params: list[Any] = [by]
        if known_at is not None:
            where.append("recorded_at <= ?")
            params.append(known_at)
        if until is not None:
            where.append("world_date <= ?")
            params.append(until.isoformat())
        sums = ", ".join(tx.sum(f) for f in FIGURES)
        for raw_key, unit, day, *values in tx.stream(
            f"SELECT key, unit, world_date, {sums} FROM {tx.table(tables.daily)} "
            f"WHERE {' AND '.join(where)} GROUP BY key, unit, world_date "
            "ORDER BY world_date, key, unit",
            params,
        ):
            yield (
                _key(by, raw_key, tx),
                tx.untext(unit),
                date.fromisoformat(day),
                [_dec(v) for v in values],
            )

    # -- comparing two sets (replay --verify) ----------------------------------------------

    def differences(self, tx: Tx, live: TableSet, rebuilt: TableSet, limit: int = 20) -> list[str]:
        """Rows that differ between the live set and one rebuilt from the log.

        Figures compare as decimals (``1.0`` equals ``1``); a missing row equals one whose
        figures are all zero. Walks both sides in key order a page at a time, so memory stays
        flat whatever the size of the tables.
        """
        problems: list[str] = []
        checks = [
            (live.records, rebuilt.records, ("id",), RECORD_COLUMNS[1:]),
            (live.totals, rebuilt.totals, ("grp", "key", "unit"), FIGURES),
            (live.daily, rebuilt.daily, ("grp", "key", "unit", "world_date", "recorded_at"),
             FIGURES),
        ]  # fmt: skip
        for left, right, keys, values in checks:
            label = left.split("_")[-1]
            for problem in _compare(tx, tx.table(left), tx.table(right), keys, values, label):
                problems.append(problem)
                if len(problems) >= limit:
                    problems.append("(more differences not shown)")
                    return problems
        return problems


PAGE = 5000


def _normalise(values: tuple[Any, ...], label: str) -> tuple[Any, ...] | None:
    if label == "records":
        amount = RECORD_COLUMNS.index("amount") - 1
        out = list(values)
        if out[amount] is not None:
            out[amount] = _dec(out[amount])
        return tuple(out)
    figures = tuple(_dec(v) for v in values)
    return figures if any(figures) else None


def _page(
    tx: Tx, table: str, keys: tuple[str, ...], values: tuple[str, ...], after: Any, upto: Any
) -> list[tuple[Any, ...]]:
    key_sql = ", ".join(keys)
    row = f"({key_sql})" if len(keys) > 1 else key_sql
    marks = "(" + ", ".join("?" * len(keys)) + ")" if len(keys) > 1 else "?"
    where, params = [], []
    if after is not None:
        where.append(f"{row} > {marks}")
        params.extend(after)
    if upto is not None:
        where.append(f"{row} <= {marks}")
        params.extend(upto)
    sql = f"SELECT {key_sql}, {', '.join(values)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {key_sql}"
    if upto is None:
        sql += f" LIMIT {PAGE}"
    return tx.fetchall(sql, params)


def _compare(
    tx: Tx, left: str, right: str, keys: tuple[str, ...], values: tuple[str, ...], label: str
) -> Iterator[str]:
    width = len(keys)
    after: Any = None
    while True:
        page = _page(tx, left, keys, values, after, None)
        upto = tuple(page[-1][:width]) if page else None
        theirs = _page(tx, right, keys, values, after, upto) if page else _page(
            tx, right, keys, values, after, None
        )
        mine = {tuple(r[:width]): _normalise(tuple(r[width:]), label) for r in page}
        for r in theirs:
            key = tuple(r[:width])
            rebuilt = _normalise(tuple(r[width:]), label)
            found = mine.pop(key, None)
            if found != rebuilt:
                yield f"{label} {key}: live {found} != rebuilt {rebuilt}"
        for key, found in mine.items():
            if found is not None:
                yield f"{label} {key}: live {found} != rebuilt None"
        if not page:
            if len(theirs) < PAGE:
                return
            after = tuple(theirs[-1][:width])
            continue
        after = upto
