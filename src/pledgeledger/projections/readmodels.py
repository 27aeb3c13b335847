"""The read models: tables next to the events that answer every query without the log.

One *table set* holds everything derived from the log, and the position (notification id) it
has caught up to; see ``docs/projections.md`` for the design.

``records``
    One row per record id: its type, the root record whose aggregate owns it (or, for a
    correction or report, the record it is about: ``parent``), and for pledges, tranches,
    deliveries and LOIs the state the postings need (sectors, group keys, unit, current amount,
    bound and range, active, world date, what its active tranches add up to, what it is tied
    toward, its deadline). It is the projector's memory (so neither it nor the log is held in
    RAM) and the index the write path routes ids through.
``totals``
    Current figures per group (``sector``, ``agreement``, ``pledger``, ``recipient``), key and
    unit (the :data:`~pledgeledger.domain.totals.SUMS` of a row): the dashboard query is a
    read of a few rows, whatever the size of the log.
``postings``
    The signed postings of :mod:`pledgeledger.projections` (all group keys, unit, world date,
    recorded time, and the deltas of :data:`POSTING_FIGURES`, zero stored as NULL), appended
    as events are folded;
    postings with the same keys, dates and time folded together are summed into one row.
    ``--as-of D`` and ``--known-at T`` keep the rows with ``world_date <= D`` and
    ``recorded_at <= T`` and sum them grouped, so the answers equal a fold of exactly the
    qualifying events. Append-only: one insert per posting, no index to maintain. Each row
    also holds ``base``, the set's position when it was written: every event it sums comes
    after ``base``, and no event at or before it, so the rows with ``base < H`` are exactly
    those of the events up to ``H`` whenever ``H`` is a position the set has committed (what a
    :class:`~pledgeledger.view.LedgerView` needs once the ledger has moved past its head).

Two table sets exist, ``a`` and ``b``; ``pl_meta`` names the live one, and counts in
``generation`` how often a set was made live (a rebuilt set's ``base`` values are those of its
rebuild, so a position pinned on an earlier generation bounds nothing in it). ``replay`` fills
the other from scratch and swaps them in one transaction, so readers never see a half-built
view; while it runs, ``pl_meta``'s ``replay`` key names it (see :meth:`ReadModels.claim`).
Figures are ``TEXT`` decimals on SQLite and ``NUMERIC`` on PostgreSQL (see :mod:`.db`); in
``totals``, whose key is a primary key, a ``None`` agreement is stored as the empty string
(agreement ids are never empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from pledgeledger.domain.query import Query
from pledgeledger.domain.totals import SUMS, ZERO, Group, Totals, roll_up, row_order
from pledgeledger.errors import ConcurrencyError
from pledgeledger.store.database import Database, Tx
from pledgeledger.store.reading import utc_text

__all__ = [
    "GROUP_COLUMNS",
    "POSTING_FIGURES",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "ReadModels",
    "TableSet",
    "sums_for",
]

SCHEMA_VERSION = "5"
"""Bump when the tables or what they mean change: stale read models are then rebuilt."""

GROUP_COLUMNS: tuple[Group, ...] = ("sector", "agreement", "pledger", "recipient")
RECORD_COLUMNS = (
    "id",
    "type",
    "root",
    "parent",
    "sector",
    "parent_sector",
    "parent_tranche",
    "agreement",
    "pledger",
    "recipient",
    "unit",
    "amount",
    "active",
    "world_date",
    "bound",
    "low",
    "high",
    "toward",
    "kids_amount",
    "kids_low",
    "kids_high",
    "kids_open",
    "latest",
    "due_by",
)
"""The columns of ``records``. For a pledge or tranche, ``low`` and ``high`` are the range of
its own figure (``high`` NULL: unbounded), ``kids_*`` what its active tranches add up to
(headline amounts, effective lows, finite highs and how many highs are unbounded), and, on a
pledge, ``latest`` the latest world date of a node of its tree."""
NUMERIC_COLUMNS = frozenset(
    ("amount", "low", "high", "kids_amount", "kids_low", "kids_high", "kids_open")
)

POSTING_FIGURES = (
    "pledged",
    "allocated",
    "delivered",
    "intended",
    "pledged_low",
    "pledged_high",
    "pledged_open",
    "allocated_low",
    "allocated_high",
    "allocated_open",
    "tree_pledged_low",
    "tree_pledged_high",
    "tree_pledged_open",
    "tree_allocated_low",
    "tree_allocated_high",
    "tree_allocated_open",
    "delivered_low",
    "delivered_high",
    "delivered_open",
    "intended_low",
    "intended_high",
    "intended_open",
    "undisclosed",
    "pledged_toward",
    "tree_pledged_toward",
    "intended_toward",
)
"""The deltas a posting carries. Ranges of pledged and allocated come twice: spread over a
tree's sectors (each node's own part, for totals by sector) and for whole trees (``tree_*``,
for totals by agreement, pledger or recipient), since a tree's range is not the sum of its
parts' ranges (docs/semantics.md, "Ranges")."""

