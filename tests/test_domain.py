"""The invariants of DESIGN.md (1-5), the withdrawal rules and the date barrier, on plain state.

Every refusal is checked twice: it raises :class:`Refused` with the invariant's number, and the
state it was checked against is exactly as it was (``check`` never changes anything).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from helpers import (
    Record,
    agreement,
    amendment,
    delivery,
    loi,
    pledge,
    tranche,
    withdrawal,
)
from pledgeledger import (
    Agreement,
    Amendment,
    Delivery,
    Event,
    InvalidRecord,
    LetterOfIntent,
    Pledge,
    Refused,
    Tranche,
    Withdrawal,
    structure_event,
)
from pledgeledger.domain.rules import AgreementState, LetterState, PledgeTree, check_shape
from pledgeledger.errors import RULES, DuplicateId, rule


def ev(record: Record) -> Event:
    return structure_event(record)


def grow(root: Record, *records: Record) -> PledgeTree:
    """A pledge's tree built the way the aggregate builds it: check, then apply."""
    event = ev(root)
    assert isinstance(event, Pledge)
    tree = PledgeTree.start(event)
    for record in records:
        accept(tree, record)
    return tree


def accept(tree: PledgeTree, record: Record) -> None:
    event = ev(record)
    tree.check(event)
    tree.apply(event)


def refuse(state: Any, record: Record, invariant: int | None) -> Refused:
    """Check ``record`` against ``state``: refused with ``invariant``, and nothing changed."""
    before = copy.deepcopy(state)
    event = ev(record)
    with pytest.raises(Refused) as caught:
        state.check(event)
    assert caught.value.invariant == invariant, str(caught.value)
    assert caught.value.event_id == record["id"]
    assert state == before
    return caught.value


D = "2025-01-10"
"""The pledge's date: most events below share it."""
P100 = pledge("p", "100", on=D)

# -- shape and invariant 1 -------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0", "-5", "0.00", "NaN", "Infinity", "-Infinity"])
def test_pledge_amount_must_be_positive_and_finite(amount: str) -> None:
    with pytest.raises(Refused) as caught:
        check_shape(ev(pledge("p", amount)))
    assert caught.value.invariant == 1


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity"])
def test_tranche_amount_must_be_positive_and_finite(amount: str) -> None:
    tree = grow(P100)
    refuse(tree, tranche("t", "p", amount, on=D), 1)


def test_smallest_positive_amount_is_accepted() -> None:
    tree = grow(P100, tranche("t", "p", "0.01", on=D))
    assert tree.allocated(tree.nodes["p"]) == Decimal("0.01")


def test_tranche_unit_must_equal_its_parents() -> None:
    tree = grow(P100)
    error = refuse(tree, tranche("t", "p", "10", unit="JPY", on=D), 1)
    assert "'JPY'" in error.reason
    assert "'USD'" in error.reason


def test_delivery_unit_must_equal_its_parents() -> None:
    tree = grow(P100, tranche("t", "p", "10", on=D))
    refuse(tree, delivery("d", "t", "1", unit="EUR", on=D), 1)


def test_amendment_amount_must_be_positive() -> None:
    tree = grow(P100)
    refuse(tree, amendment("a", "p", "0", on=D), 1)
    refuse(tree, amendment("a", "p", "-100", on=D), 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "  "}, "id"),
        ({"sources": []}, "sources"),
        ({"sources": [{"outlet": " "}]}, "sources[0].outlet"),
        ({"unit": ""}, "unit"),
    ],
)
def test_shape_problems_are_invalid_records(change: dict[str, Any], field: str) -> None:
    record = pledge("p", "10") | change
    with pytest.raises(InvalidRecord) as caught:
        check_shape(ev(record))
    assert any(m.startswith(f"{field}: ") for m in caught.value.messages)


def test_every_source_with_a_blank_outlet_is_reported() -> None:
    record = pledge("p", "10") | {"sources": [{"outlet": ""}, {"outlet": "ok"}, {"outlet": " "}]}
    with pytest.raises(InvalidRecord) as caught:
        check_shape(ev(record))
    assert [m.partition(":")[0] for m in caught.value.messages] == [
        "sources[0].outlet",
        "sources[2].outlet",
    ]


# -- invariant 2: tranches fit under their parent ----------------------------------------------


def test_tranches_may_fill_their_pledge_exactly() -> None:
    tree = grow(P100, tranche("a", "p", "60", on=D), tranche("b", "p", "40", on=D))
    assert tree.allocated(tree.nodes["p"]) == Decimal(100)


