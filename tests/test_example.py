"""The worked example tells the truth: its README's hand-worked totals, with their ranges,
are what the command line prints for ``examples/us_japan_2025/events.jsonl``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledgeledger.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "us_japan_2025"
README = (EXAMPLE / "README.md").read_text(encoding="utf-8")
EVENTS = EXAMPLE / "events.jsonl"


def _section(title: str) -> str:
    start = README.index(f"\n### {title}\n")
    end = README.find("\n### ", start + 1)
    return README[start : end if end != -1 else None]


def _markdown_rows(section: str) -> list[list[str]]:
    """The body rows of the first table in ``section``, cell by cell."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _cli_rows(output: str) -> list[list[str]]:
    """The rows of a table the CLI printed, cut at the columns its rule line marks."""
    lines = output.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    rows = []
    for line in lines[2:]:
        padded = line.ljust(spans[-1][1])
        rows.append([padded[a:b].strip() for a, b in spans])
    return rows


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("example") / "example.db")
    result = CliRunner().invoke(cli, ["--db", path, "import", str(EVENTS)])
    assert result.exit_code == 0, result.output
    assert "recorded 25 event(s), skipped 0" in result.stderr
    return path


def _run(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    ("title", "args"),
    [
        ("By sector", ["totals", "--by", "sector"]),
        ("By sector, `--depth 1`", ["totals", "--by", "sector", "--depth", "1"]),
        ("By agreement", ["totals", "--by", "agreement"]),
    ],
)
def test_the_readme_tables_are_what_the_cli_prints(db: str, title: str, args: list[str]) -> None:
    expected = _markdown_rows(_section(title))
    assert expected, title
    assert _cli_rows(_run(db, *args)) == expected


def test_the_readme_json_is_what_the_cli_prints(db: str) -> None:
    block = re.search(r"```json\n(.*?)\n```", _section("By agreement"), re.S)
    assert block is not None
    printed = json.loads(_run(db, "totals", "--by", "agreement", "--format", "json"))
    assert json.loads(block.group(1)) == printed


def test_the_as_of_views(db: str) -> None:
    rows = _markdown_rows(_section("Checked against the library"))
    assert len(rows) == 5
    for as_of, figures in rows:
        printed = _run(db, "totals", "--by", "agreement", "--as-of", as_of)
        if figures.startswith("nothing"):
            assert "us-japan-stia-2025" not in printed
            continue
        (row,) = [r for r in _cli_rows(printed) if r[0] == "us-japan-stia-2025"]
        pledged, allocated, intended = (part.strip() for part in figures.split("/"))
        assert (row[2], row[3], row[6]) == (pledged, allocated, intended), as_of


def test_reimport_skips_and_replay_verifies(db: str) -> None:
    again = CliRunner().invoke(cli, ["--db", db, "import", str(EVENTS)])
    assert again.exit_code == 0
    assert "recorded 0 event(s), skipped 25" in again.stderr
    verified = CliRunner().invoke(cli, ["--db", db, "replay", "--verify"])
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.stderr


def test_the_disagreements_are_listed_side_by_side(db: str) -> None:
    found = json.loads(_run(db, "conflicts", "--format", "json"))
    assert [c["id"] for c in found] == [
        "jp-us-550b-t2",
        "loi-jp-companies-project-list",
        "loi-toyota-plants",
    ]
    t2 = found[0]
    assert t2["counted"]["amount"] == "73000000000"
    assert {(r["amount"], r["bound"]) for r in t2["reported"]} == {
        ("73000000000", "up_to"),
        ("80000000000", "exact"),
    }
    umbrella = found[1]
    assert umbrella["counted"]["amount"] is None  # undisclosed: neither total is counted
    assert ("400000000000", "up_to") in {(r["amount"], r["bound"]) for r in umbrella["reported"]}
    assert ("330000000000", "at_least") in {(r["amount"], r["bound"]) for r in umbrella["reported"]}
    shown = _run(db, "show", "jp-us-550b")
    assert "tied toward it: 10 record(s) summing 345B (105B–), beside headroom 441B" in shown
    assert "report jp-us-550b-t2-headline: 80B USD" in shown


def test_no_invented_figure_and_no_party_in_a_role_its_report_does_not_give() -> None:
    records = [json.loads(line) for line in EVENTS.read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in records}
    assert by_id["us-jp-f35-missiles"]["amount"] is None
    assert by_id["us-jp-f35-missiles-d1"]["amount"] is None
    for partner in ("Westinghouse", "GE Vernova", "Carrier"):
        parties = [r["party"] for r in records if r["type"] == "loi" and partner in r["party"]]
        assert parties
        assert all(p != partner and "with" in p for p in parties), parties
    tied = {r["id"] for r in records if r.get("toward") == "jp-us-550b"}
    assert "loi-toyota-plants" not in tied  # no seed ties Toyota's plan to the $550B
    assert "loi-jp-companies-project-list" in tied
    assert all("url" not in s for r in records for s in r["sources"])  # never invented
