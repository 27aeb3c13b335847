"""The CLI contract of DESIGN.md, driven through click's CliRunner: output, exit codes, errors."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledgeledger.cli import cli

SRC = [{"outlet": "Gazette"}]
LINES: list[dict[str, object]] = [
    {
        "type": "agreement",
        "id": "acc",
        "title": "Accord",
        "parties": ["A", "B"],
        "signed_on": "2024-03-01",
        "sources": SRC,
    },
    {
        "type": "pledge",
        "id": "p",
        "pledger": "A",
        "recipient": "B",
        "amount": "550",
        "unit": "USD",
        "sector": "cross-sector",
        "agreement": "acc",
        "announced_on": "2024-03-01",
        "sources": SRC,
    },
    {
        "type": "tranche",
        "id": "t",
        "parent": "p",
        "amount": "73",
        "unit": "USD",
        "bound": "up_to",
        "sector": "energy",
        "announced_on": "2024-04-01",
        "sources": SRC,
    },
    {
        "type": "tranche",
        "id": "t-n",
        "parent": "t",
        "amount": "40",
        "unit": "USD",
        "sector": "energy/nuclear",
        "announced_on": "2024-04-01",
        "sources": SRC,
    },
    {
        "type": "tranche",
        "id": "t-g",
        "parent": "t",
        "amount": "33",
        "unit": "USD",
        "sector": "energy/gas",
        "announced_on": "2024-04-01",
        "sources": SRC,
    },
    {
        "type": "loi",
        "id": "lng",
        "party": "TG",
        "counterparty": "B",
        "amount": "1000000",
        "unit": "t LNG/yr",
        "sector": "energy/gas",
        "announced_on": "2024-05-01",
        "sources": SRC,
    },
    {
        "type": "delivery",
        "id": "d",
        "parent": "t-n",
        "amount": "5",
        "unit": "USD",
        "delivered_on": "2024-06-01",
        "sources": SRC,
    },
    {
        "type": "amendment",
        "id": "p-up",
        "target": "p",
        "amount": "600",
        "reason": "revised",
        "announced_on": "2024-07-01",
        "sources": SRC,
    },
]


def _write(path: Path, lines: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def loaded(db: str, runner: CliRunner, tmp_path: Path) -> str:
    result = runner.invoke(cli, ["--db", db, "import", str(_write(tmp_path / "e.jsonl", LINES))])
    assert result.exit_code == 0, result.output
    return db


def _json(runner: CliRunner, *args: str) -> list[dict[str, str | None]]:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    data: list[dict[str, str | None]] = json.loads(result.stdout)
    return data


def test_import_reports_counts_and_reimport_skips(
    db: str, runner: CliRunner, tmp_path: Path
) -> None:
    path = _write(tmp_path / "e.jsonl", LINES)
    first = runner.invoke(cli, ["--db", db, "import", str(path)])
    assert first.exit_code == 0
    assert "recorded 8 event(s), skipped 0" in first.stderr  # a message, not data
    assert first.stdout == ""
    again = runner.invoke(cli, ["--db", db, "import", str(path)])
    assert again.exit_code == 0
    assert "recorded 0 event(s), skipped 8" in again.stderr
    assert again.stdout == ""


def test_totals_json_has_design_keys_and_sector_spreading(loaded: str, runner: CliRunner) -> None:
    rows = _json(runner, "--db", loaded, "totals", "--by", "sector", "--format", "json")
    design = ["sector", "unit", "pledged", "allocated", "delivered", "intended", "unallocated"]
    ranges = [
        f"{f}_{end}"
        for f in ("pledged", "allocated", "delivered", "intended")
        for end in ("low", "high")
    ]
    assert all(
        list(r) == [*design, *ranges, "undisclosed", "pledged_toward", "intended_toward"]
        for r in rows
    )
    by_key = {(r["sector"], r["unit"]): r for r in rows}
    # 600 after the amendment, minus the 73 carved out: 527 stays cross-sector, unallocated.
    assert by_key[("cross-sector", "USD")]["pledged"] == "527"
    assert by_key[("cross-sector", "USD")]["unallocated"] == "527"
    assert by_key[("energy/nuclear", "USD")]["allocated"] == "40"
    assert by_key[("energy/nuclear", "USD")]["delivered"] == "5"
    assert by_key[("energy/gas", "t LNG/yr")]["intended"] == "1000000"
    assert ("energy", "USD") not in by_key  # 73 = 40 + 33: nothing left at the parent


def test_totals_depth_rolls_sectors_up(loaded: str, runner: CliRunner) -> None:
    rows = _json(runner, "--db", loaded, "totals", "--depth", "1", "--format", "json")
    energy = {r["unit"]: r for r in rows if r["sector"] == "energy"}
    assert energy["USD"]["pledged"] == "73"
    assert energy["USD"]["allocated"] == "73"
    assert energy["t LNG/yr"]["intended"] == "1000000"


def test_totals_as_of_before_amendment(loaded: str, runner: CliRunner) -> None:
    rows = _json(
        runner,
        "--db",
        loaded,
        "totals",
        "--by",
        "agreement",
        "--as-of",
        "2024-06-30",
        "--format",
        "json",
    )
    usd = next(r for r in rows if r["agreement"] == "acc" and r["unit"] == "USD")
    assert usd["pledged"] == "550"


def test_totals_known_at_before_import_is_empty(loaded: str, runner: CliRunner) -> None:
    rows = _json(
        runner, "--db", loaded, "totals", "--known-at", "2000-01-01T00:00:00", "--format", "json"
    )
    assert rows == []


def test_totals_csv_parses_with_the_csv_module(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "totals", "--by", "pledger", "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    a = next(r for r in rows if r["pledger"] == "A")
    assert a["pledged"] == "600"
    assert a["allocated"] == "73"
    assert a["unallocated"] == "527"


FORMULA_LINES: list[dict[str, object]] = [
    {
        "type": "pledge",
        "id": "f",
        "pledger": '=HYPERLINK("x")',
        "recipient": "@B",
        "amount": "100",
        "unit": "USD",
        "bound": "at_least",
        "sector": "-ops",
        "announced_on": "2024-03-01",
        "sources": SRC,
    },
    {
        "type": "tranche",
        "id": "f-e",
        "parent": "f",
        "amount": "150",
        "unit": "USD",
        "sector": "+energy",
        "announced_on": "2024-04-01",
        "sources": SRC,
    },
]
"""Every key starts like a formula; the floor's tranche leaves -50 under its sector."""


