"""pledgeledger: an event-sourced ledger of public commitments.

Pledges, the tranches carved out of them, non-binding letters of intent and deliveries are
appended as immutable events; totals per sector, agreement, pledger or recipient are rebuilt
from them, as of any world date and as known at any recorded time. Start with :class:`Ledger`.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pledgeledger.domain.periods import EVERY
    from pledgeledger.domain.query import Query
    from pledgeledger.domain.records import (
        Agreement,
        Amendment,
        Amount,
        Bound,
        Delivery,
        Event,
        Lapse,
        LetterOfIntent,
        Pledge,
        Report,
        Source,
        Tranche,
        Withdrawal,
    )
    from pledgeledger.domain.totals import GROUPS, TimelinePoint, Totals
    from pledgeledger.errors import (
        ConcurrencyError,
        DuplicateId,
        ImportFailed,
        InvalidRecord,
        LedgerError,
        NotFound,
        Refused,
        StaleView,
    )
    from pledgeledger.formats.converter import structure_event, unstructure_event
    from pledgeledger.ledger import Ledger, RecordResult, ReplayReport
    from pledgeledger.view import (
        Conflict,
        CorrectionView,
        DeliveryView,
        LedgerView,
        LetterView,
        LoggedEvent,
        NodeView,
        OverdueView,
        ReportView,
        TiedView,
        Ties,
    )

# Names are imported on first use (PEP 562), so that `import pledgeledger.cli` and
# `pledgeledger --help` do not pay for eventsourcing, cattrs and the read models up front.
_LAZY = {
    "Agreement": "pledgeledger.domain.records",
    "Amendment": "pledgeledger.domain.records",
    "Amount": "pledgeledger.domain.records",
    "Bound": "pledgeledger.domain.records",
    "ConcurrencyError": "pledgeledger.errors",
    "Conflict": "pledgeledger.view",
    "CorrectionView": "pledgeledger.view",
    "Delivery": "pledgeledger.domain.records",
    "DeliveryView": "pledgeledger.view",
    "DuplicateId": "pledgeledger.errors",
    "EVERY": "pledgeledger.domain.periods",
    "Event": "pledgeledger.domain.records",
    "GROUPS": "pledgeledger.domain.totals",
    "ImportFailed": "pledgeledger.errors",
    "InvalidRecord": "pledgeledger.errors",
    "Ledger": "pledgeledger.ledger",
    "LedgerError": "pledgeledger.errors",
    "LedgerView": "pledgeledger.view",
    "Lapse": "pledgeledger.domain.records",
    "LetterOfIntent": "pledgeledger.domain.records",
    "LetterView": "pledgeledger.view",
    "LoggedEvent": "pledgeledger.view",
    "NodeView": "pledgeledger.view",
    "NotFound": "pledgeledger.errors",
    "OverdueView": "pledgeledger.view",
    "Pledge": "pledgeledger.domain.records",
    "Query": "pledgeledger.domain.query",
    "RecordResult": "pledgeledger.ledger",
    "Refused": "pledgeledger.errors",
    "ReplayReport": "pledgeledger.ledger",
    "Report": "pledgeledger.domain.records",
    "ReportView": "pledgeledger.view",
    "Source": "pledgeledger.domain.records",
    "StaleView": "pledgeledger.errors",
    "TiedView": "pledgeledger.view",
    "Ties": "pledgeledger.view",
    "TimelinePoint": "pledgeledger.domain.totals",
    "Totals": "pledgeledger.domain.totals",
    "Tranche": "pledgeledger.domain.records",
    "Withdrawal": "pledgeledger.domain.records",
    "structure_event": "pledgeledger.formats.converter",
    "unstructure_event": "pledgeledger.formats.converter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
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
    "Conflict",
    "CorrectionView",
    "Delivery",
    "DeliveryView",
    "DuplicateId",
    "Event",
    "ImportFailed",
    "InvalidRecord",
    "Lapse",
    "Ledger",
    "LedgerError",
    "LedgerView",
    "LetterOfIntent",
    "LetterView",
    "LoggedEvent",
    "NodeView",
    "NotFound",
    "OverdueView",
    "Pledge",
    "Query",
    "RecordResult",
    "Refused",
    "ReplayReport",
    "Report",
    "ReportView",
    "Source",
    "StaleView",
    "TiedView",
    "Ties",
    "TimelinePoint",
    "Totals",
    "Tranche",
    "Withdrawal",
    "structure_event",
    "unstructure_event",
]
