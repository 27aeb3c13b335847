"""The public face of the library: open a ledger, record events, ask for totals and trees.

:class:`Ledger` holds no domain rules of its own. It hands each batch of events to the write
path (:mod:`pledgeledger.writer`), which routes every event to the aggregate that owns its
consistency boundary, appends the whole batch in one transaction together with the read models
it changes, and is retried when another writer appended first. Queries read the read models
(:mod:`pledgeledger.readmodels`), which the runner (:mod:`pledgeledger.runner`) keeps up with
the log.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from typing import Any, Self
from uuid import uuid4

import attrs
from eventsourcing.persistence import DatabaseError, IntegrityError, InterfaceError, InternalError

from pledgeledger.domain.periods import Every
from pledgeledger.domain.progress import Progress
from pledgeledger.domain.query import Query
from pledgeledger.domain.records import Amount, Bound, Event
from pledgeledger.domain.rules import DeliveryNode, Node, PledgeTree
from pledgeledger.domain.totals import ZERO, Group, TimelinePoint, Totals
from pledgeledger.errors import ConcurrencyError, LedgerError, NotFound, StaleView
from pledgeledger.formats.converter import structure_event
from pledgeledger.formats.fast import load_event
from pledgeledger.formats.jsonl import Origin, read_jsonl
from pledgeledger.projections.folder import ROOT, Folder
from pledgeledger.projections.readmodels import ReadModels, TableSet
from pledgeledger.projections.runner import Runner
from pledgeledger.projections.timeline import timeline_points
from pledgeledger.projections.verify import Verifier
from pledgeledger.store.aggregates import (
    AgreementAggregate,
    LedgerAggregate,
    LetterAggregate,
    PledgeAggregate,
    root_id,
)
from pledgeledger.store.application import LedgerApplication, persistence_env, resolve_target
from pledgeledger.store.database import Database, Tx
from pledgeledger.store.reading import Log
from pledgeledger.store.retry import MAX_ATTEMPTS, lock_errors, retry_writes
from pledgeledger.store.writer import Writer, paused_gc
from pledgeledger.view import (
    NO_TIES,
    Conflict,
    LetterView,
    LoggedEvent,
    NodeView,
    OverdueView,
    Snapshot,
    TiedView,
    Ties,
    conflict_of,
)

__all__ = ["Ledger", "RecordResult", "ReplayReport"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class RecordResult:
    """Which ids a command appended, and which it skipped as already recorded."""

    recorded: tuple[str, ...]
    skipped: tuple[str, ...]


@attrs.frozen
class Pin:
    """What bounds a :class:`~pledgeledger.view.LedgerView`: the position the live read models
    had committed when it was taken (then also the log's head), and their generation."""

    head: int
    generation: str


@attrs.frozen
class ReplayReport:
    """What a replay read, how fast, and (with ``verify``) every difference it found."""

    events: int
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def _as_event(item: Event | Mapping[str, Any]) -> Event:
    if isinstance(item, Mapping):
        return structure_event(dict(item))
    return item


def _query_of(first: Group | Query, **settings: Any) -> Query:
    """The query a reading method was asked: ``first`` when it is one, else one made of the
    method's arguments (checked by :class:`Query`, and only there)."""
    if not isinstance(first, Query):
        return Query(by=first, **settings)
    unset = Query()
    mixed = sorted(name for name, value in settings.items() if value != getattr(unset, name))
    if mixed:
        raise TypeError(f"give a Query or {', '.join(mixed)}, not both (set them in the Query)")
    return first


def _node_of(tree: PledgeTree, ledger_id: str) -> Node:
    """The node ``ledger_id`` of ``tree`` (the root for a delivery's, correction's or
    report's id)."""
    return tree.nodes.get(ledger_id) or tree.nodes[tree.root]


def _ties(found: Mapping[str, list[Any]]) -> dict[str, Ties]:
    return {
        target: Ties.of(
            TiedView(i, kind, amount, unit, Bound(bound), low, high)
            for i, kind, amount, unit, bound, low, high in rows
        )
        for target, rows in found.items()
    }


def _conflict(owner: LedgerAggregate, record_id: str) -> Conflict | None:
    """The conflict of ``record_id`` in ``owner``, if its figures disagree."""
    if isinstance(owner, LetterAggregate):
        letter = owner.letter
        order = {event_id: i for i, event_id in enumerate(owner.records)}
        counted = Amount(letter.amount, letter.record.unit, letter.bound, letter.low, letter.high)
        return conflict_of(letter.record, letter.corrections, letter.reports, counted, order)
    if not isinstance(owner, PledgeAggregate):
        return None
    tree = owner.tree
    order = {event_id: i for i, event_id in enumerate(tree.records)}
    found: Node | DeliveryNode | None = tree.nodes.get(record_id)
    if found is None:
        found = tree.deliveries.get(record_id)
    if found is None:
        return None
    counted = Amount(found.amount, found.unit, found.bound, found.low, found.high)
    return conflict_of(found.record, found.corrections, found.reports, counted, order)


def _overdue(owner: LedgerAggregate, record_id: str, day: date) -> OverdueView | None:
    """``record_id`` as it stood on ``day``, if it was past its deadline and still counted."""
    if isinstance(owner, LetterAggregate):
        letter = owner.letter.as_of(day)
        due_by = None if letter is None else letter.record.due_by
        if letter is None or not letter.active or due_by is None:
            return None
        r = letter.record
        return OverdueView(
            r.id, "loi", due_by, letter.amount, r.unit, letter.bound, None, letter.amount
        )
    if not isinstance(owner, PledgeAggregate):
        return None
    tree = owner.tree.as_of(day)
    node = None if tree is None else tree.nodes.get(record_id)
    if tree is None or node is None or not node.active or node.record.due_by is None:
        return None
    delivered = tree.delivered(node)
    outstanding = None if node.amount is None else max(ZERO, node.amount - delivered)
    if outstanding == ZERO:
        return None
    return OverdueView(
        node.id,
        node.kind,
        node.record.due_by,
        node.amount,
        node.unit,
        node.bound,
        delivered,
        outstanding,
    )


def _count_lines(paths: list[str | os.PathLike[str]]) -> int:
    """Lines in the files, for the progress total (an unreadable file counts 0 and fails
    later, with its own message)."""
    total = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                last = b"\n"
                while block := handle.read(1 << 20):
                    total += block.count(b"\n")
                    last = block
                if not last.endswith(b"\n"):
                    total += 1
        except OSError:
            continue
    return total


def _cannot_open(target: str | os.PathLike[str] | None, exc: Exception) -> str:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cannot open ledger {resolve_target(target)}: {reason}"


def _close_quietly(app: LedgerApplication | None) -> None:
    """Release what a failed open had opened; its own failure would hide the real one."""
    if app is not None:
        with suppress(Exception):
            app.close()


class Ledger:
    """An event-sourced ledger of pledges, tranches, LOIs and deliveries.

    Open one with :meth:`open` (a SQLite path, ``":memory:"`` or a ``postgresql://`` URL) and
    use it as a context manager so its connections are closed::

        with Ledger.open("pledges.db") as ledger:
            ledger.import_files(["examples/us_japan_2025/events.jsonl"])
            for row in ledger.totals(by="sector", depth=1):
                print(row.key, row.unit, row.pledged)
    """

    def __init__(self, app: LedgerApplication, *, clock: Clock = _utc_now) -> None:
        self._app = app
        self._clock = clock
        self._db = Database(app.recorder)
        self._models = ReadModels(self._db)
        self._log = Log(self._db, app.mapper)
        self._runner = Runner(self._db, self._models, self._log)
        self._writer = Writer(self._db, app.mapper, self._log)
        # Created now rather than by the first write, which would otherwise hold the writers'
        # lock for its whole validation (and block other writers) on a fresh ledger.
        self._models.ensure()

    @classmethod
    def open(
        cls, target: str | os.PathLike[str] | None = None, *, clock: Clock | None = None
    ) -> Self:
        """Open (creating if needed) the ledger at ``target``.

        ``None`` means ``$PLEDGELEDGER_DB``, else ``./pledgeledger.db``. ``clock`` supplies the
        recorded time of each batch (aware, UTC); tests pass one to control ``known_at``.
        """
        env = persistence_env(resolve_target(target))
        for attempt in range(MAX_ATTEMPTS):
            app: LedgerApplication | None = None
            try:
                app = LedgerApplication(env=env)
                return cls(app, clock=clock or _utc_now)
            except (InternalError, IntegrityError) as exc:
                # Processes opening a new PostgreSQL ledger at once race on eventsourcing's
                # CREATE ... IF NOT EXISTS ("tuple concurrently updated"): the loser retries.
                _close_quietly(app)
                if attempt == MAX_ATTEMPTS - 1:
                    raise LedgerError(_cannot_open(target, exc)) from None
                time.sleep(0.05 * (attempt + 1))
            except (InterfaceError, DatabaseError, sqlite3.Error, OSError) as exc:
                # DatabaseError covers OperationalError; "file is not a database" (a path that
                # is not a SQLite file) comes as eventsourcing's when our own code reads it
                # first, as sqlite3's when eventsourcing's connection set-up does.
                _close_quietly(app)
                raise LedgerError(_cannot_open(target, exc)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Release the database connections."""
        self._app.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def record(self, *events: Event | Mapping[str, Any]) -> RecordResult:
        """Record events (objects or JSON-shaped dicts) atomically: all or none.

        Events already recorded with the same content are skipped; a known id with different
        content raises :class:`DuplicateId`. Raises a :class:`LedgerError` and writes nothing
        when any event is malformed or refused.
        """
        parsed = [(None, _as_event(e)) for e in events]
        return self._record_batch(lambda: parsed, len(parsed))

    def import_files(
        self, paths: Iterable[str | os.PathLike[str]], *, progress: Progress | None = None
    ) -> RecordResult:
        """Import JSON Lines files, atomically across all of them.

        Errors name the file, line and field (:class:`ImportFailed`); nothing is written
        unless every line of every file is valid and accepted. The files are streamed: an
        import of millions of lines does not hold them in memory.
        """
        files = list(paths)

        def items() -> Iterator[tuple[Origin | None, Event]]:
            for path in files:
                yield from read_jsonl(path)

        total = _count_lines(files) if progress is not None else 0
        return self._record_batch(items, total, progress=progress)

    def _record_batch(
        self,
        items: Callable[[], Iterable[tuple[Origin | None, Event]]],
        total: int,
        progress: Progress | None = None,
    ) -> RecordResult:
        def attempt(tx: Tx) -> tuple[list[str], list[str]]:
            tables, head = self._prepare(tx)
            folder = self._runner.catch_up(tx, tables) if tx.locked else Folder(tables)
            folder.bind(tx)
            return self._writer.write(
                tx, folder, items(), self._clock(), head, progress=progress, total=total
            )

        with paused_gc():
            recorded, skipped = retry_writes(self._db, attempt)
        return RecordResult(tuple(recorded), tuple(skipped))

    def _prepare(self, tx: Tx) -> tuple[TableSet, int]:
        """The live read models and the log's head in ``tx``: created if missing, and caught
        up (which takes the writers' lock) if behind."""
        tables = self._models.live(tx)
        if tables is None:
            self._db.lock(tx)
            tables = self._models.ensure_in(tx)
        head = self._db.head(tx)
        if tables.position(tx) < head:
            self._db.lock(tx)
        return tables, head

    # -- reading ---------------------------------------------------------------------------

    def events(self, since: int = 0) -> Iterator[LoggedEvent]:
        """The recorded events in log order, after position ``since``. Streams page by page."""
        for position, event in self._log.records(since):
            yield LoggedEvent(position, event.timestamp, load_event(event.entry))

    def _synced(self) -> None:
        """Make sure the read models exist and have folded the whole log."""
        with self._db.read() as tx:
            tables = self._models.live(tx)
            if tables is not None and tables.position(tx) >= self._db.head(tx):
                return
        with (
            lock_errors("cannot bring the read models up to date"),
            paused_gc(),
            self._db.write() as tx,
        ):
            self._runner.catch_up(tx, self._models.ensure_in(tx))

    @contextmanager
    def _reading(self) -> Iterator[tuple[Tx, TableSet]]:
        """A read transaction on read models that have folded the whole log."""
        for _ in range(MAX_ATTEMPTS):
            with self._db.read() as tx:
                tables = self._models.live(tx)
                if tables is not None and tables.position(tx) >= self._db.head(tx):
                    yield tx, tables
                    return
            self._synced()
        raise ConcurrencyError("the read models could not catch up with the log")

    @contextmanager
    def _reading_at(self, pin: Pin | None) -> Iterator[tuple[Tx, TableSet, int | None]]:
        """:meth:`_reading`, and the position to bound the postings by (``upto`` of
        :meth:`ReadModels.totals`) so that the answer is for exactly the events up to
        ``pin.head``: ``None`` when that is where the read models are (or no ``pin``).

        ``pin.head`` was a position the live set had committed, and positions only grow
        within one generation of it, so its postings bound that way are exact (see
        :mod:`.readmodels`). A set made live since (by a replay) has postings of another
        rebuild: if it has moved past ``pin.head`` too, nothing bounds them, and the caller
        gets :class:`StaleView`.
        """
        with self._reading() as (tx, tables):
            if pin is None or tables.position(tx) == pin.head:
                yield tx, tables, None
            elif self._models.generation(tx) == pin.generation:
                yield tx, tables, pin.head
            else:
                raise StaleView(pin.head)

    def _pin(self) -> Pin:
        """Where the live read models are, once they have folded the whole log: what a
        :class:`~pledgeledger.view.LedgerView` is bounded by."""
        with self._reading() as (tx, tables):
            return Pin(tables.position(tx), self._models.generation(tx))

    def snapshot(self) -> Snapshot:
        """The ledger as it is now, read-only: every answer of the snapshot is of the events up
        to the current head, whatever is recorded later (see :class:`~.view.LedgerView`, which
        is made of one)."""
        pin = self._pin()
        return _PinnedSnapshot(
            pin.head,
            self.events,
            lambda query: self._totals(query, pin),
            lambda query: self._iter_timeline(query, pin),
        )

    def totals(
        self,
        by: Group | Query = "sector",
        *,
        depth: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[Totals]:
        """Totals per group and unit (see DESIGN.md, "Totals").

        ``depth`` rolls sectors up to their first ``depth`` path segments; ``as_of`` counts
        events whose world date is on or before it; ``known_at`` counts events recorded at or
        before it (a naive datetime is taken as UTC). A :class:`~pledgeledger.Query` may be
        given instead of the arguments. Answered from the read models: no replay, whatever
        the size of the log.
        """
        return self._totals(_query_of(by, depth=depth, as_of=as_of, known_at=known_at), None)

    def _totals(self, query: Query, pin: Pin | None) -> list[Totals]:
        """:meth:`totals`, for the events up to ``pin.head`` when a ``pin`` is given."""
        with self._reading_at(pin) as (tx, tables, upto):
            return self._models.totals(tx, tables, query, upto=upto)

    def iter_timeline(
        self,
        by: Group | Query = "sector",
        *,
        every: Every = "month",
        depth: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        start: date | None = None,
    ) -> Generator[TimelinePoint, None, None]:
        """:meth:`timeline`, streamed point by point (for very long timelines). It reads in
        one transaction while it is iterated: exhaust it or ``close()`` it."""
        query = _query_of(by, every=every, depth=depth, as_of=as_of, known_at=known_at, start=start)
        return self._iter_timeline(query, None)

    def _iter_timeline(self, query: Query, pin: Pin | None) -> Generator[TimelinePoint, None, None]:
        """:meth:`iter_timeline`, for the events up to ``pin.head`` when a ``pin`` is given."""
        with self._reading_at(pin) as (tx, tables, upto):
            yield from timeline_points(self._models.daily(tx, tables, query, upto=upto), query)

    def timeline(
        self,
        by: Group | Query = "sector",
        *,
        every: Every = "month",
        depth: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
        start: date | None = None,
    ) -> list[TimelinePoint]:
        """Cumulative pledged, allocated, delivered and intended per group and unit at the end
        of every ``every`` (day, week, month, quarter or year) of world time.

        ``depth``, ``as_of`` and ``known_at`` mean what they mean for :meth:`totals` (the
        timeline stops at ``as_of``: its last point is dated ``as_of`` if that falls inside a
        period); ``start`` leaves out earlier points (earlier events still count). A
        :class:`~pledgeledger.Query` may be given instead of the arguments. The last point of
        each series equals its row of ``totals(as_of=..., known_at=...)``.
        """
        query = _query_of(by, every=every, depth=depth, as_of=as_of, known_at=known_at, start=start)
        return list(self._iter_timeline(query, None))

    def _owner(self, ledger_id: str) -> LedgerAggregate:
        with self._reading() as (tx, tables):
            folder = Folder(tables)
            folder.bind(tx)
            row = folder.get(ledger_id)
        if row is None:
            raise NotFound(ledger_id)
        owner = self._app.load(root_id(row[ROOT]))
        if owner is None:  # pragma: no cover  # the read models name it, so the log has it
            raise NotFound(ledger_id)
        return owner

    def _tied(self, targets: Iterable[str]) -> dict[str, Ties]:
        """What is tied toward each of ``targets`` (``toward``), from the read models."""
        with self._reading() as (tx, tables):
            return _ties(self._models.tied(tx, tables, targets))

    def _node_view(self, owner: PledgeAggregate, ledger_id: str) -> NodeView:
        tree = owner.tree
        return NodeView.of(tree, _node_of(tree, ledger_id), self._tied(tree.nodes))

    def _letter_view(self, owner: LetterAggregate) -> LetterView:
        letter = owner.letter
        ties = self._tied([letter.record.id]).get(letter.record.id, NO_TIES)
        return LetterView.of(letter, ties)

    def tree(self, ledger_id: str) -> NodeView:
        """The tree of the pledge or tranche ``ledger_id`` (a delivery's, correction's or
        report's id gives its pledge's tree): figures and ranges, headroom, history, reports,
        what is tied toward each node, and sources."""
        owner = self._owner(ledger_id)
        if not isinstance(owner, PledgeAggregate):
            raise LedgerError(f"{ledger_id} is not part of a pledge's tree")
        return self._node_view(owner, ledger_id)

    def letter(self, ledger_id: str) -> LetterView:
        """The letter of intent ``ledger_id`` (or the one a correction or report is about)."""
        owner = self._owner(ledger_id)
        if not isinstance(owner, LetterAggregate):
            raise LedgerError(f"{ledger_id} is not a letter of intent")
        return self._letter_view(owner)

    def view(self, ledger_id: str) -> NodeView | LetterView | Event:
        """What ``show`` shows for ``ledger_id``: a pledge's tree, a letter, or an agreement's
        record, whichever owns the id."""
        owner = self._owner(ledger_id)  # loaded once, whichever kind it is
        if isinstance(owner, PledgeAggregate):
            return self._node_view(owner, ledger_id)
        if isinstance(owner, LetterAggregate):
            return self._letter_view(owner)
        assert isinstance(owner, AgreementAggregate)
        return owner.agreement.record

    def _owners(self, pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, LedgerAggregate]]:
        """Each id of ``pairs`` (id, root) with the aggregate of its root, loading each root
        once while its ids follow one another."""
        loaded: tuple[str, LedgerAggregate] | None = None
        for record_id, root in sorted(pairs, key=lambda pair: (pair[1], pair[0])):
            if loaded is None or loaded[0] != root:
                found = self._app.load(root_id(root))
                assert found is not None  # the read models name it, so the log has it
                loaded = (root, found)
            yield record_id, loaded[1]

    def conflicts(self) -> list[Conflict]:
        """Every record whose figures disagree, by id: its own figure, its amendments' and its
        reports', compared as amount, bound and range (``pledgeledger conflicts``)."""
        with self._reading() as (tx, tables):
            candidates = self._models.figures_with_history(tx, tables)
        found = []
        for record_id, owner in self._owners(candidates):
            conflict = _conflict(owner, record_id)
            if conflict is not None:
                found.append(conflict)
        found.sort(key=lambda c: c.id)
        return found

    def overdue(self, as_of: date | None = None) -> list[OverdueView]:
        """The records past their deadline (``due_by`` before ``as_of``, by default today in
        UTC) and still counted on that day, by id, with what is still undelivered or
        unconverted then (``pledgeledger overdue``). Fully delivered records are left out."""
        day = as_of or self._clock().astimezone(UTC).date()
        with self._reading() as (tx, tables):
            candidates = self._models.due_before(tx, tables, day)
        found = []
        for record_id, owner in self._owners(candidates):
            late = _overdue(owner, record_id, day)
            if late is not None:
                found.append(late)
        found.sort(key=lambda o: o.id)
        return found

    def lookup(self, ledger_id: str) -> Event:
        """The record stored under ``ledger_id``."""
        event = self._owner(ledger_id).lookup(ledger_id)
        assert event is not None
        return event

    @property
    def head(self) -> int:
        """The position of the last event in the log (0 when empty)."""
        return self._app.recorder.max_notification_id() or 0

    # -- replay ----------------------------------------------------------------------------

    def replay(self, *, verify: bool = False, progress: Progress | None = None) -> ReplayReport:
        """Rebuild every read model from the log: drop the spare table set, refill it page by
        page, then swap it in for the live one (readers see the old set until then).

        With ``verify``, also re-check every event against the invariants, in log order, on
        aggregates rebuilt from nothing, compare them with the stored aggregates, and compare
        the rebuilt read models with the live ones. Differences are reported, not raised.

        Other processes may record meanwhile. A replay started while this one runs takes the
        spare set over, and this one raises :class:`ConcurrencyError` at its next page, as it
        does when the database stays locked past the timeout; the live read models are then
        left as they were.
        """
        started = time.perf_counter()
        token = uuid4().hex  # names this replay in pl_meta while it runs
        with paused_gc(), lock_errors("replay stopped"):
            self._synced()
            verifier = Verifier(self._app, self._db, self._log) if verify else None
            spare, events = self._runner.rebuild(token, progress=progress, check=verifier)
            problems: list[str] = [] if verifier is None else verifier.finish()
            with self._db.write() as tx:
                # Under the writers' lock: make sure no later replay took the spare set over,
                # fold what was appended meanwhile into both sets, compare, and make the
                # rebuilt set the live one.
                self._models.check_claim(tx, token)
                live = self._models.ensure_in(tx)
                if live == spare:  # pragma: no cover  # only another schema version's open
                    raise ConcurrencyError("replay stopped: the read models were recreated")
                self._runner.catch_up(tx, live)
                self._runner.catch_up(tx, spare)
                if verifier is not None:
                    problems.extend(self._models.differences(tx, live, spare))
                self._models.set_meta(tx, spare)
                self._models.release(tx)
                live.drop(tx)
        return ReplayReport(events, time.perf_counter() - started, tuple(problems))


@attrs.frozen
class _PinnedSnapshot:
    """:meth:`Ledger.snapshot`: the reading half of a ledger, bounded by a :class:`Pin`.

    It holds three read functions of the ledger, not the ledger: a
    :class:`~pledgeledger.view.LedgerView` (and so an exporter) reaches only these four
    members, none of which writes.
    """

    head: int
    _events: Callable[[], Iterator[LoggedEvent]]
    _totals: Callable[[Query], list[Totals]]
    _timeline: Callable[[Query], Iterator[TimelinePoint]]

    def events(self) -> Iterator[LoggedEvent]:
        for logged in self._events():
            if logged.position > self.head:
                return
            yield logged

    def totals(self, query: Query) -> list[Totals]:
        return self._totals(query)

    def timeline(self, query: Query) -> Iterator[TimelinePoint]:
        return self._timeline(query)
