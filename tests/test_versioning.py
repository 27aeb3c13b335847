"""Versioned event classes: every path reads an old event upcast exactly once, and every path
writes what eventsourcing's own mapper writes.

The upgrade below is what a real one would be: ``PledgeAggregate.Recorded`` gets
``class_version = 2`` and an ``upcast_v1_v2`` that turns the amounts of version 1 (say, in
thousands) into those of version 2 (units) by multiplying them by ten. Multiplying is not
idempotent, so an event upcast twice shows (a hundredfold amount), and one not upcast shows
too; the upcast also counts its calls. The events are recorded before the upgrade, so they
are stored in the version-1 form (no ``class_version`` in their state), as in an old ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from helpers import delivery, loi, pledge, tranche
from pledgeledger import Ledger, Refused, structure_event
from pledgeledger.domain.rules import Conversion
from pledgeledger.store.aggregates import LetterAggregate, PledgeAggregate, root_id
from pledgeledger.store.application import LedgerApplication, persistence_env

Upgrade = Callable[[], list[str]]
"""Applies the upgrade; returns the list the upcast appends the id of every event it sees to."""


@pytest.fixture
def upgrade(monkeypatch: pytest.MonkeyPatch) -> Upgrade:
    """Version 2 of ``PledgeAggregate.Recorded``, for this test only (monkeypatch restores
    the class afterwards)."""

    def apply() -> list[str]:
        calls: list[str] = []

        def upcast_v1_v2(state: dict[str, Any]) -> None:
            calls.append(state["entry"]["id"])
            entry = state["entry"]
            if "amount" in entry:
                entry["amount"] = str(Decimal(entry["amount"]) * 10)

        monkeypatch.setattr(PledgeAggregate.Recorded, "class_version", 2, raising=False)
        monkeypatch.setattr(
            PledgeAggregate.Recorded, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False
        )
        return calls

    return apply


def allocated_delivered(ledger: Ledger) -> tuple[Decimal, Decimal]:
    rows = [r for r in ledger.totals(by="pledger") if r.unit == "USD"]
    return sum((r.allocated for r in rows), Decimal(0)), sum(
        (r.delivered for r in rows), Decimal(0)
    )


@pytest.fixture
def app(ledger: Ledger, ledger_target: str) -> Iterator[LedgerApplication]:
    """The ledger's event store opened a second time, as another process would open it."""
    opened = LedgerApplication(env=persistence_env(ledger_target))
    try:
        yield opened
    finally:
        opened.close()


def stored_events(app: LedgerApplication, record_id: str) -> list[StoredEvent]:
    """The stored events of ``record_id``'s aggregate, as eventsourcing's recorder reads them."""
    return list(app.recorder.select_events(root_id(record_id)))


def test_an_old_event_is_upcast_once_on_every_read_path(
    ledger: Ledger, app: LedgerApplication, upgrade: Upgrade
) -> None:
    ledger.record(pledge("p", "1000"), tranche("t", "p", "4"), delivery("d", "t", "2"))
    assert all(b'"class_version"' not in s.state for s in stored_events(app, "p"))
    calls = upgrade()

    # Ledger.events()
    amounts = {e.event.id: getattr(e.event, "amount", None) for e in ledger.events()}
    assert amounts == {"p": Decimal(1000), "t": Decimal(40), "d": Decimal(20)}
    assert sorted(calls) == ["d", "t"]

    # eventsourcing's repository
    calls.clear()
    aggregate: PledgeAggregate = app.repository.get(root_id("p"))
    assert isinstance(aggregate, PledgeAggregate)
    assert aggregate.tree.nodes["t"].amount == Decimal(40)
    assert aggregate.lookup("d") == structure_event(delivery("d", "t", "20"))
    assert sorted(calls) == ["d", "t"]

    # the runner's fold, in a replay
    calls.clear()
    assert ledger.replay().events == 3
    assert sorted(calls) == ["d", "t"]
    assert allocated_delivered(ledger) == (Decimal(40), Decimal(20))

    # the write path's rebuild of p's aggregate (Batch.load): the room left under p is
    # 1000 - 40, neither 1000 - 4 (not upcast) nor 1000 - 400 (upcast twice)
    calls.clear()
    assert ledger.record(tranche("u", "p", "960")).recorded == ("u",)
    assert sorted(calls) == ["d", "t"]
    with pytest.raises(Refused) as refused:
        ledger.record(tranche("v", "p", "1"))
    assert refused.value.invariant == 2

    # replay --verify: the re-check of every event and the comparison with the repository
    report = ledger.replay(verify=True)
    assert report.problems == ()
    assert allocated_delivered(ledger) == (Decimal(1000), Decimal(20))


