"""eventsourcing's PostgreSQL recorder, appending inside a transaction the ledger holds.

Kept apart from :mod:`.recorders` because importing it imports psycopg, an optional extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

__all__ = ["PostgresLedgerRecorder"]


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, appending in the caller's transaction."""

    def append_in(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
        """The recorder's own insert on ``cursor`` (a psycopg cursor): it takes the events
        table's ``EXCLUSIVE`` lock (held already by the write path; taking it again is a
        no-op), notifies the table's channel and inserts the rows."""
        if stored_events:
            self._insert_stored_events(cursor, stored_events)

    def lock_in(self, cursor: Any) -> None:
        """The lock eventsourcing takes before every insert (with its lock timeout): it
        serialises writers so that notification ids commit in order."""
        self._lock_table(cursor)
