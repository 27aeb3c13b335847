"""docs/plugins.md cannot drift: every hookspec is documented with its exact signature, and
the guide's example plugin is real code that passes the exporter contract."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pledgeledger.plugins import hookspecs
from pledgeledger.plugins.manager import get_plugin_manager
from pledgeledger.testing import ExporterContract

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
GUIDE = DOCS.read_text(encoding="utf-8")


def _hookspecs() -> dict[str, Callable[..., Any]]:
    return {
        name: value
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, f"{hookspecs.PROJECT}_spec")
    }


def _signature(func: Callable[..., Any]) -> str:
    # hookspecs.py uses postponed annotations, so each annotation is its source text.
    sig = inspect.signature(func)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {func.__name__}({params}) -> {sig.return_annotation}"


def test_there_are_hookspecs() -> None:
    assert set(_hookspecs()) >= {"register_exporters", "register_commands"}


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hookspec_is_documented_with_its_exact_signature(name: str) -> None:
    signature = _signature(_hookspecs()[name])
    assert signature in GUIDE, f"docs/plugins.md lacks `{signature}`"
    assert f"#### `{name}`" in GUIDE


@pytest.mark.parametrize("name", sorted(_hookspecs()))
def test_every_hookspec_says_why_and_since_when(name: str) -> None:
    doc = inspect.getdoc(_hookspecs()[name]) or ""
    assert len(doc) > 100
    assert ".. versionadded::" in doc


def test_every_hookspec_is_known_to_the_plugin_manager() -> None:
    for name in _hookspecs():
        assert getattr(get_plugin_manager().hook, name).has_spec()


def test_no_documented_hook_is_missing_from_hookspecs() -> None:
    documented = set(re.findall(r"^#### `(\w+)`", GUIDE, re.M))
    assert documented == set(_hookspecs())


def _guide_plugin() -> types.ModuleType:
    """The guide's example plugin (its first Python block), as a module."""
    block = re.search(r"```python\n(.*?)```", GUIDE, re.S)
    assert block is not None
    module = types.ModuleType("pledgeledger_markdown")
    exec(compile(block.group(1), "docs/plugins.md", "exec"), module.__dict__)  # our own docs
    return module


class TestTheGuidesExamplePassesTheContract(ExporterContract):
    exporter_name = "markdown"
    plugin = _guide_plugin()

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        lines = data.decode("utf-8").splitlines()
        assert lines[0].startswith("| sector | unit | pledged")
        assert all(line.count("|") == 7 for line in lines[2:-2])
