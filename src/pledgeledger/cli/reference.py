"""The reference the command line prints about itself: the rules (``pledgeledger rules``) and
the import format (``pledgeledger format``).

Both are rendered from the code's own tables, :data:`pledgeledger.errors.RULES` and the record
classes of :data:`pledgeledger.domain.records.EVENT_TYPES`, so that they ship with the package,
are true of the installed version, and cannot drift from what the ledger enforces and accepts.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from pledgeledger.domain.records import EVENT_TYPES, Source
from pledgeledger.errors import RULES, RULES_ANCHOR, Rule

__all__ = ["FieldDoc", "format_fields", "format_json", "format_text", "rules_json", "rules_text"]

_WIDTH = 96


def _wrap(text: str, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(
        text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


# -- rules -------------------------------------------------------------------------------------


def _number(r: Rule) -> str:
    return "-" if r.invariant is None else str(r.invariant)


def rules_text() -> str:
    """Every rule: its invariant's number, the words a refusal names it by, and the rule."""
    lines = [
        "The rules every event is checked against when it is recorded (listed in",
        f"{RULES_ANCHOR}). A refused event names its rule, as in",
        '"refused (invariant 2: tranches exceed their parent, ...)", and nothing of its import',
        "is written. Invariants 6 and 7 hold by construction; `replay --verify` checks them.",
        "",
    ]
    for r in RULES:
        lines.append(f"{_number(r):>2}  {r.breach}  [{r.key}]")
        lines.extend(_wrap(r.statement, "    "))
    return "\n".join(lines)


def rules_json() -> list[dict[str, Any]]:
    """The rules as JSON objects: ``key``, ``invariant`` (a number or null), ``breach``,
    ``rule``."""
    return [
        {"key": r.key, "invariant": r.invariant, "breach": r.breach, "rule": r.statement}
        for r in RULES
    ]


# -- the import format -------------------------------------------------------------------------


@attrs.frozen
class FieldDoc:
    """One field of a record class: its name, whether it is required, and its value in words."""

    name: str
    required: bool
    value: str


def _describe(hint: Any) -> str:
    """A field's annotation in the words of the import format."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        item = args[0]
        if item is Source:
            return "list of sources (objects, see below), at least one"
        return f"list of {_describe(item)}"
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        return " | ".join(str(member.value) for member in hint)
    known: dict[Any, str] = {
        str: "text",
        Decimal: 'decimal string ("36000000000", "1.5")',
        date: "date (YYYY-MM-DD)",
    }
    return known.get(hint, getattr(hint, "__name__", str(hint)))


_NOTES = {
    "id": "unique across the ledger, whatever the type",
    "parent": "the id of a pledge or tranche",
    "target": "the id of the record it corrects",
    "agreement": "the id of an agreement",
    "sector": "a path such as energy/nuclear",
    "unit": "an ISO 4217 currency such as USD, or any other unit such as t LNG/yr",
    "low": "the low end of a range the report states (not with bound exact)",
    "high": "the high end of a range the report states (not with bound exact)",
    "about": "the id of the pledge, tranche, LOI or delivery it reports on",
    "toward": "the id of a pledge, tranche or LOI it is part of, or a candidate use of",
    "converts": "the id of the letter of intent that became this record",
    "adopts": "the id of a report on the target whose figure this amendment counts",
    "due_by": "the deadline; past it, `pledgeledger overdue` lists the record",
}
"""What a field's type does not say, by field name: what it refers to, or its form."""

_DEFAULTS = {
    ("delivery", "bound"): "exact",
    ("amendment", "bound"): "the figure's bound so far",
}
"""Defaults that ``None`` stands for, where the field's default does not say it."""


def format_fields(cls: type) -> list[FieldDoc]:
    """The fields of a record class as the import format takes them, ``type`` left out."""
    hints = typing.get_type_hints(cls)
    named = attrs.fields_dict(cls).get("type")
    kind = None if named is None else named.default
    docs = []
    for f in attrs.fields(cls):
        if f.name == "type":
            continue
        hint = hints[f.name]
        required = f.default is attrs.NOTHING
        value = _describe(hint)
        if required and type(None) in typing.get_args(hint):
            value += " or null (a figure the report does not give: undisclosed)"
        if f.name in _NOTES:
            value += f": {_NOTES[f.name]}"
        default = _DEFAULTS.get((str(kind), f.name))
        if default is not None:
            value += f" (default {default})"
        elif f.default not in (attrs.NOTHING, None, ()):
            value += f" (default {f.default})"
        docs.append(FieldDoc(f.name, required, value))
    return docs


def _summary(cls: type) -> str:
    return (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")


def format_text() -> str:
    """Every event type of the import format with its fields, required ones first."""
    lines = [
        "JSON Lines: one event object per line, UTF-8, blank lines ignored. Every object has a",
        '"type" (one of the names below) and that type\'s fields, no others; [optional] fields',
        "may be left out. An id is unique across the whole ledger; a line whose id is already",
        "recorded with the same content is skipped, with other content refused.",
    ]
    for name, cls in [*EVENT_TYPES.items(), ("source", Source)]:
        lines += ["", f"{name}: {_summary(cls)}" if name != "source" else _source_heading()]
        fields = sorted(format_fields(cls), key=lambda f: not f.required)
        width = max(len(f.name) + (0 if f.required else 2) for f in fields)
        for f in fields:
            label = f.name if f.required else f"[{f.name}]"
            lines.append(f"  {label.ljust(width)}  {f.value}")
    lines += [
        "",
        'Example: {"type": "tranche", "id": "t1", "parent": "p1", "amount": "300", "unit": "USD",',
        '          "sector": "energy/solar", "announced_on": "2024-06-01",',
        '          "sources": [{"outlet": "Gazette", "url": "https://example.org/1"}]}',
        "",
        "`pledgeledger log --format jsonl` prints recorded events in this format.",
    ]
    return "\n".join(lines)


def _source_heading() -> str:
    return f"source (an item of sources): {_summary(Source)}"


def format_json() -> dict[str, Any]:
    """The import format as JSON: each type (and ``source``) with its fields in order, each
    with ``name``, ``required`` and ``value`` (in words)."""
    return {
        name: {
            "description": _summary(cls),
            "fields": [attrs.asdict(f) for f in format_fields(cls)],
        }
        for name, cls in [*EVENT_TYPES.items(), ("source", Source)]
    }
