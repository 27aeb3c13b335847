"""docs/architecture.md names modules, files and functions, and quotes the layer contract; the
code moves (the store and the ledger are being reshaped), so this test says when the page has
fallen behind it instead of leaving a reader to find out."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
TEXT = PAGE.read_text(encoding="utf-8")

_PATH = re.compile(r"\bsrc/pledgeledger(?:/[\w.]+)*/?")
_DOTTED = re.compile(r"pledgeledger(?:\.\w+)+(?:\(\))?")


def _paths() -> list[str]:
    return sorted({found.rstrip(".") for found in _PATH.findall(TEXT)})


def _backticked() -> list[str]:
    return re.findall(r"`([^`\n]+)`", TEXT)


def _dotted() -> list[str]:
    return sorted({span for span in _backticked() if _DOTTED.fullmatch(span)})


def _file_mentions() -> list[str]:
    """Backticked files and folders: ``tests/test_quality.py``, ``pyproject.toml``, ``store/``,
    ``rules.py`` (the last two as the table names them, inside ``src/pledgeledger``)."""
    return sorted(
        {
            span
            for span in _backticked()
            if re.fullmatch(r"[\w./-]+(?:\.py|\.toml|\.md|/)", span) and "://" not in span
        }
    )


def resolve(dotted: str) -> Any:
    """The object ``dotted`` names: the longest importable module prefix, then attributes."""
    parts = dotted.removesuffix("()").split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_page_names_things_to_check() -> None:
    # Guards the regular expressions: a page whose names they stopped finding would pass.
    assert len(_paths()) >= 10
    assert len(_dotted()) >= 20
    assert {"tests/test_quality.py", "pyproject.toml", "rules.py", "domain/"} <= set(
        _file_mentions()
    )


@pytest.mark.parametrize("path", _paths())
def test_every_source_path_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which is gone"


@pytest.mark.parametrize("path", _file_mentions())
def test_every_file_named_exists(path: str) -> None:
    package = ROOT / "src" / "pledgeledger"
    found = (ROOT / path).exists() or (package / path).exists()
    if not found and "/" not in path:  # a module named in its layer's row of the table
        found = any(package.rglob(path))
    assert found, f"docs/architecture.md names {path}, which is gone"


@pytest.mark.parametrize("dotted", _dotted())
def test_every_dotted_name_resolves(dotted: str) -> None:
    try:
        resolve(dotted)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"docs/architecture.md names `{dotted}`, which no longer resolves: {exc}")


def test_resolve_fails_on_a_missing_name() -> None:
    assert resolve("pledgeledger.ledger.Ledger.totals") is not None
    with pytest.raises(AttributeError):
        resolve("pledgeledger.ledger.Ledger.no_such_method")
    with pytest.raises(ModuleNotFoundError):
        resolve("nonexistent_package_xyz.module")


def test_the_quoted_layers_are_the_contract() -> None:
    block = re.search(r"```toml\n(layers = \[.*?\])\n```", TEXT, re.S)
    assert block is not None, "the page no longer quotes the layers"
    quoted = tomllib.loads(block.group(1))["layers"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layered = [c["layers"] for c in contracts if c["type"] == "layers"]
    assert layered == [quoted]


def test_every_link_to_a_local_page_resolves() -> None:
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", TEXT)
    assert targets, "no local links found"
    missing = [t for t in targets if not (PAGE.parent / t).exists()]
    assert missing == []


def test_readme_links_the_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme
