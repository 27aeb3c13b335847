"""pledgeledger: an event-sourced ledger of public commitments.

Pledges, the tranches carved out of them, non-binding letters of intent and deliveries are
appended as immutable events; totals per sector, agreement, pledger or recipient are rebuilt
from them, as of any world date and as known at any recorded time. Start with :class:`Ledger`.
"""

from .convert import structure_event, unstructure_event
from .errors import (
    ConcurrencyError,
    DuplicateId,
    ImportFailed,
    InvalidRecord,
    LedgerError,
    NotFound,
    Refused,
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
from .view import CorrectionView, DeliveryView, LedgerView, LetterView, LoggedEvent, NodeView

__all__ = [
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
    "Totals",
    "Tranche",
    "Withdrawal",
    "structure_event",
    "unstructure_event",
]
