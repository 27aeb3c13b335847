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

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from pledgeledger.store.aggregates import RECORD_TOPICS, LedgerAggregate
from pledgeledger.store.database import Database, Tx

__all__ = ["Log", "RecordEvent", "utc_text"]

PAGE = 2000
"""Stored events read per query while paging through the log."""


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


class Log:
    """The stored events of one ledger, read in a given transaction and decoded by
    ``mapper`` (the application's, with its transcoder, compressor and cipher)."""

    def __init__(self, db: Database, mapper: Mapper[UUID]) -> None:
        self.db = db
        self.mapper = mapper
        self._times: dict[datetime, str] = {}

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
        text = self._times.get(moment)
        if text is None:
            if len(self._times) > 10_000:
                self._times.clear()
            text = self._times[moment] = utc_text(moment)
        return text

    def rows(
        self, tx: Tx, after: int, *, limit: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[int, StoredEvent]]:
        """The stored events after position ``after`` (up to ``stop``, at most ``limit``),
        in log order, with their positions. Pages through the table; never holds it."""
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
            for nid, originator, version, topic, state in rows:
                yield nid, StoredEvent(originator, version, topic, bytes(state))
            done += len(rows)
            if len(rows) < size:
                return
            after = rows[-1][0]

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
        return [StoredEvent(o, v, topic, bytes(state)) for o, v, topic, state in rows]

    @staticmethod
    def carries_record(stored: StoredEvent) -> bool:
        """Whether ``stored`` is a record's event (other stored events are passed over)."""
        return stored.topic in RECORD_TOPICS

    def records(self, since: int = 0) -> Iterator[tuple[int, RecordEvent]]:
        """Every record's event after position ``since``, with its position, page by page,
        each page in a read transaction of its own (so a long iteration holds no snapshot)."""
        after = since
        while True:
            with self.db.read() as tx:
                page = list(self.rows(tx, after, limit=PAGE))
            for nid, stored in page:
                if stored.topic in RECORD_TOPICS:
                    yield nid, self.decode(stored)
            if len(page) < PAGE:
                return
            after = page[-1][0]
