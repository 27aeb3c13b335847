"""Turning JSON-shaped dicts into events and back, with cattrs.

cattrs does the walking and collects every bad field at once; this module only teaches it the
ledger's scalar types (decimal strings, ISO dates, bounds) and turns its exception groups into
one readable line per field, such as ``amount: not a decimal number: 'abc'``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.v import format_exception, transform_error

from .errors import InvalidRecord
from .events import EVENT_TYPES, Bound, Event

__all__ = ["converter", "structure_event", "unstructure_event"]


def _structure_decimal(value: Any, _: type) -> Decimal:
    # Floats are refused on purpose: a JSON float has already lost the exact figure.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"expected a decimal string such as \"36000000000\", got {value!r}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    return result


def _structure_date(value: Any, _: type) -> date:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO date such as \"2025-10-28\", got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _structure_bound(value: Any, _: type) -> Bound:
    try:
        return Bound(value)
    except ValueError:
        choices = ", ".join(b.value for b in Bound)
        raise ValueError(f"expected one of {choices}, got {value!r}") from None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(Bound, _structure_bound)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_unstructure_hook(Bound, lambda b: b.value)
    return conv


converter = _make_converter()
"""The project's cattrs converter: use it to structure or unstructure any event or value."""


def _format(exc: BaseException, type_: type | None) -> str:
    # Our hooks raise ValueError with a message written for people: keep it.
    if isinstance(exc, ValueError) and type_ in _OWN_HOOKS and str(exc):
        return str(exc)
    return format_exception(exc, type_)


_OWN_HOOKS = (Decimal, date, str, Bound)


def _field_messages(exc: BaseException) -> list[str]:
    messages = []
    for line in transform_error(exc, path="", format_exception=_format):
        message, _, where = line.rpartition(" @ ")
        field = where.lstrip("$.").strip() or "(record)"
        messages.append(f"{field}: {message}")
    return messages


def structure_event(data: Any) -> Event:
    """Build an event from a JSON-shaped dict, or raise :class:`InvalidRecord` naming the fields.

    Every bad field is reported, not just the first, so a user fixes a line in one go.
    """
    if not isinstance(data, dict):
        raise InvalidRecord([f"(record): expected a JSON object, got {type(data).__name__}"])
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        choices = ", ".join(EVENT_TYPES)
        raise InvalidRecord([f"type: expected one of {choices}, got {kind!r}"])
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise InvalidRecord(_field_messages(exc)) from None


def unstructure_event(event: Event) -> dict[str, Any]:
    """The JSON-shaped dict of an event: decimals and dates as strings, ``None`` fields left out.

    The result structures back to an equal event, which is what exports round-trip through.
    """
    data: dict[str, Any] = converter.unstructure(event)
    for source in data.get("sources", ()):
        for key in [k for k, v in source.items() if v is None]:
            del source[key]
    return {k: v for k, v in data.items() if v is not None}
