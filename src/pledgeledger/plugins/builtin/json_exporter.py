"""The built-in ``json`` and ``jsonl`` exporters: the ledger as data another program can read.

``json`` writes one document (``--what all``, the default, holds both ``events`` and
``totals``)::

    {
      "pledgeledger": {"head": 12, "as_of": null, "known_at": null, "pledgeledger": "0.1.0"},
      "totals": {"sector": [...], "agreement": [...], "pledger": [...], "recipient": [...]},
      "events": [{"type": "agreement", "id": "...", ...}, ...]
    }

Figures are decimal strings (never floats, which would lose the exact figure), dates ISO 8601,
and keys come in a fixed order (the document's as above, a totals row's as ``totals --format
json``, an event's as its fields), so two exports of one ledger are byte-for-byte equal. Each
item of ``events`` is a line of the import format: ``jq -c '.events[]'`` gives a file that
``pledgeledger import`` re-imports into an equal ledger. ``--by`` keeps one grouping of the
totals; ``--what events|totals|timeline`` writes only that part.

``jsonl`` writes the events alone in the import format, one per line, exactly what
``pledgeledger log --format jsonl`` prints: ``export -o backup.jsonl`` then ``import
backup.jsonl`` round-trips.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

from pledgeledger.domain.totals import GROUPS
from pledgeledger.formats.jsonl import dump_jsonl
from pledgeledger.plugins.exporter import ALL, EVENTS, TIMELINE, TOTALS, Exporter, ExportOptions
from pledgeledger.plugins.hookspecs import hookimpl
from pledgeledger.view import LedgerView

__all__ = ["export_json", "export_jsonl", "register_exporters"]


def _totals(view: LedgerView, options: ExportOptions) -> dict[str, list[dict[str, Any]]]:
    groups = (options.by,) if options.by else GROUPS
    return {
        g: [r.as_dict() for r in view.totals(g, depth=options.depth if g == "sector" else None)]
        for g in groups
    }


def export_json(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Write one JSON document with the parts ``options.what`` names."""
    doc: dict[str, Any] = {"pledgeledger": view.metadata()}
    if options.what in (ALL, TOTALS):
        doc["totals"] = _totals(view, options)
    if options.what in (ALL, EVENTS):
        from pledgeledger.formats.converter import (
            unstructure_event,  # cattrs only when events are exported
        )

        doc["events"] = [unstructure_event(logged.event) for logged in view.events()]
    if options.what == TIMELINE:
        by = options.by or "sector"
        rows = view.timeline(by, every=options.every, depth=options.depth)
        doc["timeline"] = [point.as_dict() for point in rows]
    out.write(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")


def export_jsonl(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Write the events in the import format, one JSON object per line."""
    for line in dump_jsonl(logged.event for logged in view.events()):
        out.write(line.encode("utf-8") + b"\n")


@hookimpl
def register_exporters(register: Callable[[Exporter], None]) -> None:
    register(
        Exporter(
            name="json",
            suffixes=(".json",),
            media_type="application/json",
            export=export_json,
            description="One document with events (re-importable) and totals by every "
            "grouping; decimals as strings.",
            contents=(ALL, EVENTS, TOTALS, TIMELINE),
        )
    )
    register(
        Exporter(
            name="jsonl",
            suffixes=(".jsonl", ".ndjson"),
            media_type="application/x-ndjson",
            export=export_jsonl,
            description="The events in the import format, one per line: re-imports as is.",
            contents=(EVENTS,),
        )
    )
