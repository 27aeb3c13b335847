"""The fast paths of :mod:`pledgeledger.codec` equal their slow references, value for value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledgeledger import InvalidRecord, structure_event, unstructure_event
from pledgeledger.domain.records import Event
from pledgeledger.formats.fast import fast_structure, fast_unstructure
from pledgeledger.store.application import LedgerApplication, persistence_env
from pledgeledger.store.transcoder import JSONShaped, MsgspecTranscoder
from pledgeledger.synthetic import generate
from strategies import events

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def mutated(record: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A record with one field replaced, removed or added: often invalid, sometimes not."""
    out = dict(record)
    key = data.draw(st.sampled_from([*record, "extra", "sources"]))
    action = data.draw(st.sampled_from(["replace", "remove", "nested"]))
    if action == "remove":
        out.pop(key, None)
    elif action == "nested" and isinstance(out.get("sources"), list) and out["sources"]:
        source = dict(out["sources"][0])
        source[data.draw(st.sampled_from(["outlet", "url", "published_on", "x"]))] = data.draw(JSON)
        out["sources"] = [source]
    else:
        out[key] = data.draw(
            JSON | st.sampled_from(["1E+3", " 12 ", "NaN", "-5", "20250101", "2025-W01-1", "up_to"])
        )
    return out


def reference(record: Any) -> Event | None:
    try:
        return structure_event(record)
    except InvalidRecord:
        return None


@given(event=events)
def test_fast_paths_round_trip_like_the_reference(event: Event) -> None:
    record = unstructure_event(event)
    assert fast_unstructure(event) == record
    assert fast_structure(json.loads(json.dumps(record))) == structure_event(record) == event


@given(data=st.data(), event=events)
def test_fast_structure_never_accepts_more_nor_differently(
    data: st.DataObject, event: Event
) -> None:
    record = json.loads(json.dumps(mutated(unstructure_event(event), data)))
    fast = fast_structure(record)
    if fast is not None:  # None means "ask the reference", which is always allowed
        # repr, not ==: Decimal("NaN") never equals itself, yet both paths must parse it alike
        # (invariant 1 refuses it later, when it is recorded).
        assert repr(fast) == repr(reference(record))


@pytest.mark.parametrize("record", list(generate(300, 5, backdate=True, cents=True)))
def test_synthetic_records_take_the_fast_path(record: dict[str, Any]) -> None:
    event = fast_structure(record)
    assert event is not None
    assert event == structure_event(record)


@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**60), 2**60)
        | st.text()
        | st.decimals(allow_nan=False)
        | st.uuids()
        | st.datetimes(timezones=st.just(UTC)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    )
)
def test_msgspec_transcoder_reads_and_writes_eventsourcings_format(value: Any) -> None:
    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    assert isinstance(ours, MsgspecTranscoder)
    stock = type(ours).__mro__[1]()  # eventsourcing's JSONTranscoder, same transcodings
    for transcoding in ours.types.values():
        stock.register(transcoding)
    state = {"value": value, "moment": datetime(2025, 1, 1, tzinfo=UTC), "id": uuid4()}
    assert ours.decode(ours.encode(state)) == stock.decode(stock.encode(state))
    assert ours.decode(stock.encode(state)) == stock.decode(ours.encode(state))
    app.close()


def test_transcoder_refuses_what_it_cannot_encode() -> None:
    app = LedgerApplication(env=persistence_env(":memory:"))
    with pytest.raises(TypeError, match="not serializable"):
        app.mapper.transcoder.encode({"x": {1, 2}})
    assert app.mapper.transcoder.decode(b'{"a":{"_type_":"decimal_str","_data_":"1.5"}}') == {
        "a": Decimal("1.5")
    }
    app.close()


MARKED = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from(["_type_", "_data_", 'a "_type_" b', "back\\slash", "decimal_str"])
    | st.text()
    | st.decimals(allow_nan=False)
    | st.datetimes(timezones=st.just(UTC))
)
KEYS = st.sampled_from(["_type_", "_data_", "timestamp", "entry"]) | st.text()


