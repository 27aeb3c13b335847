"""The README's promises, run: its Python tour works and its sample error is what users see."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledgeledger.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_tour_runs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    exec(compile(block.group(1), "README.md", "exec"), {})  # our own README
    out = capsys.readouterr().out
    assert "cross-sector USD 550000000000 0 550000000000" in out  # as of 2025-12-31
    assert "us-jp-f35-missiles-d2" in out


def test_sample_error_is_what_the_cli_prints(workdir: Path) -> None:
    runner = CliRunner()
    db = str(workdir / "example.db")
    assert (
        runner.invoke(cli, ["--db", db, "import", "examples/us_japan_2025/events.jsonl"]).exit_code
        == 0
    )
    tranche = {
        "type": "tranche",
        "id": "jp-us-550b-t3",
        "parent": "jp-us-550b",
        "amount": "500000000000",
        "unit": "USD",
        "sector": "energy",
        "announced_on": "2026-04-01",
        "sources": [{"outlet": "Example"}],
    }
    (workdir / "more.jsonl").write_text(json.dumps(tranche) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["--db", db, "import", "more.jsonl"])
    assert result.exit_code == 1
    sample = re.search(r"^error: more\.jsonl.*$", README, re.M)
    assert sample is not None
    assert result.stderr.strip() == sample.group(0)