def test_the_write_path_stores_what_eventsourcings_mapper_stores(
    ledger: Ledger, app: LedgerApplication, upgrade: Upgrade
) -> None:
    ledger.record(pledge("p", "1000"))
    calls = upgrade()
    ledger.record(tranche("t", "p", "40"), pledge("q", "5"))
    assert calls == []  # nothing stored in the old form was read

    t_stored = stored_events(app, "p")[1]
    assert json.loads(t_stored.state)["class_version"] == 2
    q_stored = stored_events(app, "q")[0]
    assert "class_version" not in json.loads(q_stored.state)  # Started has no version

    # The same events made by the aggregates' own commands, encoded by the mapper.
    mapper = app.mapper
    at = mapper.to_domain_event(t_stored).timestamp  # type: ignore[attr-defined]  # ours
    before: PledgeAggregate = app.repository.get(root_id("p"), version=1)
    before.record(structure_event(tranche("t", "p", "40")), at)
    q = PledgeAggregate.begin(structure_event(pledge("q", "5")), at)
    expected = [mapper.to_stored_event(e) for e in (*before.collect_events(), *q.collect_events())]
    assert [t_stored, q_stored] == expected
    assert calls == []  # a version-2 event is not upcast


def test_a_conversion_is_stored_as_the_letters_own_command_stores_it(
    ledger: Ledger, app: LedgerApplication
) -> None:
    ledger.record(loi("l", "10", on="2025-01-01"))
    ledger.record(pledge("p", "10", on="2025-02-01") | {"converts": "l"})
    letter_events = stored_events(app, "l")
    assert [e.originator_version for e in letter_events] == [1, 2]
    converted = letter_events[1]
    mapper = app.mapper
    at = mapper.to_domain_event(converted).timestamp  # type: ignore[attr-defined]  # ours
    before: LetterAggregate = app.repository.get(root_id("l"), version=1)
    before.record_conversion("p", date(2025, 2, 1), at)
    (expected,) = [mapper.to_stored_event(e) for e in before.collect_events()]
    assert converted == expected
    rebuilt: LetterAggregate = app.repository.get(root_id("l"))
    assert (rebuilt.letter.status, rebuilt.letter.conversion) == (
        "converted",
        Conversion("p", date(2025, 2, 1)),
    )
    assert [e.event.id for e in ledger.events()] == ["l", "p"]  # no record of its own


def test_a_stock_eventsourcing_application_reads_the_log(
    ledger_target: str, upgrade: Upgrade
) -> None:
    with Ledger.open(ledger_target) as ledger:
        ledger.record(pledge("p", "1000"), tranche("t", "p", "4"))
    calls = upgrade()
    with Ledger.open(ledger_target) as ledger:
        ledger.record(tranche("u", "p", "60"))
    assert calls == ["t"]  # p's aggregate rebuilt once by the write path
    calls.clear()

    class Stock(Application[UUID]):
        """eventsourcing as it comes: stock recorder, JSONTranscoder."""

        name = "pledgeledger"  # so that, on PostgreSQL, it finds the same table

    env = persistence_env(ledger_target)
    del env["APPLICATION_RECORDER_TOPIC"]
    stock = Stock(env=env)
    try:
        aggregate: PledgeAggregate = stock.repository.get(root_id("p"))
        assert type(stock.mapper.transcoder).__name__ == "JSONTranscoder"
    finally:
        stock.close()
    assert isinstance(aggregate, PledgeAggregate)
    assert aggregate.version == 3
    assert aggregate.tree.nodes["t"].amount == Decimal(40)  # version 1, upcast
    assert aggregate.tree.nodes["u"].amount == Decimal(60)  # version 2, as written
    assert calls == ["t"]
