"""Errors the ledger raises on purpose. Each one's ``str()`` is the one line the CLI prints.

All derive from :class:`LedgerError`, so a program can catch every refusal in one place and the
CLI can map them to exit code 1 without a traceback.

:data:`RULES` is the one table of the rules a refusal can name: ``pledgeledger rules`` prints
it, ``docs/semantics.md`` lists it (a test keeps the two equal), and every :class:`Refused`
message names its rule in words with a link to that list. It lives here, at the bottom of the
layers, because the message is built here and every layer that refuses needs the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "RULES",
    "RULES_ANCHOR",
    "ConcurrencyError",
    "DuplicateId",
    "ImportFailed",
    "InvalidRecord",
    "LedgerError",
    "NotFound",
    "Refused",
    "Rule",
    "StaleView",
    "rule",
]


@dataclass(frozen=True)
class Rule:
    """One rule the ledger enforces when an event is recorded (or ``replay --verify`` checks)."""

    key: str
    """A stable name for programs (``Refused.rule.key``, ``pledgeledger rules --format json``)."""
    invariant: int | None
    """Its number among the seven invariants of the design, or ``None`` for the rules that
    complete them (a rule may share a number: invariant 5 covers references and dates)."""
    breach: str
    """What a refused event did, in a few words: the text a refusal names."""
    statement: str
    """The rule itself, in full."""


RULES_ANCHOR = "docs/semantics.md#invariants"
"""Where the rules are listed for people; every refusal message links to it."""

RULES: tuple[Rule, ...] = (
    Rule(
        "amount",
        1,
        "amount not positive and finite",
        "Every amount is a positive, finite decimal (or null: an undisclosed figure).",
    ),
    Rule(
        "range",
        1,
        "range does not hold its figure",
        "A stated low and high are finite, not negative, and hold their figure: low <= amount "
        "<= high.",
    ),
    Rule(
        "unit",
        1,
        "unit differs from its parent's",
        "A tranche's or delivery's unit equals its parent's, and a report's the unit of the "
        "record it is about; units are never converted or added together.",
    ),
    Rule(
        "tranches",
        2,
        "tranches exceed their parent",
        "The active tranches directly under a pledge or tranche sum to no more than its amount "
        "(unless its bound is at_least, a floor, or its amount undisclosed).",
    ),
    Rule(
        "deliveries",
        3,
        "deliveries exceed what they are made against",
        "Deliveries against a pledge or tranche and everything under it sum to no more than its "
        "amount, at every level up to the pledge (floors and undisclosed figures excepted).",
    ),
    Rule(
        "amendments",
        4,
        "amendment cuts below what is under it",
        "An amendment cannot cut a figure below what is already allocated in tranches or "
        "delivered under it, and re-checks its parent's room.",
    ),
    Rule(
        "references",
        5,
        "reference does not resolve",
        "Parents, agreements, correction targets, the records reports are about, records tied "
        "toward and letters converted exist, are of a kind that can hold the event (a "
        "tranche's parent is a pledge or tranche, a target or a report's subject is a figure, "
        "not a correction), and are not withdrawn or lapsed.",
    ),
    Rule(
        "dates",
        5,
        "dated before what it refers to",
        "An event may share the date of what it refers to (its parent, agreement, target, the "
        "record it is tied toward or the letter it converts) but not precede it; a report may "
        "be dated anywhere.",
    ),
    Rule(
        "date-order",
        5,
        "correction out of date order",
        "Inside one pledge's tree or one LOI, corrections are barriers in world time: a "
        "correction (or a conversion of the LOI) is not dated before anything already recorded "
        "there, and nothing is dated before a correction already recorded there.",
    ),
    Rule(
        "counted-once",
        6,
        "a figure counted twice",
        "Nothing is counted twice: every total equals the sum of its parts at every level "
        "(checked by replay --verify).",
    ),
    Rule(
        "replay",
        7,
        "replay differs from what was built",
        "Replaying the log from scratch gives exactly the state that was built incrementally "
        "(checked by replay --verify).",
    ),
    Rule(
        "withdraw-delivered",
        None,
        "withdrawal of a figure with deliveries",
        "A pledge or tranche with deliveries under it cannot be withdrawn or lapse: amend it "
        "down to what was delivered instead.",
    ),
    Rule(
        "correction-kind",
        None,
        "correction its target does not take",
        "An agreement is withdrawn, never amended or lapsed; a delivery does not lapse; a "
        "pledge's tree holds only tranches, deliveries, reports and their corrections.",
    ),
    Rule(
        "identity",
        None,
        "id already recorded with other content",
        "An id names one event in the whole ledger: a line with a known id and the same "
        "content is skipped, with other content refused (a correction is a new event).",
    ),
    Rule(
        "toward",
        None,
        "tied toward what cannot take it",
        "A pledge or LOI tied toward another record (toward) names a pledge, tranche or LOI "
        "of the same unit, other than itself.",
    ),
    Rule(
        "adopts",
        None,
        "amendment differs from the report it adopts",
        "An amendment that adopts a report (adopts) corrects the record the report is about, "
        "with the report's amount, and its bound, low and high where the amendment gives them.",
    ),
    Rule(
        "converted",
        None,
        "letter of intent already converted",
        "A letter of intent converted into a pledge or tranche (converts) is corrected through "
        "that record: it is not amended, withdrawn, lapsed or converted again.",
    ),
    Rule(
        "deadline",
        None,
        "due before its own date",
        "A record's deadline (due_by) is not before its own world date.",
    ),
)

_BY_KEY = {r.key: r for r in RULES}
_BY_INVARIANT: dict[int, Rule] = {}
for _rule in RULES:
    if _rule.invariant is not None:
        _BY_INVARIANT.setdefault(_rule.invariant, _rule)


def rule(key: str) -> Rule:
    """The rule named ``key`` (a :class:`KeyError` for a name not in :data:`RULES`)."""
    return _BY_KEY[key]


class LedgerError(Exception):
    """Base class: a command the ledger will not carry out. Nothing was written."""


class InvalidRecord(LedgerError):
    """A record that does not have the shape of an event: wrong type, missing or bad fields."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


