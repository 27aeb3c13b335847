"""Fast paths between bytes, JSON-shaped dicts and events, each equal to its slow reference.

Profiling an import showed most of the time in generic machinery: the stdlib JSON encoder
calling back into Python for every datetime and UUID, and cattrs' detailed validation and
unstructuring (about 8 and 7 µs an event). This module keeps the same results and skips the
generic work:

* :class:`MsgspecTranscoder` writes and reads exactly eventsourcing's ``JSONTranscoder`` format
  (``{"_type_": ..., "_data_": ...}`` for UUIDs, datetimes and decimals), with msgspec doing
  the byte work; stored events stay readable by a stock eventsourcing application.
* :class:`StateReader` decodes a stored event's state without building a domain event object,
  still running eventsourcing's upcasting chain (``class_version``/``upcast_vN_vN+1``) when a
  class asks for it, and honouring the mapper's cipher and compressor.
* :func:`fast_structure` builds an event from a JSON-shaped dict when every field has the plain
  shape that JSON gives (strings, lists, dicts), and answers ``None`` otherwise, so the caller
  falls back to :func:`pledgeledger.convert.structure_event` and its field-by-field messages.
  It never accepts a dict that the reference refuses, nor builds a different event.
* :func:`fast_unstructure` equals :func:`pledgeledger.convert.unstructure_event`.

The equalities are property-tested in ``tests/test_codec.py``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import attrs
import msgspec
from eventsourcing.persistence import JSONTranscoder, Mapper, TranscodingNotRegisteredError
from eventsourcing.utils import resolve_topic

from .events import EVENT_TYPES, MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS, Bound, Event, Source

__all__ = [
    "MsgspecTranscoder",
    "StateReader",
    "fast_structure",
    "fast_unstructure",
    "utc_text",
]

_JSON_NATIVE = (str, int, float, bool, type(None))


class MsgspecTranscoder(JSONTranscoder):
    """eventsourcing's JSON format, encoded and decoded with msgspec.

    A subclass of ``JSONTranscoder`` so that ``Application.register_transcodings`` registers
    the usual UUID, Decimal and datetime transcodings on it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def _prepare(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _JSON_NATIVE:
            return obj
        if kind is dict:
            return {k: self._prepare(v) for k, v in obj.items()}
        if kind is list or kind is tuple:
            return [self._prepare(v) for v in obj]
        transcoding = self.types.get(kind)
        if transcoding is None:
            msg = (
                f"Object of type {kind} is not serializable. Please define and register a "
                "custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return {"_type_": transcoding.name, "_data_": self._prepare(transcoding.encode(obj))}

    def _revive(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            revived = {k: self._revive(v) for k, v in obj.items()}
            if len(revived) == 2 and "_type_" in revived and "_data_" in revived:
                transcoding = self.names.get(revived["_type_"])
                if transcoding is None:
                    msg = (
                        f"Data serialized with name '{revived['_type_']}' is not "
                        "deserializable. Please register a custom transcoding for this type."
                    )
                    raise TranscodingNotRegisteredError(msg)
                return transcoding.decode(revived["_data_"])
            return revived
        if kind is list:
            return [self._revive(v) for v in obj]
        return obj

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(self._prepare(obj))

    def decode(self, data: bytes) -> Any:
        return self._revive(self._decoder.decode(data))


def utc_text(moment: datetime) -> str:
    """A recorded time as fixed-width UTC text, so that text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=64)
def _event_class(topic: str) -> Any:
    return resolve_topic(topic)


class StateReader:
    """Reads the parts of a stored event the read models need: its record and recorded time.

    Equivalent to ``mapper.to_domain_event(stored).entry`` and ``.timestamp``, minus building
    the event object; a class with ``class_version > 1`` goes through the mapper's own
    upcasting path so that old records are read as the current code expects.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        self._decoder = msgspec.json.Decoder()
        self._times: dict[str, str] = {}

    def _recorded(self, raw: Any) -> str:
        iso = raw["_data_"] if type(raw) is dict else raw.isoformat()
        text = self._times.get(iso)
        if text is None:
            if len(self._times) > 10000:
                self._times.clear()
            text = self._times[iso] = utc_text(datetime.fromisoformat(iso))
        return text

    def read(self, topic: str, state: bytes) -> tuple[dict[str, Any], str]:
        """The record (JSON-shaped, as stored) and the recorded time (:func:`utc_text`)."""
        mapper = self._mapper
        cls = _event_class(topic)
        plain = mapper.cipher is None and mapper.compressor is None
        if plain and getattr(cls, "class_version", 1) == 1:
            data = self._decoder.decode(state)
            if "class_version" not in data:
                return data["entry"], self._recorded(data["timestamp"])
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        event_state: dict[str, Any] = mapper.transcoder.decode(state)
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        return event_state["entry"], self._recorded(event_state["timestamp"])


# -- events from dicts and back --------------------------------------------------------------


class _Slow(Exception):  # control flow, never escapes this module
    """This value needs the reference converter (to accept it, or to explain the refusal)."""


_SLOW = _Slow()
_DATES: dict[str, date] = {}


def _str(value: Any) -> str:
    if type(value) is str:
        return value
    raise _SLOW


def _opt_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _SLOW


def _decimal(value: Any) -> Decimal:
    # Only plain figures within convert's digit limits take the fast path; anything else
    # (signs, exponents, NaN, too many digits) gets the reference's checks and messages.
    kind = type(value)
    if kind is str:
        head, dot, tail = value.partition(".")
        if (
            value.isascii()
            and head.isdigit()
            and len(head) <= MAX_INTEGER_DIGITS
            and (not dot or (tail.isdigit() and len(tail) <= MAX_DECIMAL_PLACES))
        ):
            return Decimal(value)
        raise _SLOW
    if kind is int and 0 <= value < _INT_LIMIT:
        return Decimal(value)
    raise _SLOW


_INT_LIMIT = 10**MAX_INTEGER_DIGITS


def _date(value: Any) -> date:
    if type(value) is not str:
        raise _SLOW
    found = _DATES.get(value)
    if found is None:
        try:
            found = date.fromisoformat(value)
        except ValueError:
            raise _SLOW from None
        if len(_DATES) > 50000:
            _DATES.clear()
        _DATES[value] = found
    return found


def _opt_date(value: Any) -> date | None:
    return None if value is None else _date(value)


_BOUNDS = {b.value: b for b in Bound}


def _bound(value: Any) -> Bound:
    if type(value) is str:
        found = _BOUNDS.get(value)
        if found is not None:
            return found
    raise _SLOW


def _opt_bound(value: Any) -> Bound | None:
    return None if value is None else _bound(value)


def _strs(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise _SLOW
    for item in value:
        if type(item) is not str:
            raise _SLOW
    return tuple(value)


_SOURCE_KEYS = frozenset(("outlet", "url", "published_on", "quote"))


def _sources(value: Any) -> tuple[Source, ...]:
    if type(value) is not list:
        raise _SLOW
    out = []
    for item in value:
        if type(item) is not dict or not _SOURCE_KEYS.issuperset(item):
            raise _SLOW
        outlet = item.get("outlet", _SLOW)
        if type(outlet) is not str:
            raise _SLOW
        published = item.get("published_on")
        out.append(
            Source(
                outlet,
                _opt_str(item.get("url")),
                None if published is None else _date(published),
                _opt_str(item.get("quote")),
            )
        )
    return tuple(out)


_Converter = Callable[[Any], Any]
_STRUCTURE_BY_TYPE: dict[Any, _Converter] = {
    str: _str,
    str | None: _opt_str,
    Decimal: _decimal,
    date: _date,
    date | None: _opt_date,
    Bound: _bound,
    Bound | None: _opt_bound,
    tuple[str, ...]: _strs,
    tuple[Source, ...]: _sources,
}


def _unstructure_sources(value: tuple[Source, ...]) -> list[dict[str, str]]:
    out = []
    for source in value:
        item = {"outlet": source.outlet}
        if source.url is not None:
            item["url"] = source.url
        if source.published_on is not None:
            item["published_on"] = source.published_on.isoformat()
        if source.quote is not None:
            item["quote"] = source.quote
        out.append(item)
    return out


_UNSTRUCTURE_BY_TYPE: dict[Any, _Converter | None] = {
    str: None,
    str | None: None,
    Decimal: str,
    date: date.isoformat,
    date | None: date.isoformat,
    Bound: lambda b: b.value,
    Bound | None: lambda b: b.value,
    tuple[str, ...]: list,
    tuple[Source, ...]: _unstructure_sources,
}


@attrs.frozen
class _Spec:
    cls: type[Event]
    allowed: frozenset[str]
    required: tuple[str, ...]
    structure: tuple[tuple[str, _Converter], ...]
    unstructure: tuple[tuple[str, _Converter | None], ...]


def _spec(cls: type[Event]) -> _Spec:
    hints = typing.get_type_hints(cls)
    structure: list[tuple[str, _Converter]] = []
    unstructure: list[tuple[str, _Converter | None]] = []
    required = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if field.name == "type":
            unstructure.append(("type", None))
            continue
        structure.append((field.name, _STRUCTURE_BY_TYPE[hint]))
        unstructure.append((field.name, _UNSTRUCTURE_BY_TYPE[hint]))
        if field.default is attrs.NOTHING:
            required.append(field.name)
    names = frozenset(f.name for f in attrs.fields(cls))
    return _Spec(cls, names, tuple(required), tuple(structure), tuple(unstructure))


_SPECS: dict[str, _Spec] = {kind: _spec(cls) for kind, cls in EVENT_TYPES.items()}
_SPECS_BY_CLASS: dict[type[Any], _Spec] = {spec.cls: spec for spec in _SPECS.values()}


def fast_structure(data: Any) -> Event | None:
    """The event ``structure_event(data)`` would build, or ``None`` to ask it instead."""
    if type(data) is not dict:
        return None
    kind = data.get("type")
    spec = _SPECS.get(kind) if type(kind) is str else None
    if spec is None or not spec.allowed.issuperset(data):
        return None
    try:
        kwargs = {name: convert(data[name]) for name, convert in spec.structure if name in data}
    except _Slow:
        return None
    for name in spec.required:
        if name not in kwargs:
            return None
    return spec.cls(**kwargs)


def fast_unstructure(event: Event) -> dict[str, Any]:
    """Equal to :func:`pledgeledger.convert.unstructure_event`."""
    out: dict[str, Any] = {}
    for name, convert in _SPECS_BY_CLASS[type(event)].unstructure:
        value = getattr(event, name)
        if value is not None:
            out[name] = value if convert is None else convert(value)
    return out
