"""The timeline: cumulative figures per period, whose last point equals the current totals."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from helpers import FakeClock, amendment, loi, pledge, tranche, withdrawal
from pledgeledger import EVERY, GROUPS, Ledger, LedgerError, Query, TimelinePoint, Totals
from pledgeledger.cli import cli
from pledgeledger.domain.periods import period_end
from pledgeledger.domain.totals import SUMS
from pledgeledger.projections.timeline import timeline_points
from pledgeledger.synthetic import generate
from test_readmodels import BACKENDS, PROPERTY, fresh_target


def last_points(points: list[TimelinePoint]) -> dict[tuple[str | None, str], TimelinePoint]:
    last: dict[tuple[str | None, str], TimelinePoint] = {}
    for point in points:
        last[(point.key, point.unit)] = point
    return last


def as_totals(points: dict[tuple[str | None, str], TimelinePoint]) -> list[Totals]:
    """The points as rows of totals, every figure kept (ranges, counts and tied parts too),
    leaving out those whose every figure is zero (an unbounded high is not zero)."""
    names = [f.name for f in attrs.fields(Totals)]
    rows = [
        Totals(**{name: getattr(p, name) for name in names})
        for p in points.values()
        if any(v is None or v != 0 for v in (getattr(p, name) for name in names[3:]))
    ]
    rows.sort(key=lambda r: (r.key is None, r.key or "", r.unit))
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(data=st.data())
def test_the_last_point_equals_the_current_totals(backend: str, data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 80))
    events = list(generate(size, data.draw(st.integers(0, 2**32 - 1)), backdate=True))
    clock = FakeClock(step=timedelta(hours=1))
    with fresh_target(backend) as target, Ledger.open(target, clock=clock) as ledger:
        half = data.draw(st.integers(0, size))
        for part in (events[:half], events[half:]):
            if part:
                ledger.record(*part)
        times = [e.recorded_at for e in ledger.events()]
        for _ in range(3):
            by = data.draw(st.sampled_from(GROUPS))
            every = data.draw(st.sampled_from(EVERY))
            depth = data.draw(st.none() | st.integers(1, 2)) if by == "sector" else None
            known_at = data.draw(st.none() | st.sampled_from(times))
            as_of = data.draw(st.none() | st.dates(date(2018, 12, 1), date(2019, 3, 1)))
            points = ledger.timeline(by, every=every, depth=depth, known_at=known_at, as_of=as_of)
            totals = ledger.totals(by, depth=depth, known_at=known_at, as_of=as_of)
            assert as_totals(last_points(points)) == totals
            # Every point is dated a period's end (the last one clipped to --as-of), in order,
            # and every period between the first and the last has a point of every series.
            dates = sorted({p.period_end for p in points})
            for day in dates[:-1]:
                assert period_end(day, every) == day
            if dates:
                final = period_end(dates[-1], every)
                assert dates[-1] == (final if as_of is None else min(final, as_of))
                expected = []
                day = dates[0]
                while day < dates[-1]:
                    expected.append(day)
                    day = period_end(day + timedelta(days=1), every)
                assert dates[:-1] == expected


def test_periods_end_where_calendars_say() -> None:
    d = date(2025, 2, 12)  # a Wednesday
    assert period_end(d, "day") == d
    assert period_end(d, "week") == date(2025, 2, 16)  # Sunday
    assert period_end(d, "month") == date(2025, 2, 28)
    assert period_end(date(2024, 2, 1), "month") == date(2024, 2, 29)
    assert period_end(d, "quarter") == date(2025, 3, 31)
    assert period_end(date(2025, 11, 30), "quarter") == date(2025, 12, 31)
    assert period_end(d, "year") == date(2025, 12, 31)


def test_growth_with_a_drop_and_a_gap(ledger: Ledger) -> None:
    ledger.record(
        pledge("p", "100", on="2025-01-10"),
        tranche("t", "p", "40", sector="energy", on="2025-03-05"),
        amendment("p-up", "p", "150", on="2025-03-20"),
        loi("l", "7", on="2025-01-15"),
        withdrawal("l-off", "l", on="2025-04-01"),
    )
    points = ledger.timeline("sector", every="month")
    table: dict[date, dict[tuple[str | None, str], tuple[Any, ...]]] = defaultdict(dict)
    for p in points:
        table[p.period_end][(p.key, p.unit)] = (p.pledged, p.allocated, p.intended)
    assert list(table) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    assert table[date(2025, 1, 31)] == {
        ("cross-sector", "USD"): (100, 0, 0),
        ("energy/gas", "USD"): (0, 0, 7),
    }
    # February has no event: the same figures again, so a chart draws a flat line.
    assert table[date(2025, 2, 28)] == table[date(2025, 1, 31)]
    assert table[date(2025, 3, 31)] == {
        ("cross-sector", "USD"): (110, 0, 0),
        ("energy", "USD"): (40, 40, 0),
        ("energy/gas", "USD"): (0, 0, 7),
    }
    # The withdrawn LOI's line drops to zero and stays, rather than vanishing.
    assert table[date(2025, 4, 30)][("energy/gas", "USD")] == (0, 0, 0)
    later = ledger.timeline("sector", every="month", start=date(2025, 3, 1))
    assert sorted({p.period_end for p in later}) == [date(2025, 3, 31), date(2025, 4, 30)]
    clipped = ledger.timeline("sector", every="quarter", as_of=date(2025, 3, 10))
    assert {p.period_end for p in clipped} == {date(2025, 3, 10)}
    assert ledger.timeline("sector", known_at=datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_timeline_arguments_are_checked(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="depth"):
        ledger.timeline("pledger", depth=1)
    with pytest.raises(LedgerError, match="after"):
        ledger.timeline(start=date(2025, 2, 1), as_of=date(2025, 1, 1))


def test_points_are_frozen_and_json_shaped(ledger: Ledger) -> None:
    ledger.record(pledge("p", "100.50", on="2025-01-10"))
    (point,) = ledger.timeline("agreement", every="year")
    assert point.as_dict() == {
        "period_end": "2025-12-31",
        "agreement": None,
        "unit": "USD",
        "pledged": "100.50",
        "allocated": "0",
        "delivered": "0",
        "intended": "0",
        "unallocated": "100.50",
        "pledged_low": "100.50",
        "pledged_high": "100.50",
        "allocated_low": "0",
        "allocated_high": "0",
        "delivered_low": "0",
        "delivered_high": "0",
        "intended_low": "0",
        "intended_high": "0",
        "undisclosed": 0,
        "pledged_toward": "0",
        "intended_toward": "0",
    }
    with pytest.raises(AttributeError):
        point.pledged = Decimal(1)  # type: ignore[misc]  # frozen: the point of the test


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "t.db")
    with Ledger.open(path) as ledger:
        ledger.record(
            pledge("p", "100", on="2025-01-10"),
            tranche("t", "p", "40", sector="energy/solar", on="2025-05-05"),
        )
    return path


def run(db: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--db", db, "timeline", *args])
    return result


def test_cli_json_csv_and_table(db: str) -> None:
    result = run(db, "--every", "quarter", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["period_end"], r["sector"], r["pledged"]) for r in rows] == [
        ("2025-03-31", "cross-sector", "100"),
        ("2025-06-30", "cross-sector", "60"),
        ("2025-06-30", "energy/solar", "40"),
    ]
    result = run(db, "--every", "year", "--depth", "1", "--format", "csv")
    assert result.exit_code == 0, result.output
    ranges = [
        f"{f}_{end}"
        for f in ("pledged", "allocated", "delivered", "intended")
        for end in ("low", "high")
    ]
    nothing_else = ["0", "0", "0", "0", "0", "0", "0"]  # delivered and intended, undisclosed, tied
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        [
            "period_end",
            "sector",
            "unit",
            "pledged",
            "allocated",
            "delivered",
            "intended",
            "unallocated",
            *ranges,
            "undisclosed",
            "pledged_toward",
            "intended_toward",
        ],
        [
            "2025-12-31",
            "cross-sector",
            "USD",
            "60",
            "0",
            "0",
            "0",
            "60",
            "60",
            "60",
            "0",
            "0",
            *nothing_else,
        ],
        [
            "2025-12-31",
            "energy",
            "USD",
            "40",
            "40",
            "0",
            "0",
            "0",
            "40",
            "40",
            "40",
            "40",
            *nothing_else,
        ],
    ]
    result = run(db, "--by", "pledger", "--every", "month", "--from", "2025-04-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "PERIOD",
        "END",
        "PLEDGER",
        "UNIT",
        "PLEDGED",
        "ALLOCATED",
        "UNALLOCATED",
        "DELIVERED",
        "INTENDED",
    ]
    assert [line.split()[0] for line in lines[2:]] == ["2025-04-30", "2025-05-31"]
    assert "100" in lines[-1]
    assert json.loads(run(db, "--known-at", "2000-01-01", "--format", "json").stdout) == []


def test_cli_usage_errors_exit_2(db: str) -> None:
    assert run(db, "--by", "pledger", "--depth", "1").exit_code == 2
    assert run(db, "--every", "fortnight").exit_code == 2
    assert run(db, "--from", "2025-02-01", "--as-of", "2025-01-01").exit_code == 2
    help_text = run(db, "--help").stdout
    for word in ("cumulative", "--every", "--known-at", "--from", "Examples"):
        assert word in help_text


def test_periods_are_walked_one_by_one_and_quiet_ones_repeat() -> None:
    def change(key: str, day: str, pledged: int) -> tuple[str, str, date, list[Decimal]]:
        rest = [Decimal(0)] * (len(SUMS) - 1)  # ranges, counts, tied parts: none here
        return (key, "USD", date.fromisoformat(day), [Decimal(pledged), *rest])

    changes = [
        change("a", "2025-01-05", 1),
        change("b", "2025-01-06", 1),
        change("b", "2025-01-20", -1),  # gone by the end of its period: never shown
        change("c", "2025-03-02", 2),
    ]
    query = Query(every="month", start=date(2025, 2, 1), as_of=date(2025, 5, 10))
    points = [(str(p.period_end), p.key, str(p.pledged)) for p in timeline_points(changes, query)]
    assert points == [
        ("2025-02-28", "a", "1"),  # quiet: January's figures again (January itself left out)
        ("2025-03-31", "a", "1"),
        ("2025-03-31", "c", "2"),
        ("2025-04-30", "a", "1"),
        ("2025-04-30", "c", "2"),
        ("2025-05-10", "a", "1"),  # carried on to the as-of date, which dates the last point
        ("2025-05-10", "c", "2"),
    ]
