"""Fast paths between JSON-shaped dicts and records, each equal to its slow reference.

Profiling an import showed most of the time in generic machinery: cattrs' detailed validation
and unstructuring (about 8 and 7 µs a record). This module keeps the same results and skips the
generic work:

* :func:`fast_structure` builds a record from a JSON-shaped dict when every field has the plain
  shape that JSON gives (strings, lists, dicts), and answers ``None`` otherwise, so the caller
  falls back to :func:`pledgeledger.formats.converter.structure_event` and its field-by-field
  messages. It never accepts a dict that the reference refuses, nor builds a different record.
* :func:`fast_unstructure` equals :func:`pledgeledger.formats.converter.unstructure_event`.

The equalities are property-tested in ``tests/formats/test_fast.py``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from pledgeledger.domain.records import (
    EVENT_TYPES,
    MAX_DECIMAL_PLACES,
    MAX_INTEGER_DIGITS,
    Bound,
    Event,
    Source,
)

__all__ = ["fast_structure", "fast_unstructure", "load_event"]


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


def _opt_decimal(value: Any) -> Decimal | None:
    return None if value is None else _decimal(value)


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
    Decimal | None: _opt_decimal,
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
    Decimal | None: str,
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
    unstructure: tuple[tuple[str, _Converter | None, bool], ...]
    """Each field's name, how to unstructure it, and whether ``None`` is written (as null:
    a required field, such as an undisclosed ``amount``) rather than left out."""


def _spec(cls: type[Event]) -> _Spec:
    hints = typing.get_type_hints(cls)
    structure: list[tuple[str, _Converter]] = []
    unstructure: list[tuple[str, _Converter | None, bool]] = []
    required = []
    for field in attrs.fields(cls):
        hint = hints[field.name]
        if field.name == "type":
            unstructure.append(("type", None, False))
            continue
        needed = field.default is attrs.NOTHING
        structure.append((field.name, _STRUCTURE_BY_TYPE[hint]))
        unstructure.append((field.name, _UNSTRUCTURE_BY_TYPE[hint], needed))
        if needed:
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
    for name, convert, needed in _SPECS_BY_CLASS[type(event)].unstructure:
        value = getattr(event, name)
        if value is not None:
            out[name] = value if convert is None else convert(value)
        elif needed:
            out[name] = None
    return out


def load_event(entry: dict[str, Any]) -> Event:
    """A stored record as a record object (fast path, else the reference converter)."""
    from pledgeledger.formats.converter import structure_event  # cattrs only when needed

    return fast_structure(entry) or structure_event(entry)
