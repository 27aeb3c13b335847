"""A ledger written by pledgeledger 0.1.0 opens, answers as it did, replays and verifies.

``tests/data/ledger-0.1.0.db`` was written by the code of 0.1.0 (the sample ledger of
:mod:`pledgeledger.testing` and the US-Japan example), and ``ledger-0.1.0.expected.json`` holds
what that code answered on it. Its stored events name the aggregates' topics of 0.1.0
(``pledgeledger.aggregates:...``): a layout that moves classes must still resolve them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pledgeledger import GROUPS, Ledger, unstructure_event

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def old_ledger(tmp_path: Path) -> Path:
    """A copy of the 0.1.0 ledger: opening it may refold its read models, never the original."""
    copy = tmp_path / "old.db"
    shutil.copyfile(DATA / "ledger-0.1.0.db", copy)
    return copy


@pytest.fixture
def expected() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (DATA / "ledger-0.1.0.expected.json").read_text(encoding="utf-8")
    )
    return loaded


def test_the_stored_topics_are_those_of_0_1_0(old_ledger: Path) -> None:
    import sqlite3

    with sqlite3.connect(old_ledger) as conn:
        topics = {row[0] for row in conn.execute("SELECT DISTINCT topic FROM stored_events")}
    assert topics, "the fixture holds events"
    assert all(topic.startswith("pledgeledger.aggregates:") for topic in topics)


def test_an_old_ledger_answers_as_it_did(old_ledger: Path, expected: dict[str, Any]) -> None:
    with Ledger.open(old_ledger) as ledger:
        assert ledger.head == expected["head"]
        for group in GROUPS:
            assert [r.as_dict() for r in ledger.totals(group)] == expected["totals"][group]
        logged = [
            {
                "position": e.position,
                "recorded_at": e.recorded_at.isoformat(),
                "event": unstructure_event(e.event),
            }
            for e in ledger.events()
        ]
        assert logged == expected["events"]


def test_an_old_ledger_replays_and_verifies(old_ledger: Path, expected: dict[str, Any]) -> None:
    with Ledger.open(old_ledger) as ledger:
        report = ledger.replay(verify=True)
        assert report.problems == ()
        assert report.events == expected["head"]
        for group in GROUPS:
            assert [r.as_dict() for r in ledger.totals(group)] == expected["totals"][group]


def test_an_old_ledger_takes_new_records(old_ledger: Path) -> None:
    with Ledger.open(old_ledger) as ledger:
        tree = ledger.tree("jp-us-550b")
        ledger.record(
            {
                "type": "tranche",
                "id": "legacy-new-tranche",
                "parent": "jp-us-550b",
                "amount": "1000000000",
                "unit": "USD",
                "sector": "cross-sector/test",
                "announced_on": "2026-06-01",
                "sources": [{"outlet": "Test"}],
            }
        )
        after = ledger.tree("jp-us-550b")
        assert after.allocated == tree.allocated + 1_000_000_000
        assert ledger.replay(verify=True).problems == ()
