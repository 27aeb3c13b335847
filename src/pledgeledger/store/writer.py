"""The write path: check a batch of events against the invariants and append it, atomically,
with the read models brought up to date in the same transaction.

One batch (a ``record`` call, or every file of one ``import``) is one database transaction:

1. open the transaction without a lock (:meth:`Database.optimistic`), note the head of the
   log and read the clock (the caller does both; see :class:`pledgeledger.Ledger`);
2. for each event, find the aggregate that owns its consistency boundary through the
   ``records`` read model (pledge, LOI or agreement; ids are unique across the ledger), load
   that aggregate's state from its stored events if it is not cached, and run the very
   ``check``/``apply`` code of :mod:`.aggregates`, folding the event into the read models in
   memory as it passes;
3. before the first write, take the writers' lock; if the head moved (or SQLite reports a
   stale snapshot) another writer won, and the caller starts over (:mod:`.retry`). From then
   on the lock is held: every ``CHUNK`` events the stored events and read-model rows are
   written (still uncommitted), so an import of millions of lines streams instead of holding
   everything;
4. commit: events, read models and position together, or (on any refusal) nothing.

Each appended record becomes the aggregate's own ``Started`` or ``Recorded`` event, encoded by
the application's mapper (``Mapper.to_stored_event``: topic, ``class_version``, transcoder,
compressor, cipher) and inserted by the recorder's own insert (:mod:`.recorders`), so the log
is what ``Application.save`` would have written: ``repository.get`` rebuilds the aggregates
and a stock eventsourcing application reads it. What is skipped is eventsourcing's aggregate
machinery around the events (``trigger_event``, ``mutate``, ``collect_events``): the domain
rules run once, on plain state, and cattrs is replaced by the fast paths of
:mod:`pledgeledger.formats.fast`.

Optimistic concurrency stays: every stored event carries its aggregate's next version, and the
``(originator_id, originator_version)`` key refuses a second writer that bypassed the lock.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from itertools import islice
from typing import Any, Protocol
from uuid import UUID

import attrs
from eventsourcing.persistence import Mapper, OperationalError, StoredEvent
from eventsourcing.utils import get_topic

from pledgeledger.domain.progress import Progress
from pledgeledger.domain.records import EVENT_TYPES, Event, LetterOfIntent, Pledge, Tranche
from pledgeledger.domain.rules import Conversion, check_converts, check_shape, check_toward
from pledgeledger.errors import DuplicateId, ImportFailed, LedgerError, Refused
from pledgeledger.formats.fast import fast_unstructure, load_event
from pledgeledger.formats.jsonl import Origin
from pledgeledger.store.aggregates import (
    CONVERTED_TOPICS,
    RECORD_TOPICS,
    ROOT_AGGREGATES,
    AgreementAggregate,
    LedgerAggregate,
    LetterAggregate,
    root_id,
)
from pledgeledger.store.database import Database, Tx
from pledgeledger.store.reading import Log, utc_text
from pledgeledger.store.transcoder import JSONShaped

__all__ = ["CHUNK", "Batch", "RecordIndex", "Stream", "Writer", "paused_gc"]


class RecordIndex(Protocol):
    """What the write path needs from the read models, which sit above the store.

    It finds which root record's aggregate owns an id, and it hears of every record appended,
    so that the read models change in the transaction that appends it. The read models'
    :class:`~pledgeledger.projections.folder.Folder` is the one implementation.
    """

    def prefetch(self, ids: Iterable[str]) -> None:
        """Look up ``ids`` in a few queries, ahead of :meth:`root_of` calls for them."""

    def root_of(self, record_id: str) -> str | None:
        """The id of the pledge, LOI or agreement whose aggregate owns ``record_id``."""

    def apply(self, entry: dict[str, Any], at: str) -> None:
        """Fold one appended record (as stored), recorded at ``at`` (:func:`utc_text`)."""

    def flush(self, position: int | None) -> None:
        """Write what was folded; with a ``position``, also mark the log read up to it."""


CHUNK = 2000
"""Events checked between writes of the pending rows."""
STREAM_CACHE = 20_000
"""Aggregates kept in memory during one batch (evicted ones are reloaded from the log)."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector during bulk work.

    Bulk loops allocate millions of short-lived containers and no cycles; the collector's
    generation scans then cost more than the work (measured: ``json.loads`` of 20,000 lines
    took 4-8 µs a line with it running, 1.5-4 µs without).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _differing_fields(known: Event, new: Event) -> list[str]:
    if type(known) is not type(new):
        return ["type"]
    return [
        f.name for f in attrs.fields(type(new)) if getattr(known, f.name) != getattr(new, f.name)
    ]


