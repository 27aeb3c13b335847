"""A LedgerView is one consistent picture: its events, totals and timelines are all of the log up
to its head, whatever is recorded (or replayed) after it was taken, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pledgeledger.plugins.exporter
from helpers import START, FakeClock, amendment, delivery, loi, pledge, tranche, withdrawal
from pledgeledger import GROUPS, Ledger, StaleView
from pledgeledger.cli import cli
from pledgeledger.view import LedgerView


def _picture(ledger: Ledger, **narrow: Any) -> dict[str, Any]:
    """Everything a view can answer, computed by the ledger itself right now."""
    picture: dict[str, Any] = {
        "events": [logged.event.id for logged in ledger.events()],
        "sector-1": tuple(ledger.totals("sector", depth=1, **narrow)),
        "timeline": tuple(ledger.timeline("sector", every="day", **narrow)),
    }
    for group in GROUPS:
        picture[group] = tuple(ledger.totals(group, **narrow))
    return picture


def _seen(view: LedgerView) -> dict[str, Any]:
    picture: dict[str, Any] = {
        "events": [logged.event.id for logged in view.events()],
        "sector-1": view.totals("sector", depth=1),
        "timeline": view.timeline("sector", every="day"),
    }
    for group in GROUPS:
        picture[group] = view.totals(group)
    return picture


def _first_batches(ledger: Ledger) -> None:
    ledger.record(pledge("p", "100"), tranche("t", "p", "40"), loi("l", "5"))
    ledger.record(delivery("d", "t", "10", on="2025-01-02"))


def _later_batches(ledger: Ledger) -> None:
    ledger.record(pledge("q", "7", on="2025-01-03"), amendment("p-up", "p", "150", on="2025-01-03"))
    ledger.record(withdrawal("l-off", "l", on="2025-01-04"), loi("m", "2", on="2025-01-01"))


def test_a_view_leaves_out_what_was_recorded_after_it(ledger: Ledger) -> None:
    # Regression: events() stopped at head, but totals() and timeline() read the read models
    # as they were when first called, so they counted events recorded after the view.
    _first_batches(ledger)
    expected = _picture(ledger)
    view = LedgerView.of(ledger)
    _later_batches(ledger)
    assert _seen(view) == expected
    assert view.metadata()["head"] == ledger.head - 4
    assert _seen(LedgerView.of(ledger)) == _picture(ledger)  # a new view sees it all


def test_as_of_and_known_at_views_are_bounded_too(ledger: Ledger, clock: FakeClock) -> None:
    _first_batches(ledger)
    as_of, known_at = date(2025, 1, 1), datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    expected = _picture(ledger, as_of=as_of, known_at=known_at)
    expected["events"] = ["p", "t", "l"]  # the first batch: recorded at START, dated as_of
    clock.now = START - timedelta(minutes=1)  # later batches "recorded earlier" (a skewed
    # clock in another process): known_at alone would count them, the letter m at least
    view = LedgerView.of(ledger, as_of=as_of, known_at=known_at)
    _later_batches(ledger)
    assert _seen(view) == expected


def test_a_view_answers_across_a_replay_that_changed_nothing(ledger: Ledger) -> None:
    _first_batches(ledger)
    expected = _picture(ledger)
    view = LedgerView.of(ledger)
    ledger.replay()
    assert _seen(view) == expected


def test_a_view_cannot_be_bounded_across_a_replay_and_later_writes(ledger: Ledger) -> None:
    _first_batches(ledger)
    view = LedgerView.of(ledger)
    sector = view.totals()  # answered now, cached: stays the answer
    _later_batches(ledger)
    ledger.replay()
    assert view.totals() == sector
    with pytest.raises(StaleView, match="take a new view"):
        view.totals("pledger")
    assert [e.event.id for e in view.events()] == ["p", "t", "l", "d"]


def test_export_takes_a_new_view_when_a_replay_made_its_view_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "ledger.db")
    with Ledger.open(db) as ledger:
        _first_batches(ledger)
    real_export_to = pledgeledger.plugins.exporter.export_to
    heads: list[int] = []

    def export_to(exporter: Any, view: LedgerView, *args: Any) -> Any:
        heads.append(view.head)
        if len(heads) == 1:  # another process records and replays while the first export runs
            with Ledger.open(db) as other:
                _later_batches(other)
                other.replay()
        return real_export_to(exporter, view, *args)

    monkeypatch.setattr(pledgeledger.plugins.exporter, "export_to", export_to)
    out = tmp_path / "ledger.json"
    result = CliRunner().invoke(cli, ["--db", db, "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert heads == [4, 8]
    assert "log position 8" in result.output
    assert '"q"' in out.read_text(encoding="utf-8")