def test_one_cent_over_the_pledge_is_refused() -> None:
    tree = grow(P100, tranche("a", "p", "60", on=D))
    error = refuse(tree, tranche("b", "p", "40.01", on=D), 2)
    assert "headroom 40" in error.reason


def test_nested_tranche_is_capped_by_its_parent_tranche_not_the_pledge() -> None:
    tree = grow(P100, tranche("t", "p", "30", on=D), tranche("t1", "t", "20", on=D))
    # The pledge still has 70 of room, but t has only 10 left.
    refuse(tree, tranche("t2", "t", "11", on=D), 2)
    accept(tree, tranche("t2", "t", "10", on=D))
    # Nested tranches are part of their parent: the pledge's own room is unchanged.
    assert tree.allocated(tree.nodes["p"]) == Decimal(30)


def test_up_to_bound_caps_like_exact() -> None:
    tree = grow(pledge("p", "100", bound="up_to", on=D))
    refuse(tree, tranche("t", "p", "101", on=D), 2)


def test_at_least_bound_does_not_cap_tranches() -> None:
    tree = grow(pledge("p", "100", bound="at_least", on=D))
    accept(tree, tranche("t", "p", "80", on=D))
    accept(tree, tranche("u", "p", "80", on=D))
    assert tree.allocated(tree.nodes["p"]) == Decimal(160)


def test_withdrawn_tranche_frees_its_room() -> None:
    tree = grow(P100, tranche("t", "p", "70", on=D))
    refuse(tree, tranche("u", "p", "40", on=D), 2)
    accept(tree, withdrawal("t-off", "t", on="2025-01-11"))
    accept(tree, tranche("u", "p", "40", on="2025-01-11"))
    assert tree.allocated(tree.nodes["p"]) == Decimal(40)


def test_amending_a_tranche_up_rechecks_its_parents_room() -> None:
    tree = grow(P100, tranche("a", "p", "60", on=D), tranche("b", "p", "30", on=D))
    refuse(tree, amendment("b-up", "b", "41", on=D), 2)
    accept(tree, amendment("b-up", "b", "40", on=D))
    assert tree.nodes["b"].amount == Decimal(40)


def test_amending_a_tranche_under_a_floor_is_not_capped() -> None:
    tree = grow(pledge("p", "100", bound="at_least", on=D), tranche("t", "p", "60", on=D))
    accept(tree, amendment("t-up", "t", "500", on=D))
    assert tree.allocated(tree.nodes["p"]) == Decimal(500)


# -- invariant 3: deliveries fit under every ancestor ----------------------------------------


def test_deliveries_may_reach_their_node_exactly() -> None:
    tree = grow(P100, delivery("d1", "p", "60", on=D), delivery("d2", "p", "40", on=D))
    assert tree.delivered(tree.nodes["p"]) == Decimal(100)
    refuse(tree, delivery("d3", "p", "0.01", on=D), 3)


def test_deliveries_against_a_node_and_its_descendants_add_up() -> None:
    tree = grow(P100, tranche("t", "p", "60", on=D), delivery("dt", "t", "60", on=D))
    # 60 against the tranche counts against the pledge too: only 40 more fit there.
    refuse(tree, delivery("dp", "p", "41", on=D), 3)
    accept(tree, delivery("dp", "p", "40", on=D))


def test_delivery_is_capped_by_an_ancestor_above_a_floor() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "50", bound="at_least", on=D),
        tranche("c", "t", "150", on=D),  # allowed: t is a floor
    )
    error = refuse(tree, delivery("d", "c", "120", on=D), 3)
    assert "against p " in error.reason  # c (150) had room; the pledge (100) did not
    accept(tree, delivery("d", "c", "100", on=D))


def test_at_least_node_does_not_cap_deliveries() -> None:
    tree = grow(pledge("p", "100", bound="at_least", on=D))
    accept(tree, delivery("d", "p", "250", on=D))
    assert tree.delivered(tree.nodes["p"]) == Decimal(250)


def test_amending_a_delivery_up_rechecks_invariant_3() -> None:
    tree = grow(P100, delivery("d", "p", "90", on=D))
    refuse(tree, amendment("d-up", "d", "100.5", on=D), 3)
    accept(tree, amendment("d-up", "d", "100", on=D))
    assert tree.delivered(tree.nodes["p"]) == Decimal(100)


def test_withdrawn_delivery_no_longer_counts() -> None:
    tree = grow(P100, delivery("d", "p", "90", on=D), withdrawal("d-off", "d", on=D))
    assert tree.delivered(tree.nodes["p"]) == 0
    accept(tree, delivery("d2", "p", "100", on=D))