_REFERENCES: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(
        f
        for f in ("parent", "target", "about", "agreement", "toward", "converts")
        if hasattr(attrs.fields(cls), f)
    )
    for cls in EVENT_TYPES.values()
}
"""The fields of each record class that name another record. (Asking an attrs instance for
a field its class lacks raises and drops an ``AttributeError``: a cost per event.)"""
_OWNER_FIELD: dict[type[Event], str] = {
    cls: refs[0]
    for cls, refs in _REFERENCES.items()
    if refs and refs[0] in ("parent", "target", "about")
}
"""The field naming the record whose aggregate owns a record that is not a root."""
_LINKS: dict[type[Event], tuple[bool, bool]] = {
    cls: ("toward" in refs, "converts" in refs) for cls, refs in _REFERENCES.items()
}
"""Whether a record class may be tied ``toward`` another, and may convert a letter."""


@attrs.define
class Stream:
    """One aggregate's state during a batch: its id, next version, and its domain rules.

    ``rules`` is an instance of the aggregate class made without eventsourcing's event
    machinery (``object.__new__``): only its ``start``/``apply_event``/``check``/``lookup``
    code and domain state are used, the same code the real aggregate runs.
    """

    uuid: UUID
    cls: type[LedgerAggregate]
    version: int
    rules: Any


