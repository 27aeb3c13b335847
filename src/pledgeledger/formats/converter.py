"""Turning JSON-shaped dicts into events and back, with cattrs.

cattrs does the walking and collects every bad field at once; this module only teaches it the
ledger's scalar types (decimal strings, ISO dates, bounds) and turns its exception groups into
one readable line per field, such as ``amount: not a decimal number: 'abc'``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.v import format_exception, transform_error

from pledgeledger.domain.records import (
    EVENT_TYPES,
    MAX_DECIMAL_PLACES,
    MAX_INTEGER_DIGITS,
    Bound,
    Event,
    Source,
)
from pledgeledger.errors import InvalidRecord

__all__ = ["REQUIRED_FIELDS", "converter", "structure_event", "unstructure_event"]


class FieldError(ValueError):
    """A field's value is wrong; the message says how, in words for the person fixing it."""


def _structure_decimal(value: Any, _: type) -> Decimal:
    # Floats are refused on purpose: a JSON float has already lost the exact figure. The digit
    # limits keep every amount within 24 significant digits, so that sums in Python's default
    # 28-digit decimal context stay exact up to 10^22 (docs/format.md); NaN and infinities pass
    # here and are refused by invariant 1 when recorded.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise FieldError(f'expected a decimal string such as "36000000000", got {value!r}')
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise FieldError(f"not a decimal number: {value!r}") from None
    if result.is_snan():
        raise FieldError(f"not a decimal number: {value!r}")
    if not result.is_finite():
        return result
    exponent = result.as_tuple().exponent
    assert isinstance(exponent, int)
    if result.adjusted() >= MAX_INTEGER_DIGITS or -exponent > MAX_DECIMAL_PLACES:
        raise FieldError(
            f"at most {MAX_INTEGER_DIGITS} digits before the decimal point and "
            f"{MAX_DECIMAL_PLACES} after, got {value!r}"
        )
    # "1e11" is recorded as 100000000000, so every output shows plain figures.
    return result.quantize(_ONE) if exponent > 0 else result


_ONE = Decimal(1)


def _structure_date(value: Any, _: type) -> date:
    if not isinstance(value, str):
        raise FieldError(f'expected an ISO date such as "2025-10-28", got {value!r}')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise FieldError(f"expected a string, got {value!r}")
    return value


def _structure_bound(value: Any, _: type) -> Bound:
    try:
        return Bound(value)
    except ValueError:
        choices = ", ".join(b.value for b in Bound)
        raise FieldError(f"expected one of {choices}, got {value!r}") from None


def _list_only(conv: cattrs.Converter, type_: Any, what: str) -> None:
    """Accept only a JSON list for ``type_``: cattrs would take any iterable, so a string
    ``"Japan"`` would become the parties ``J, a, p, a, n``."""
    default = conv.get_structure_hook(type_)

    def hook(value: Any, cls: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise FieldError(f"expected a list of {what}, got {value!r}")
        return default(value, cls)

    conv.register_structure_hook_func(lambda t: t == type_, hook)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(Bound, _structure_bound)
    _list_only(conv, tuple[str, ...], "names")
    _list_only(conv, tuple[Source, ...], "source objects")
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_unstructure_hook(Bound, lambda b: b.value)
    return conv


converter = _make_converter()
"""The project's cattrs converter: use it to structure or unstructure any event or value."""


def _format(exc: BaseException, type_: type | None) -> str:
    # Our hooks' messages are written for people: keep them; cattrs words the rest.
    if isinstance(exc, FieldError):
        return str(exc)
    return format_exception(exc, type_)


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
    """The JSON-shaped dict of an event: decimals and dates as strings, ``None`` fields left out
    unless the field is required (``"amount": null`` is how an undisclosed figure is written).

    The result structures back to an equal event, which is what exports round-trip through.
    """
    data: dict[str, Any] = converter.unstructure(event)
    for source in data.get("sources", ()):
        for key in [k for k, v in source.items() if v is None]:
            del source[key]
    keep = REQUIRED_FIELDS[type(event)]
    return {k: v for k, v in data.items() if v is not None or k in keep}


REQUIRED_FIELDS: dict[type[Event], frozenset[str]] = {
    cls: frozenset(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING)
    for cls in EVENT_TYPES.values()
}
"""The fields each record class requires: written even when ``None`` (an undisclosed
``amount``), since leaving them out would make the record malformed."""