# -- invariant 4: amendments cannot cut below what sits under a figure ------------------------


def test_amendment_cannot_cut_below_allocated() -> None:
    tree = grow(P100, tranche("t", "p", "70", on=D))
    error = refuse(tree, amendment("cut", "p", "69.99", on=D), 4)
    assert "allocated" in error.reason
    accept(tree, amendment("cut", "p", "70", on=D))


def test_amendment_cannot_cut_below_delivered() -> None:
    tree = grow(P100, tranche("t", "p", "70", on=D), delivery("d", "t", "50", on=D))
    error = refuse(tree, amendment("cut", "t", "49", on=D), 4)
    assert "delivered" in error.reason
    accept(tree, amendment("cut", "t", "50", on=D))


def test_amendment_to_a_floor_may_go_below_allocated() -> None:
    tree = grow(P100, tranche("t", "p", "70", on=D))
    accept(tree, amendment("floor", "p", "50", bound="at_least", on=D))
    assert tree.nodes["p"].bound.value == "at_least"
    # Turning the floor back into an exact figure re-checks invariant 4 against the new bound.
    refuse(tree, amendment("exact", "p", "60", bound="exact", on=D), 4)


# -- invariant 5: references resolve and come no earlier than what they refer to --------------


def test_unknown_parent_is_refused() -> None:
    tree = grow(P100)
    refuse(tree, tranche("t", "nowhere", "10", on=D), 5)
    refuse(tree, delivery("d", "nowhere", "10", on=D), 5)


def test_a_delivery_is_not_a_parent() -> None:
    tree = grow(P100, delivery("d", "p", "10", on=D))
    refuse(tree, tranche("t", "d", "1", on=D), 5)


def test_withdrawn_parent_is_refused_down_the_whole_subtree() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "50", on=D),
        tranche("t1", "t", "20", on=D),
        withdrawal("t-off", "t", on=D),
    )
    refuse(tree, tranche("x", "t", "1", on=D), 5)
    refuse(tree, tranche("y", "t1", "1", on=D), 5)  # cascaded
    refuse(tree, delivery("d", "t1", "1", on=D), 5)


def test_event_may_share_its_parents_date_but_not_precede_it() -> None:
    tree = grow(P100)
    refuse(tree, tranche("t", "p", "10", on="2025-01-09"), 5)
    refuse(tree, delivery("d", "p", "10", on="2025-01-09"), 5)
    accept(tree, tranche("t", "p", "10", on=D))
    refuse(tree, tranche("t1", "t", "5", on="2025-01-09"), 5)


def test_correction_of_an_unknown_or_a_correction_is_refused() -> None:
    tree = grow(P100, amendment("p-up", "p", "120", on=D))
    refuse(tree, amendment("x", "p-up", "130", on=D), 5)
    refuse(tree, withdrawal("y", "p-up", on=D), 5)


def test_withdrawn_target_is_refused() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "10", on=D),
        delivery("d", "p", "5", on=D),
        withdrawal("t-off", "t", on=D),
        withdrawal("d-off", "d", on=D),
    )
    refuse(tree, amendment("t-up", "t", "20", on=D), 5)
    refuse(tree, withdrawal("t-off2", "t", on=D), 5)
    refuse(tree, amendment("d-up", "d", "6", on=D), 5)


def test_a_pledge_tree_holds_no_root_records() -> None:
    tree = grow(P100)
    assert refuse(tree, pledge("q", "1", on=D), None)
    assert refuse(tree, loi("l", "1", on=D), None)


# -- the date barrier of corrections (domain.py's docstring) ----------------------------------


def test_nothing_may_be_dated_before_a_recorded_correction() -> None:
    tree = grow(P100, amendment("p-up", "p", "200", on="2025-03-01"))
    # After the parent (5 allows it) but before the amendment: refused by the barrier.
    error = refuse(tree, tranche("t", "p", "10", on="2025-02-01"), 5)
    assert "correction" in error.reason
    refuse(tree, delivery("d", "p", "10", on="2025-02-01"), 5)
    accept(tree, tranche("t", "p", "10", on="2025-03-01"))


def test_a_correction_may_not_precede_anything_in_its_tree() -> None:
    tree = grow(P100, tranche("t", "p", "10", on=D), delivery("d", "t", "5", on="2025-04-01"))
    # The pledge is dated January, but the tree already holds an April delivery.
    refuse(tree, amendment("p-up", "p", "120", on="2025-03-01"), 5)
    refuse(tree, withdrawal("t-off", "t", on="2025-03-01"), 5)
    accept(tree, amendment("p-up", "p", "120", on="2025-04-01"))


