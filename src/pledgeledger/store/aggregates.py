"""The eventsourcing aggregates: one consistency boundary each, with optimistic concurrency.

Every stored domain event carries ``entry``: the record as a JSON-shaped dict (decimals and
dates as strings). Keeping the payload in the import format means the log *is* the ledger's
history in its own words, ``log --format jsonl`` re-imports, and upcasting a record is a dict
transformation. Validation happens in ``check`` (called by the command methods ``begin`` and
``record``); event ``apply`` bodies only change state, because they run again on every replay.

The ledger's write path (:mod:`.writer`) runs the same ``check``/``apply_event`` code on plain
state, without eventsourcing's aggregate machinery (``trigger_event``, ``mutate``), which was most
of the cost of an import; it stores these classes' own ``Started``/``Recorded`` events, encoded by
the application's mapper, so they are byte for byte what ``begin``/``record`` and
``Application.save`` store and ``repository.get`` rebuilds these aggregates from the log.
``begin``/``record`` remain the plain eventsourcing way to drive an aggregate, and the tests use
them to check that both paths store the same thing (``tests/test_versioning.py``).

Topics are ``pledgeledger.store.aggregates:<Class>.<Event>``. Ledgers written by 0.1 stored
them as ``pledgeledger.aggregates:<Class>.<Event>`` (the module these classes lived in then):
those topics are registered below with ``eventsourcing.utils.register_topic``, so old logs load
as they are. Moving or renaming a class again means registering its topics the same way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, register_topic

from pledgeledger.domain.records import (
    Agreement,
    Event,
    LetterOfIntent,
    Pledge,
    Withdrawal,
)
from pledgeledger.domain.rules import (
    AgreementState,
    Conversion,
    LetterState,
    PledgeTree,
    Referent,
    check_shape,
)
from pledgeledger.formats.converter import structure_event, unstructure_event

__all__ = [
    "CONVERTED_TOPICS",
    "RECORD_TOPICS",
    "ROOT_AGGREGATES",
    "AgreementAggregate",
    "LedgerAggregate",
    "LetterAggregate",
    "PledgeAggregate",
    "root_id",
]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://pypi.org/project/pledgeledger/")


def root_id(ledger_id: str) -> UUID:
    """The aggregate id of the pledge, LOI or agreement whose record id is ``ledger_id``."""
    return uuid5(_NAMESPACE, "root:" + ledger_id)


class LedgerAggregate(Aggregate):
    """Base of the aggregates that hold records; ``records`` maps every id they own."""

    class Started(Aggregate.Created):
        entry: dict[str, Any]

        class_version = 1
        """Stated rather than left to the mapper's ``getattr(cls, "class_version", 1)``
        default: a class attribute that is missing makes each such call build and drop an
        ``AttributeError``, a measurable part of encoding or decoding an event. Raise it (with
        an ``upcast_v1_v2``) when the stored state changes form."""

    class Recorded(Aggregate.Event):
        entry: dict[str, Any]

        class_version = 1
        """As ``Started.class_version``."""

        def apply(self, aggregate: Any) -> None:
            aggregate.apply_event(structure_event(self.entry))

    def __init__(self, entry: dict[str, Any]) -> None:
        self.start(structure_event(entry))

    def start(self, event: Event) -> None:
        raise NotImplementedError

    def apply_event(self, event: Event) -> None:
        raise NotImplementedError

    def check(self, event: Event) -> None:
        raise NotImplementedError

    def lookup(self, ledger_id: str) -> Event | None:
        raise NotImplementedError

    def referent(self, ledger_id: str) -> Referent | None:
        """What ``ledger_id`` is, to a record that names it (``toward``)."""
        raise NotImplementedError

    def record(self, event: Event, at: datetime) -> None:
        """Check ``event`` against this boundary's invariants, then append it."""
        self.check(event)
        self.trigger_event(self.Recorded, entry=unstructure_event(event), timestamp=at)

    @classmethod
    def begin(cls, event: Event, at: datetime) -> Any:
        check_shape(event)
        return cls._create(
            cls.Started, id=root_id(event.id), entry=unstructure_event(event), timestamp=at
        )


