"""The public face of the library: open a ledger, record events, ask for totals and trees.

:class:`Ledger` holds no domain rules of its own. It routes each event to the aggregate that
owns its consistency boundary (found through the event's ``parent``, ``target`` or
``agreement``), saves a whole batch in one transaction, and retries the batch when another
writer won an optimistic-concurrency race or held the database.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Self
from uuid import UUID

import attrs
from eventsourcing.persistence import IntegrityError, OperationalError
from eventsourcing.utils import get_topic

from .aggregates import (
    ROOT_AGGREGATES,
    AgreementAggregate,
    IdClaim,
    LedgerAggregate,
    LetterAggregate,
    PledgeAggregate,
    claim_id,
)
from .convert import structure_event
from .errors import ConcurrencyError, DuplicateId, ImportFailed, LedgerError, NotFound, Refused
from .events import Event, LetterOfIntent, Pledge
from .importer import Origin, read_jsonl
from .projections import GROUPS, Group, Posting, Projector, Totals, sum_postings
from .store import LedgerApplication, persistence_env, resolve_target
from .view import LetterView, LoggedEvent, NodeView

__all__ = ["Ledger", "RecordResult", "ReplayReport"]

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""

MAX_ATTEMPTS = 8
PAGE = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen
class RecordResult:
    """Which ids a command appended, and which it skipped as already recorded."""

    recorded: tuple[str, ...]
    skipped: tuple[str, ...]


@attrs.frozen
class ReplayReport:
    """What a replay read, how fast, and (with ``verify``) every difference it found."""

    events: int
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


def _differing_fields(known: Event, new: Event) -> list[str]:
    if type(known) is not type(new):
        return ["type"]
    return [
        f.name for f in attrs.fields(type(new)) if getattr(known, f.name) != getattr(new, f.name)
    ]


class _UnitOfWork:
    """Routes a batch of events to their aggregates and remembers what changed.

    ``load`` reads an aggregate by id; the ledger reads from the event store, ``replay --verify``
    from the aggregates it is rebuilding, so both run the very same checks.
    """

    def __init__(self, load: Callable[[UUID], Any], at: datetime) -> None:
        self._load = load
        self.at = at
        self.aggregates: dict[UUID, LedgerAggregate] = {}
        self.owners: dict[str, UUID | None] = {}
        self.pending: list[Any] = []
        self.recorded: list[str] = []
        self.skipped: list[str] = []

    def owner_of(self, ledger_id: str) -> LedgerAggregate | None:
        if ledger_id not in self.owners:
            claim = self._load(claim_id(ledger_id))
            self.owners[ledger_id] = claim.owner if claim is not None else None
        owner = self.owners[ledger_id]
        if owner is None:
            return None
        if owner not in self.aggregates:
            self.aggregates[owner] = self._load(owner)
        return self.aggregates[owner]

    def _referenced(self, event: Event, field: str, ref: str) -> LedgerAggregate:
        aggregate = self.owner_of(ref)
        if aggregate is None:
            raise Refused(event.id, f"{field} {ref} is not in the ledger", 5)
        return aggregate

    def add(self, event: Event) -> None:
        owner = self.owner_of(event.id)
        if owner is not None:
            known = owner.lookup(event.id)
            assert known is not None
            if known == event:
                self.skipped.append(event.id)
                return
            raise DuplicateId(event.id, _differing_fields(known, event))
        root_class = ROOT_AGGREGATES.get(event.type)
        if root_class is not None:
            if isinstance(event, Pledge | LetterOfIntent) and event.agreement is not None:
                ref = self._referenced(event, "agreement", event.agreement)
                if not isinstance(ref, AgreementAggregate):
                    raise Refused(event.id, f"{event.agreement} is not an agreement", 5)
                ref.agreement.check_reference(event)
            aggregate: LedgerAggregate = root_class.begin(event, self.at)
            self.aggregates[aggregate.id] = aggregate
        else:
            ref_field = "parent" if hasattr(event, "parent") else "target"
            aggregate = self._referenced(event, ref_field, getattr(event, ref_field))
            aggregate.record(event, self.at)
        self.owners[event.id] = aggregate.id
        # Collected now, so the log keeps the order in which events were given.
        self.pending.extend(aggregate.collect_events())
        self.pending.extend(IdClaim.claim(event.id, aggregate.id, self.at).collect_events())
        self.recorded.append(event.id)


def _as_event(item: Event | Mapping[str, Any]) -> Event:
    if isinstance(item, Mapping):
        return structure_event(dict(item))
    return item


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
        self._projector = Projector()
        self._postings: list[Posting] = []
        self._position = 0
        self._topics = [
            get_topic(cls)
            for agg in (PledgeAggregate, LetterAggregate, AgreementAggregate)
            for cls in (agg.Started, agg.Recorded)
        ]

    @classmethod
    def open(
        cls, target: str | os.PathLike[str] | None = None, *, clock: Clock | None = None
    ) -> Self:
        """Open (creating if needed) the ledger at ``target``.

        ``None`` means ``$PLEDGELEDGER_DB``, else ``./pledgeledger.db``. ``clock`` supplies the
        recorded time of each batch (aware, UTC); tests pass one to control ``known_at``.
        """
        env = persistence_env(resolve_target(target))
        try:
            app = LedgerApplication(env=env)
        except (OperationalError, OSError) as exc:
            raise LedgerError(f"cannot open ledger {resolve_target(target)}: {exc}") from None
        return cls(app, clock=clock or _utc_now)

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
        parsed = [_as_event(e) for e in events]
        return self._record_batch([(None, e) for e in parsed])

    def import_files(
        self, paths: Iterable[str | os.PathLike[str]], *, progress: Progress | None = None
    ) -> RecordResult:
        """Import JSON Lines files, atomically across all of them.

        Errors name the file, line and field (:class:`ImportFailed`); nothing is written
        unless every line of every file is valid and accepted.
        """
        items: list[tuple[Origin | None, Event]] = []
        for path in paths:
            items.extend(read_jsonl(path))
        return self._record_batch(items, progress=progress)

    def _record_batch(
        self, items: Sequence[tuple[Origin | None, Event]], progress: Progress | None = None
    ) -> RecordResult:
        last_error: Exception | None = None
        for attempt in range(MAX_ATTEMPTS):
            work = _UnitOfWork(self._app.load, self._clock())
            for done, (origin, event) in enumerate(items, start=1):
                try:
                    work.add(event)
                except LedgerError as exc:
                    if origin is None:
                        raise
                    raise ImportFailed(origin.path, origin.line, exc) from None
                if progress is not None:
                    progress(done, len(items))
            try:
                self._app.save(*work.pending)
            except (IntegrityError, OperationalError) as exc:
                # Another writer got there first, or holds the database: start over from what
                # is now recorded. Its events are kept; ours are re-checked against them.
                last_error = exc
                time.sleep(min(2.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.5))  # noqa: S311
                continue
            return RecordResult(tuple(work.recorded), tuple(work.skipped))
        raise ConcurrencyError(
            f"gave up after {MAX_ATTEMPTS} attempts: other writers kept changing the same "
            f"pledges or holding the database ({last_error})"
        )

    # -- reading ---------------------------------------------------------------------------

    def events(self, since: int = 0) -> Iterator[LoggedEvent]:
        """The recorded events in log order, after position ``since``. Streams page by page."""
        recorder = self._app.recorder
        mapper = self._app.mapper
        start = since
        while True:
            page = recorder.select_notifications(
                start, PAGE, topics=self._topics, inclusive_of_start=False
            )
            for notification in page:
                domain_event = mapper.to_domain_event(notification)
                entry = domain_event.entry  # type: ignore[attr-defined]  # our event classes
                yield LoggedEvent(
                    notification.id,
                    domain_event.timestamp,  # type: ignore[attr-defined]  # our event classes
                    structure_event(entry),
                )
            if len(page) < PAGE:
                return
            start = page[-1].id

    def _catch_up(self) -> None:
        for logged in self.events(self._position):
            self._postings.extend(self._projector.apply(logged.event, logged.recorded_at))
            self._position = logged.position

    def totals(
        self,
        by: Group = "sector",
        *,
        depth: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> list[Totals]:
        """Totals per group and unit (see DESIGN.md, "Totals").

        ``depth`` rolls sectors up to their first ``depth`` path segments; ``as_of`` counts
        events whose world date is on or before it; ``known_at`` counts events recorded at or
        before it (a naive datetime is taken as UTC).
        """
        if depth is not None and (by != "sector" or depth < 1):
            raise LedgerError("depth applies to --by sector and must be 1 or more")
        if known_at is not None and known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
        self._catch_up()
        return sum_postings(self._postings, by, depth=depth, as_of=as_of, known_at=known_at)

    def _owner(self, ledger_id: str) -> LedgerAggregate:
        work = _UnitOfWork(self._app.load, self._clock())
        owner = work.owner_of(ledger_id)
        if owner is None:
            raise NotFound(ledger_id)
        return owner

    def tree(self, ledger_id: str) -> NodeView:
        """The tree of the pledge or tranche ``ledger_id`` (a delivery's or correction's id
        gives its pledge's tree): figures, headroom, history and sources."""
        owner = self._owner(ledger_id)
        if not isinstance(owner, PledgeAggregate):
            raise LedgerError(f"{ledger_id} is not part of a pledge's tree")
        tree = owner.tree
        node = tree.nodes.get(ledger_id) or tree.nodes[tree.root]
        return NodeView.of(tree, node)

    def letter(self, ledger_id: str) -> LetterView:
        """The letter of intent ``ledger_id`` (or the one a correction's id corrects)."""
        owner = self._owner(ledger_id)
        if not isinstance(owner, LetterAggregate):
            raise LedgerError(f"{ledger_id} is not a letter of intent")
        return LetterView.of(owner.letter)

    def view(self, ledger_id: str) -> NodeView | LetterView | Event:
        """What ``show`` shows for ``ledger_id``: a pledge's tree, a letter, or an agreement's
        record, whichever owns the id."""
        owner = self._owner(ledger_id)
        if isinstance(owner, PledgeAggregate):
            return self.tree(ledger_id)
        if isinstance(owner, LetterAggregate):
            return LetterView.of(owner.letter)
        assert isinstance(owner, AgreementAggregate)
        return owner.agreement.record

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
        """Rebuild the projections from the log.

        With ``verify``, also re-check every event against the invariants, in log order, on
        aggregates rebuilt from nothing, and compare the result with the stored aggregates and
        the totals built incrementally. Differences are reported, not raised.
        """
        started = time.perf_counter()
        total = self.head
        problems: list[str] = []
        if verify:
            self._catch_up()
        previous = self._postings
        projector = Projector()
        postings: list[Posting] = []
        rebuilt: dict[UUID, Any] = {}
        count = 0
        for logged in self.events():
            count += 1
            postings.extend(projector.apply(logged.event, logged.recorded_at))
            if verify:
                problems.extend(self._recheck(rebuilt, logged))
            if progress is not None:
                progress(logged.position, total)
        if verify:
            problems.extend(self._compare(rebuilt, previous, postings))
        self._projector, self._postings, self._position = projector, postings, total
        return ReplayReport(count, time.perf_counter() - started, tuple(problems))

    @staticmethod
    def _recheck(rebuilt: dict[UUID, Any], logged: LoggedEvent) -> list[str]:
        work = _UnitOfWork(rebuilt.get, logged.recorded_at)
        try:
            work.add(logged.event)
        except LedgerError as exc:
            return [f"event {logged.position}: {exc}"]
        rebuilt.update(work.aggregates)
        for event in work.pending:  # the claims, so that ids stay unique in the rebuild
            if isinstance(event, IdClaim.Claimed):
                rebuilt[event.originator_id] = event.mutate(None)
        return []

    def _compare(
        self, rebuilt: dict[UUID, Any], previous: list[Posting], postings: list[Posting]
    ) -> list[str]:
        problems = []
        for aggregate_id, aggregate in rebuilt.items():
            stored = self._app.load(aggregate_id)
            if stored is None or vars(stored) != vars(aggregate):
                problems.append(f"aggregate {aggregate_id} differs from its rebuilt state")
        for group in GROUPS:
            if sum_postings(previous, group) != sum_postings(postings, group):
                problems.append(f"totals by {group} differ from the ones rebuilt from the log")
        return problems
