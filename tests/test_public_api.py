"""The public names of ``pledgeledger`` and ``pledgeledger.plugins`` are written three times:
in ``__all__``, in the ``_LAZY`` table that imports them on first use, and as TYPE_CHECKING
imports for type checkers. Nothing but this test keeps the three lists in step, so it reads
them from the source (with :mod:`ast`) rather than repeating them.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import attrs
import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGES = ["pledgeledger", "pledgeledger.plugins"]


@attrs.frozen
class Declared:
    """What a lazily importing ``__init__.py`` declares."""

    all: list[str]
    lazy: dict[str, str]
    """name -> module it is imported from on first use."""
    typed: dict[str, tuple[str, str]]
    """name -> (module, name there), from the ``if TYPE_CHECKING:`` imports."""


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return node.value
    raise AssertionError(f"no top-level assignment to {name}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def declared(package: str) -> Declared:
    path = SRC.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    all_ = ast.literal_eval(_assigned(tree, "__all__"))
    lazy = ast.literal_eval(_assigned(tree, "_LAZY"))
    typed: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                assert statement.module is not None
                assert statement.level == 0, "relative imports would hide the module"
                for alias in statement.names:
                    public = alias.asname or alias.name
                    assert public not in typed, f"{public} imported twice"
                    typed[public] = (statement.module, alias.name)
    assert typed, f"{path}: no TYPE_CHECKING imports found"
    return Declared(all=list(all_), lazy=dict(lazy), typed=typed)


def ruf022_key(name: str) -> tuple[int, list[tuple[int, int | str]]]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest; natural order
    (digits by value) within each."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    pieces = re.findall(r"\d+|\D+", name)
    return kind, [(0, int(p)) if p.isdigit() else (1, p) for p in pieces]


def test_ruf022_key_orders_like_ruff() -> None:
    # The order `ruff check --select RUF022 --fix` gives these names (ruff 0.17).
    names = ["unregister", "Exporter", "ALL", "item10", "ExportFailed", "A1", "item2", "TOTALS"]
    assert sorted(names, key=ruf022_key) == [
        "A1",
        "ALL",
        "TOTALS",
        "ExportFailed",
        "Exporter",
        "item2",
        "item10",
        "unregister",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lazy_and_type_checking_name_the_same_set(package: str) -> None:
    found = declared(package)
    assert len(found.all) == len(set(found.all)), "__all__ names something twice"
    assert set(found.lazy) == set(found.all), "_LAZY and __all__ differ"
    assert set(found.typed) == set(found.all), "the TYPE_CHECKING imports and __all__ differ"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package: str) -> None:
    names = declared(package).all
    assert names == sorted(names, key=ruf022_key)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_lazy_name_is_what_type_checkers_see(package: str) -> None:
    # A lazy entry pointing at the wrong module would hand out another object than the one
    # the annotations were checked against (or fail only on first use).
    found = declared(package)
    module = importlib.import_module(package)
    for name, (source, original) in sorted(found.typed.items()):
        expected = getattr(importlib.import_module(source), original)
        assert getattr(module, name) is expected, f"{package}.{name} via {found.lazy[name]}"


@pytest.mark.parametrize("package", PACKAGES)
def test_dir_lists_every_public_name(package: str) -> None:
    found = declared(package)
    listed = set(dir(importlib.import_module(package)))
    assert set(found.all) <= listed, sorted(set(found.all) - listed)


def test_unknown_names_raise_attribute_error() -> None:
    module = importlib.import_module("pledgeledger")
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        module.Nonexistent  # noqa: B018  # the attribute access is the test
