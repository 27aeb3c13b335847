"""The write path: check a batch of events against the invariants and append it, atomically,
with the read models brought up to date in the same transaction.

One batch (a ``record`` call, or every file of one ``import``) is one database transaction:

1. open the transaction without a lock (:meth:`Database.optimistic`), note the head of the
   log and read the clock (the caller does both; see :class:`pledgeledger.Ledger`);
2. for each event, find the aggregate that owns its consistency boundary through the
   ``records`` read model (pledge, LOI or agreement; ids are unique across the ledger), load
   that aggregate's state from its stored events if it is not cached, and run the very
   ``check``/``apply`` code of :mod:`pledgeledger.aggregates`, folding the event into the
   read models in memory as it passes;
3. before the first write, take the writers' lock; if the head moved (or SQLite reports a
   stale snapshot) another writer won, and the caller starts over. From then on the lock is
   held: every ``CHUNK`` events the stored events and read-model rows are written (still
   uncommitted), so an import of millions of lines streams instead of holding everything;
4. commit: events, read models and position together, or (on any refusal) nothing.

The stored events are exactly those eventsourcing's aggregates would store (same topics,
versions and ``JSONTranscoder`` state format), so ``repository.get`` rebuilds the aggregates and
a stock eventsourcing application can read the log. What is skipped is building domain event
objects that nothing reads: that, cattrs and the stdlib JSON encoder were most of the cost.

Optimistic concurrency stays: every stored event carries its aggregate's next version, and the
``(originator_id, originator_version)`` key refuses a second writer that bypassed the lock.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

import attrs
import msgspec
from eventsourcing.persistence import Mapper, OperationalError
from eventsourcing.utils import get_topic

from pledgeledger.domain.progress import Progress
from pledgeledger.domain.records import Event, LetterOfIntent, Pledge, Tranche
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
from pledgeledger.store.reading import StateReader, utc_text

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


_REFERENCES = ("parent", "target", "agreement", "about", "toward", "converts")
"""The fields of a record that name another record."""
_OWNER_FIELD = {
    "tranche": "parent",
    "delivery": "parent",
    "amendment": "target",
    "withdrawal": "target",
    "lapse": "target",
    "report": "about",
}
"""The field naming the record whose aggregate owns a record that is not a root."""


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


_CONVERTED = get_topic(LetterAggregate.Converted)
_TOPICS: dict[type[LedgerAggregate], tuple[str, str, str]] = {
    cls: (get_topic(cls.Started), get_topic(cls.Recorded), get_topic(cls))
    for cls in ROOT_AGGREGATES.values()
}


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
        reader: StateReader,
        *,
        stop: int | None = None,
    ) -> None:
        self.db = db
        self.tx = tx
        self.folder = folder
        self.reader = reader
        self.stop = stop
        self.streams: OrderedDict[str, Stream] = OrderedDict()
        self.evicted: list[tuple[str, Stream]] = []
        self.conversions: list[tuple[Stream, Conversion]] = []
        """Letters converted by the records added since the caller last took them: each
        letter's stream (its version advanced) and the conversion to append to it."""

    # -- aggregates ------------------------------------------------------------------------

    def load(self, root: str) -> Stream:
        """The aggregate of root record ``root``, rebuilt from its stored events (all of them,
        or those up to the notification id ``stop`` given to the batch)."""
        uuid = root_id(root)
        column = self.db.notification_column
        sql = (
            f"SELECT originator_version, topic, state FROM {self.db.events_table} "
            "WHERE originator_id = ?"
        )
        if self.stop is not None:
            sql += f" AND {column} <= {int(self.stop)}"
        rows = self.tx.fetchall(sql + " ORDER BY originator_version", (self.db.originator(uuid),))
        if not rows:
            raise LedgerError(f"record {root} has no stored events (read models out of date?)")
        cls = RECORD_TOPICS[rows[0][1]]
        rules: Any = object.__new__(cls)
        for version, topic, state in rows:
            if topic in CONVERTED_TOPICS:
                body = self.reader.decode(bytes(state))
                rules.convert(Conversion(body["by"], date.fromisoformat(body["on"])))
                continue
            entry, _ = self.reader.read(topic, bytes(state))
            event = load_event(entry)
            if version == 1:
                rules.start(event)
            else:
                rules.apply_event(event)
        return Stream(uuid, cls, rows[-1][0], rules)

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

    def owner(self, record_id: str) -> Stream | None:
        root = self.folder.root_of(record_id)
        return None if root is None else self.stream(root)

    def _referenced(self, event: Event, field: str, ref: str) -> Stream:
        found = self.owner(ref)
        if found is None:
            raise Refused(event.id, f"{field} {ref} is not in the ledger", 5)
        return found

    def prefetch(self, events: Iterable[Event]) -> None:
        """Look up every id a chunk mentions in a few queries instead of one each."""
        ids: list[str] = []
        for event in events:
            ids.append(event.id)
            for field in _REFERENCES:
                ref = getattr(event, field, None)
                if ref is not None:
                    ids.append(ref)
        self.folder.prefetch(ids)

    def _links(self, event: Event) -> Stream | None:
        """Check what a pledge, LOI or tranche names besides its parent and agreement: the
        record it is tied toward, and the letter it converts (whose stream is returned)."""
        toward = getattr(event, "toward", None)
        if toward is not None:
            assert isinstance(event, Pledge | LetterOfIntent)
            root = self.folder.root_of(toward)
            found = None if root is None else self.stream(root).rules.referent(toward)
            check_toward(event, found)
        converts = getattr(event, "converts", None)
        if converts is None:
            return None
        assert isinstance(event, Pledge | Tranche)
        root = self.folder.root_of(converts)
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
        owner = self.owner(event.id)
        if owner is not None:
            known = owner.rules.lookup(event.id)
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
        field = _OWNER_FIELD[event.type]
        stream = self._referenced(event, field, getattr(event, field))
        stream.rules.check(event)
        letter = self._links(event)
        stream.rules.apply_event(event)
        stream.version += 1
        self._convert(event, letter)
        return stream


class Writer:
    """Appends batches of events (see the module docstring)."""

    def __init__(self, db: Database, mapper: Mapper[Any], reader: StateReader) -> None:
        self.db = db
        self.mapper = mapper
        self.reader = reader
        self.encode = msgspec.json.Encoder().encode
        self.insert = (
            f"INSERT INTO {db.events_table} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)"
        )

    def _state(self, state: dict[str, Any]) -> bytes:
        data = self.encode(state)
        if self.mapper.compressor is not None:
            data = self.mapper.compressor.compress(data)
        if self.mapper.cipher is not None:
            data = self.mapper.cipher.encrypt(data)
        return data

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
        without the writers' lock; taking it, the head must not have moved, else
        ``OperationalError`` asks the caller to start over against what the other writer
        appended. Raises :class:`LedgerError` (:class:`ImportFailed` for items with an
        origin) on refusal.
        """
        batch = Batch(self.db, tx, folder, self.reader)
        moment = {"_type_": "datetime_iso", "_data_": at.isoformat()}
        at_text = utc_text(at)
        recorded: list[str] = []
        skipped: list[str] = []
        rows: list[tuple[Any, int, str, bytes]] = []
        originator = self.db.originator
        state = self._state
        done = 0
        chunk: list[tuple[Origin | None, Event]] = []
        iterator = iter(items)
        while True:
            chunk.clear()
            for item in iterator:
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    break
            if not chunk:
                break
            batch.prefetch(event for _, event in chunk)
            for origin, event in chunk:
                try:
                    stream = batch.add(event)
                except LedgerError as exc:
                    if origin is None:
                        raise
                    raise ImportFailed(origin.path, origin.line, exc) from None
                done += 1
                if stream is None:
                    skipped.append(event.id)
                else:
                    entry = fast_unstructure(event)
                    started, appended, aggregate_topic = _TOPICS[stream.cls]
                    if stream.version == 1:
                        body = {
                            "timestamp": moment,
                            "originator_topic": aggregate_topic,
                            "entry": entry,
                        }
                        topic = started
                    else:
                        body = {"timestamp": moment, "entry": entry}
                        topic = appended
                    rows.append((originator(stream.uuid), stream.version, topic, state(body)))
                    for letter, conversion in batch.conversions:
                        converted = {
                            "timestamp": moment,
                            "by": conversion.by,
                            "on": conversion.on.isoformat(),
                        }
                        rows.append(
                            (originator(letter.uuid), letter.version, _CONVERTED, state(converted))
                        )
                    batch.conversions.clear()
                    folder.apply(entry, at_text)
                    recorded.append(event.id)
                if progress is not None:
                    progress(done, total)
            if rows:
                if not tx.locked:
                    self.db.lock(tx)
                    if self.db.head(tx) != head:
                        raise OperationalError("another writer appended events meanwhile")
                self._flush(tx, rows)
                folder.flush(None)
            batch.evict()
            batch.evicted.clear()
        if recorded:
            folder.flush(self.db.head(tx))
        return recorded, skipped

    def _flush(self, tx: Tx, rows: list[tuple[Any, int, str, bytes]]) -> None:
        if not rows:
            return
        if self.db.backend == "postgres":
            channel = self.db.events_table.split(".")[-1].replace('"', "")
            tx.execute(f'NOTIFY "{channel}"')
        tx.executemany(self.insert, rows)
        rows.clear()