_TREE = {
    "pledged_low": "tree_pledged_low",
    "pledged_high": "tree_pledged_high",
    "pledged_open": "tree_pledged_open",
    "allocated_low": "tree_allocated_low",
    "allocated_high": "tree_allocated_high",
    "allocated_open": "tree_allocated_open",
    "pledged_toward": "tree_pledged_toward",
}


def sums_for(group: Group) -> tuple[str, ...]:
    """The posting columns whose sums are a row's :data:`SUMS` when grouping by ``group``."""
    if group == "sector":
        return SUMS
    return tuple(_TREE.get(name, name) for name in SUMS)


FIGURES = SUMS
"""The figure columns of ``totals``: a row's :data:`SUMS`, for whichever group it is in."""


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
    def postings(self) -> str:
        return f"pl_{self.name}_postings"

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
        records, totals, postings = (
            tx.table(n) for n in (self.records, self.totals, self.postings)
        )
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
            f"unit {text}, amount {num}, active INTEGER, world_date TEXT, bound TEXT, "
            f"low {num}, high {num}, toward {text}, kids_amount {num}, kids_low {num}, "
            f"kids_high {num}, kids_open {num}, latest TEXT, due_by TEXT){no_rowid}"
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {self.records}_parent ON {records} (parent) "
            "WHERE type = 'tranche'"
        )
        # Few records are tied toward another or have a deadline: partial indexes cost little
        # and answer `show` (what is tied toward it) and `overdue` without a scan.
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {self.records}_toward ON {records} (toward) "
            "WHERE toward IS NOT NULL"
        )
        tx.execute(
            f"CREATE INDEX IF NOT EXISTS {self.records}_due ON {records} (due_by) "
            "WHERE due_by IS NOT NULL"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {totals} (grp TEXT NOT NULL, key {text} NOT NULL, "
            f"unit {text} NOT NULL, {figures}, PRIMARY KEY (grp, key, unit)){no_rowid}"
        )
        nullable = ", ".join(f"{f} {num}" for f in POSTING_FIGURES)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {postings} (sector {text} NOT NULL, agreement {text}, "
            f"pledger {text} NOT NULL, recipient {text} NOT NULL, unit {text} NOT NULL, "
            f"world_date {text} NOT NULL, recorded_at {text} NOT NULL, {nullable}, "
            "base BIGINT NOT NULL)"
        )

    def drop(self, tx: Tx) -> None:
        for name in (self.records, self.totals, self.postings, self.position_table):
            tx.execute(f"DROP TABLE IF EXISTS {tx.table(name)}")

    def position(self, tx: Tx) -> int:
        """The notification id this set has caught up to (0: nothing applied)."""
        return int(tx.scalar(f"SELECT position FROM {tx.table(self.position_table)}") or 0)

    def set_position(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {tx.table(self.position_table)} SET position = ?", (position,))


def _put_meta(tx: Tx, key: str, value: str) -> None:
    tx.execute(
        f"INSERT INTO {tx.table('pl_meta')} (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _key(group: Group, raw: str | None, tx: Tx) -> str | None:
    if group == "agreement" and not raw:
        return None
    assert raw is not None
    return tx.untext(raw)


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _conditions(query: Query, upto: int | None) -> tuple[list[str], list[Any]]:
    """Which postings count for ``query`` (and ``upto``), as SQL conditions and parameters:
    the one place that narrows them, for totals and the timeline alike."""
    where: list[str] = []
    params: list[Any] = []
    if query.as_of is not None:
        where.append("world_date <= ?")
        params.append(query.as_of.isoformat())
    if query.known_at is not None:
        where.append("recorded_at <= ?")
        params.append(utc_text(query.known_at))
    if upto is not None:
        where.append("base < ?")
        params.append(upto)
    return where, params


def _dec(value: Any) -> Decimal:
    if value is None:
        return ZERO
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

    def set_meta(self, tx: Tx, live: TableSet) -> None:
        """Make ``live`` the live set, as a new generation (see the module's docstring)."""
        generation = int(self._meta(tx).get("generation") or 0) + 1
        for key, value in (
            ("version", SCHEMA_VERSION),
            ("live", live.name),
            ("generation", str(generation)),
        ):
            _put_meta(tx, key, value)

    def generation(self, tx: Tx) -> str:
        """Which making-live of the live set this is: changes whenever a set is made live."""
        return self._meta(tx).get("generation") or "0"

    # -- one replay at a time --------------------------------------------------------------

    @staticmethod
    def claim(tx: Tx, token: str) -> None:
        """Mark the spare set as being rebuilt by the replay ``token`` (under the writers'
        lock, before dropping it). A replay that started earlier finds the mark changed at its
        next page and stops (:meth:`check_claim`): two replays never fill the spare set in
        alternating commits. The later one wins because a mark left by a crashed replay must
        never block the next one, and nothing tells a crashed replay from a slow one."""
        _put_meta(tx, "replay", token)

    @staticmethod
    def check_claim(tx: Tx, token: str) -> None:
        """Raise :class:`ConcurrencyError` unless the replay ``token`` still owns the spare
        set. On PostgreSQL the row stays locked until ``tx`` ends (rebuild pages do not hold
        the writers' lock there), so a new claim waits for the page to commit and the page
        never writes into tables a newer replay has recreated."""
        lock = " FOR UPDATE" if tx.backend != "sqlite" else ""
        owner = tx.scalar(f"SELECT value FROM {tx.table('pl_meta')} WHERE key = 'replay'{lock}")
        if owner != token:
            raise ConcurrencyError(
                "replay stopped: another replay started meanwhile and is rebuilding the read "
                "models in its place (the live ones are unchanged)"
            )

    @staticmethod
    def release(tx: Tx) -> None:
        """The replay is done (its set is live): clear the mark."""
        tx.execute(f"DELETE FROM {tx.table('pl_meta')} WHERE key = 'replay'")

    # -- queries ---------------------------------------------------------------------------

    def totals(
        self, tx: Tx, tables: TableSet, query: Query, *, upto: int | None = None
    ) -> list[Totals]:
        """Totals per key and unit, exactly as :func:`pledgeledger.projections.sum_postings`
        gives them for the postings of the log (``every`` and ``start`` play no part).

        ``upto``: only the events up to that position, which must be one the set has
        committed (the ``totals`` table holds the latest figures only, so the postings are
        summed instead)."""
        by = query.by  # one of GROUPS (the query checked it), so it names a column
        figures = ", ".join(FIGURES)
        where, params = _conditions(query, upto)
        if not where:
            rows = tx.fetchall(
                f"SELECT key, unit, {figures} FROM {tx.table(tables.totals)} WHERE grp = ?",
                (by,),
            )
        else:
            sums = ", ".join(tx.sum(f) for f in sums_for(by))
            rows = tx.fetchall(
                f"SELECT {by}, unit, {sums} FROM {tx.table(tables.postings)} "
                f"{_where(where)} GROUP BY {by}, unit",
                params,
            )
        grouped: dict[tuple[str | None, str], list[Decimal]] = {}
        for raw_key, unit, *values in rows:
            key = roll_up(_key(by, raw_key, tx), query.depth)
            row = grouped.get((key, tx.untext(unit)))
            if row is None:
                grouped[(key, tx.untext(unit))] = [_dec(v) for v in values]
            else:
                for i, value in enumerate(values):
                    row[i] += _dec(value)
        result = [Totals.of_sums(by, key, unit, f) for (key, unit), f in grouped.items() if any(f)]
        result.sort(key=lambda r: row_order(r.key, r.unit))
        return result

    def daily(
        self, tx: Tx, tables: TableSet, query: Query, *, upto: int | None = None
    ) -> Iterator[tuple[str | None, str, date, list[Decimal]]]:
        """Net changes per key (not rolled up), unit and world date, in date order, up to
        ``query.as_of``: the timeline's input; ``upto`` as for :meth:`totals`."""
        by = query.by  # one of GROUPS (the query checked it), so it names a column
        where, params = _conditions(query, upto)
        sums = ", ".join(tx.sum(f) for f in sums_for(by))
        for raw_key, unit, day, *values in tx.stream(
            f"SELECT {by}, unit, world_date, {sums} FROM {tx.table(tables.postings)} "
            f"{_where(where)} GROUP BY {by}, unit, world_date ORDER BY world_date",
            params,
        ):
            yield (
                _key(by, raw_key, tx),
                tx.untext(unit),
                date.fromisoformat(day),
                [_dec(v) for v in values],
            )

    # -- links and deadlines -----------------------------------------------------------------

    def tied(
        self, tx: Tx, tables: TableSet, targets: Iterable[str]
    ) -> dict[str, list[tuple[str, str, Decimal | None, str, str, Decimal, Decimal | None]]]:
        """The active records tied toward each of ``targets`` (``toward``): per target, each
        record's id, type, amount, unit, bound and range (low, high; ``None``: unbounded),
        in id order."""
        wanted = [tx.text(t) for t in targets]
        found: dict[str, list[Any]] = {}
        table = tx.table(tables.records)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for toward, record_id, kind, amount, unit, bound, low, high in tx.fetchall(
                f"SELECT toward, id, type, amount, unit, bound, low, high FROM {table} "
                f"WHERE toward IN ({marks}) AND active = 1 ORDER BY id",
                chunk,
            ):
                found.setdefault(tx.untext(toward), []).append(
                    (
                        tx.untext(record_id),
                        kind,
                        None if amount is None else _dec(amount),
                        tx.untext(unit),
                        bound,
                        _dec(low),
                        None if high is None else _dec(high),
                    )
                )
        return found

    def figures_with_history(self, tx: Tx, tables: TableSet) -> list[tuple[str, str]]:
        """Every record with an amendment or a report about it, and the root record whose
        aggregate owns it, in id order: the records whose figures may disagree."""
        table = tx.table(tables.records)
        rows = tx.fetchall(
            f"SELECT DISTINCT r.parent, r.root FROM {table} AS r "
            "WHERE r.type IN ('amendment', 'report')"
        )
        return sorted((tx.untext(p), tx.untext(r)) for p, r in rows)

    def due_before(self, tx: Tx, tables: TableSet, day: date) -> list[tuple[str, str]]:
        """The records with a deadline before ``day`` (``due_by``), with the root record
        whose aggregate owns each, in id order."""
        rows = tx.fetchall(
            f"SELECT id, root FROM {tx.table(tables.records)} "
            "WHERE due_by IS NOT NULL AND due_by < ?",
            (day.isoformat(),),
        )
        return sorted((tx.untext(i), tx.untext(r)) for i, r in rows)

    # -- comparing two sets (replay --verify) ----------------------------------------------

    def differences(self, tx: Tx, live: TableSet, rebuilt: TableSet, limit: int = 20) -> list[str]:
        """Rows that differ between the live set and one rebuilt from the log.

        Records compare row by row; totals and postings compare summed per key (two logs
        folded in different batches sum postings into different rows), as decimals, with a
        missing row equal to one whose figures are all zero. Both sides stream in key order
        and are merged, so memory stays flat whatever the size of the tables.
        """
        postings_keys = (
            "sector",
            "COALESCE(agreement, '')",
            "pledger",
            "recipient",
            "unit",
            "world_date",
            "recorded_at",
        )
        sums = ", ".join(tx.sum(f) for f in POSTING_FIGURES)
        checks = [
            (
                "records",
                live.records,
                rebuilt.records,
                ("id",),
                ", ".join(RECORD_COLUMNS[1:]),
                False,
            ),
            (
                "totals",
                live.totals,
                rebuilt.totals,
                ("grp", "key", "unit"),
                ", ".join(FIGURES),
                False,
            ),
            ("postings", live.postings, rebuilt.postings, postings_keys, sums, True),
        ]
        problems: list[str] = []
        for label, left, right, keys, values, grouped in checks:
            key_sql = ", ".join(keys)
            group = f" GROUP BY {key_sql}" if grouped else ""
            sql = "SELECT {keys}, {values} FROM {table}{group} ORDER BY {keys}"
            ours, theirs = (
                tx.stream(sql.format(keys=key_sql, values=values, table=tx.table(t), group=group))
                for t in (left, right)
            )
            for problem in _merge(ours, theirs, len(keys), label):
                problems.append(problem)
                if len(problems) >= limit:
                    problems.append("(more differences not shown)")
                    return problems
        return problems


_NUMERIC_AT = tuple(i - 1 for i, name in enumerate(RECORD_COLUMNS) if name in NUMERIC_COLUMNS)


def _normalise(values: tuple[Any, ...], label: str) -> tuple[Any, ...] | None:
    if label == "records":
        out = list(values)
        for at in _NUMERIC_AT:
            if out[at] is not None:
                out[at] = _dec(out[at])
        return tuple(out)
    figures = tuple(_dec(v) for v in values)
    return figures if any(figures) else None


_END: Any = object()


def _merge(ours: Iterator[Any], theirs: Iterator[Any], width: int, label: str) -> Iterator[str]:
    """Merge two key-ordered row streams and describe every key whose values differ."""
    a, b = next(ours, _END), next(theirs, _END)
    while a is not _END or b is not _END:
        key_a = tuple(a[:width]) if a is not _END else None
        key_b = tuple(b[:width]) if b is not _END else None
        if key_b is None or (key_a is not None and key_a < key_b):
            found, rebuilt, key = _normalise(tuple(a[width:]), label), None, key_a
            a = next(ours, _END)
        elif key_a is None or key_b < key_a:
            found, rebuilt, key = None, _normalise(tuple(b[width:]), label), key_b
            b = next(theirs, _END)
        else:
            found = _normalise(tuple(a[width:]), label)
            rebuilt, key = _normalise(tuple(b[width:]), label), key_a
            a, b = next(ours, _END), next(theirs, _END)
        if found != rebuilt:
            yield f"{label} {key}: live {found} != rebuilt {rebuilt}"