def test_csv_output_neutralises_formula_text_but_not_figures(
    db: str, runner: CliRunner, tmp_path: Path
) -> None:
    path = _write(tmp_path / "f.jsonl", FORMULA_LINES)
    assert runner.invoke(cli, ["--db", db, "import", str(path)]).exit_code == 0
    by_sector = runner.invoke(cli, ["--db", db, "totals", "--format", "csv"])
    assert by_sector.exit_code == 0, by_sector.output
    extra = [
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
    # The floor's own part: -50 headline, at least that and unbounded above (a floor).
    nothing_else = ["0", "0", "0", "0", "0", "0", "0"]
    assert list(csv.reader(io.StringIO(by_sector.stdout))) == [
        ["sector", "unit", "pledged", "allocated", "delivered", "intended", "unallocated", *extra],
        ["'+energy", "USD", "150", "150", "0", "0", "0", "150", "150", "150", "150", *nothing_else],
        ["'-ops", "USD", "-50", "0", "0", "0", "-50", "-50", "", "0", "0", *nothing_else],
    ]
    by_pledger = runner.invoke(cli, ["--db", db, "totals", "--by", "pledger", "--format", "csv"])
    assert [r["pledger"] for r in csv.DictReader(io.StringIO(by_pledger.stdout))] == [
        '\'=HYPERLINK("x")'
    ]
    timeline = runner.invoke(
        cli, ["--db", db, "timeline", "--every", "year", "--by", "recipient", "--format", "csv"]
    )
    assert timeline.exit_code == 0, timeline.output
    # By recipient the tree counts whole: its floor's range, at least what is carved out.
    assert list(csv.reader(io.StringIO(timeline.stdout))) == [
        [
            "period_end",
            "recipient",
            "unit",
            "pledged",
            "allocated",
            "delivered",
            "intended",
            "unallocated",
            *extra,
        ],
        [
            "2024-12-31",
            "'@B",
            "USD",
            "100",
            "150",
            "0",
            "0",
            "-50",
            "100",
            "",
            "150",
            "150",
            *nothing_else,
        ],
    ]
    by_sector = runner.invoke(cli, ["--db", db, "timeline", "--every", "year", "--format", "csv"])
    assert [(r[1], r[3]) for r in csv.reader(io.StringIO(by_sector.stdout))][1:] == [
        ("'+energy", "150"),
        ("'-ops", "-50"),
    ]


def test_totals_table_is_aligned_and_has_units(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "totals"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "SECTOR",
        "UNIT",
        "PLEDGED",
        "ALLOCATED",
        "UNALLOCATED",
        "DELIVERED",
        "INTENDED",
    ]
    assert "t LNG/yr" in result.stdout
    assert "1M" in result.stdout  # figures compact and exact since ranges came in
    widths = {len(line) for line in lines[2:]}
    assert len(widths) == 1  # right-aligned figures end in the same column


def test_show_prints_tree_headroom_history_and_sources(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "show", "p"])
    assert result.exit_code == 0
    out = result.stdout
    assert "p  pledge  600 USD" in out
    assert "headroom 527" in out
    assert "amendment p-up: 550 → 600: revised" in out
    assert "t-n  tranche  40 USD" in out
    assert "delivery d  5 USD" in out
    assert "source: Gazette" in out


