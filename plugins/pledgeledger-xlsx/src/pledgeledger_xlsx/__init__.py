"""pledgeledger-xlsx: export a pledgeledger to an Excel workbook, one sheet per table.

A plugin in one module: :func:`register_exporters` is the ``@hookimpl`` pledgeledger finds
through the ``pledgeledger`` entry point in this package's ``pyproject.toml``. The tables
themselves come from :mod:`pledgeledger.tables`, so the columns match the CSV export; the
workbook is written by :mod:`pledgeledger_xlsx._workbook`, imported only when one is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from pledgeledger.plugins.exporter import ALL, EVENTS, TIMELINE, TOTALS, Exporter, ExportOptions
from pledgeledger.plugins.hookspecs import hookimpl
from pledgeledger.view import LedgerView

__all__ = ["MEDIA_TYPE", "export_xlsx", "register_exporters"]

__version__ = "0.1.0"

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_xlsx(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Write a workbook with the sheets ``options.what`` names."""
    from ._workbook import write_workbook  # openpyxl only when a workbook is written

    write_workbook(view, out, options)


@hookimpl
def register_exporters(register: Callable[[Exporter], None]) -> None:
    register(
        Exporter(
            name="xlsx",
            suffixes=(".xlsx",),
            media_type=MEDIA_TYPE,
            export=export_xlsx,
            description="An Excel workbook: totals by every grouping and the events, one sheet "
            "each (or --what totals|events|timeline).",
            contents=(ALL, TOTALS, EVENTS, TIMELINE),
            binary=True,
        )
    )
