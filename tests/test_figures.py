"""Figures as the reports give them (issue 8): ranges, undisclosed figures, reports, links,
conversions, lapses and deadlines, from the domain's rules up to the ledger's totals.

The properties run on :mod:`pledgeledger.synthetic` ledgers, which use every kind of figure and
every new record: every row's low <= figure <= high; rolling sectors up adds rows up, for every
key; reports and ``toward`` never change a headline sum; and the JSON keys are there on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import (
    FakeClock,
    Record,
    amendment,
    delivery,
    lapse,
    loi,
    pledge,
    report,
    tranche,
    withdrawal,
)
from pledgeledger import GROUPS, InvalidRecord, Ledger, Refused, Totals, structure_event
from pledgeledger.domain.figures import (
    ABOUT_SPREAD,
    Interval,
    Kids,
    interval_of,
    own_part,
    tree_parts,
)
from pledgeledger.domain.records import Bound, Pledge
from pledgeledger.domain.rules import (
    Conversion,
    LetterState,
    PledgeTree,
    check_converts,
    check_shape,
)
from pledgeledger.synthetic import generate

PROPERTY = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
B = "000000000"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "us_japan_2025" / "events.jsonl"
D = "2025-01-10"


def ev(record: Record) -> Any:
    return structure_event(record)


def grow(root: Record, *records: Record) -> PledgeTree:
    event = ev(root)
    assert isinstance(event, Pledge)
    tree = PledgeTree.start(event)
    for record in records:
        event = ev(record)
        tree.check(event)
        tree.apply(event)
    return tree


def refused(state: Any, record: Record) -> Refused:
    before = copy.deepcopy(state)
    with pytest.raises(Refused) as caught:
        state.check(ev(record))
    assert state == before  # check changes nothing
    return caught.value


def rule_of(error: Refused) -> str:
    assert error.rule is not None
    return error.rule.key


# -- what a figure means ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "bound", "low", "high", "expected"),
    [
        ("73", "exact", None, None, ("73", "73")),
        ("73", "up_to", None, None, ("0", "73")),
        ("10", "at_least", None, None, ("10", None)),
        ("20", "about", None, None, ("18", "22")),
        ("20", "about", "15", "25", ("15", "25")),
        ("20", "up_to", "5", None, ("5", "20")),
        ("330", "at_least", None, "400", ("330", "400")),
        (None, "exact", None, None, ("0", None)),
    ],
)
def test_interval_of_every_kind_of_figure(
    amount: str | None,
    bound: str,
    low: str | None,
    high: str | None,
    expected: tuple[str, str | None],
) -> None:
    def d(x: str | None) -> Decimal | None:
        return None if x is None else Decimal(x)

    found = interval_of(d(amount), Bound(bound), d(low), d(high))
    assert (found.low, found.high) == (d(expected[0]), d(expected[1]))


def test_about_spread_is_ten_percent() -> None:
    assert Decimal("0.1") == ABOUT_SPREAD


def test_a_node_holds_at_least_what_is_carved_out_of_it() -> None:
    # Seed 001: "up to $73 billion", itemised as $40B + $33B: at least 73B, so exactly 73B.
    tree = grow(
        pledge("p", f"550{B}", on=D),
        tranche("t2", "p", f"73{B}", bound="up_to", on=D),
        tranche("smr", "t2", f"40{B}", on=D),
        tranche("gas", "t2", f"33{B}", on=D),
    )
    kids = Kids(Decimal(f"73{B}"), Decimal(f"73{B}"), Decimal(f"73{B}"), 0)
    part = own_part(Decimal(f"73{B}"), tree.nodes["t2"].figure, kids)
    assert (part.headline, part.range) == (Decimal(0), Interval(Decimal(0), Decimal(0)))


def test_sector_rows_may_be_wider_than_their_tree() -> None:
    # docs/semantics.md: up to $100B with a tranche of up to $40B under another sector.
    root = interval_of(Decimal(100), Bound.UP_TO)
    child = interval_of(Decimal(40), Bound.UP_TO)
    kids = Kids(Decimal(40), child.low, Decimal(40), 0)
    own = own_part(Decimal(100), root, kids)
    assert own.range == Interval(Decimal(0), Decimal(100))
    pledged, allocated = tree_parts(Decimal(100), root, kids)
    assert pledged.range == Interval(Decimal(0), Decimal(100))
    assert allocated.range == Interval(Decimal(0), Decimal(40))
    summed = own.range.plus(child)
    assert summed == Interval(Decimal(0), Decimal(140))  # wider than the tree's [0, 100]


def test_a_floor_carved_beyond_its_figure_keeps_its_headline_inside_its_range() -> None:
    floor = interval_of(Decimal(100), Bound.AT_LEAST)
    kids = Kids(Decimal(150), Decimal(150), Decimal(150), 0)
    own = own_part(Decimal(100), floor, kids)
    assert own.headline == Decimal(-50)
    assert own.range == Interval(Decimal(-50), None)


# -- records: shape and refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": None, "low": "1"},
        {"amount": None, "bound": "up_to"},
        {"high": "20"},  # an exact figure takes no range
        {"bound": "exact", "low": "1"},
    ],
)
def test_malformed_figures_name_the_field(changes: dict[str, Any]) -> None:
    record = pledge("p", "10", on=D) | changes
    with pytest.raises(InvalidRecord) as caught:
        check_shape(ev(record))
    (message,) = caught.value.messages
    assert message.startswith(("low/high:", "bound:"))


@pytest.mark.parametrize(
    "changes",
    [
        {"bound": "about", "low": "11"},
        {"bound": "up_to", "high": "5"},
        {"bound": "about", "low": "-1"},
    ],
)
def test_a_range_that_does_not_hold_its_figure_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(Refused) as caught:
        check_shape(ev(pledge("p", "10", on=D) | changes))
    assert caught.value.rule is not None
    assert (caught.value.rule.key, caught.value.invariant) == ("range", 1)


def test_an_undisclosed_figure_caps_nothing_and_counts_as_nothing_under_its_parent() -> None:
    tree = grow(
        pledge("p", "100", on=D),
        tranche("u", "p", None, on=D),
        tranche("t", "u", "500", on=D),  # an undisclosed figure caps nothing under it
        delivery("d", "t", None, on=D),
    )
    assert tree.allocated(tree.nodes["p"]) == Decimal(0)
    assert tree.delivered(tree.nodes["p"]) == Decimal(0)
    # A delivery of an undisclosed figure is still something delivered: no withdrawal.
    assert rule_of(refused(tree, withdrawal("w", "u", on=D))) == "withdraw-delivered"


def test_reports_change_no_figure_and_move_no_barrier() -> None:
    tree = grow(
        pledge("p", "100", on="2025-03-01"),
        amendment("p-up", "p", "120", on="2025-04-01"),
        report("r-early", "p", "90", on="2025-01-01"),  # before its record: fine
        report("r-late", "p", "200", on="2025-12-01"),
    )
    assert tree.nodes["p"].amount == Decimal(120)
    assert [r.id for r in tree.nodes["p"].reports] == ["r-early", "r-late"]
    assert (tree.latest, tree.barrier) == (date(2025, 4, 1), date(2025, 4, 1))
    error = refused(tree, report("r-unit", "p", "1", unit="JPY"))
    assert error.rule is not None
    assert error.rule.key == "unit"
    assert refused(tree, report("r-of-a-correction", "p-up", "1")).invariant == 5


def test_an_amendment_adopts_a_report_with_the_reports_figure() -> None:
    tree = grow(
        pledge("p", "100", on=D),
        tranche("t", "p", "50", on=D),
        report("r", "t", "40", on=D, bound="up_to"),
        report("r-p", "p", "90", on=D),
    )
    ok = amendment("a", "t", "40", on=D, bound="up_to") | {"adopts": "r"}
    tree.check(ev(ok))
    differs = amendment("b", "t", "41", on=D) | {"adopts": "r"}
    assert rule_of(refused(tree, differs)) == "adopts"
    wrong_bound = amendment("c", "t", "40", on=D, bound="exact") | {"adopts": "r"}
    assert rule_of(refused(tree, wrong_bound)) == "adopts"
    other = amendment("e", "t", "90", on=D) | {"adopts": "r-p"}
    assert rule_of(refused(tree, other)) == "adopts"
    missing = amendment("f", "t", "40", on=D) | {"adopts": "nope"}
    assert refused(tree, missing).invariant == 5


def test_a_lapse_ends_a_subtree_as_lapsed() -> None:
    tree = grow(
        pledge("p", "100", on=D),
        tranche("t", "p", "50", on=D),
        tranche("t1", "t", "20", on=D),
        delivery("d", "p", "5", on=D),
    )
    event = ev(lapse("l", "t", on=D))
    tree.check(event)
    tree.apply(event)
    assert {n.id: n.status for n in tree.nodes.values()} == {
        "p": "active",
        "t": "lapsed",
        "t1": "lapsed",
    }
    assert tree.allocated(tree.nodes["p"]) == Decimal(0)
    assert rule_of(refused(tree, lapse("l2", "d", on=D))) == "correction-kind"
    assert rule_of(refused(tree, lapse("l3", "p", on=D))) == "withdraw-delivered"
    assert refused(tree, amendment("a", "t", "5", on=D)).invariant == 5  # lapsed: gone


def test_a_deadline_is_not_before_its_record() -> None:
    check_shape(ev(pledge("p", "1", on=D) | {"due_by": D}))
    with pytest.raises(Refused) as caught:
        check_shape(ev(pledge("p", "1", on=D) | {"due_by": "2025-01-09"}))
    assert caught.value.rule is not None
    assert caught.value.rule.key == "deadline"


def test_a_converted_letter_is_corrected_through_what_it_became() -> None:
    letter = LetterState.start(ev(loi("l", "10", on=D)))
    converting = ev(pledge("p", "10", on="2025-02-01") | {"converts": "l"})
    check_converts(converting, letter)
    early = ev(pledge("q", "10", on="2025-01-01") | {"converts": "l"})
    with pytest.raises(Refused) as caught:
        check_converts(early, letter)
    assert caught.value.invariant == 5
    letter.convert(Conversion("p", date(2025, 2, 1)))
    assert (letter.active, letter.status) == (False, "converted")
    assert rule_of(refused(letter, withdrawal("w", "l", on="2025-03-01"))) == "converted"
    with pytest.raises(Refused) as again:
        check_converts(converting, letter)
    assert again.value.rule is not None
    assert again.value.rule.key == "converted"
    letter.check(ev(report("r", "l", "12", on=D)))  # what was said about it is still welcome


# -- the ledger ------------------------------------------------------------------------------


def _row(rows: list[Totals], key: str | None, unit: str = "USD") -> Totals:
    (found,) = [r for r in rows if r.key == key and r.unit == unit]
    return found


def test_toward_counts_in_its_own_row_and_never_on_its_target(ledger: Ledger) -> None:
    ledger.record(
        pledge("umbrella", "550", sector="cross-sector", agreement=None, on=D),
        tranche("t", "umbrella", "100", sector="energy", on=D),
        loi("candidate", "345", sector="energy", on=D) | {"toward": "umbrella", "bound": "up_to"},
        pledge("company", "40", sector="energy", pledger="Co", on=D) | {"toward": "umbrella"},
        tranche("company-t", "company", "10", sector="ai", on=D),
    )
    by_sector = ledger.totals("sector")
    energy = _row(by_sector, "energy")
    assert (energy.pledged, energy.intended) == (Decimal(130), Decimal(345))
    assert (energy.pledged_toward, energy.intended_toward) == (Decimal(30), Decimal(345))
    assert _row(by_sector, "ai").pledged_toward == Decimal(0)  # a tranche inherits no link
    by_pledger = ledger.totals("pledger")
    assert _row(by_pledger, "Co").pledged_toward == Decimal(40)  # the whole tree, by pledger
    assert _row(by_pledger, "Japan").pledged == Decimal(550)  # nothing added to the target
    tree = ledger.tree("umbrella")
    assert [t.id for t in tree.tied.records] == ["candidate", "company"]
    assert (tree.tied.amount, tree.tied.low, tree.tied.high) == (
        Decimal(385),
        Decimal(40),
        Decimal(385),
    )
    assert tree.headroom == Decimal(450)
    with pytest.raises(Refused) as caught:
        ledger.record(loi("odd", "1", unit="JPY", on=D) | {"toward": "umbrella"})
    assert caught.value.rule is not None
    assert caught.value.rule.key == "toward"


def test_a_conversion_ends_the_letter_from_the_new_records_date(ledger: Ledger) -> None:
    ledger.record(loi("l", "10", sector="energy", on="2025-01-01"))
    ledger.record(pledge("p", "8", sector="energy", on="2025-03-01") | {"converts": "l"})
    now = _row(ledger.totals("sector"), "energy")
    assert (now.pledged, now.intended) == (Decimal(8), Decimal(0))
    before = _row(ledger.totals("sector", as_of=date(2025, 2, 1)), "energy")
    assert (before.pledged, before.intended) == (Decimal(0), Decimal(10))
    letter = ledger.letter("l")
    assert (letter.status, letter.converted_by, letter.converted_on) == (
        "converted",
        "p",
        date(2025, 3, 1),
    )
    assert ledger.tree("p").converts == "l"
    with pytest.raises(Refused) as caught:
        ledger.record(amendment("a", "l", "12", on="2025-04-01"))
    assert caught.value.rule is not None
    assert caught.value.rule.key == "converted"
    assert ledger.replay(verify=True).problems == ()
    assert ledger.letter("l").status == "converted"  # the letter's own log says so


def test_an_undisclosed_only_row_is_shown(ledger: Ledger) -> None:
    ledger.record(
        pledge("m", None, unit="missiles", sector="defense", on=D),
        delivery("md", "m", None, unit="missiles", on=D),
    )
    (row,) = ledger.totals("sector")
    assert (row.pledged, row.delivered, row.undisclosed) == (Decimal(0), Decimal(0), 2)
    assert (row.pledged_high, row.delivered_high) == (None, None)
    assert row.as_dict()["pledged_high"] is None


def test_the_json_keys_on_every_backend(ledger: Ledger) -> None:
    ledger.import_files([EXAMPLE])
    expected = [
        "unit",
        "pledged",
        "allocated",
        "delivered",
        "intended",
        "unallocated",
        "pledged_low",
        "pledged_high",
        "allocated_low",
        "allocated_high",
        "delivered_low",
        "delivered_high",
        "intended_low",
        "intended_high",
        "undisclosed",
        "pledged_toward",
        "intended_toward",
    ]
    for by in GROUPS:
        rows = [r.as_dict() for r in ledger.totals(by)]
        assert rows
        assert all(list(r) == [by, *expected] for r in rows)
    first = ledger.totals("agreement")[0].as_dict()
    assert (first["intended"], first["intended_low"], first["intended_high"]) == (
        "345000000000",
        "105000000000",
        None,
    )
    assert (first["undisclosed"], first["intended_toward"]) == (1, "345000000000")


def test_overdue_lists_what_is_still_owed(ledger: Ledger) -> None:
    ledger.record(
        pledge("p", "100", on="2025-01-01") | {"due_by": "2025-06-30"},
        delivery("d", "p", "30", on="2025-03-01"),
        loi("l", "5", on="2025-01-01") | {"due_by": "2025-02-01"},
        loi("l2", "5", on="2025-01-01") | {"due_by": "2025-02-01"},
        pledge("done", "10", on="2025-01-01") | {"due_by": "2025-02-01"},
        delivery("done-d", "done", "10", on="2025-01-15"),
    )
    ledger.record(lapse("l2-lapsed", "l2", on="2025-03-01"))
    assert [o.id for o in ledger.overdue(date(2025, 2, 1))] == []  # due_by must be before
    at_march = {o.id: o for o in ledger.overdue(date(2025, 3, 15))}
    assert set(at_march) == {"l"}  # l2 lapsed by then; "done" was fully delivered
    late = {o.id: o for o in ledger.overdue(date(2025, 7, 1))}
    assert (late["p"].delivered, late["p"].outstanding) == (Decimal(30), Decimal(70))
    assert late["l"].outstanding == Decimal(5)
    assert late["p"].as_dict() == {
        "id": "p",
        "type": "pledge",
        "due_by": "2025-06-30",
        "amount": "100",
        "unit": "USD",
        "bound": "exact",
        "delivered": "30",
        "outstanding": "70",
    }
    # As of a day before the lapse, l2 was still overdue.
    assert {o.id for o in ledger.overdue(date(2025, 2, 15))} == {"l", "l2"}


def test_conflicts_list_every_figure_reported(ledger: Ledger) -> None:
    ledger.record(
        pledge("p", f"550{B}", on=D),
        tranche("t2", "p", f"80{B}", on=D),
        amendment("t2-fix", "t2", f"73{B}", bound="up_to", on=D),
        report("t2-other", "t2", f"73{B}", bound="up_to", on=D, outlet="Other Daily"),
        pledge("calm", "5", on=D),
        report("calm-again", "calm", "5", on=D),  # agrees: no conflict
    )
    (conflict,) = ledger.conflicts()
    shape = conflict.as_dict()
    assert shape["id"] == "t2"
    assert shape["counted"] == {
        "amount": f"73{B}",
        "bound": "up_to",
        "low": "0",
        "high": f"73{B}",
    }
    assert [(r["amount"], r["bound"], r["outlet"]) for r in shape["reported"]] == [
        (f"80{B}", "exact", "Gazette"),
        (f"73{B}", "up_to", "Gazette"),
        (f"73{B}", "up_to", "Other Daily"),
    ]


# -- properties on synthetic ledgers ---------------------------------------------------------


def _synthetic(data: st.DataObject) -> list[Record]:
    size = data.draw(st.integers(1, 90))
    seed = data.draw(st.integers(0, 2**32 - 1))
    return list(generate(size, seed, backdate=data.draw(st.booleans()), cents=True))


def _all_rows(ledger: Ledger, **kw: Any) -> dict[str, list[Totals]]:
    rows: dict[str, list[Totals]] = {by: ledger.totals(by, **kw) for by in GROUPS}
    rows["depth 1"] = ledger.totals("sector", depth=1, **kw)
    return rows


@PROPERTY
@given(data=st.data())
def test_every_row_holds_its_figures_within_their_ranges(data: st.DataObject) -> None:
    events = _synthetic(data)
    with Ledger.open(":memory:", clock=FakeClock(step=timedelta(hours=1))) as ledger:
        cut = data.draw(st.integers(0, len(events)))
        ledger.record(*events[:cut])
        ledger.record(*events[cut:])
        days = sorted({structure_event(e).world_date for e in events})
        as_of = data.draw(st.none() | st.sampled_from(days))
        known_at = data.draw(st.none() | st.just(datetime(2025, 1, 1, 0, 30, tzinfo=UTC)))
        for rows in _all_rows(ledger, as_of=as_of, known_at=known_at).values():
            for row in rows:
                for figure in ("pledged", "allocated", "delivered", "intended"):
                    low, high = row.range_of(figure)
                    headline = getattr(row, figure)
                    assert low <= headline, (row, figure)
                    assert high is None or headline <= high, (row, figure)
                assert row.undisclosed >= 0


@PROPERTY
@given(data=st.data())
def test_rolled_up_rows_are_the_sums_of_their_rows_for_every_key(data: st.DataObject) -> None:
    events = _synthetic(data)
    with Ledger.open(":memory:") as ledger:
        ledger.record(*events)
        fine = ledger.totals("sector")
        rolled = {(r.key, r.unit): r.as_dict() for r in ledger.totals("sector", depth=1)}
        sums: dict[tuple[str | None, str], dict[str, Any]] = defaultdict(dict)
        for row in fine:
            key = (None if row.key is None else row.key.split("/")[0], row.unit)
            total = sums[key]
            for name, value in row.as_dict().items():
                if name in ("sector", "unit", "unallocated"):
                    continue
                if name.endswith("_high") and (value is None or total.get(name, "") is None):
                    total[name] = None
                    continue
                assert value is not None
                number = Decimal(value)
                total[name] = total.get(name, Decimal(0)) + number
        for key, total in sums.items():
            if not any(v is None or v != 0 for v in total.values()):
                continue  # rows that cancel out are left out of the rolled-up totals
            shape = rolled[key]
            for name, value in total.items():
                expected = shape[name]
                assert (None if expected is None else Decimal(expected)) == value, (key, name)
        assert set(rolled) <= set(sums)


@PROPERTY
@given(data=st.data())
def test_reports_and_toward_never_change_a_headline_sum(data: st.DataObject) -> None:
    events = _synthetic(data)
    plain = []
    for record in events:
        if record["type"] == "report":
            continue
        stripped = {k: v for k, v in record.items() if k not in ("toward", "adopts")}
        plain.append(stripped)
    with Ledger.open(":memory:") as rich, Ledger.open(":memory:") as bare:
        rich.record(*events)
        bare.record(*plain)
        for by in GROUPS:
            with_links = {(r.key, r.unit): r.as_dict() for r in rich.totals(by)}
            without = {(r.key, r.unit): r.as_dict() for r in bare.totals(by)}
            assert set(with_links) == set(without)
            for key, shape in with_links.items():
                other = without[key]
                assert (other["pledged_toward"], other["intended_toward"]) == ("0", "0")
                for name in shape:
                    if not name.endswith("_toward"):
                        assert shape[name] == other[name], (by, key, name)


# -- what people read ------------------------------------------------------------------------


def test_show_words_every_figure_with_its_bound(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pledgeledger.cli import cli

    db = str(tmp_path / "show.db")
    with Ledger.open(db) as ledger:
        ledger.record(
            pledge("p", f"550{B}", on=D),
            tranche("t2", "p", f"80{B}", on=D),
            amendment("t2-fix", "t2", f"73{B}", bound="up_to", on=D),
            loi("l", f"100{B}", on=D) | {"bound": "up_to", "toward": "p"},
            loi("c", "5", on=D),
            pledge("q", "5", on="2025-02-01") | {"converts": "c", "due_by": "2025-03-01"},
        )
        ledger.record(lapse("q-lapsed", "q", on="2025-04-01"))
    runner = CliRunner()

    def show(record_id: str) -> str:
        result = runner.invoke(cli, ["--db", db, "show", record_id])
        assert result.exit_code == 0, result.output
        return result.stdout

    tree = show("p")
    assert "amendment t2-fix: 80B → up to 73B" in tree
    assert "tied toward it: 1 record(s) summing 100B (0–100B), beside headroom 477B" in tree
    assert "l  loi  up to 100B USD" in tree
    letter = show("l")
    assert "letter of intent  up to 100B USD" in letter  # "up to" is never dropped
    assert "range 0–100B" in letter
    assert "[converted]" in show("c")
    assert "converted into q on 2025-02-01" in show("c")
    converting = show("q")
    assert "[lapsed]" in converting
    assert "converts letter of intent c" in converting
    assert "due by 2025-03-01" in converting
    conflicts = runner.invoke(cli, ["--db", db, "conflicts"])
    assert conflicts.exit_code == 0
    assert conflicts.stdout.startswith("t2  USD  counted up to 73B")
    overdue = runner.invoke(cli, ["--db", db, "overdue", "--as-of", "2025-03-15"])
    assert overdue.exit_code == 0
    assert overdue.stdout.splitlines()[2].split()[:3] == ["q", "pledge", "2025-03-01"]
    quiet = runner.invoke(cli, ["--db", db, "overdue", "--as-of", "2025-05-01"])
    assert "(nothing overdue)" in quiet.stdout  # lapsed by then


def test_the_chart_draws_intended_beside_pledged_with_ranges_and_scale_words() -> None:
    from pledgeledger.plugins.builtin.chart_exporter import _totals_chart
    from pledgeledger.plugins.exporter import ExportOptions
    from pledgeledger.view import LedgerView

    with Ledger.open(":memory:") as ledger:
        ledger.import_files([EXAMPLE])
        fig = _totals_chart(LedgerView.of(ledger), ExportOptions(what="totals", by="agreement"))
        as_of = LedgerView.of(ledger, as_of=date(2026, 1, 1))
        dated = _totals_chart(as_of, ExportOptions(what="totals", by="agreement"))
    title = fig.get_suptitle()
    assert "as of 2026-03-19" in title
    assert "log position" not in title
    assert "as of 2026-01-01" in dated.get_suptitle()
    usd = next(ax for ax in fig.axes if ax.get_title(loc="left") == "in USD")
    from matplotlib.patches import Rectangle

    bars = [p for p in usd.patches if isinstance(p, Rectangle) and p.get_width() > 0]
    intended = [p for p in bars if p.get_hatch() == "//"]
    assert intended
    # Never stacked: every intended bar starts at zero, in a slot of its own.
    assert all(p.get_x() == 0 for p in intended)
    pledged_slots = {round(p.get_y(), 6) for p in bars if p.get_hatch() != "//"}
    assert not pledged_slots & {round(p.get_y(), 6) for p in intended}
    labels = [t.get_text() for t in usd.texts]
    assert any("550B pledged" in text for text in labels)
    assert any("345B intended (105B–)" in text for text in labels)
    whiskers = [line for line in usd.get_lines() if line.get_label() != "range (low to high)"]
    assert whiskers  # ranges drawn
    assert usd.get_legend_handles_labels()[1].count("range (low to high)") == 1
