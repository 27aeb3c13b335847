"""A LedgerView is one consistent picture: its events, totals and timelines are all of the log up
to its head, whatever is recorded (or replayed) after it was taken, on every backend."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pledgeledger.plugins.exporter
import pledgeledger.view
from helpers import START, FakeClock, amendment, dec, delivery, loi, pledge, tranche, withdrawal
from pledgeledger import (
    GROUPS,
    Ledger,
    LoggedEvent,
    Query,
    StaleView,
    TimelinePoint,
    Totals,
    structure_event,
)
from pledgeledger.cli import cli
from pledgeledger.domain.query import QueryError
from pledgeledger.view import LedgerView, Snapshot


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


# -- a view reads a snapshot, never the ledger ----------------------------------------------


class FakeSnapshot:
    """A snapshot with no ledger behind it: only what :class:`Snapshot` promises."""

    def __init__(self, head: int, events: list[LoggedEvent]) -> None:
        self.head = head
        self._events = events
        self.asked: list[tuple[str, Query]] = []

    def events(self) -> Iterator[LoggedEvent]:
        return iter(self._events)

    def totals(self, query: Query) -> list[Totals]:
        self.asked.append(("totals", query))
        return [Totals(query.by, "energy", "USD", *dec(100, 40, 10, 5))]

    def timeline(self, query: Query) -> Iterator[TimelinePoint]:
        self.asked.append(("timeline", query))
        pledged, allocated, delivered, intended = dec(1, 0, 0, 0)
        point = TimelinePoint(
            group=query.by,
            key=None,
            unit="USD",
            period_end=date(2025, 12, 31),
            pledged=pledged,
            allocated=allocated,
            delivered=delivered,
            intended=intended,
        )
        return iter([point])


class FakeSource:
    def __init__(self, snapshot: FakeSnapshot) -> None:
        self.taken = 0
        self._snapshot = snapshot

    def snapshot(self) -> FakeSnapshot:
        self.taken += 1
        return self._snapshot


def _logged(position: int, record: dict[str, Any], recorded_at: datetime) -> LoggedEvent:
    return LoggedEvent(position, recorded_at, structure_event(record))


def test_a_view_of_anything_that_gives_a_snapshot() -> None:
    noon = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    events = [
        _logged(1, pledge("p", "100", on="2025-01-10"), noon),
        _logged(2, loi("late", "5", on="2025-03-01"), noon),  # after as_of
        _logged(3, pledge("q", "7", on="2025-01-11"), noon + timedelta(hours=1)),  # after known_at
        _logged(4, pledge("r", "8", on="2025-01-12"), noon),
        _logged(9, pledge("s", "9", on="2025-01-12"), noon),  # after head
    ]
    snapshot = FakeSnapshot(7, events)
    source = FakeSource(snapshot)
    view = LedgerView.of(source, as_of=date(2025, 1, 31), known_at=datetime(2025, 2, 1, 12, 30))
    assert source.taken == 1
    assert view.head == 7
    assert view.known_at == datetime(2025, 2, 1, 12, 30, tzinfo=UTC)  # naive is UTC
    assert [logged.event.id for logged in view.events()] == ["p", "r"]
    narrow: dict[str, Any] = {"as_of": view.as_of, "known_at": view.known_at}

    rows = view.totals("sector", depth=1)
    assert rows == (Totals("sector", "energy", "USD", *dec(100, 40, 10, 5)),)
    assert view.totals("sector", depth=1) is rows  # cached: asked once
    points = view.timeline("agreement", every="year")
    assert [p.period_end for p in points] == [date(2025, 12, 31)]
    assert view.timeline("agreement", every="year") is points
    assert snapshot.asked == [
        ("totals", Query(by="sector", depth=1, **narrow)),
        ("timeline", Query(by="agreement", every="year", **narrow)),
    ]
    with pytest.raises(QueryError, match="depth"):
        view.totals("pledger", depth=1)
    assert len(snapshot.asked) == 2  # refused before the snapshot was asked
    assert view.metadata()["known_at"] == "2025-02-01T12:30:00+00:00"


def test_a_ledgers_snapshot_stays_at_its_head(ledger: Ledger) -> None:
    _first_batches(ledger)
    expected = ledger.totals(Query(by="pledger"))
    snapshot: Snapshot = ledger.snapshot()
    head = snapshot.head
    _later_batches(ledger)
    assert head == 4
    assert snapshot.head == head
    assert [logged.position for logged in snapshot.events()] == [1, 2, 3, 4]
    assert list(snapshot.totals(Query(by="pledger"))) == expected
    assert list(snapshot.totals(Query(by="pledger"))) != ledger.totals(Query(by="pledger"))


def test_the_view_module_knows_nothing_of_the_ledger() -> None:
    source = Path(pledgeledger.view.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):  # TYPE_CHECKING blocks and function bodies included
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert imported, "the walk found the imports"
    assert not {m for m in imported if m == "pledgeledger.ledger" or m == "pledgeledger"}
    # Private members are its own: reached through self or cls only.
    foreign = [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert foreign == []
