"""The workbook itself, written with openpyxl.

Kept apart from the plugin's registration (``__init__``) so that pledgeledger can load the
plugin, as it does for every command that lists or chooses exporters, without importing
openpyxl (a fifth of a second): it is imported only when a workbook is written.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from pledgeledger.domain.totals import GROUPS
from pledgeledger.plugins.cells import Cell, Table, event_table, timeline_table, totals_table
from pledgeledger.plugins.exporter import ALL, EVENTS, TIMELINE, TOTALS, ExportOptions
from pledgeledger.view import LedgerView

from . import __version__

__all__ = ["write_workbook"]

EPOCH = datetime(1980, 1, 1)
"""The workbook's date when the ledger is empty (and the earliest date a zip entry can have)."""


def _with_fixed_dates(workbook: bytes, out: BinaryIO) -> None:
    """Copy a zip with every entry's date set to 1980-01-01, so equal workbooks are equal
    bytes (zip entries otherwise carry the time they were written)."""
    with (
        zipfile.ZipFile(io.BytesIO(workbook)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            target.writestr(info, source.read(item))


EXACT_DIGITS = 15
"""Significant digits an Excel number (a double) holds exactly: every decimal of up to 15
significant digits survives the trip to a double and back (``DBL_DIG``), not every one of 16."""

FIGURES_NOTE = (
    f"figures of more than {EXACT_DIGITS} significant digits, more than an Excel number holds, "
    "are text cells, exactly as recorded; all other figures are numbers"
)


def _fits_a_number(value: Decimal | int) -> bool:
    """Whether Excel stores ``value`` as a number without changing it: at most 15 significant
    digits (trailing zeros do not count), within a double's range."""
    exact = Decimal(value)
    if not exact.is_finite():
        return False
    if exact.is_zero():
        return True
    digits = "".join(map(str, exact.as_tuple().digits)).rstrip("0")
    return len(digits) <= EXACT_DIGITS and -300 <= exact.adjusted() <= 300


def _excel_value(value: Cell) -> Any:
    # Excel has no time zones: aware times are written as UTC wall-clock times.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    # openpyxl writes numbers through float ("%.16g"), so 9999999999999999999999999999 would
    # come out as 1e+28: a figure a double cannot hold stays text, exactly as recorded.
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return value if _fits_a_number(value) else str(value)
    return value


def _number_format(value: Any) -> str | None:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        integral = value == int(value)
        return "#,##0" if integral else "#,##0.00########"
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm:ss"
    if isinstance(value, date):
        return "yyyy-mm-dd"
    return None


def _sheet(workbook: Workbook, title: str, table: Table) -> None:
    sheet = workbook.create_sheet(title=title[:31])  # Excel's limit on sheet names
    sheet.append(list(table.columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(c) for c in table.columns]
    for row in table.rows:
        sheet.append([_excel_value(v) for v in row])
        for i, cell in enumerate(sheet[sheet.max_row]):
            if isinstance(cell.value, str):
                # Text stays text: openpyxl would take "=..." as a formula and Excel would run it.
                cell.data_type = "s"
                if not isinstance(row[i], str):  # a figure kept exact as text
                    cell.alignment = Alignment(horizontal="right")
            number_format = _number_format(cell.value)
            if number_format:
                cell.number_format = number_format
            widths[i] = max(widths[i], len(str(row[i])) if row[i] is not None else 0)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = sheet.dimensions


def _about(workbook: Workbook, view: LedgerView, options: ExportOptions) -> None:
    sheet = workbook.create_sheet(title="About")
    rows: Iterable[tuple[str, Any]] = [
        ("exported by", f"pledgeledger {view.version}, pledgeledger-xlsx {__version__}"),
        ("log position", view.head),
        ("as of (world date)", view.as_of),
        ("known at (recorded, UTC)", _excel_value(view.known_at)),
        ("sectors rolled up to depth", options.depth),
        (
            "note",
            "pledged = allocated + unallocated; intended (letters of intent) is never "
            "part of pledged; units are never added together",
        ),
        ("figures", FIGURES_NOTE),
    ]
    for label, value in rows:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        number_format = _number_format(value)
        if number_format:
            sheet.cell(sheet.max_row, 2).number_format = number_format
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 90


def write_workbook(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Write a workbook with the sheets ``options.what`` names."""
    workbook = Workbook()
    for sheet in list(workbook.worksheets):  # the blank "Sheet" a new workbook starts with
        workbook.remove(sheet)
    events = list(view.events()) if options.what in (ALL, EVENTS) else []
    if options.what == ALL:
        _about(workbook, view, options)
    if options.what in (ALL, TOTALS):
        groups = (options.by,) if options.by else GROUPS
        for by in groups:
            depth = options.depth if by == "sector" else None
            _sheet(workbook, f"Totals by {by}", totals_table(view.totals(by, depth=depth), by))
    if options.what in (ALL, EVENTS):
        _sheet(workbook, "Events", event_table(events))
    if options.what == TIMELINE:
        by = options.by or "sector"
        rows = view.timeline(by, every=options.every, depth=options.depth)
        _sheet(workbook, f"Timeline by {by}", timeline_table(rows, by))
    last = max((logged.recorded_at for logged in events), default=None)
    stamp = last.astimezone(UTC).replace(tzinfo=None) if last else EPOCH
    workbook.properties.creator = "pledgeledger-xlsx"
    workbook.properties.created = workbook.properties.modified = stamp
    # ExcelWriter rather than Workbook.save(), which would stamp "modified" with the time now.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()
    _with_fixed_dates(buffer.getvalue(), out)