class Batch:
    """Checks events against the aggregates' rules inside one transaction.

    ``add`` returns the stream an event was appended to (its version already advanced), or
    ``None`` for a record already present with equal content; it raises :class:`LedgerError`
    for anything refused. The caller decides what appending means: the :class:`Writer`
    stores the event; ``replay --verify`` compares with what the log holds.
    """

    def __init__(
        self,
        db: Database,
        tx: Tx,
        folder: RecordIndex,
        log: Log,
        *,
        stop: int | None = None,
    ) -> None:
        self.db = db
        self.tx = tx
        self.folder = folder
        self.log = log
        self.stop = stop
        self.streams: OrderedDict[str, Stream] = OrderedDict()
        self.evicted: list[tuple[str, Stream]] = []
        self.conversions: list[tuple[Stream, Conversion]] = []
        """Letters converted by the records added since the caller last took them: each
        letter's stream (its version advanced) and the conversion to append to it."""

    # -- aggregates ------------------------------------------------------------------------

    def load(self, root: str) -> Stream:
        """The aggregate of root record ``root``, rebuilt from its stored events (all of them,
        or those up to the notification id ``stop`` given to the batch), decoded by the
        mapper as ``repository.get`` decodes them."""
        uuid = root_id(root)
        stored = self.log.aggregate(self.tx, uuid, stop=self.stop)
        if not stored:
            raise LedgerError(f"record {root} has no stored events (read models out of date?)")
        cls = RECORD_TOPICS[stored[0].topic]
        rules: Any = object.__new__(cls)
        for item in stored:
            if item.topic in CONVERTED_TOPICS:
                converted: Any = self.log.mapper.to_domain_event(item)  # a letter's Converted
                rules.convert(Conversion(converted.by, date.fromisoformat(converted.on)))
                continue
            event = load_event(self.log.decode(item).entry)
            if item.originator_version == 1:
                rules.start(event)
            else:
                rules.apply_event(event)
        return Stream(uuid, cls, stored[-1].originator_version, rules)

    def stream(self, root: str) -> Stream:
        found = self.streams.get(root)
        if found is None:
            found = self.streams[root] = self.load(root)
        else:
            self.streams.move_to_end(root)
        return found

    def evict(self) -> None:
        """Forget the least recently used aggregates beyond ``STREAM_CACHE``; only call when
        their events are written, since they are reloaded from the database."""
        while len(self.streams) > STREAM_CACHE:
            self.evicted.append(self.streams.popitem(last=False))

    def _referenced(self, event: Event, field: str, ref: str) -> Stream:
        """The stream owning ``ref``, which ``event`` names in ``field``."""
        root = self.folder.root_of(ref)
        if root is None:
            raise Refused(event.id, f"{field} {ref} is not in the ledger", 5)
        return self.stream(root)

    def prefetch(self, events: Iterable[Event]) -> None:
        """Look up every id a chunk mentions in a few queries instead of one each."""
        ids: list[str] = []
        for event in events:
            ids.append(event.id)
            for field in _REFERENCES[type(event)]:
                ref = getattr(event, field)
                if ref is not None:
                    ids.append(ref)
        self.folder.prefetch(ids)

    def _links(self, event: Event) -> Stream | None:
        """Check what a pledge, LOI or tranche names besides its parent and agreement: the
        record it is tied toward, and the letter it converts (whose stream is returned)."""
        toward, converts = _LINKS[type(event)]
        if toward:
            assert isinstance(event, Pledge | LetterOfIntent)
            if event.toward is not None:
                root = self.folder.root_of(event.toward)
                found = None if root is None else self.stream(root).rules.referent(event.toward)
                check_toward(event, found)
        if not converts:
            return None
        assert isinstance(event, Pledge | Tranche)
        if event.converts is None:
            return None
        root = self.folder.root_of(event.converts)
        letter = None if root is None else self.stream(root)
        rules = None if letter is None else letter.rules
        check_converts(event, rules.letter if isinstance(rules, LetterAggregate) else None)
        return letter

    def _convert(self, event: Event, letter: Stream | None) -> None:
        """Apply a checked conversion to the letter's rules, as its ``Converted`` event will."""
        if letter is None:
            return
        conversion = Conversion(event.id, event.world_date)
        letter.rules.convert(conversion)
        letter.version += 1
        self.conversions.append((letter, conversion))

    # -- checking --------------------------------------------------------------------------

    def add(self, event: Event) -> Stream | None:
        known_root = self.folder.root_of(event.id)
        if known_root is not None:
            known = self.stream(known_root).rules.lookup(event.id)
            if known == event:
                return None
            raise DuplicateId(event.id, _differing_fields(known, event))
        cls = ROOT_AGGREGATES.get(event.type)
        if cls is not None:
            if isinstance(event, Pledge | LetterOfIntent) and event.agreement is not None:
                ref = self._referenced(event, "agreement", event.agreement)
                if not isinstance(ref.rules, AgreementAggregate):
                    raise Refused(event.id, f"{event.agreement} is not an agreement", 5)
                ref.rules.agreement.check_reference(event)
            check_shape(event)
            letter = self._links(event)
            rules: Any = object.__new__(cls)
            rules.start(event)
            stream = Stream(root_id(event.id), cls, 1, rules)
            self.streams[event.id] = stream
            self._convert(event, letter)
            return stream
        field = _OWNER_FIELD[type(event)]
        stream = self._referenced(event, field, getattr(event, field))
        stream.rules.check(event)
        letter = self._links(event)
        stream.rules.apply_event(event)
        stream.version += 1
        self._convert(event, letter)
        return stream


def _chunks(items: Iterable[tuple[Origin | None, Event]], size: int) -> Iterator[Chunk]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _checked(batch: Batch, origin: Origin | None, event: Event) -> Stream | None:
    """:meth:`Batch.add`; a refused line of a file is reported with its file and line."""
    try:
        return batch.add(event)
    except LedgerError as exc:
        if origin is None:
            raise
        raise ImportFailed(origin.path, origin.line, exc) from None


Chunk = list[tuple[Origin | None, Event]]


