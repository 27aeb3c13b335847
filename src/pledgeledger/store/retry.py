"""Running a write against other writers: retried when it loses a race, one line when it
cannot get the lock.

The write path checks a batch in an optimistic transaction (:meth:`.Database.optimistic`) and
takes the writers' lock only before its first write; a writer that got there first makes it
fail with eventsourcing's ``IntegrityError`` (a version already taken) or ``OperationalError``
(the head moved, or SQLite's stale snapshot), and :func:`retry_writes` starts it over against
what is now recorded. What a caller sees when the database stays locked is
:class:`~pledgeledger.errors.ConcurrencyError`, never a raw eventsourcing exception.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from eventsourcing.persistence import IntegrityError, OperationalError

from pledgeledger.errors import ConcurrencyError
from pledgeledger.store.database import Database, Tx

__all__ = ["MAX_ATTEMPTS", "lock_errors", "retry_writes"]

MAX_ATTEMPTS = 8
"""Attempts of one write before giving up with :class:`ConcurrencyError`."""

T = TypeVar("T")


def retry_writes(db: Database, work: Callable[[Tx], T]) -> T:
    """Run ``work`` in a transaction of ``db`` and commit it; start over (with a jittered
    back-off) when another writer got there first or holds the database, up to
    :data:`MAX_ATTEMPTS` times.

    ``work`` gets an optimistic transaction: it may read and check at length without blocking
    other writers, and must take the lock before writing. A lost race leaves the winner's
    events in place; ``work`` re-checks against them on the next attempt.

    On SQLite a transaction that has read cannot wait for the lock: SQLite answers "database
    is locked" at once, busy timeout or not, so a writer holding the lock for a while (a big
    import, a replay's last step) would use up every attempt within a second. After such a
    failure the next attempt takes the lock first (:meth:`.Database.write`), waiting its turn.
    PostgreSQL waits for its lock in every case, so it stays optimistic.
    """
    last_error: Exception | None = None
    wait_for_lock = False
    for attempt in range(MAX_ATTEMPTS):
        begin = db.write if wait_for_lock else db.optimistic
        try:
            with begin() as tx:
                result = work(tx)
        except (IntegrityError, OperationalError) as exc:
            last_error = exc
            wait_for_lock = db.backend == "sqlite" and isinstance(exc, OperationalError)
            jitter = random.uniform(0.5, 1.5)  # noqa: S311  # jitter, not crypto
            time.sleep(min(2.0, 0.02 * 2**attempt) * jitter)
            continue
        return result
    raise ConcurrencyError(
        f"gave up after {MAX_ATTEMPTS} attempts: other writers kept changing the same "
        f"pledges or holding the database ({last_error})"
    )


@contextmanager
def lock_errors(what: str) -> Iterator[None]:
    """Turn a lock that could not be had in time (SQLite's "database is locked", PostgreSQL's
    lock timeout) into a :class:`ConcurrencyError` with one line to print, as
    :func:`retry_writes` does once its attempts are spent."""
    try:
        yield
    except OperationalError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConcurrencyError(
            f"{what}: {reason} (another process held the database too long); nothing was "
            "changed, try again"
        ) from None
