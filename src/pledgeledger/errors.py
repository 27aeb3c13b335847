"""Errors the ledger raises on purpose. Each one's ``str()`` is the one line the CLI prints.

All derive from :class:`LedgerError`, so a program can catch every refusal in one place and the
CLI can map them to exit code 1 without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConcurrencyError",
    "DuplicateId",
    "ImportFailed",
    "InvalidRecord",
    "LedgerError",
    "NotFound",
    "Refused",
    "StaleView",
]


class LedgerError(Exception):
    """Base class: a command the ledger will not carry out. Nothing was written."""


class InvalidRecord(LedgerError):
    """A record that does not have the shape of an event: wrong type, missing or bad fields."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


class Refused(LedgerError):
    """A well-formed event that would break an invariant of DESIGN.md (numbered 1 to 7)."""

    def __init__(self, event_id: str, message: str, invariant: int | None = None) -> None:
        self.event_id = event_id
        self.invariant = invariant
        self.reason = message
        label = f" (invariant {invariant})" if invariant else ""
        super().__init__(f"{event_id}: refused{label}: {message}")


class DuplicateId(Refused):
    """A known id arriving with different content: a correction must be a new event."""

    def __init__(self, event_id: str, fields: Sequence[str]) -> None:
        self.fields = list(fields)
        super().__init__(
            event_id,
            "already recorded with different "
            + ", ".join(self.fields)
            + "; record a correction (amendment or withdrawal) under a new id instead",
        )


class ImportFailed(LedgerError):
    """An import stopped at one line of one file; the whole import was rolled back."""

    def __init__(self, path: str, line: int | None, error: LedgerError) -> None:
        self.path = path
        self.line = line
        """The 1-based line number, or ``None`` when the file itself could not be read."""
        self.error = error
        super().__init__(f"{path}:{line}: {error}" if line is not None else f"{path}: {error}")


class NotFound(LedgerError):
    """An id that names nothing in the ledger."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"{event_id}: no such id in the ledger")


class ConcurrencyError(LedgerError):
    """Other writers kept winning the race (or holding the database) past our retries."""


class StaleView(ConcurrencyError):
    """A :class:`~pledgeledger.view.LedgerView` was asked for figures after a replay replaced
    the read models it was taken on, so they can no longer be bounded by its head: take a new
    view (``pledgeledger export`` does so by itself). Nothing else makes a view stale."""

    def __init__(self, head: int) -> None:
        self.head = head
        super().__init__(
            f"the read models were rebuilt (replay) after this view of log position {head} "
            "was taken: take a new view"
        )
