"""JSON-shaped dicts to events and back: exact round trips, and errors that name every field."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import agreement, loi, pledge
from pledgeledger import (
    Bound,
    InvalidRecord,
    LetterOfIntent,
    Pledge,
    Source,
    structure_event,
    unstructure_event,
)
from pledgeledger.domain.records import EVENT_TYPES, MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS
from strategies import EVENT_STRATEGIES, any_decimals, pledges


def messages(data: Any) -> list[str]:
    with pytest.raises(InvalidRecord) as caught:
        structure_event(data)
    return caught.value.messages


def fields_named(data: Any) -> set[str]:
    return {m.partition(":")[0] for m in messages(data)}


# -- round trips -----------------------------------------------------------------------------


def test_every_event_type_has_a_strategy() -> None:
    # The round-trip tests below are only as complete as this mapping.
    assert set(EVENT_STRATEGIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
@given(data=st.data())
def test_round_trip_through_a_dict(kind: str, data: st.DataObject) -> None:
    event = data.draw(EVENT_STRATEGIES[kind])
    assert structure_event(unstructure_event(event)) == event


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
@given(data=st.data())
def test_round_trip_through_json_text(kind: str, data: st.DataObject) -> None:
    event = data.draw(EVENT_STRATEGIES[kind])
    text = json.dumps(unstructure_event(event))
    assert structure_event(json.loads(text)) == event


@given(event=pledges)
def test_unstructured_pledge_has_the_file_format_shape(event: Pledge) -> None:
    data = unstructure_event(event)
    assert data["type"] == "pledge"
    if event.amount is None:  # undisclosed: written as null, never left out (it is required)
        assert data["amount"] is None
    else:
        assert isinstance(data["amount"], str)
        assert Decimal(data["amount"]) == event.amount
    assert data["announced_on"] == event.announced_on.isoformat()
    assert data["bound"] == event.bound.value
    assert ("agreement" in data) == (event.agreement is not None)
    for source in data["sources"]:
        assert None not in source.values()
        assert "outlet" in source


@given(value=any_decimals)
def test_amount_keeps_its_exact_digits(value: Decimal) -> None:
    # Conversion does not judge the sign (invariant 1 does); it must never lose a digit, and
    # refuses (naming the field) what lies outside the documented digit limits.
    record = pledge("p", str(value))
    exponent = value.as_tuple().exponent
    inside = not value.is_finite() or (
        isinstance(exponent, int)
        and value.adjusted() < MAX_INTEGER_DIGITS
        and -exponent <= MAX_DECIMAL_PLACES
    )
    if not inside:
        with pytest.raises(InvalidRecord, match=r"^amount: at most 18 digits"):
            structure_event(record)
        return
    event = structure_event(record)
    assert isinstance(event, Pledge)
    assert event.amount == value or not value.is_finite()
    if isinstance(exponent, int) and exponent > 0:  # "1E+3" is kept as the plain 1000
        assert unstructure_event(event)["amount"] == str(value.quantize(Decimal(1)))
    else:
        assert event.amount is not None
        assert event.amount.as_tuple() == value.as_tuple()
        assert unstructure_event(event)["amount"] == str(value)


@pytest.mark.parametrize("text", ["Japan", "J"])
def test_a_string_is_not_a_list_of_parties(text: str) -> None:
    record = {
        "type": "agreement",
        "id": "a",
        "title": "t",
        "parties": text,
        "signed_on": "2025-01-01",
        "sources": [{"outlet": "o"}],
    }
    with pytest.raises(InvalidRecord, match=r"^parties: expected a list of names"):
        structure_event(record)


def test_decimal_string_is_exact_where_a_float_would_not_be() -> None:
    event = structure_event(pledge("p", "36000000000.10"))
    assert isinstance(event, Pledge)
    assert event.amount == Decimal("36000000000.10")
    assert unstructure_event(event)["amount"] == "36000000000.10"


def test_json_integer_amount_is_accepted_exactly() -> None:
    record = pledge("p", "1")
    record["amount"] = 550000000000
    event = structure_event(record)
    assert isinstance(event, Pledge)
    assert event.amount == Decimal(550000000000)


def test_defaults_fill_optional_fields() -> None:
    event = structure_event(pledge("p", "10"))
    assert isinstance(event, Pledge)
    assert event.bound is Bound.EXACT
    assert event.agreement is None
    assert event.sources == (Source("Gazette", "https://example.org/1"),)


def test_loi_record_builds_a_letter_of_intent() -> None:
    event = structure_event(loi("c", "5", unit="t LNG/yr", agreement="acme"))
    assert isinstance(event, LetterOfIntent)
    assert (event.party, event.counterparty) == ("Exporter Co", "Importer Co")
    assert event.unit == "t LNG/yr"
    assert event.agreement == "acme"


def test_source_published_on_is_a_date() -> None:
    record = pledge("p", "10")
    record["sources"] = [{"outlet": "Gazette", "published_on": "2025-07-23"}]
    event = structure_event(record)
    assert event.sources[0].published_on == date(2025, 7, 23)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1.5, 1.0, 1e11])
def test_float_amount_is_refused(value: float) -> None:
    record = pledge("p", "1")
    record["amount"] = value
    (message,) = messages(record)
    assert message.startswith("amount: ")
    assert "decimal string" in message


def test_boolean_amount_is_refused() -> None:
    record = pledge("p", "1")
    record["amount"] = True
    assert fields_named(record) == {"amount"}


def test_non_numeric_amount_is_named() -> None:
    (message,) = messages(pledge("p", "about 5 billion"))
    assert message == "amount: not a decimal number: 'about 5 billion'"


@pytest.mark.parametrize("value", ["2025-13-01", "23/07/2025", "2025-07", "", 20250723, None])
def test_bad_date_is_named(value: Any) -> None:
    record = pledge("p", "1")
    record["announced_on"] = value
    (message,) = messages(record)
    assert message.startswith("announced_on: ")
    assert "ISO date" in message


def test_bad_date_inside_a_source_is_named_with_its_index() -> None:
    record = pledge("p", "1")
    record["sources"] = [{"outlet": "A"}, {"outlet": "B", "published_on": "yesterday"}]
    assert fields_named(record) == {"sources[1].published_on"}


@pytest.mark.parametrize("kind", ["grant", "Pledge", "", 3, None])
def test_unknown_type_is_named(kind: Any) -> None:
    record = pledge("p", "1")
    record["type"] = kind
    (message,) = messages(record)
    assert message.startswith("type: expected one of agreement, pledge")
    assert repr(kind) in message


def test_missing_type_is_named() -> None:
    record = pledge("p", "1")
    del record["type"]
    assert fields_named(record) == {"type"}


@pytest.mark.parametrize("data", [[1, 2], "pledge", 3, None])
def test_a_record_must_be_an_object(data: Any) -> None:
    (message,) = messages(data)
    assert message.startswith("(record): expected a JSON object")


def test_extra_keys_are_named() -> None:
    record = pledge("p", "1")
    record["ammount"] = "2"
    record["note"] = "typo above"
    (message,) = messages(record)
    assert message.startswith("(record): extra fields found")
    assert "ammount" in message
    assert "note" in message


def test_extra_keys_inside_a_source_are_named() -> None:
    record = pledge("p", "1")
    record["sources"] = [{"outlet": "A", "link": "https://example.org"}]
    (message,) = messages(record)
    assert message.startswith("sources[0]: extra fields found")
    assert "link" in message


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_every_missing_field_is_named(kind: str) -> None:
    required = {f.name for f in attrs.fields(EVENT_TYPES[kind]) if f.default is attrs.NOTHING}
    assert "id" in required  # every record has an id, corrections included
    msgs = messages({"type": kind})
    assert {m.partition(":")[0] for m in msgs} == required
    assert all(m.endswith("required field missing") for m in msgs)


def test_bad_bound_is_named_with_the_choices() -> None:
    (message,) = messages(pledge("p", "1", bound="roughly"))
    assert message == "bound: expected one of exact, up_to, at_least, about, got 'roughly'"


@pytest.mark.parametrize("field", ["id", "pledger", "unit", "sector"])
def test_non_string_is_named(field: str) -> None:
    record = pledge("p", "1")
    record[field] = 7
    assert messages(record) == [f"{field}: expected a string, got 7"]


def test_non_string_party_is_named_with_its_index() -> None:
    record = agreement("a")
    record["parties"] = ["A", 3]
    assert fields_named(record) == {"parties[1]"}


def test_several_bad_fields_are_all_reported_at_once() -> None:
    record = pledge("p", "1", bound="maybe")
    record["amount"] = 2.5
    record["announced_on"] = "2025-02-30"
    del record["pledger"]
    error_fields = fields_named(record)
    assert error_fields == {"amount", "announced_on", "bound", "pledger"}
    with pytest.raises(InvalidRecord) as caught:
        structure_event(record)
    # The one-line form lists every message, so the CLI prints them all.
    assert str(caught.value) == "; ".join(caught.value.messages)
    assert len(caught.value.messages) == 4


CORRUPTIONS: dict[str, Any] = {
    "amount": 0.5,
    "announced_on": "2025/01/01",
    "bound": "circa",
    "pledger": ["Japan"],
    "unit": None,
    "sector": 12,
    "recipient": {"name": "US"},
}


@given(bad=st.sets(st.sampled_from(sorted(CORRUPTIONS)), min_size=1))
def test_any_set_of_bad_fields_is_reported_exactly(bad: set[str]) -> None:
    record = pledge("p", "1")
    for field in bad:
        record[field] = CORRUPTIONS[field]
    assert fields_named(record) == bad
