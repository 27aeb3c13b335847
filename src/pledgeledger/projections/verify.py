"""``replay --verify``: re-check the whole log against the invariants, as if recorded anew.

While the runner rebuilds the spare read models, :class:`Verifier` sees every record before it
is folded and runs it through the write path's own checks (:class:`pledgeledger.writer.Batch`)
on aggregates rebuilt from nothing, in log order. It reports:

* any event the invariants would refuse now (the log was written by buggy or other code);
* an event stored under another aggregate or version than the write path would give it;
* any aggregate whose rebuilt state differs from the one eventsourcing's repository rebuilds
  from the stored events (compared when the rebuilt one leaves the bounded cache, and at the
  end), which is invariant 7: replaying gives exactly the state built incrementally.

Memory stays bounded: rebuilt aggregates beyond the cache are compared, then dropped; if one is
needed again it is reloaded from the stored events up to the current position.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pledgeledger.errors import LedgerError
from pledgeledger.formats.fast import load_event
from pledgeledger.projections.folder import Folder
from pledgeledger.store.aggregates import LedgerAggregate
from pledgeledger.store.application import LedgerApplication
from pledgeledger.store.database import Database, Tx
from pledgeledger.store.reading import Log
from pledgeledger.store.writer import Batch, Stream

__all__ = ["Verifier"]

LIMIT = 100
"""Problems kept; a broken log would otherwise report one per remaining event."""


class Verifier:
    """Re-checks records during a rebuild (the runner's ``check`` hook)."""

    def __init__(self, app: LedgerApplication, db: Database, log: Log) -> None:
        self.app = app
        self.db = db
        self.log = log
        self.batch: Batch | None = None
        self.problems: list[str] = []

    def _problem(self, message: str) -> None:
        if len(self.problems) < LIMIT:
            self.problems.append(message)
        elif len(self.problems) == LIMIT:
            self.problems.append("(more problems not shown)")

    def bind(self, tx: Tx, folder: Folder) -> None:
        if self.batch is None:
            self.batch = Batch(self.db, tx, folder, self.log)
        self.batch.tx = tx
        self.batch.folder = folder

    def check(self, position: int, originator: UUID, version: int, entry: dict[str, Any]) -> None:
        batch = self.batch
        assert batch is not None
        batch.stop = position - 1
        try:
            event = load_event(entry)
            stream = batch.add(event)
        except LedgerError as exc:
            self._problem(f"event {position}: {exc}")
            return
        if stream is None:
            self._problem(f"event {position}: {event.id} is recorded twice")
            return
        if originator != stream.uuid or version != stream.version:
            self._problem(
                f"event {position}: {event.id} is stored as version {version} of {originator}, "
                f"the write path gives version {stream.version} of {stream.uuid}"
            )

    def committed(self) -> None:
        """A page is folded and committed: compare and drop the aggregates beyond the cache
        (outside the transaction, since the repository reads on a connection of its own)."""
        assert self.batch is not None
        self.batch.evict()
        for root, stream in self.batch.evicted:
            self._compare(root, stream)
        self.batch.evicted.clear()

    def _compare(self, root: str, stream: Stream) -> None:
        stored: LedgerAggregate = self.app.repository.get(stream.uuid, version=stream.version)
        theirs = {k: v for k, v in vars(stored).items() if not k.startswith("_")}
        if vars(stream.rules) != theirs:
            self._problem(f"aggregate of {root} differs from its state rebuilt from the log")

    def finish(self) -> list[str]:
        """Compare the aggregates still cached; return every problem found."""
        if self.batch is not None:
            for root, stream in self.batch.streams.items():
                self._compare(root, stream)
            self.batch.streams.clear()
        return self.problems
