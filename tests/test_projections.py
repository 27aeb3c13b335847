"""Totals from postings: sector spreading, groupings, depth, as-of and known-at, corrections.

Expected figures are worked out by hand from DESIGN.md's "Totals" section; each row below reads
``(key, unit): (pledged, allocated, delivered, intended, unallocated)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from helpers import (
    START,
    Record,
    agreement,
    amendment,
    delivery,
    figures,
    loi,
    pledge,
    tranche,
    withdrawal,
)
from pledgeledger import GROUPS, Ledger, Totals, structure_event
from pledgeledger.domain.totals import Group
from reference import Posting, Projector, sum_postings


def fold(*records: Record, times: list[datetime] | None = None) -> list[Posting]:
    """The postings of ``records`` applied in order, recorded a minute apart (or at ``times``)."""
    projector = Projector()
    out: list[Posting] = []
    for i, record in enumerate(records):
        at = times[i] if times is not None else START + timedelta(minutes=i)
        out.extend(projector.apply(structure_event(record), at))
    return out


def table(postings: list[Posting], by: Group = "sector", **kw: Any) -> dict[Any, Any]:
    return figures(sum_postings(postings, by, **kw))


def grand(postings: list[Posting], by: Group, **kw: Any) -> dict[str, tuple[Decimal, ...]]:
    out: dict[str, tuple[Decimal, ...]] = {}
    for row in sum_postings(postings, by, **kw):
        old = out.get(row.unit, (Decimal(0),) * 4)
        new = (row.pledged, row.allocated, row.delivered, row.intended)
        out[row.unit] = tuple(a + b for a, b in zip(old, new, strict=True))
    return out


B = "000000000"  # a billion, written out, so that the figures below read as in the news
US_JAPAN = [
    pledge("jp-us", f"550{B}", sector="cross-sector", on="2025-07-22"),
    tranche("energy", "jp-us", f"73{B}", sector="energy", on="2025-10-28"),
    tranche("nuclear", "energy", f"40{B}", sector="energy/nuclear", on="2025-10-28"),
    tranche("gas", "energy", f"33{B}", sector="energy/gas", on="2025-10-28"),
]


# -- sector spreading (DESIGN.md's example) ----------------------------------------------------


def test_design_example_spreads_each_amount_to_its_most_specific_sector() -> None:
    rows = table(fold(*US_JAPAN))
    assert rows == {
        ("cross-sector", "USD"): (477 * 10**9, 0, 0, 0, 477 * 10**9),
        ("energy/gas", "USD"): (33 * 10**9, 33 * 10**9, 0, 0, 0),
        ("energy/nuclear", "USD"): (40 * 10**9, 40 * 10**9, 0, 0, 0),
    }
    # "energy 0": the parent tranche holds nothing beyond its children, so it has no row.
    assert ("energy", "USD") not in rows


def test_design_example_grand_totals_count_each_dollar_once() -> None:
    postings = fold(*US_JAPAN)
    for group in GROUPS:
        assert grand(postings, group) == {
            "USD": (Decimal(550 * 10**9), Decimal(73 * 10**9), Decimal(0), Decimal(0))
        }


def test_depth_rolls_sectors_up_to_their_first_segments() -> None:
    postings = fold(*US_JAPAN)
    assert table(postings, depth=1) == {
        ("cross-sector", "USD"): (477 * 10**9, 0, 0, 0, 477 * 10**9),
        ("energy", "USD"): (73 * 10**9, 73 * 10**9, 0, 0, 0),
    }
    assert table(postings, depth=2) == table(postings)


def test_depth_beyond_a_path_keeps_the_whole_path() -> None:
    postings = fold(
        pledge("p", "100", sector="energy"),
        tranche("a", "p", "30", sector="energy/nuclear/smr"),
        tranche("b", "p", "20", sector="energy/gas"),
    )
    assert table(postings, depth=2) == {
        ("energy", "USD"): (50, 0, 0, 0, 50),
        ("energy/nuclear", "USD"): (30, 30, 0, 0, 0),
        ("energy/gas", "USD"): (20, 20, 0, 0, 0),
    }
    assert table(postings, depth=9) == table(postings)
    assert ("energy/nuclear/smr", "USD") in table(postings, depth=3)


def test_parent_shows_what_it_holds_beyond_its_children() -> None:
    postings = fold(
        pledge("p", "100", sector="energy"),
        tranche("t", "p", "60", sector="energy"),  # same sector as its parent
        tranche("t1", "t", "25", sector="energy/solar"),
    )
    # energy: the pledge's unallocated 40 plus the tranche's own 35 (60 - 25).
    assert table(postings) == {
        ("energy", "USD"): (75, 35, 0, 0, 40),
        ("energy/solar", "USD"): (25, 25, 0, 0, 0),
    }


def test_floor_with_more_carved_out_shows_a_negative_remainder() -> None:
    # docs/semantics.md, "Floors": sectors still add up to the stated floor.
    postings = fold(
        pledge("p", "100", sector="cross-sector", bound="at_least"),
        tranche("t", "p", "150", sector="energy"),
    )
    assert table(postings) == {
        ("cross-sector", "USD"): (-50, 0, 0, 0, -50),
        ("energy", "USD"): (150, 150, 0, 0, 0),
    }
    assert table(postings, "pledger") == {("Japan", "USD"): (100, 150, 0, 0, -50)}


def test_deliveries_count_under_the_sector_of_their_node() -> None:
    postings = fold(
        *US_JAPAN,
        delivery("d-gas", "gas", f"5{B}", on="2025-11-01"),
        delivery("d-energy", "energy", f"1{B}", on="2025-11-01"),
        delivery("d-root", "jp-us", f"2{B}", on="2025-11-01"),
    )
    rows = table(postings)
    assert rows[("energy/gas", "USD")][2] == 5 * 10**9
    assert rows[("energy", "USD")] == (0, 0, 10**9, 0, 0)  # shown, since it delivered
    assert rows[("cross-sector", "USD")][2] == 2 * 10**9
    assert rows[("energy/nuclear", "USD")][2] == 0


def test_units_are_never_added_together() -> None:
    postings = fold(
        pledge("usd", "10", unit="USD"),
        pledge("jpy", "1000", unit="JPY"),
        loi("lng", "5", unit="t LNG/yr", sector="cross-sector"),
    )
    assert table(postings) == {
        ("cross-sector", "JPY"): (1000, 0, 0, 0, 1000),
        ("cross-sector", "USD"): (10, 0, 0, 0, 10),
        ("cross-sector", "t LNG/yr"): (0, 0, 0, 5, 0),
    }


# -- grouping by agreement, pledger and recipient ---------------------------------------------


GROUPED = [
    agreement("acme", on="2025-01-01"),
    pledge("p", "100", pledger="Japan", recipient="US", agreement="acme", on="2025-01-02"),
    tranche("t", "p", "30", on="2025-01-03"),
    delivery("d", "t", "10", on="2025-01-04"),
    pledge("q", "20", pledger="Korea", recipient="US", on="2025-01-02"),
    loi("l", "5", unit="t LNG/yr", party="Alaska LNG", counterparty="JERA", agreement="acme"),
    loi("m", "3", party="Japan", counterparty="US"),
]


def grouped() -> list[Posting]:
    return fold(*GROUPED)


def test_by_agreement_puts_unattached_events_under_none_last() -> None:
    rows = sum_postings(grouped(), "agreement")
    assert [(r.key, r.unit) for r in rows] == [
        ("acme", "USD"),
        ("acme", "t LNG/yr"),
        (None, "USD"),
    ]
    assert figures(rows) == {
        ("acme", "USD"): (100, 30, 10, 0, 70),
        ("acme", "t LNG/yr"): (0, 0, 0, 5, 0),
        (None, "USD"): (20, 0, 0, 3, 20),
    }


def test_by_pledger_groups_letters_under_their_party() -> None:
    assert table(grouped(), "pledger") == {
        ("Japan", "USD"): (100, 30, 10, 3, 70),
        ("Korea", "USD"): (20, 0, 0, 0, 20),
        ("Alaska LNG", "t LNG/yr"): (0, 0, 0, 5, 0),
    }


def test_by_recipient_groups_letters_under_their_counterparty() -> None:
    assert table(grouped(), "recipient") == {
        ("US", "USD"): (120, 30, 10, 3, 90),
        ("JERA", "t LNG/yr"): (0, 0, 0, 5, 0),
    }


def test_every_grouping_has_the_same_grand_totals() -> None:
    postings = grouped()
    expected = {
        "USD": (Decimal(120), Decimal(30), Decimal(10), Decimal(3)),
        "t LNG/yr": (Decimal(0), Decimal(0), Decimal(0), Decimal(5)),
    }
    for group in GROUPS:
        assert grand(postings, group) == expected, group


def test_agreements_alone_post_nothing() -> None:
    postings = fold(agreement("acme"), withdrawal("acme-off", "acme", on="2025-02-01"))
    assert postings == []


# -- as of (world dates) and known at (recorded times) ----------------------------------------


TIMELINE = [
    pledge("p", "100", on="2025-01-01"),
    loi("l", "5", sector="cross-sector", on="2025-02-01"),
    tranche("t", "p", "60", sector="energy", on="2025-03-01"),
    delivery("d", "t", "10", on="2025-04-01"),
    amendment("p-up", "p", "150", on="2025-06-01"),
    withdrawal("l-off", "l", on="2025-07-01"),
]


def timeline() -> list[Posting]:
    return fold(*TIMELINE)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2024, 12, 31), {}),
        (date(2025, 1, 1), {("cross-sector", "USD"): (100, 0, 0, 0, 100)}),
        (date(2025, 2, 1), {("cross-sector", "USD"): (100, 0, 0, 5, 100)}),
        (
            date(2025, 3, 31),
            {("cross-sector", "USD"): (40, 0, 0, 5, 40), ("energy", "USD"): (60, 60, 0, 0, 0)},
        ),
        (
            date(2025, 4, 1),
            {("cross-sector", "USD"): (40, 0, 0, 5, 40), ("energy", "USD"): (60, 60, 10, 0, 0)},
        ),
        (
            date(2025, 6, 1),
            {("cross-sector", "USD"): (90, 0, 0, 5, 90), ("energy", "USD"): (60, 60, 10, 0, 0)},
        ),
        (
            date(2025, 7, 1),
            {("cross-sector", "USD"): (90, 0, 0, 0, 90), ("energy", "USD"): (60, 60, 10, 0, 0)},
        ),
    ],
)
def test_as_of_counts_events_dated_on_or_before(as_of: date, expected: dict[Any, Any]) -> None:
    assert table(timeline(), as_of=as_of) == expected


def test_as_of_the_last_date_equals_now() -> None:
    postings = timeline()
    assert table(postings, as_of=date(2025, 7, 1)) == table(postings)


def test_known_at_counts_what_was_recorded_by_then() -> None:
    t0, t1, t2 = START, START + timedelta(days=1), START + timedelta(days=2)
    postings = fold(
        pledge("p", "100", on="2025-01-01"),
        tranche("late-news", "p", "30", on="2025-02-01"),  # happened first, recorded last
        tranche("t", "p", "50", on="2025-03-01"),
        times=[t0, t2, t1],
    )
    assert table(postings, known_at=t0 - timedelta(seconds=1)) == {}
    assert table(postings, known_at=t0)[("cross-sector", "USD")] == (100, 0, 0, 0, 100)
    assert table(postings, known_at=t1)[("cross-sector", "USD")] == (50, 0, 0, 0, 50)
    assert table(postings, known_at=t2)[("cross-sector", "USD")] == (20, 0, 0, 0, 20)
    # Bitemporal: as of mid-February, as known on day 1 the February tranche was not yet known.
    mid_feb = date(2025, 2, 15)
    assert table(postings, as_of=mid_feb, known_at=t1)[("cross-sector", "USD")][0] == 100
    assert table(postings, as_of=mid_feb, known_at=t2)[("cross-sector", "USD")][0] == 70


# -- amendments and withdrawals ----------------------------------------------------------------


def test_amending_a_pledge_posts_the_difference() -> None:
    postings = fold(
        pledge("p", "100"), amendment("p-down", "p", "80"), amendment("p-up", "p", "90")
    )
    assert table(postings) == {("cross-sector", "USD"): (90, 0, 0, 0, 90)}


def test_amending_nested_tranches_moves_figures_between_sectors() -> None:
    postings = fold(
        *US_JAPAN,
        amendment("energy-up", "energy", f"80{B}", on="2025-11-01"),
        amendment("nuclear-up", "nuclear", f"45{B}", on="2025-11-01"),
    )
    # The pledge keeps 550 - 80 = 470; energy holds 80 - 45 - 33 = 2 beyond its children.
    assert table(postings) == {
        ("cross-sector", "USD"): (470 * 10**9, 0, 0, 0, 470 * 10**9),
        ("energy", "USD"): (2 * 10**9, 2 * 10**9, 0, 0, 0),
        ("energy/gas", "USD"): (33 * 10**9, 33 * 10**9, 0, 0, 0),
        ("energy/nuclear", "USD"): (45 * 10**9, 45 * 10**9, 0, 0, 0),
    }


def test_amending_a_top_tranche_moves_room_out_of_the_pledge() -> None:
    postings = fold(pledge("p", "100"), tranche("t", "p", "60"), amendment("t-up", "t", "80"))
    assert table(postings) == {
        ("cross-sector", "USD"): (20, 0, 0, 0, 20),
        ("energy", "USD"): (80, 80, 0, 0, 0),
    }


def test_withdrawing_a_tranche_returns_its_subtree_to_the_pledge() -> None:
    postings = fold(*US_JAPAN, withdrawal("energy-off", "energy", on="2025-11-01"))
    assert table(postings) == {("cross-sector", "USD"): (550 * 10**9, 0, 0, 0, 550 * 10**9)}


def test_withdrawing_a_pledge_removes_it_from_every_total() -> None:
    postings = fold(*US_JAPAN, withdrawal("off", "jp-us", on="2025-11-01"))
    for group in GROUPS:
        assert sum_postings(postings, group) == []
    # ... but not from the past: as of the day before, it was there.
    assert table(postings, as_of=date(2025, 10, 31)) == table(fold(*US_JAPAN))


def test_delivery_corrections() -> None:
    postings = fold(
        pledge("p", "100"),
        delivery("d1", "p", "10"),
        delivery("d2", "p", "20"),
        amendment("d1-fix", "d1", "15"),
        withdrawal("d2-off", "d2"),
    )
    assert table(postings) == {("cross-sector", "USD"): (100, 0, 15, 0, 100)}


def test_letter_corrections() -> None:
    postings = fold(
        loi("l", "5", sector="energy"), amendment("l-up", "l", "8"), loi("m", "2", sector="energy")
    )
    assert table(postings) == {("energy", "USD"): (0, 0, 0, 10, 0)}
    postings = fold(loi("l", "5", sector="energy"), withdrawal("l-off", "l"))
    assert table(postings) == {}


# -- rows -------------------------------------------------------------------------------------


def test_rows_with_only_zero_figures_are_left_out() -> None:
    postings = fold(pledge("p", "100", sector="a"), withdrawal("p-off", "p"), pledge("q", "1"))
    assert [r.key for r in sum_postings(postings)] == ["cross-sector"]


def test_rows_are_sorted_by_key_then_unit() -> None:
    postings = fold(
        pledge("b", "1", sector="b", unit="USD"),
        pledge("a2", "1", sector="a", unit="USD"),
        pledge("a1", "1", sector="a", unit="JPY"),
    )
    assert [(r.key, r.unit) for r in sum_postings(postings)] == [
        ("a", "JPY"),
        ("a", "USD"),
        ("b", "USD"),
    ]


def test_totals_row_json_shape() -> None:
    row = Totals("agreement", None, "USD", Decimal("550.5"), Decimal("73"), Decimal(1), Decimal(0))
    assert row.unallocated == Decimal("477.5")
    assert row.as_dict() == {
        "agreement": None,
        "unit": "USD",
        "pledged": "550.5",
        "allocated": "73",
        "delivered": "1",
        "intended": "0",
        "unallocated": "477.5",
        # A row made without ranges is exact: each range is its figure.
        "pledged_low": "550.5",
        "pledged_high": "550.5",
        "allocated_low": "73",
        "allocated_high": "73",
        "delivered_low": "1",
        "delivered_high": "1",
        "intended_low": "0",
        "intended_high": "0",
        "undisclosed": 0,
        "pledged_toward": "0",
        "intended_toward": "0",
    }


def test_totals_row_json_shape_with_ranges() -> None:
    row = Totals(
        "sector",
        "energy",
        "USD",
        Decimal(73),
        Decimal(73),
        Decimal(0),
        Decimal(10),
        pledged_low=Decimal(0),
        allocated_low=Decimal(0),
        intended_high=None,
        undisclosed=2,
        intended_toward=Decimal(10),
    )
    shape = row.as_dict()
    assert list(shape)[7:] == [
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
    assert (shape["pledged_low"], shape["pledged_high"]) == ("0", "73")
    assert (shape["intended_low"], shape["intended_high"]) == ("10", None)  # unbounded: null
    assert shape["undisclosed"] == 2  # a count, not a decimal string
    assert shape["intended_toward"] == "10"


# -- the ledger's read models agree with this reference ----------------------------------------

SCENARIOS = {
    "design-example": US_JAPAN,
    "grouped": GROUPED,
    "timeline": TIMELINE,
    "nested-amendments": [
        *US_JAPAN,
        amendment("energy-up", "energy", f"80{B}", on="2025-11-01"),
        amendment("nuclear-up", "nuclear", f"45{B}", on="2025-11-01"),
        delivery("d", "gas", f"3{B}", on="2025-11-02"),
        amendment("d-fix", "d", f"2{B}", on="2025-11-03"),
    ],
    "withdrawn-subtree": [*US_JAPAN, withdrawal("energy-off", "energy", on="2025-11-01")],
    "floor": [
        pledge("p", "100", bound="at_least"),
        tranche("t", "p", "150", sector="energy"),
        tranche("t1", "t", "20", sector="energy/solar"),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ledger_totals_equal_the_reference_postings(name: str) -> None:
    records = SCENARIOS[name]
    postings = fold(*records)
    when = ("announced_on", "delivered_on", "signed_on")
    dates = sorted({date.fromisoformat(r[k]) for r in records for k in when if k in r})
    with Ledger.open(":memory:") as ledger:
        for record in records:  # one at a time: each is accepted, so the scenario is valid
            assert ledger.record(record).recorded == (record["id"],)
        for group in GROUPS:
            assert figures(ledger.totals(by=group)) == table(postings, group), group
            for as_of in dates:
                expected = table(postings, group, as_of=as_of)
                assert figures(ledger.totals(by=group, as_of=as_of)) == expected, (group, as_of)
        assert figures(ledger.totals(depth=1)) == table(postings, depth=1)