def test_additions_may_arrive_out_of_date_order_between_corrections() -> None:
    late = tranche("late", "p", "10", on="2025-05-01")
    tree = grow(P100, late, tranche("early", "p", "10", on="2025-02-01"))
    assert [tree.nodes[c].world_date for c in tree.nodes["p"].children] == [
        date(2025, 5, 1),
        date(2025, 2, 1),
    ]


# -- withdrawals ------------------------------------------------------------------------------


def test_node_with_deliveries_under_it_cannot_be_withdrawn() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "50", on=D),
        tranche("t1", "t", "20", on=D),
        delivery("d", "t1", "5", on=D),
    )
    error = refuse(tree, withdrawal("t-off", "t", on=D), None)
    assert "amend it down" in error.reason
    refuse(tree, withdrawal("p-off", "p", on=D), None)
    # Once the delivery itself is withdrawn, the tranche can go.
    accept(tree, withdrawal("d-off", "d", on=D))
    accept(tree, withdrawal("t-off", "t", on=D))


def test_withdrawal_cascades_to_the_subtree_only() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "50", on=D),
        tranche("t1", "t", "20", on=D),
        tranche("t2", "t1", "5", on=D),
        tranche("u", "p", "10", on=D),
        withdrawal("t-off", "t", on=D),
    )
    assert {n.id for n in tree.nodes.values() if not n.active} == {"t", "t1", "t2"}
    assert tree.nodes["u"].active
    assert tree.nodes["p"].active
    assert tree.allocated(tree.nodes["p"]) == Decimal(10)


def test_withdrawing_the_pledge_cancels_everything() -> None:
    tree = grow(P100, tranche("t", "p", "50", on=D), withdrawal("p-off", "p", on=D))
    assert not any(n.active for n in tree.nodes.values())
    refuse(tree, amendment("p-up", "p", "120", on=D), 5)


# -- letters of intent and agreements ----------------------------------------------------------


def letter(*records: Record) -> LetterState:
    event = ev(loi("l", "10", on=D))
    assert isinstance(event, LetterOfIntent)
    state = LetterState.start(event)
    for record in records:
        correction = ev(record)
        assert isinstance(correction, Amendment | Withdrawal)
        state.check(correction)
        state.apply(correction)
    return state


def test_letter_is_amended_and_withdrawn() -> None:
    state = letter(amendment("l-up", "l", "12", bound="up_to", on="2025-02-01"))
    assert (state.amount, state.bound.value, state.active) == (Decimal(12), "up_to", True)
    state = letter(
        amendment("l-up", "l", "12", on="2025-02-01"), withdrawal("l-off", "l", on="2025-03-01")
    )
    assert not state.active


def test_letter_corrections_are_refused_when_withdrawn_early_or_non_positive() -> None:
    state = letter(amendment("l-up", "l", "12", on="2025-02-01"))
    refuse(state, amendment("l-back", "l", "11", on="2025-01-31"), 5)  # before the last one
    refuse(state, amendment("l-zero", "l", "0", on="2025-02-01"), 1)
    state = letter(withdrawal("l-off", "l", on="2025-02-01"))
    refuse(state, amendment("l-up", "l", "12", on="2025-03-01"), 5)


def test_letter_correction_must_target_the_letter_itself() -> None:
    # Corrections are not corrected: amending or withdrawing an amendment is refused (as in a
    # pledge's tree), rather than silently applied to the letter it belongs to.
    state = letter(amendment("l-up", "l", "12", on="2025-02-01"))
    refuse(state, amendment("l-up2", "l-up", "15", on="2025-03-01"), 5)
    refuse(state, withdrawal("l-off", "l-up", on="2025-03-01"), 5)


def agreement_state() -> AgreementState:
    event = ev(agreement("acme", on="2025-03-01"))
    assert isinstance(event, Agreement)
    return AgreementState(record=event)


def test_agreement_reference_must_be_signed_and_active() -> None:
    state = agreement_state()
    early = ev(pledge("p", "1", agreement="acme", on="2025-02-28"))
    on_the_day = ev(pledge("p", "1", agreement="acme", on="2025-03-01"))
    assert isinstance(early, Pledge)
    assert isinstance(on_the_day, Pledge)
    with pytest.raises(Refused) as caught:
        state.check_reference(early)
    assert caught.value.invariant == 5
    state.check_reference(on_the_day)
    off = ev(withdrawal("acme-off", "acme", on="2025-04-01"))
    assert isinstance(off, Withdrawal)
    state.check(off)
    state.apply(off)
    with pytest.raises(Refused) as caught:
        state.check_reference(on_the_day)
    assert caught.value.invariant == 5


