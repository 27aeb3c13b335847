"""pledgeledger: an event-sourced ledger of public commitments.

Pledges, the tranches carved out of them, non-binding letters of intent and deliveries are
appended as immutable events; totals per sector, agreement, pledger or recipient are rebuilt
from them, as of any world date and as known at any recorded time. Start with :class:`Ledger`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .convert import structure_event, unstructure_event
    from .errors import (
        ConcurrencyError,
        DuplicateId,
        ImportFailed,
        InvalidRecord,
        LedgerError,
        NotFound,
        Refused,
        StaleView,
    )
    from .events import (
        Agreement,
        Amendment,
        Amount,
        Bound,
        Delivery,
        Event,
        LetterOfIntent,
        Pledge,
        Source,
        Tranche,
        Withdrawal,
    )
    from .ledger import Ledger, RecordResult, ReplayReport
    from .projections import GROUPS, Totals
    from .timeline import EVERY, TimelinePoint
    from .view import CorrectionView, DeliveryView, LedgerView, LetterView, LoggedEvent, NodeView

# Names are imported on first use (PEP 562), so that `import pledgeledger.cli` and
# `pledgeledger --help` do not pay for eventsourcing, cattrs and the read models up front.
_LAZY = {
    "Agreement": ".events",
    "Amendment": ".events",
    "Amount": ".events",
    "Bound": ".events",
    "ConcurrencyError": ".errors",
    "CorrectionView": ".view",
    "Delivery": ".events",
    "DeliveryView": ".view",
    "DuplicateId": ".errors",
    "EVERY": ".timeline",
    "Event": ".events",
    "GROUPS": ".projections",
    "ImportFailed": ".errors",
    "InvalidRecord": ".errors",
    "Ledger": ".ledger",
    "LedgerError": ".errors",
    "LedgerView": ".view",
    "LetterOfIntent": ".events",
    "LetterView": ".view",
    "LoggedEvent": ".view",
    "NodeView": ".view",
    "NotFound": ".errors",
    "Pledge": ".events",
    "RecordResult": ".ledger",
    "Refused": ".errors",
    "ReplayReport": ".ledger",
    "Source": ".events",
    "StaleView": ".errors",
    "TimelinePoint": ".timeline",
    "Totals": ".projections",
    "Tranche": ".events",
    "Withdrawal": ".events",
    "structure_event": ".convert",
    "unstructure_event": ".convert",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "EVERY",
    "GROUPS",
    "Agreement",
    "Amendment",
    "Amount",
    "Bound",
    "ConcurrencyError",
    "CorrectionView",
    "Delivery",
    "DeliveryView",
    "DuplicateId",
    "Event",
    "ImportFailed",
    "InvalidRecord",
    "Ledger",
    "LedgerError",
    "LedgerView",
    "LetterOfIntent",
    "LetterView",
    "LoggedEvent",
    "NodeView",
    "NotFound",
    "Pledge",
    "RecordResult",
    "Refused",
    "ReplayReport",
    "Source",
    "StaleView",
    "TimelinePoint",
    "Totals",
    "Tranche",
    "Withdrawal",
    "structure_event",
    "unstructure_event",
]
