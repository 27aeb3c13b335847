"""A small pull-based projection runner: the read models follow the log, exactly once.

eventsourcing's ``ProjectionRunner`` waits on ``recorder.subscribe()``, which its SQLite
recorder does not implement. The read models do not need a push anyway: every command that
reads or writes first asks whether the tracked position is behind the log's head, and if so
pulls the missing notifications, in order, a page at a time.

Exactly once, crash or not: the position lives in the same database as the view rows and is
written in the same transaction (see :meth:`Folder.flush`). A crash before the commit loses
both, and the next pull starts again from the old position; a crash after it finds both. Two
processes never fold the same events: catching up happens in a write transaction, which is
exclusive among writers (``BEGIN IMMEDIATE`` on SQLite, an ``EXCLUSIVE`` lock on the events
table on PostgreSQL), and re-reads the position once it holds it.

The write path (:mod:`pledgeledger.writer`) folds the events it appends in the transaction that
appends them, after catching up: so read models are never behind after a command returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol
from uuid import UUID

from pledgeledger.domain.progress import Progress
from pledgeledger.projections.folder import Folder
from pledgeledger.projections.readmodels import ReadModels, TableSet
from pledgeledger.store.database import Database, Tx
from pledgeledger.store.reading import Log, RecordEvent

__all__ = ["Runner"]

PAGE = 2000
REBUILD_COMMIT = 20_000
"""Events folded per committed transaction while rebuilding the spare table set."""


class Checker(Protocol):
    """What ``replay --verify`` plugs into a rebuild (:class:`pledgeledger.verify.Verifier`)."""

    def bind(self, tx: Tx, folder: Folder) -> None: ...
    def check(
        self, position: int, originator: UUID, version: int, entry: dict[str, Any]
    ) -> None: ...
    def committed(self) -> None: ...


class Runner:
    """Brings a table set up to the head of the log (or a given position)."""

    def __init__(self, db: Database, models: ReadModels, log: Log) -> None:
        self.db = db
        self.models = models
        self.event_log = log

    def log(
        self, tx: Tx, after: int, *, limit: int | None = None, stop: int | None = None
    ) -> Iterator[tuple[int, RecordEvent | None, str]]:
        """The log after position ``after`` (and up to ``stop``), in order: positions, record
        events decoded by the mapper, recorded times (:meth:`.reading.Log.read`)."""
        return self.event_log.read(tx, after, limit=limit, stop=stop)

    def fold(
        self,
        tx: Tx,
        folder: Folder,
        after: int,
        *,
        limit: int | None = None,
        stop: int | None = None,
        check: Checker | None = None,
        seen: list[int] | None = None,
        flush_every: int | None = PAGE,
    ) -> int:
        """Fold the events after ``after`` into ``folder``; return the last position read
        (``after`` when there was nothing). Does not write the position: the caller flushes.

        ``check`` sees every record before it is folded (``replay --verify``); ``seen``
        collects the positions read, for progress reports after the commit. The rows folded
        are written every ``flush_every`` events, to bound memory; ``None`` keeps them all in
        memory, for a ``tx`` that only reads.
        """
        position = after
        apply = folder.apply
        rows = self.log(tx, after, limit=limit, stop=stop)
        for count, (nid, event, at) in enumerate(rows, start=1):
            if event is not None:
                entry = event.entry
                if check is not None:
                    check.check(nid, event.originator_id, event.originator_version, entry)
                apply(entry, at)
            position = nid
            if seen is not None:
                seen.append(nid)
            if flush_every is not None and count % flush_every == 0:
                folder.flush(None)
        return position

    def catch_up(self, tx: Tx, tables: TableSet) -> Folder:
        """Inside the write transaction ``tx``: bring ``tables`` up to the head of the log.
        Returns the folder, whose cache the write path goes on using."""
        folder = Folder(tables)
        folder.bind(tx)
        position = tables.position(tx)
        if position < self.db.head(tx):
            folder.flush(self.fold(tx, folder, position))
        return folder

    def rebuild(
        self,
        token: str,
        *,
        progress: Progress | None = None,
        check: Checker | None = None,
    ) -> tuple[TableSet, int]:
        """Drop the spare table set and refill it from the whole log, committing every
        ``REBUILD_COMMIT`` events (a crash leaves a spare set that the next rebuild drops).
        Stops at the head seen at the start; the caller catches up the rest, checks that
        ``token`` still owns the set, and swaps it in. Returns the set and the number of
        records folded.

        The spare set is chosen, and claimed for the replay ``token``, under the writers' lock
        (:meth:`ReadModels.claim`), so that a replay swapping sets meanwhile cannot make it the
        live one; every page re-checks the claim in the transaction that writes it.

        Each page folds in a read transaction, then writes what it folded in a short write
        transaction. Only this replay writes the spare set, so nothing it read can have changed
        in between; and on SQLite one transaction that read the log, then wrote, would fail
        with "database is locked" whenever another writer committed in between, while
        holding the writers' lock for the whole page (``BEGIN IMMEDIATE``) would starve other
        writers: their optimistic transactions would find a page committed after every read.

        ``progress(position, head)`` is called for every event read, after the transaction
        that folded it has committed, so that it may safely write to the ledger itself.
        """
        with self.db.write() as tx:
            tables = self.models.ensure_in(tx).other
            self.models.claim(tx, token)
        # Recreated without the writers' lock on PostgreSQL: dropping waits for a replay we
        # took the set over from to finish reading its page, and writers need not wait too.
        with self.db.write(exclusive=False) as tx:
            self.models.check_claim(tx, token)
            tables.drop(tx)
            tables.create(tx)
            head = self.db.head(tx)
        folder = Folder(tables)
        position = 0
        while position < head:
            seen: list[int] = []
            with self.db.read() as tx:
                folder.bind(tx)
                if check is not None:
                    check.bind(tx, folder)
                new = self.fold(
                    tx,
                    folder,
                    position,
                    limit=REBUILD_COMMIT,
                    stop=head,
                    check=check,
                    seen=seen if progress is not None else None,
                    flush_every=None,
                )
            with self.db.write(exclusive=False) as tx:
                self.models.check_claim(tx, token)
                folder.bind(tx)
                folder.flush(new)
            if check is not None:
                check.committed()
            if new == position:
                break
            position = new
            if progress is not None:
                for nid in seen:
                    progress(nid, head)
        return tables, folder.applied
