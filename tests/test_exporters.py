"""The built-in exporters: each passes the plugin author's contract, plus what its format
promises (CSV injection neutralised, JSON round-trips through import, charts keep units apart),
and `export` writes atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import pytest
from click.testing import CliRunner

from pledgeledger import GROUPS, Ledger
from pledgeledger.cli import cli
from pledgeledger.plugins.exporter import (
    EVENTS,
    Exporter,
    ExportFailed,
    ExportOptions,
    export_to,
    neutralise_cell,
    plan,
    write_atomically,
)
from pledgeledger.plugins.manager import get_exporter
from pledgeledger.testing import SAMPLE_BATCHES, ExporterContract, fixed_clock, sample_ledger
from pledgeledger.view import LedgerView

TOTALS_FIELDS = (
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
)
"""The keys of a totals row after its group key, spelled out: DESIGN.md's, then issue 8's."""


class TestCsvContract(ExporterContract):
    exporter_name = "csv"

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        assert len({len(r) for r in rows}) == 1, "every row has the header's width"


class TestJsonContract(ExporterContract):
    exporter_name = "json"

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        doc = json.loads(data, parse_float=_no_floats)
        assert doc["pledgeledger"]["head"] > 0


class TestJsonlContract(ExporterContract):
    exporter_name = "jsonl"


class TestChartContract(ExporterContract):
    exporter_name = "chart"

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        if suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert b"<svg" in data[:2000]


def _no_floats(text: str) -> Any:
    raise AssertionError(f"a JSON float {text} lost the exact figure")


@pytest.fixture
def sample() -> Any:
    with sample_ledger() as ledger:
        yield ledger


def _export(name: str, view: LedgerView, tmp_path: Path, suffix: str, **options: Any) -> bytes:
    path = tmp_path / f"out{suffix}"
    export_to(get_exporter(name), view, path, ExportOptions(**options))
    return path.read_bytes()


# -- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r", "\uff1d"])
def test_formula_leading_cells_are_neutralised(lead: str) -> None:
    assert neutralise_cell(f"{lead}1+1") == f"'{lead}1+1"


@pytest.mark.parametrize("text", ["", "Atlantis", "energy/solar", "1+1", "a=b", "'quoted"])
def test_other_cells_are_left_alone(text: str) -> None:
    assert neutralise_cell(text) == text


def test_csv_events_neutralise_outside_text_but_not_figures(sample: Ledger, tmp_path: Path) -> None:
    data = _export("csv", LedgerView.of(sample), tmp_path, ".csv", what=EVENTS)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    by_id = {r["id"]: r for r in rows}
    assert by_id["eos-intent-off"]["reason"] == "'=talks ended"
    assert by_id["eos-intent"]["party"] == "'@Eos Ventures"
    assert by_id["atl-bor-solar-d1"]["amount"] == "2250000000.50"
    assert by_id["fjord-bor-aid"]["sources"] == "Nordlys Økonomi, 2025-01-21"
    assert by_id["demo-accord"]["parties"] == "Atlantis; Borealis"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


_SRC = [{"outlet": "Example"}]
FORMULA_KEYS = (
    {
        "type": "agreement",
        "id": "-pact",
        "title": "+Pact",
        "parties": ["+Halcyon Trust"],
        "signed_on": "2025-01-02",
        "sources": _SRC,
    },
    {
        "type": "pledge",
        "id": "halcyon",
        "pledger": "+Halcyon Trust",
        "recipient": "@Borealis Port",
        "amount": "5000000",
        "unit": "USD",
        "sector": "=energy",
        "agreement": "-pact",
        "announced_on": "2025-01-22",
        "sources": _SRC,
    },
)
"""An active pledge whose every group key starts like a formula (the sample's only such key,
``@Eos Ventures``, is a withdrawn letter's, so no totals row shows it)."""


@pytest.mark.parametrize("what", ["totals", "timeline"])
def test_csv_matches_the_cli_csv(what: str, tmp_path: Path) -> None:
    """`export -f csv` and `totals`/`timeline --format csv` write the same bytes, formula-like
    keys neutralised the same way."""
    db = str(tmp_path / "ledger.db")
    with Ledger.open(db) as ledger:
        for batch in (*SAMPLE_BATCHES, FORMULA_KEYS):
            ledger.record(*batch)
        view = LedgerView.of(ledger)
        exported = {by: _export("csv", view, tmp_path, ".csv", by=by, what=what) for by in GROUPS}
    for by in GROUPS:
        result = CliRunner().invoke(cli, ["--db", db, what, "--by", by, "--format", "csv"])
        assert result.exit_code == 0, result.output
        assert result.stdout == exported[by].decode("utf-8")
        keys = {row[by] for row in csv.DictReader(io.StringIO(result.stdout))}
        assert keys & {"'+Halcyon Trust", "'@Borealis Port", "'=energy", "'-pact"}, keys
        assert not any(k.startswith(("=", "+", "-", "@")) for k in keys), keys


def test_csv_depth_rolls_sectors_up(sample: Ledger, tmp_path: Path) -> None:
    data = _export("csv", LedgerView.of(sample), tmp_path, ".csv", depth=1)
    keys = [r["sector"] for r in csv.DictReader(io.StringIO(data.decode("utf-8")))]
    assert "energy" in keys
    assert not any("/" in k for k in keys)


# -- JSON ------------------------------------------------------------------------------------


def _events_of(ledger: Ledger) -> list[Any]:
    return [logged.event for logged in ledger.events()]


def test_json_document_holds_events_and_every_grouping(sample: Ledger, tmp_path: Path) -> None:
    doc = json.loads(_export("json", LedgerView.of(sample), tmp_path, ".json"))
    assert list(doc) == ["pledgeledger", "totals", "events"]
    assert list(doc["totals"]) == list(GROUPS)
    assert doc["totals"]["agreement"] == [r.as_dict() for r in sample.totals("agreement")]
    assert list(doc["totals"]["sector"][0]) == ["sector", *TOTALS_FIELDS]
    assert doc["pledgeledger"]["head"] == sample.head


def test_json_events_round_trip_through_import(sample: Ledger, tmp_path: Path) -> None:
    doc = json.loads(_export("json", LedgerView.of(sample), tmp_path, ".json"))
    lines = tmp_path / "events.jsonl"
    lines.write_text("".join(json.dumps(e) + "\n" for e in doc["events"]), encoding="utf-8")
    with Ledger.open(":memory:") as copy:
        copy.import_files([lines])
        assert _events_of(copy) == _events_of(sample)
        for by in GROUPS:
            assert copy.totals(by) == sample.totals(by)


def test_jsonl_export_re_imports_as_is(sample: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "backup.jsonl"
    export_to(get_exporter("jsonl"), LedgerView.of(sample), path)
    with Ledger.open(":memory:") as copy:
        result = copy.import_files([path])
        assert len(result.recorded) == sum(len(b) for b in SAMPLE_BATCHES)
        assert _events_of(copy) == _events_of(sample)
        assert copy.import_files([path]).recorded == ()


def test_json_by_and_what_narrow_the_document(sample: Ledger, tmp_path: Path) -> None:
    view = LedgerView.of(sample)
    doc = json.loads(_export("json", view, tmp_path, ".json", by="pledger", what="totals"))
    assert list(doc) == ["pledgeledger", "totals"]
    assert list(doc["totals"]) == ["pledger"]


def test_views_narrow_every_part_alike(sample: Ledger, tmp_path: Path) -> None:
    from datetime import date

    view = LedgerView.of(sample, as_of=date(2024, 6, 30))
    doc = json.loads(_export("json", view, tmp_path, ".json"))
    assert {e["id"] for e in doc["events"]} == {
        "demo-accord",
        "atl-bor-100",
        "atl-bor-energy",
        "atl-bor-solar",
        "atl-bor-grid",
    }
    assert doc["totals"]["sector"] == [
        r.as_dict() for r in sample.totals("sector", as_of=date(2024, 6, 30))
    ]
    assert doc["pledgeledger"]["as_of"] == "2024-06-30"


def test_known_at_narrows_to_what_was_recorded(sample: Ledger, tmp_path: Path) -> None:
    first_batch = next(sample.events()).recorded_at
    doc = json.loads(
        _export("json", LedgerView.of(sample, known_at=first_batch), tmp_path, ".json")
    )
    assert len(doc["events"]) == len(SAMPLE_BATCHES[0])
    assert "EUR" not in {r["unit"] for r in doc["totals"]["sector"]}


# -- charts ----------------------------------------------------------------------------------


def test_chart_gives_each_unit_its_own_panel(sample: Ledger) -> None:
    from pledgeledger.plugins.builtin.chart_exporter import _totals_chart

    fig = _totals_chart(LedgerView.of(sample), ExportOptions(what="totals"))
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    units = sorted({r.unit for r in sample.totals()})
    assert [ax.get_title(loc="left") for ax in panels] == [f"in {u}" for u in units]
    for ax, unit in zip(panels, units, strict=True):
        assert ax.get_xlabel().endswith(unit)
    usd = panels[units.index("USD")]
    assert usd.get_xlabel() == "billion USD"


def test_chart_format_follows_the_suffix(sample: Ledger, tmp_path: Path) -> None:
    view = LedgerView.of(sample)
    assert _export("chart", view, tmp_path, ".png").startswith(b"\x89PNG")
    svg = _export("chart", view, tmp_path, ".svg")
    assert svg.lstrip().startswith(b"<?xml")
    with pytest.raises(ExportFailed, match="cannot tell which one"):
        plan(get_exporter("chart"), tmp_path / "chart.pdf", ExportOptions())


@pytest.mark.parametrize("what", ["totals", "timeline"])
def test_svg_is_well_formed_with_every_reference_resolved(
    sample: Ledger, tmp_path: Path, what: str
) -> None:
    import re
    from xml.etree import ElementTree

    svg = _export("chart", LedgerView.of(sample), tmp_path, ".svg", what=what).decode("utf-8")
    ElementTree.fromstring(svg)
    ids = set(re.findall(r'id="([^"]+)"', svg))
    references = set(re.findall(r'(?:url\(|href=")#([^)"]+)', svg))
    assert references
    assert references <= ids


def test_png_is_large_enough_to_read(sample: Ledger, tmp_path: Path) -> None:
    data = _export("chart", LedgerView.of(sample), tmp_path, ".png")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width >= 1500
    assert height >= 500


def test_matplotlib_is_imported_only_when_a_chart_is_drawn() -> None:
    code = (
        "import sys, pledgeledger.cli, pledgeledger.plugins as p; p.exporters(); "
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- writing files ---------------------------------------------------------------------------


def _failing(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    out.write(b"half of it")
    raise RuntimeError("disk on fire")


FAILING = Exporter(name="failing", suffixes=(".txt",), media_type="text/plain", export=_failing)


def test_a_failing_export_leaves_the_target_as_it_was(sample: Ledger, tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("the old report", encoding="utf-8")
    with pytest.raises(ExportFailed, match="failing exporter failed: RuntimeError: disk on fire"):
        export_to(FAILING, LedgerView.of(sample), target)
    assert target.read_text(encoding="utf-8") == "the old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_a_failing_export_writes_nothing_to_a_stream(sample: Ledger) -> None:
    stream = io.BytesIO()
    with pytest.raises(ExportFailed):
        export_to(FAILING, LedgerView.of(sample), stream)
    assert stream.getvalue() == b""


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    def write(out: BinaryIO) -> None:
        out.write(b"x")

    umask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "a.txt", write)
    finally:
        os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportFailed, match="does not exist"):
        write_atomically(tmp_path / "nope" / "a.txt", lambda out: None)


def test_writing_onto_a_folder_names_the_folder_not_the_temporary_file(tmp_path: Path) -> None:
    for target in (tmp_path / "out.csv", tmp_path):
        target.mkdir(exist_ok=True)
        with pytest.raises(ExportFailed) as caught:
            write_atomically(target, lambda out: None)
        assert str(caught.value).startswith(f"cannot write {target}: ")
        assert ".tmp" not in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "lower case"),
        ({"suffixes": ("csv",)}, "start"),
        ({"suffixes": ()}, "at least one file suffix"),
        ({"contents": ()}, "at least one content"),
    ],
)
def test_exporter_declarations_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        attrs.evolve(FAILING, **changes)