@given(
    value=st.recursive(
        MARKED,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
        max_leaves=10,
    )
)
def test_msgspec_transcoder_revives_exactly_what_json_transcoder_revives(value: Any) -> None:
    # Keys and texts that look like the {"_type_", "_data_"} objects, at the top and below, so
    # that the shortcut of the decoder (count the literal "_type_" marks) is put to the test.
    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    assert isinstance(ours, MsgspecTranscoder)
    stock = type(ours).__mro__[1]()
    for transcoding in ours.types.values():
        stock.register(transcoding)
    for state in (value, {"timestamp": datetime(2025, 1, 1, tzinfo=UTC), "entry": value}):
        data = stock.encode(state)
        assert ours.encode(state) == data
        assert outcome(ours.decode, data) == outcome(stock.decode, data)
    app.close()


def outcome(decode: Any, data: bytes) -> tuple[str, str]:
    """What ``decode(data)`` gives, or which exception it raises (a text that only looks
    like a transcoded value, such as ``{"_type_": null, "_data_": 1}``, is refused alike)."""
    try:
        return "value", repr(decode(data))
    except (TypeError, ValueError) as exc:
        return "error", type(exc).__name__


@pytest.mark.parametrize(
    "data",
    [
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2025-01-01T00:00:00+00:00"},'
        b'"entry":{"note":"_type_"}}',
        b'{"a":{"_type_":"decimal_str","_data_":"1"},"b":[{"_type_":"decimal_str","_data_":"2"}]}',
        b'{"a":{"\\u005ftype_":"decimal_str","_data_":"3"}}',
        b'{"a":{"_type_":"decimal_str","_data_":"4"},"q":"say \\"_type_\\""}',
        b'{"_type_":"decimal_str","_data_":"5"}',
        b'{"a":{"_type_":"decimal_str","_data_":"6","x":1}}',
        b'{"a":{"_type_":"decimal_str"},"b":{"_type_":"decimal_str","_data_":"7"}}',
        b'{"a":{"_type_":"decimal_str","_data_":"8"},"b":{"c":{"_type_":"decimal_str","_data_":"9"}}}',
        b'[{"_type_":"decimal_str","_data_":"10"}]',
        b'{"a":{"_data_":"11","_type_":"decimal_str"},"b":{"_type_":"decimal_str","_data_":"11"}}',
    ],
)
def test_msgspec_transcoder_decodes_marked_texts_like_json_transcoder(data: bytes) -> None:
    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    assert isinstance(ours, MsgspecTranscoder)
    stock = type(ours).__mro__[1]()
    for transcoding in ours.types.values():
        stock.register(transcoding)
    assert outcome(ours.decode, data) == outcome(stock.decode, data)
    app.close()


def test_msgspec_transcoder_shares_only_immutable_decoded_values() -> None:
    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    moment = b'{"t":{"_type_":"datetime_iso","_data_":"2025-01-01T00:00:00+00:00"}}'
    first, second = ours.decode(moment), ours.decode(moment)
    assert first == second
    assert first is not second  # each decode builds its own state dict
    later = ours.decode(b'{"t":{"_type_":"datetime_iso","_data_":"2025-01-02T00:00:00+00:00"}}')
    assert later["t"] == datetime(2025, 1, 2, tzinfo=UTC)
    assert ours.encode({"t": later["t"]}) != ours.encode({"t": first["t"]})
    app.close()


@given(event=events)
def test_stored_records_are_json_shaped_as_the_transcoder_trusts(event: Event) -> None:
    # The write path wraps fast_unstructure's records in JSONShaped, which MsgspecTranscoder
    # writes without looking inside: they must hold JSON-native values only.
    entry = fast_unstructure(event)
    assert json.loads(json.dumps(entry)) == entry  # no tuple, Decimal, date... anywhere
    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    assert isinstance(ours, MsgspecTranscoder)
    stock = type(ours).__mro__[1]()
    for transcoding in ours.types.values():
        stock.register(transcoding)
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    data = ours.encode({"timestamp": moment, "entry": JSONShaped(entry)})
    assert data == stock.encode({"timestamp": moment, "entry": entry})
    assert stock.decode(data) == ours.decode(data) == {"timestamp": moment, "entry": entry}
    app.close()
