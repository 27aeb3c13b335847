"""Docs that cannot drift: the format table matches the event classes field for field."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from pledgeledger.events import EVENT_TYPES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _documented_fields() -> dict[str, tuple[set[str], set[str]]]:
    rows: dict[str, tuple[set[str], set[str]]] = {}
    for line in (DOCS / "format.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \| (.*) \| (.*) \|$", line)
        if match:
            kind, required, optional = match.groups()
            names = re.compile(r"`(\w+)`")
            rows[kind] = (set(names.findall(required)), set(names.findall(optional)))
    return rows


def test_format_table_names_every_type() -> None:
    assert set(_documented_fields()) == set(EVENT_TYPES)


def test_format_table_matches_event_fields() -> None:
    documented = _documented_fields()
    for kind, cls in EVENT_TYPES.items():
        fields = [f for f in attrs.fields(cls) if f.name != "type"]
        required = {f.name for f in fields if f.default is attrs.NOTHING}
        optional = {f.name for f in fields if f.default is not attrs.NOTHING}
        assert documented[kind] == (required, optional), kind
