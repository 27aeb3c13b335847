"""Docs that cannot drift: the format table matches the event classes field for field, and the
JSON and CSV keys documented in docs/semantics.md are the ones the CLI prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
from click.testing import CliRunner

from pledgeledger.cli import cli
from pledgeledger.domain.records import EVENT_TYPES
from pledgeledger.domain.totals import GROUPS

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


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of ``text``."""
    titles = re.findall(r"^#+ (.*)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-") for t in titles}


def test_semantics_lists_the_keys_of_json_and_csv_output(tmp_path: Path) -> None:
    section = _section((DOCS / "semantics.md").read_text(encoding="utf-8"), "JSON and CSV output")
    first_cells = re.findall(r"^\| (`.*?) \|", section, re.M)
    keys = [re.findall(r"`(\w+)`", cell) for cell in first_cells]
    assert keys[0] == list(GROUPS)
    documented = [names[0] for names in keys[1:]]
    assert "`period_end` first" in section
    runner = CliRunner()
    db = str(tmp_path / "example.db")
    example = str(DOCS.parent / "examples" / "us_japan_2025" / "events.jsonl")
    assert runner.invoke(cli, ["--db", db, "import", example]).exit_code == 0

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--db", db, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    for by in GROUPS:
        totals = json.loads(run("totals", "--by", by, "--format", "json"))
        assert totals
        assert all(list(row) == [by, *documented] for row in totals)
        timeline = json.loads(run("timeline", "--by", by, "--every", "year", "--format", "json"))
        assert all(list(point) == ["period_end", by, *documented] for point in timeline)
        header = run("totals", "--by", by, "--format", "csv").splitlines()[0]
        assert header == ",".join([by, *documented])
        if by == "agreement":
            sample = re.search(r"```json\n(.*?)\n```", section, re.S)
            assert sample is not None
            assert json.loads(sample.group(1)) == totals[0]
    assert f"`{','.join(['sector', *documented])}`" in section  # the CSV header, spelled out
    assert documented[:6] == [
        "unit",
        "pledged",
        "allocated",
        "delivered",
        "intended",
        "unallocated",
    ]


def test_readme_points_at_the_json_keys() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if "totals --by agreement --format json" in x)
    target = re.search(r"docs/semantics\.md#([\w-]+)", line)
    assert target is not None, line
    assert target.group(1) in _anchors((DOCS / "semantics.md").read_text(encoding="utf-8"))


def test_semantics_lists_the_rules_of_the_code_table() -> None:
    # One table in the code (RULES) builds every refusal and `pledgeledger rules`; the docs'
    # Invariants section, which every refusal links to, lists exactly the same rules.
    from pledgeledger.errors import RULES, RULES_ANCHOR

    text = (DOCS / "semantics.md").read_text(encoding="utf-8")
    section = _section(text, "Invariants")
    rows = re.findall(r"^\| (\d|—) \| `([\w-]+)` \| (.*?) \| (.*?) \|$", section, re.M)
    assert rows == [
        ("—" if r.invariant is None else str(r.invariant), r.key, r.breach, r.statement)
        for r in RULES
    ]
    path, anchor = RULES_ANCHOR.split("#")
    assert path == "docs/semantics.md"
    assert anchor in _anchors(text)


def _keys_of(section: str, title: str) -> list[str]:
    """The keys listed in the first Key/Value table after ``title`` in ``section``."""
    table = section[section.index(title) :]
    table = table[table.index("| Key | Value |") :]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(re.findall(r"`(\w+)`", line.split("|")[1])[0])
    return rows


def test_semantics_lists_the_keys_of_conflicts_and_overdue(tmp_path: Path) -> None:
    text = (DOCS / "semantics.md").read_text(encoding="utf-8")
    runner = CliRunner()
    db = str(tmp_path / "example.db")
    example = str(DOCS.parent / "examples" / "us_japan_2025" / "events.jsonl")
    assert runner.invoke(cli, ["--db", db, "import", example]).exit_code == 0
    conflicts = runner.invoke(cli, ["--db", db, "conflicts", "--format", "json"])
    assert conflicts.exit_code == 0, conflicts.output
    found = json.loads(conflicts.stdout)
    assert found, "the example's reports disagree with their records"
    section = _section(text, "Reports and conflicts")
    assert all(list(c) == _keys_of(section, "JSON: an array") for c in found)
    assert all(list(c["counted"]) == ["amount", "bound", "low", "high"] for c in found)
    assert all(
        list(r) == ["amount", "bound", "outlet", "reported_on"]
        for c in found
        for r in c["reported"]
    )
    sample = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert sample is not None
    assert json.loads(sample.group(1)) == found[0]
    due = [
        {
            "type": "pledge",
            "id": "due",
            "pledger": "A",
            "recipient": "B",
            "amount": "10",
            "unit": "USD",
            "sector": "x",
            "due_by": "2026-01-01",
            "announced_on": "2025-01-01",
            "sources": [{"outlet": "Gazette"}],
        }
    ]
    path = tmp_path / "due.jsonl"
    path.write_text(json.dumps(due[0]) + "\n", encoding="utf-8")
    assert runner.invoke(cli, ["--db", db, "import", str(path)]).exit_code == 0
    late = runner.invoke(cli, ["--db", db, "overdue", "--as-of", "2026-06-01", "--format", "json"])
    assert late.exit_code == 0, late.output
    (row,) = json.loads(late.stdout)
    keys = _keys_of(_section(text, "Deadlines, lapses and overdue"), "JSON: an")
    assert list(row) == keys
    assert (row["id"], row["outstanding"], row["delivered"]) == ("due", "10", "0")
