"""Reading the log back: stored events, decoded by eventsourcing's mapper and by nothing else.

Every read path (the runner's fold, ``replay --verify``, the write path's rebuild of an
aggregate, :meth:`pledgeledger.Ledger.events`) turns a stored event into a domain event with
``mapper.to_domain_event``, the one place that applies ``class_version`` and the
``upcast_vN_vN+1`` methods of the event classes. A copy of that logic elsewhere would, the day
an event class gets a version, upcast twice or not at all depending on the path; this module
only reads rows (in the caller's transaction, so that a read sees exactly what the transaction
sees) and hands them to the mapper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from pledgeledger.store.aggregates import RECORD_TOPICS, LedgerAggregate
from pledgeledger.store.database import Database, Tx

__all__ = ["Log", "RecordEvent", "utc_text"]

PAGE = 2000
"""Stored events read per query while paging through the log."""
ID_CACHE = 50_000
"""Aggregate ids kept parsed while reading (an aggregate's events recur through the log)."""


def utc_text(moment: datetime) -> str:
    """A recorded time as fixed-width UTC text, so that text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class RecordEvent(Protocol):
    """What a decoded ``Started`` or ``Recorded`` event of :mod:`.aggregates` carries."""

    @property
    def originator_id(self) -> UUID: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def entry(self) -> dict[str, Any]: ...


_RECORD_CLASSES = (LedgerAggregate.Started, LedgerAggregate.Recorded)


def _stored_event(originator_id: UUID, version: int, topic: str, state: bytes) -> StoredEvent:
    """A ``StoredEvent`` made as eventsourcing's mapper makes domain events (its frozen
    dataclass ``__init__`` assigns the four fields one by one, a measurable part of reading a
    row); the same object, field for field."""
    stored = object.__new__(StoredEvent)
    object.__setattr__(
        stored,
        "__dict__",
        {
            "originator_id": originator_id,
            "originator_version": version,
            "topic": topic,
            "state": state,
        },
    )
    return stored


class Log:
    """The stored events of one ledger, read in a given transaction and decoded by
    ``mapper`` (the application's, with its transcoder, compressor and cipher)."""

    def __init__(self, db: Database, mapper: Mapper[UUID]) -> None:
        self.db = db
        self.mapper = mapper
        self._times: dict[datetime, str] = {}
        self._last_time: tuple[datetime | None, str] = (None, "")
        self._ids: dict[str, UUID] = {}

    def _uuid(self, stored_id: Any) -> UUID:
        """The aggregate id of a row (SQLite stores hex text, PostgreSQL a UUID), parsed once
        for all the events of an aggregate that a read meets."""
        if type(stored_id) is UUID:
            return stored_id
        found = self._ids.get(stored_id)
        if found is None:
            if len(self._ids) >= ID_CACHE:
                self._ids.clear()
            found = self._ids[stored_id] = UUID(stored_id)
        return found

    def decode(self, stored: StoredEvent) -> RecordEvent:
        """The domain event ``stored`` holds, upcast to its class's current version."""
        event = self.mapper.to_domain_event(stored)
        if not isinstance(event, _RECORD_CLASSES):
            msg = f"stored event of topic {stored.topic} does not carry a record"
            raise TypeError(msg)
        return event

    def recorded_text(self, event: RecordEvent) -> str:
        """``event``'s recorded time as :func:`utc_text` (cached: one batch shares one time)."""
        moment = event.timestamp
        last, text = self._last_time
        if moment is last:
            return text
        found = self._times.get(moment)
        if found is None:
            if len(self._times) > 10_000:
                self._times.clear()
            found = self._times[moment] = utc_text(moment)
        self._last_time = (moment, found)
        return found

    def _pages(
        self, tx: Tx, after: int, limit: int | None, stop: int | None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows after position ``after`` (up to ``stop``, at most ``limit``), a page at a
        time, in log order: position, originator id, version, topic, state."""
        db = self.db
        column = db.notification_column
        sql = (
            f"SELECT {column}, originator_id, originator_version, topic, state "
            f"FROM {db.events_table} WHERE {column} > ?"
        )
        if stop is not None:
            sql += f" AND {column} <= {int(stop)}"
        sql += f" ORDER BY {column} LIMIT ?"
        done = 0
        while limit is None or done < limit:
            size = PAGE if limit is None else min(PAGE, limit - done)
            rows = tx.fetchall(sql, (after, size))
            yield rows
            done += len(rows)
            if len(rows) < size:
                return
            after = rows[-1][0]

    def read(
        self, tx: Tx, after: int, *, limit: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[int, RecordEvent | None, str]]:
        """The log after position ``after`` (up to ``stop``, at most ``limit`` stored events)
        in ``tx``, in order: each position with its record's event, decoded by the mapper,
        and the event's recorded time as :func:`utc_text`; ``None`` and ``""`` for a stored
        event that carries no record. Pages through the table; never holds it.

        The loop is the runner's inner loop, so it is written flat: no call per event but the
        mapper's (and a parse of an aggregate id the first time it is met).
        """
        decode: Callable[[StoredEvent], RecordEvent]
        decode = self.mapper.to_domain_event  # type: ignore[assignment]  # record topics only
        new, assign = object.__new__, object.__setattr__
        ids, parse = self._ids, self._uuid
        last_moment: datetime | None = None
        last_text = ""
        for page in self._pages(tx, after, limit, stop):
            for nid, originator, version, topic, state in page:
                if topic not in RECORD_TOPICS:
                    yield nid, None, ""
                    continue
                stored = new(StoredEvent)
                assign(
                    stored,
                    "__dict__",
                    {
                        "originator_id": ids.get(originator) or parse(originator),
                        "originator_version": version,
                        "topic": topic,
                        "state": state if type(state) is bytes else bytes(state),
                    },
                )
                event = decode(stored)
                if event.timestamp is not last_moment:
                    last_moment = event.timestamp
                    last_text = self.recorded_text(event)
                yield nid, event, last_text

    def aggregate(self, tx: Tx, uuid: UUID, *, stop: int | None = None) -> list[StoredEvent]:
        """The stored events of aggregate ``uuid`` in version order (those at positions up to
        ``stop`` only, when given): what ``repository.get`` reads, in ``tx``."""
        db = self.db
        sql = (
            f"SELECT originator_id, originator_version, topic, state FROM {db.events_table} "
            "WHERE originator_id = ?"
        )
        if stop is not None:
            sql += f" AND {db.notification_column} <= {int(stop)}"
        rows = tx.fetchall(sql + " ORDER BY originator_version", (db.originator(uuid),))
        return [
            _stored_event(uuid, version, topic, bytes(state)) for _, version, topic, state in rows
        ]

    def records(self, since: int = 0) -> Iterator[tuple[int, RecordEvent]]:
        """Every record's event after position ``since``, with its position, page by page,
        each page in a read transaction of its own (so a long iteration holds no snapshot)."""
        after = since
        while True:
            with self.db.read() as tx:
                page = list(self.read(tx, after, limit=PAGE))
            for nid, event, _ in page:
                if event is not None:
                    yield nid, event
            if len(page) < PAGE:
                return
            after = page[-1][0]