def test_options_are_checked_against_the_exporter() -> None:
    csv_exporter = get_exporter("csv")
    with pytest.raises(ExportFailed, match="cannot write 'all'; choose --what from"):
        csv_exporter.resolve(ExportOptions(what="all"))
    with pytest.raises(ValueError, match="by must be one of"):
        ExportOptions(by="planet")  # type: ignore[arg-type]  # the point of the test
    assert plan(csv_exporter, "notes.txt", ExportOptions()).suffix == ".csv"


# -- the export command ----------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "ledger.db"
    with Ledger.open(path, clock=fixed_clock()) as ledger:
        for batch in SAMPLE_BATCHES:
            ledger.record(*batch)
    return str(path)


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_export_infers_the_format_from_the_suffix(db: str, tmp_path: Path) -> None:
    for name, check in [
        ("t.csv", b"sector,unit,pledged"),
        ("t.json", b'{\n  "pledgeledger"'),
        ("t.jsonl", b'{"type": "agreement"'),
        ("t.png", b"\x89PNG"),
        ("t.svg", b"<?xml"),
    ]:
        result = _run("--db", db, "export", "--output", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_bytes().startswith(check), name
        assert f"wrote {tmp_path / name}" in result.output


def test_export_to_stdout(db: str) -> None:
    result = _run("--db", db, "export", "--format", "csv", "-o", "-", "--by", "agreement")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(["agreement", *TOTALS_FIELDS])
    assert result.stdout.startswith(
        "agreement,unit,pledged,allocated,delivered,intended,unallocated,"
    )  # DESIGN.md's keys first, in their order


def test_export_as_of_and_known_at(db: str) -> None:
    result = _run("--db", db, "export", "-f", "jsonl", "-o", "-", "--as-of", "2024-03-31")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [
        "demo-accord",
        "atl-bor-100",
    ]
    result = _run(
        "--db", db, "export", "-f", "json", "-o", "-", "--known-at", "2025-02-01T09:30:00"
    )
    assert len(json.loads(result.stdout)["events"]) == len(SAMPLE_BATCHES[0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.docx"], "no exporter writes files like 'x.docx'; give --format"),
        (["-o", "-"], "give --format when writing to stdout"),
        (["-f", "nope", "-o", "x.csv"], "no exporter named 'nope'; installed: chart"),
        (["-o", "x.csv", "--what", "all"], "cannot write 'all'"),
        (["-o", "x.pdf", "-f", "chart"], "cannot tell which one"),
        (["-o", "x.csv", "--by", "pledger", "--depth", "1"], "--depth applies only"),
        (["-o", "x.csv", "-O", "novalue"], "is not KEY=VALUE"),
    ],
)
def test_export_usage_errors_exit_2(db: str, args: list[str], message: str) -> None:
    result = _run("--db", db, "export", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_export_into_a_missing_folder_exits_1(db: str, tmp_path: Path) -> None:
    result = _run("--db", db, "export", "-o", str(tmp_path / "nope" / "t.csv"))
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_figures_are_exact(sample: Ledger, tmp_path: Path) -> None:
    doc = json.loads(_export("json", LedgerView.of(sample), tmp_path, ".json"))
    delivered = {r["sector"]: r["delivered"] for r in doc["totals"]["sector"]}
    assert Decimal(delivered["energy/solar"]) == Decimal("2250000000.50")


# -- timelines -------------------------------------------------------------------------------


def test_csv_timeline_matches_the_ledgers_timeline(sample: Ledger, tmp_path: Path) -> None:
    data = _export(
        "csv",
        LedgerView.of(sample),
        tmp_path,
        ".csv",
        what="timeline",
        every="quarter",
        by="agreement",
    )
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    points = sample.timeline("agreement", every="quarter")
    assert [list(r) for r in rows[:1]] == [["period_end", "agreement", *TOTALS_FIELDS]]
    assert [(r["period_end"], r["agreement"], r["pledged"]) for r in rows] == [
        (p.period_end.isoformat(), p.key or "", str(p.pledged)) for p in points
    ]


def test_json_timeline_uses_the_points_own_shape(sample: Ledger, tmp_path: Path) -> None:
    doc = json.loads(
        _export("json", LedgerView.of(sample), tmp_path, ".json", what="timeline", every="year")
    )
    assert doc["timeline"] == [p.as_dict() for p in sample.timeline(every="year")]


def test_timeline_chart_keeps_units_apart_on_one_time_axis(sample: Ledger) -> None:
    from pledgeledger.plugins.builtin.chart_exporter import _timeline_chart

    fig = _timeline_chart(LedgerView.of(sample), ExportOptions(what="timeline"))
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    units = sorted({p.unit for p in sample.timeline()})
    assert [ax.get_title(loc="left") for ax in panels] == [f"in {u}" for u in units]
    assert all(ax.get_ylabel().endswith(unit) for ax, unit in zip(panels, units, strict=True))
    assert panels[0].get_shared_x_axes().joined(panels[0], panels[-1])


def test_every_is_checked() -> None:
    with pytest.raises(ValueError, match="every must be one of"):
        ExportOptions(every="fortnight")  # type: ignore[arg-type]  # the point of the test