class PledgeAggregate(LedgerAggregate):
    """A pledge and its tree of tranches and deliveries: invariants 1-5 hold inside it."""

    def start(self, event: Event) -> None:
        assert isinstance(event, Pledge)
        self.tree: PledgeTree = PledgeTree.start(event)

    def apply_event(self, event: Event) -> None:
        self.tree.apply(event)

    def check(self, event: Event) -> None:
        self.tree.check(event)

    def lookup(self, ledger_id: str) -> Event | None:
        return self.tree.records.get(ledger_id)

    def referent(self, ledger_id: str) -> Referent | None:
        return self.tree.referent(ledger_id)


class LetterAggregate(LedgerAggregate):
    """A letter of intent, its corrections and reports, and its conversion, if any.

    A conversion is not a record of its own: the pledge or tranche that ``converts`` the
    letter is, in another aggregate. ``Converted`` is the letter's side of it, appended in the
    same batch, so that the letter's own rules know it no longer counts (and refuse to correct
    it) when it is loaded alone. ``log`` and the read models never see it: it has no ``entry``.
    """

    class Converted(Aggregate.Event):
        by: str
        on: str
        """The converting record's world date, ISO 8601 (the JSON shape of the log)."""

        class_version = 1

        def apply(self, aggregate: Any) -> None:
            aggregate.convert(Conversion(self.by, date.fromisoformat(self.on)))

    def start(self, event: Event) -> None:
        assert isinstance(event, LetterOfIntent)
        self.letter: LetterState = LetterState.start(event)
        self.records: dict[str, Event] = {event.id: event}

    def apply_event(self, event: Event) -> None:
        self.letter.apply(event)
        self.records[event.id] = event

    def check(self, event: Event) -> None:
        self.letter.check(event)

    def lookup(self, ledger_id: str) -> Event | None:
        return self.records.get(ledger_id)

    def referent(self, ledger_id: str) -> Referent | None:
        found = self.letter.referent(ledger_id)
        if found is None and ledger_id in self.records:
            event = self.records[ledger_id]
            return Referent(event.id, event.type, "", event.world_date, "active")
        return found

    def convert(self, conversion: Conversion) -> None:
        """Apply a conversion (state only; see :meth:`record_conversion`)."""
        self.letter.convert(conversion)

    def record_conversion(self, by: str, on: date, at: datetime) -> None:
        """The letter became ``by`` (dated ``on``): append its ``Converted`` event. The
        caller has checked the conversion (:func:`~pledgeledger.domain.rules.check_converts`)
        with the record that converts it."""
        self.trigger_event(self.Converted, by=by, on=on.isoformat(), timestamp=at)


class AgreementAggregate(LedgerAggregate):
    """An agreement and its withdrawal, if any."""

    def start(self, event: Event) -> None:
        assert isinstance(event, Agreement)
        self.agreement: AgreementState = AgreementState(record=event)
        self.records: dict[str, Event] = {event.id: event}

    def apply_event(self, event: Event) -> None:
        assert isinstance(event, Withdrawal)
        self.agreement.apply(event)
        self.records[event.id] = event

    def check(self, event: Event) -> None:
        self.agreement.check(event)

    def lookup(self, ledger_id: str) -> Event | None:
        return self.records.get(ledger_id)

    def referent(self, ledger_id: str) -> Referent | None:
        event = self.records.get(ledger_id)
        if event is None:
            return None
        return Referent(event.id, event.type, "", event.world_date, "active")


ROOT_AGGREGATES: dict[str, type[LedgerAggregate]] = {
    "pledge": PledgeAggregate,
    "loi": LetterAggregate,
    "agreement": AgreementAggregate,
}
"""Which aggregate a root record starts."""

LEGACY_MODULE = "pledgeledger.aggregates"
"""Where these classes lived in 0.1, as the topics of the events it stored name them."""

for _aggregate in ROOT_AGGREGATES.values():
    register_topic(f"{LEGACY_MODULE}:{_aggregate.__qualname__}", _aggregate)

RECORD_TOPICS: dict[str, type[LedgerAggregate]] = {
    topic: aggregate
    for aggregate in ROOT_AGGREGATES.values()
    for event in (aggregate.Started, aggregate.Recorded)
    for topic in (get_topic(event), f"{LEGACY_MODULE}:{event.__qualname__}")
}
"""Every topic a stored event carrying a record may have (today's and 0.1's), with the
aggregate class it belongs to; other stored events (a letter's ``Converted``) are passed over
by everything that reads records."""

CONVERTED_TOPICS = frozenset({get_topic(LetterAggregate.Converted)})
"""The topic of a letter's ``Converted`` event: no record, but part of the letter's state."""
