"""The one query object: checked once when made, passed from the command line through the ledger
and its views to the read models, and asked the same way whichever door it comes in by."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from helpers import loi, pledge, tranche
from pledgeledger import GROUPS, Ledger, LedgerError, Query
from pledgeledger.cli import cli
from pledgeledger.domain.periods import period_end, periods_after
from pledgeledger.domain.query import QueryError

SRC = Path(__file__).resolve().parent.parent / "src" / "pledgeledger"


# -- checked once, when made ---------------------------------------------------------------


def test_defaults_narrow_nothing() -> None:
    query = Query()
    assert (query.by, query.depth, query.as_of, query.known_at) == ("sector", None, None, None)
    assert (query.every, query.start) == ("month", None)


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Query("agreement")  # type: ignore[call-arg]  # the point of the test


@pytest.mark.parametrize(
    ("settings", "field", "message", "usage"),
    [
        (
            {"by": "colour"},
            "by",
            "cannot group by 'colour': choose one of sector, agreement, pledger, recipient",
            None,
        ),
        (
            {"by": "pledger", "depth": 1},
            "depth",
            "depth applies to --by sector and must be 1 or more",
            "--depth applies only to --by sector",
        ),
        (
            {"depth": 0},
            "depth",
            "depth applies to --by sector and must be 1 or more",
            "--depth must be 1 or more",
        ),
        (
            {"every": "fortnight"},
            "every",
            "cannot cut a timeline into 'fortnight' periods: choose one of day, week, month, "
            "quarter, year",
            None,
        ),
        (
            {"start": date(2025, 2, 1), "as_of": date(2025, 1, 1)},
            "start",
            "the timeline starts (2025-02-01) after its as-of date (2025-01-01)",
            "--from 2025-02-01 is after --as-of 2025-01-01",
        ),
    ],
)
def test_a_query_that_cannot_be_answered_is_refused_when_made(
    settings: dict[str, Any], field: str, message: str, usage: str | None
) -> None:
    with pytest.raises(QueryError) as caught:
        Query(**settings)
    assert isinstance(caught.value, LedgerError)
    assert str(caught.value) == message
    assert caught.value.field == field
    assert caught.value.usage == (usage or message)


def test_what_may_be_asked_is_accepted() -> None:
    for by in GROUPS:
        assert Query(by=by).by == by
    assert Query(by="sector", depth=1).depth == 1
    same_day = date(2025, 1, 1)
    assert Query(start=same_day, as_of=same_day).start == same_day
    assert Query(start=date(2025, 2, 1)).as_of is None  # no as-of: any start will do


def test_a_changed_query_is_checked_again() -> None:
    query = Query(depth=2)
    with pytest.raises(QueryError, match="depth"):
        attrs.evolve(query, by="agreement")


def test_a_naive_known_at_is_utc_and_an_aware_one_is_kept() -> None:
    naive = Query(known_at=datetime(2025, 3, 1, 12, 0))
    assert naive.known_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert naive.known_at is not None
    assert naive.known_at.tzinfo is UTC
    tokyo = timezone(timedelta(hours=9))
    aware = Query(known_at=datetime(2025, 3, 1, 12, 0, tzinfo=tokyo))
    assert aware.known_at is not None
    assert aware.known_at.tzinfo is tokyo


def test_equal_queries_are_one_cache_key() -> None:
    a = Query(by="sector", depth=1, known_at=datetime(2025, 3, 1))
    b = Query(by="sector", depth=1, known_at=datetime(2025, 3, 1, tzinfo=UTC))
    assert a == b
    assert len({a, b, Query(by="sector", depth=2)}) == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.depth = 3  # type: ignore[misc]  # the point of the test


def test_periods_after_walks_on_from_a_period_end() -> None:
    walk = periods_after(date(2024, 12, 31), "quarter")
    assert [next(walk) for _ in range(5)] == [
        date(2025, 3, 31),
        date(2025, 6, 30),
        date(2025, 9, 30),
        date(2025, 12, 31),
        date(2026, 3, 31),
    ]
    weeks = periods_after(period_end(date(2025, 1, 1), "week"), "week")
    assert next(weeks) == date(2025, 1, 12)  # Sunday after Sunday 2025-01-05


# -- the same question, whichever door it comes in by ---------------------------------------


def _record(ledger: Ledger) -> None:
    ledger.record(
        pledge("p", "100", on="2025-01-10"),
        tranche("t", "p", "40", sector="energy/solar", on="2025-05-05"),
        loi("l", "5", sector="energy/gas", on="2025-02-01"),
    )


def test_the_ledger_takes_a_query_or_its_arguments_alike(ledger: Ledger) -> None:
    _record(ledger)
    known_at = datetime.now(UTC) + timedelta(days=1)
    kwargs: dict[str, Any] = {"depth": 1, "as_of": date(2025, 6, 1), "known_at": known_at}
    query = Query(by="sector", **kwargs)
    assert ledger.totals(query) == ledger.totals("sector", **kwargs)
    assert [r.key for r in ledger.totals(query)] == ["cross-sector", "energy"]
    timeline = Query(by="sector", every="quarter", start=date(2025, 4, 1), **kwargs)
    by_arguments = ledger.timeline("sector", every="quarter", start=date(2025, 4, 1), **kwargs)
    assert ledger.timeline(timeline) == by_arguments
    assert list(ledger.iter_timeline(timeline)) == by_arguments
    assert {p.period_end for p in by_arguments} == {date(2025, 6, 1)}


def test_a_query_and_arguments_together_are_refused(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match="depth"):
        ledger.totals(Query(), depth=1)
    with pytest.raises(TypeError, match="every, start"):
        ledger.timeline(Query(), every="year", start=date(2025, 1, 1))


def test_the_ledger_refuses_before_it_reads(ledger: Ledger) -> None:
    # iter_timeline used to check its arguments only once it was iterated.
    with pytest.raises(LedgerError, match="after its as-of date"):
        ledger.iter_timeline(start=date(2025, 2, 1), as_of=date(2025, 1, 1))
    with pytest.raises(LedgerError, match="cannot group by"):
        ledger.totals("colour")  # type: ignore[arg-type]  # the point of the test


# -- the command line: one helper makes the query; refusals are usage errors ----------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "q.db")
    with Ledger.open(path) as ledger:
        _record(ledger)
    return path


def _run(db: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", db, *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["totals", "--by", "agreement", "--depth", "1"], "--depth applies only to --by sector"),
        (["timeline", "--by", "pledger", "--depth", "1"], "--depth applies only to --by sector"),
        (
            ["timeline", "--from", "2025-02-01", "--as-of", "2025-01-01"],
            "--from 2025-02-01 is after --as-of 2025-01-01",
        ),
        (
            ["export", "-o", "x.csv", "--by", "pledger", "--depth", "1"],
            "--depth applies only to sector totals",
        ),
    ],
)
def test_refused_queries_are_usage_errors_worded_as_before(
    db: str, args: list[str], message: str
) -> None:
    result = _run(db, *args)
    assert result.exit_code == 2, result.output
    assert f"Error: {message}" in result.stderr


def test_a_naive_known_at_on_the_command_line_is_utc(db: str) -> None:
    with Ledger.open(db) as ledger:
        recorded = next(iter(ledger.events())).recorded_at
    just_before = (recorded - timedelta(microseconds=1)).astimezone(UTC).replace(tzinfo=None)
    before = _run(db, "totals", "--known-at", just_before.isoformat(), "--format", "json")
    at = _run(db, "totals", "--known-at", f"{recorded.isoformat()}", "--format", "json")
    assert before.exit_code == 0, before.output
    assert before.stdout.strip() == "[]"
    assert '"pledged": "60"' in at.stdout


def test_export_without_by_still_leaves_the_grouping_to_the_exporter(
    db: str, tmp_path: Path
) -> None:
    out = tmp_path / "all.json"
    result = _run(db, "export", "-o", str(out), "--depth", "1")
    assert result.exit_code == 0, result.output
    totals = json.loads(out.read_text(encoding="utf-8"))["totals"]
    assert list(totals) == list(GROUPS)  # every grouping, since --by was not given
    assert [row["sector"] for row in totals["sector"]] == ["cross-sector", "energy"]


# -- one place each -------------------------------------------------------------------------


def _definitions(name: str) -> list[str]:
    """The modules of the package that bind ``name`` at their top level."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                if node.name == name:
                    found.append(str(path.relative_to(SRC)))
                continue
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found.append(str(path.relative_to(SRC)))
    return found


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("ZERO", "domain/totals.py"),
        ("Progress", "domain/progress.py"),
        ("roll_up", "domain/totals.py"),
        ("row_order", "domain/totals.py"),
        ("Query", "domain/query.py"),
    ],
)
def test_the_vocabulary_is_defined_once(name: str, home: str) -> None:
    assert _definitions(name) == [home]


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r'!= "sector"', "domain/query.py"),  # the depth rule
        (r"start\s*>\s*[\w.]*as_of", "domain/query.py"),  # a timeline starting too late
        (r'split\("/"\)\[:', "domain/totals.py"),  # the sector roll-up
        (r'key or ""', "domain/totals.py"),  # the row sort key
    ],
)
def test_the_rules_of_a_query_are_written_once(pattern: str, home: str) -> None:
    # Copies under another name, which test_the_vocabulary_is_defined_once cannot see.
    holders = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if re.search(pattern, path.read_text(encoding="utf-8"))
    ]
    assert holders == [home]