def test_show_json_and_letter(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "show", "t", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == "t"
    assert [c["id"] for c in data["tranches"]] == ["t-n", "t-g"]
    letter = runner.invoke(cli, ["--db", loaded, "show", "lng"])
    assert "letter of intent" in letter.stdout


def test_log_jsonl_reimports_as_all_skipped(loaded: str, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--db", loaded, "log", "--format", "jsonl"])
    assert result.exit_code == 0
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == [line["id"] for line in LINES]  # log order is the order given
    dump = tmp_path / "dump.jsonl"
    dump.write_text(result.stdout, encoding="utf-8")
    fresh = str(tmp_path / "fresh.db")
    assert runner.invoke(cli, ["--db", fresh, "import", str(dump)]).exit_code == 0
    assert _json(runner, "--db", fresh, "totals", "--format", "json") == _json(
        runner, "--db", loaded, "totals", "--format", "json"
    )


def test_log_table_lists_every_event(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "log"])
    assert result.exit_code == 0
    for line in LINES:
        assert str(line["id"]) in result.stdout


def test_replay_verify_succeeds(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "replay", "--verify"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.stderr  # messages about what was done go to stderr
    assert "events/s" in result.stderr
    assert result.stdout == ""


def test_bad_line_exits_1_naming_file_line_field_and_writes_nothing(
    db: str, runner: CliRunner, tmp_path: Path
) -> None:
    good = _write(tmp_path / "good.jsonl", LINES[:2])
    bad_lines: list[dict[str, object]] = [dict(LINES[2], amount=1.5)]
    bad = _write(tmp_path / "bad.jsonl", bad_lines)
    result = runner.invoke(cli, ["--db", db, "import", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: amount:" in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    log = runner.invoke(cli, ["--db", db, "log", "--format", "jsonl"])
    assert log.stdout == ""


def test_refused_event_exits_1_with_invariant(
    loaded: str, runner: CliRunner, tmp_path: Path
) -> None:
    over = [dict(LINES[3], id="t-x", amount="1", announced_on="2024-08-01")]  # t is full
    result = runner.invoke(cli, ["--db", loaded, "import", str(_write(tmp_path / "o.jsonl", over))])
    assert result.exit_code == 1
    assert "invariant 2" in result.stderr
    assert "t-x" in result.stderr
    # the rule in words, and where the rules are listed
    assert "t-x: refused (invariant 2: tranches exceed their parent, " in result.stderr
    assert "docs/semantics.md#invariants): tranches under t would reach" in result.stderr


def test_usage_errors_exit_2(loaded: str, runner: CliRunner) -> None:
    assert runner.invoke(cli, ["--db", loaded, "totals", "--by", "colour"]).exit_code == 2
    assert runner.invoke(cli, ["--db", loaded, "totals", "--as-of", "yesterday"]).exit_code == 2
    assert (
        runner.invoke(
            cli, ["--db", loaded, "totals", "--by", "agreement", "--depth", "1"]
        ).exit_code
        == 2
    )
    assert runner.invoke(cli, ["--db", loaded, "import"]).exit_code == 2


def test_unknown_id_exits_1(loaded: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", loaded, "show", "nope"])
    assert result.exit_code == 1
    assert "nope: no such id" in result.stderr


def test_missing_file_exits_1_with_one_line(db: str, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--db", db, "import", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 1
    assert "absent.jsonl" in result.stderr
    assert "Traceback" not in result.output


def test_db_defaults_to_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEDGELEDGER_DB", str(tmp_path / "env.db"))
    result = runner.invoke(cli, ["import", str(_write(tmp_path / "e.jsonl", LINES[:2]))])
    assert result.exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_help_teaches_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for word in ("import", "totals", "show", "log", "replay", "Exit codes"):
        assert word in result.stdout


def test_show_help_says_what_each_kind_of_id_shows(runner: CliRunner) -> None:
    help_text = " ".join(runner.invoke(cli, ["show", "--help"]).stdout.split())
    for kind in ("pledge", "tranche", "delivery", "correction", "letter of intent", "agreement"):
        assert kind in help_text, kind


def test_show_accepts_every_kind_of_id(loaded: str, runner: CliRunner) -> None:
    def show(event_id: str) -> str:
        result = runner.invoke(cli, ["--db", loaded, "show", event_id])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert show("d").startswith("p  pledge")  # a delivery: its pledge's tree
    assert show("p-up").startswith("p  pledge")  # a correction: the tree it corrects
    assert json.loads(show("acc"))["title"] == "Accord"  # an agreement: its record


def test_export_onto_a_folder_names_the_folder(
    loaded: str, runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "out.csv"
    folder.mkdir()
    for output in (str(folder), str(tmp_path)):
        result = runner.invoke(cli, ["--db", loaded, "export", "--format", "csv", "-o", output])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"error: cannot write {output}: ")
        assert ".tmp" not in result.stderr
    assert not list(folder.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- the reference the command prints about itself: rules and the import format ------------------


def test_rules_lists_every_rule_from_the_code_table(runner: CliRunner) -> None:
    from pledgeledger.errors import RULES

    text = runner.invoke(cli, ["rules"])
    assert text.exit_code == 0
    flat = " ".join(text.stdout.split())
    assert "docs/semantics.md#invariants" in flat
    for rule in RULES:
        number = "-" if rule.invariant is None else str(rule.invariant)
        assert f"{number} {rule.breach} [{rule.key}] {rule.statement}" in flat, rule.key
    as_json = runner.invoke(cli, ["rules", "--format", "json"])
    assert json.loads(as_json.stdout) == [
        {"key": r.key, "invariant": r.invariant, "breach": r.breach, "rule": r.statement}
        for r in RULES
    ]


def test_format_lists_every_type_and_field_from_the_record_classes(runner: CliRunner) -> None:
    import attrs

    from pledgeledger.domain.records import EVENT_TYPES, Source

    text = runner.invoke(cli, ["format"])
    assert text.exit_code == 0
    as_json = json.loads(runner.invoke(cli, ["format", "--format", "json"]).stdout)
    assert list(as_json) == [*EVENT_TYPES, "source"]
    for name, cls in [*EVENT_TYPES.items(), ("source", Source)]:
        fields = [f for f in attrs.fields(cls) if f.name != "type"]
        assert [(f["name"], f["required"]) for f in as_json[name]["fields"]] == [
            (f.name, f.default is attrs.NOTHING) for f in fields
        ]
        section = text.stdout.split(f"\n{name}", 1)[1].split("\n\n", 1)[0]
        for f in fields:
            label = f.name if f.default is attrs.NOTHING else f"[{f.name}]"
            assert re.search(rf"^  {re.escape(label)} ", section, re.M), (name, f.name)
    pledge = {f["name"]: f["value"] for f in as_json["pledge"]["fields"]}
    assert pledge["amount"].startswith("decimal string")
    assert pledge["bound"] == "exact | up_to | at_least | about (default exact)"
    assert pledge["announced_on"] == "date (YYYY-MM-DD)"


def test_help_texts_point_at_what_ships_with_the_package(runner: CliRunner) -> None:
    ctx = cli.make_context("pledgeledger", ["--help"], resilient_parsing=True)
    names = cli.list_commands(ctx)
    texts = {"": runner.invoke(cli, ["--help"]).stdout}
    texts |= {name: runner.invoke(cli, [name, "--help"]).stdout for name in names}
    for name, text in texts.items():
        assert "docs/" not in text.replace("docs/semantics.md#invariants", ""), name
        for referenced in re.findall(r"pledgeledger (\w+)", text):
            assert referenced in names, (name, referenced)
    assert "`pledgeledger format`" in " ".join(texts["import"].split())
    assert "pledgeledger rules" in texts[""]
    assert "pledgeledger format" in texts[""]
