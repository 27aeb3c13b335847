"""The xlsx exporter keeps pledgeledger's exporter contract, and what a workbook promises:
figures as numbers, text never as formulas, one sheet per table."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from pledgeledger import Ledger
from pledgeledger.plugins.exporter import ExportOptions, export_to
from pledgeledger.plugins.manager import get_exporter, plugin_infos
from pledgeledger.testing import ExporterContract, sample_ledger
from pledgeledger.view import LedgerView


class TestXlsxContract(ExporterContract):
    exporter_name = "xlsx"

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        workbook = load_workbook(io.BytesIO(data))
        assert workbook.sheetnames


@pytest.fixture
def sample() -> Any:
    with sample_ledger() as ledger:
        yield ledger


def _workbook(ledger: Ledger, tmp_path: Path, **options: Any) -> Any:
    path = tmp_path / "out.xlsx"
    export_to(get_exporter("xlsx"), LedgerView.of(ledger), path, ExportOptions(**options))
    return load_workbook(path)


def test_is_found_through_its_entry_point() -> None:
    info = next(p for p in plugin_infos() if p.name == "xlsx")
    assert info.distribution == "pledgeledger-xlsx"
    assert info.version == "0.1.0"
    assert not info.builtin


def test_a_sheet_per_table(sample: Ledger, tmp_path: Path) -> None:
    workbook = _workbook(sample, tmp_path)
    assert workbook.sheetnames == [
        "About",
        "Totals by sector",
        "Totals by agreement",
        "Totals by pledger",
        "Totals by recipient",
        "Events",
    ]
    assert _workbook(sample, tmp_path, by="pledger", what="totals").sheetnames == [
        "Totals by pledger"
    ]


def test_figures_are_numbers_that_match_the_totals(sample: Ledger, tmp_path: Path) -> None:
    sheet = _workbook(sample, tmp_path)["Totals by agreement"]
    header = [c.value for c in sheet[1]]
    assert header == [
        "agreement",
        "unit",
        "pledged",
        "allocated",
        "delivered",
        "intended",
        "unallocated",
        "pledged_low",
        "pledged_high",
        "allocated_low",
        "allocated_high",
        "delivered_low",
        "delivered_high",
        "intended_low",
        "intended_high",
        "undisclosed",
        "pledged_toward",
        "intended_toward",
    ]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    expected = [
        [
            t.key,
            t.unit,
            t.pledged,
            t.allocated,
            t.delivered,
            t.intended,
            t.unallocated,
            t.pledged_low,
            t.pledged_high,
            t.allocated_low,
            t.allocated_high,
            t.delivered_low,
            t.delivered_high,
            t.intended_low,
            t.intended_high,
            Decimal(t.undisclosed),
            t.pledged_toward,
            t.intended_toward,
        ]
        for t in sample.totals("agreement")
    ]
    assert [[Decimal(str(v)) if isinstance(v, int | float) else v for v in r] for r in rows] == (
        expected
    )
    assert sheet["C2"].number_format == "#,##0"


def test_figures_a_float_would_change_are_exact_text(tmp_path: Path) -> None:
    """Excel numbers are doubles (openpyxl writes them with 16 digits): a figure with more than
    15 significant digits is written as text, exactly as recorded, and the rest as numbers."""
    src = [{"outlet": "Example"}]
    figures = {
        "huge": "999999999999999999",  # 1e+18 as a float
        "cents": "1234567890123456.78",  # 18 significant digits
        "sixteen": "9007199254740993",  # 2**53 + 1: 16 digits, not a double
        "fifteen": "999999999999999",  # 15 digits: a double holds it exactly
        "round": "120000000000000000",  # 2 significant digits
        "small": "2250000000.50",
    }
    with Ledger.open(":memory:") as ledger:
        ledger.record(
            *(
                {
                    "type": "pledge",
                    "id": name,
                    "pledger": name,
                    "recipient": "B",
                    "amount": amount,
                    "unit": "USD",
                    "sector": "energy",
                    "announced_on": "2025-01-01",
                    "sources": src,
                }
                for name, amount in figures.items()
            )
        )
        workbook = _workbook(ledger, tmp_path)
    sheet = workbook["Totals by pledger"]
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: row[header.index("pledged")] for row in sheet.iter_rows(min_row=2)}
    for name in ("huge", "cents", "sixteen"):
        assert (cells[name].value, cells[name].data_type) == (figures[name], "s"), name
    for name in ("fifteen", "round", "small"):
        cell = cells[name]
        assert cell.data_type == "n", name
        assert Decimal(repr(cell.value)) == Decimal(figures[name]), name
    events = workbook["Events"]
    header = [c.value for c in events[1]]
    amounts = {
        row[header.index("id")].value: row[header.index("amount")].value
        for row in events.iter_rows(min_row=2)
    }
    assert amounts["huge"] == figures["huge"]
    energy = workbook["Totals by sector"]["C2"]  # every pledge above: more than any one figure
    assert (energy.value, energy.data_type) == (str(sum(map(Decimal, figures.values()))), "s")
    notes = [row[1].value for row in workbook["About"].iter_rows()]
    assert any("15 significant digits" in str(note) for note in notes)


def test_text_is_never_a_formula(sample: Ledger, tmp_path: Path) -> None:
    sheet = _workbook(sample, tmp_path)["Events"]
    header = [c.value for c in sheet[1]]
    cells = {row[header.index("id")].value: row for row in sheet.iter_rows(min_row=2)}
    reason = cells["eos-intent-off"][header.index("reason")]
    assert reason.value == "=talks ended"
    assert reason.data_type == "s"
    party = cells["eos-intent"][header.index("party")]
    assert (party.value, party.data_type) == ("@Eos Ventures", "s")


def test_dates_and_times_are_excel_dates(sample: Ledger, tmp_path: Path) -> None:
    sheet = _workbook(sample, tmp_path)["Events"]
    header = [c.value for c in sheet[1]]
    first = sheet[2]
    assert first[header.index("date")].value == datetime(2024, 3, 1)
    recorded = first[header.index("recorded_at")].value
    assert isinstance(recorded, datetime)
    assert recorded.tzinfo is None
    assert date(2025, 2, 1) <= recorded.date()


def test_the_about_sheet_says_what_the_snapshot_is(sample: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "early.xlsx"
    view = LedgerView.of(sample, as_of=date(2024, 6, 30))
    export_to(get_exporter("xlsx"), view, path)
    about = {row[0].value: row[1].value for row in load_workbook(path)["About"].iter_rows()}
    assert about["log position"] == sample.head
    assert about["as of (world date)"] == datetime(2024, 6, 30)


def test_loading_the_plugin_does_not_import_openpyxl() -> None:
    """Every command that lists exporters loads the plugin: it must stay quick."""
    code = (
        "import sys, pledgeledger.plugins as p; assert 'xlsx' in p.exporters(); "
        "assert 'openpyxl' not in sys.modules, 'openpyxl was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