class Refused(LedgerError):
    """A well-formed event that would break one of the :data:`RULES`.

    The message names the rule in words and links to the list of rules::

        t9: refused (invariant 2: tranches exceed their parent, docs/semantics.md#invariants): ...

    ``rule`` is the key of a rule in :data:`RULES`; without it, the first rule numbered
    ``invariant`` is named. ``invariant`` is then the rule's number, so that a program can
    still test ``exc.invariant == 2``.
    """

    def __init__(
        self,
        event_id: str,
        message: str,
        invariant: int | None = None,
        *,
        rule: str | None = None,
    ) -> None:
        found = _BY_KEY[rule] if rule is not None else _BY_INVARIANT.get(invariant or 0)
        self.event_id = event_id
        self.rule: Rule | None = found
        self.invariant = found.invariant if found is not None else invariant
        self.reason = message
        super().__init__(f"{event_id}: refused{_label(found, invariant)}: {message}")


def _label(found: Rule | None, invariant: int | None) -> str:
    if found is None:
        return f" (invariant {invariant})" if invariant else ""
    number = f"invariant {found.invariant}: " if found.invariant is not None else ""
    return f" ({number}{found.breach}, {RULES_ANCHOR})"


class DuplicateId(Refused):
    """A known id arriving with different content: a correction must be a new event."""

    def __init__(self, event_id: str, fields: Sequence[str]) -> None:
        self.fields = list(fields)
        super().__init__(
            event_id,
            "already recorded with different "
            + ", ".join(self.fields)
            + "; record a correction (amendment or withdrawal) under a new id instead",
            rule="identity",
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