class Writer:
    """Appends batches of events (see the module docstring)."""

    def __init__(self, db: Database, mapper: Mapper[UUID], log: Log) -> None:
        self.db = db
        self.mapper = mapper
        self.log = log
        self._topics = {cls: get_topic(cls) for cls in ROOT_AGGREGATES.values()}

    def stored(self, stream: Stream, entry: dict[str, Any], at: datetime) -> StoredEvent:
        """The stored event of ``entry``, appended to ``stream`` at ``at``: the aggregate's
        own ``Started`` or ``Recorded`` event, encoded by the application's mapper (so with
        the class's ``class_version``, the transcoder, compressor and cipher), exactly what
        ``begin``/``record`` and ``Application.save`` would store."""
        uuid, version = stream.uuid, stream.version
        event: Any  # the aggregate class's Started or Recorded
        if version == 1:
            event = object.__new__(stream.cls.Started)
            state = {
                "originator_id": uuid,
                "originator_version": version,
                "timestamp": at,
                "originator_topic": self._topics[stream.cls],
                "entry": entry,
            }
        else:
            event = object.__new__(stream.cls.Recorded)
            state = {
                "originator_id": uuid,
                "originator_version": version,
                "timestamp": at,
                "entry": entry,
            }
        # Made as Mapper.to_domain_event makes events: the dataclass __init__ would only assign
        # the same fields one by one and check that the id is a UUID (it is, see root_id).
        object.__setattr__(event, "__dict__", state)
        return self.mapper.to_stored_event(event)

    def converted(self, stream: Stream, conversion: Conversion, at: datetime) -> StoredEvent:
        """The stored ``Converted`` event of a letter, appended to its ``stream`` at ``at``,
        encoded by the application's mapper as ``record_conversion`` and ``Application.save``
        would store it."""
        event: Any = object.__new__(LetterAggregate.Converted)
        state = {
            "originator_id": stream.uuid,
            "originator_version": stream.version,
            "timestamp": at,
            "by": conversion.by,
            "on": conversion.on.isoformat(),
        }
        object.__setattr__(event, "__dict__", state)
        return self.mapper.to_stored_event(event)

    def lock(self, tx: Tx, head: int) -> None:
        """Take the writers' lock before the first write of ``tx``, which read the log up to
        ``head`` without it: if another writer appended meanwhile, everything checked so far
        may be stale, so ``OperationalError`` asks the caller to start over."""
        if tx.locked:
            return
        self.db.lock(tx)
        if self.db.head(tx) != head:
            raise OperationalError("another writer appended events meanwhile")

    def write(
        self,
        tx: Tx,
        folder: RecordIndex,
        items: Iterable[tuple[Origin | None, Event]],
        at: datetime,
        head: int,
        *,
        progress: Progress | None = None,
        total: int = 0,
    ) -> tuple[list[str], list[str]]:
        """Check and append ``items`` in ``tx`` (from :meth:`Database.optimistic`); return
        the ids recorded and skipped.

        ``folder`` must be caught up with the log up to ``head``. The first chunk is checked
        without the writers' lock (see :meth:`lock`). Raises :class:`LedgerError`
        (:class:`ImportFailed` for items with an origin) on refusal.
        """
        batch = Batch(self.db, tx, folder, self.log)
        at_text = utc_text(at)
        recorded: list[str] = []
        skipped: list[str] = []
        pending: list[StoredEvent] = []
        done = 0
        for chunk in _chunks(items, CHUNK):
            batch.prefetch(event for _, event in chunk)
            for origin, event in chunk:
                stream = _checked(batch, origin, event)
                done += 1
                if stream is None:
                    skipped.append(event.id)
                else:
                    entry = JSONShaped(fast_unstructure(event))
                    pending.append(self.stored(stream, entry, at))
                    for letter, conversion in batch.conversions:
                        pending.append(self.converted(letter, conversion, at))
                    batch.conversions.clear()
                    folder.apply(entry, at_text)
                    recorded.append(event.id)
                if progress is not None:
                    progress(done, total)
            if pending:
                self.lock(tx, head)
                self.db.append(tx, pending)
                pending.clear()
                folder.flush(None)
            batch.evict()
            batch.evicted.clear()
        if recorded:
            folder.flush(self.db.head(tx))
        return recorded, skipped
