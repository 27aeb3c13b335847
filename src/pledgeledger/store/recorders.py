"""eventsourcing's own recorders, able to append inside a transaction the ledger holds.

The write path appends a batch together with the read-model rows it changes and the position
they reach, in one transaction it opened itself (:mod:`.database`). eventsourcing's recorders
open their own transaction in ``insert_events``; the insert itself is their ``_insert_events``
(SQLite) or ``_insert_stored_events`` (PostgreSQL, which also takes the events table's
``EXCLUSIVE`` lock and notifies listeners), run on a cursor they are given. The subclasses
here expose that step as :meth:`append_in`, so that the rows the ledger writes are exactly the
rows eventsourcing writes, by eventsourcing's code: eventsourcing's own examples extend
recorders by subclassing them and overriding ``_insert_events`` the same way.

They are chosen through eventsourcing's ``APPLICATION_RECORDER_TOPIC`` setting (see
:func:`~.application.persistence_env`); the tables they create are the stock ones, so ledgers
written before these classes existed open unchanged. The PostgreSQL one lives in
:mod:`.postgres_recorder`, so that SQLite-only installs never import psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

__all__ = ["AppendsInTransaction", "SQLiteLedgerRecorder", "recorder_topic"]


class AppendsInTransaction(Protocol):
    """A recorder that appends stored events on the cursor of a transaction held elsewhere."""

    def append_in(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
        """Insert ``stored_events`` on ``cursor``, without committing."""

    def lock_in(self, cursor: Any) -> None:
        """Take the lock eventsourcing takes on the events table before inserting, if any."""


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, appending in the caller's transaction."""

    def append_in(self, cursor: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> None:
        """The recorder's own insert, on ``cursor`` (an eventsourcing ``SQLiteCursor``).

        The application recorder's ``_insert_events`` is the aggregate recorder's (same table,
        same statement) run row by row to collect each row's notification id; the write path
        needs none of them (it reads the head once per batch), so it runs the aggregate
        recorder's, one ``executemany`` per chunk.
        """
        SQLiteAggregateRecorder._insert_events(self, cursor, stored_events)  # noqa: SLF001  # a subclass runs its base class's insert

    def lock_in(self, cursor: SQLiteCursor) -> None:
        """Nothing: SQLite's writers' lock is the transaction's own (``BEGIN IMMEDIATE`` or
        its first write), see :meth:`.database.Database.lock`."""


def recorder_topic(backend: str) -> str:
    """The ``APPLICATION_RECORDER_TOPIC`` of ``backend`` (``"sqlite"`` or ``"postgres"``).

    The PostgreSQL topic is written out rather than taken from the class, which would import
    psycopg on every open of a SQLite ledger.
    """
    if backend == "sqlite":
        return get_topic(SQLiteLedgerRecorder)
    return "pledgeledger.store.postgres_recorder:PostgresLedgerRecorder"
