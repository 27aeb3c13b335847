"""The built-in ``csv`` exporter: totals, events or a timeline as one spreadsheet-safe table.

One CSV file holds one table, so ``--what`` chooses which: ``totals`` (the default, grouped by
``--by``, sector unless told), ``events`` (the log, one row per event) or ``timeline``
(cumulative totals per ``--every`` period). The columns are those of :mod:`pledgeledger.tables`.

Text that came from outside the ledger (names, sectors, reasons, sources) is neutralised per
OWASP's CSV injection guidance: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so a spreadsheet shows it rather than running it. Figures
are written exactly as recorded (no rounding, no thousands separators). UTF-8, no BOM, ``\\n``
line ends, every cell quoted only when it must be. The lines come from
:func:`pledgeledger.tables.csv_lines`, which ``totals --format csv`` and ``timeline --format csv``
print too.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from pledgeledger.plugins.cells import Table, event_table, table_csv, timeline_table, totals_table
from pledgeledger.plugins.exporter import EVENTS, TIMELINE, TOTALS, Exporter, ExportOptions
from pledgeledger.plugins.hookspecs import hookimpl
from pledgeledger.view import LedgerView

__all__ = ["export_csv", "register_exporters"]


def _table(view: LedgerView, options: ExportOptions) -> Table:
    by = options.by or "sector"
    if options.what == EVENTS:
        return event_table(view.events())
    if options.what == TIMELINE:
        return timeline_table(view.timeline(by, every=options.every, depth=options.depth), by)
    return totals_table(view.totals(by, depth=options.depth), by)


def export_csv(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Write the table ``options.what`` names as CSV."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        text.writelines(table_csv(_table(view, options)))
        text.flush()
    finally:
        text.detach()


@hookimpl
def register_exporters(register: Callable[[Exporter], None]) -> None:
    register(
        Exporter(
            name="csv",
            suffixes=(".csv",),
            media_type="text/csv",
            export=export_csv,
            description="One table per file (--what totals|events|timeline), safe to open in "
            "a spreadsheet.",
            contents=(TOTALS, EVENTS, TIMELINE),
        )
    )