def test_agreement_has_no_figure_to_amend() -> None:
    refuse(agreement_state(), amendment("acme-up", "acme", "5", on="2025-04-01"), None)


def test_agreement_withdrawal_rules() -> None:
    state = agreement_state()
    refuse(state, withdrawal("off", "acme", on="2025-02-01"), 5)  # before it was signed
    off = ev(withdrawal("off", "acme", on="2025-03-01"))
    assert isinstance(off, Withdrawal)
    state.apply(off)
    refuse(state, withdrawal("off2", "acme", on="2025-05-01"), 5)


# -- queries ----------------------------------------------------------------------------------


def test_queries_walk_the_tree() -> None:
    tree = grow(
        P100,
        tranche("t", "p", "50", on=D),
        tranche("t1", "t", "20", on=D),
        tranche("gone", "t", "5", on=D),
        delivery("d1", "t1", "7", on=D),
        delivery("d2", "t", "3", on=D),
        delivery("d3", "p", "1", on=D),
        withdrawal("gone-off", "gone", on=D),
    )
    assert [n.id for n in tree.ancestors("t1")] == ["t1", "t", "p"]
    assert [n.id for n in tree.subtree(tree.nodes["p"])] == ["p", "t", "t1"]
    assert tree.allocated(tree.nodes["t"]) == Decimal(20)
    assert tree.delivered(tree.nodes["t1"]) == Decimal(7)
    assert tree.delivered(tree.nodes["t"]) == Decimal(10)
    assert tree.delivered(tree.nodes["p"]) == Decimal(11)
    assert tree.latest == date(2025, 1, 10)
    assert isinstance(tree.records["d1"], Delivery)
    assert isinstance(tree.records["t1"], Tranche)


def test_a_delivery_amendment_may_give_it_a_bound() -> None:
    # Refused before issue 8 ("a delivery has no bound"); a delivery figure is now a figure
    # like any other ("at least 1 batch"), so an amendment may bound it.
    tree = grow(P100, delivery("d", "p", "5", on=D))
    accept(tree, amendment("a", "d", "6", on=D, bound="up_to"))
    delivered = tree.deliveries["d"]
    assert (delivered.amount, delivered.bound.value) == (Decimal(6), "up_to")
    assert (delivered.figure.low, delivered.figure.high) == (Decimal(0), Decimal(6))
    assert tree.delivered(tree.nodes["p"]) == Decimal(6)  # invariant 3 counts the headline
    refuse(tree, amendment("b", "d", "101", on=D, bound="up_to"), 3)


def test_a_refusal_names_its_rule_in_words_and_keeps_its_number() -> None:
    by_number = Refused("t9", "too much", 2)
    assert by_number.rule is not None
    assert (by_number.rule.key, by_number.invariant) == ("tranches", 2)
    assert str(by_number) == (
        "t9: refused (invariant 2: tranches exceed their parent, "
        "docs/semantics.md#invariants): too much"
    )
    by_key = Refused("x", "late", 5, rule="date-order")
    assert (by_key.rule and by_key.rule.key, by_key.invariant) == ("date-order", 5)
    assert "(invariant 5: correction out of date order, " in str(by_key)
    unnumbered = Refused("x", "delivered", rule="withdraw-delivered")
    assert unnumbered.invariant is None
    assert str(unnumbered).startswith("x: refused (withdrawal of a figure with deliveries, docs/")
    assert str(Refused("x", "no rule")) == "x: refused: no rule"
    unknown = Refused("x", "a rule the table lacks", 9)
    assert (unknown.rule, unknown.invariant) == (None, 9)
    assert str(unknown) == "x: refused (invariant 9): a rule the table lacks"
    duplicate = DuplicateId("p", ["amount"])
    assert duplicate.rule is not None
    assert duplicate.rule.key == "identity"
    with pytest.raises(KeyError):
        Refused("x", "m", rule="no-such-rule")


def test_rule_keys_are_unique_and_every_invariant_has_a_rule() -> None:
    keys = [r.key for r in RULES]
    assert len(keys) == len(set(keys))
    assert {r.invariant for r in RULES} == {1, 2, 3, 4, 5, 6, 7, None}
    assert rule("tranches").invariant == 2
