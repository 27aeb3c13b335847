"""The style promises, checked by the test command itself: mypy --strict, ruff (lint and
format), the layer contract and every suppression's reason.

They run as tests so that the README's one test command (and CI, which runs it) cannot pass
while the type checker, the linter, the formatter or the layers fail.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("src", "tests", "plugins", "benchmarks")
"""The folders whose code the project owns (and lints, formats and type-checks)."""


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}: pip install -e '.[dev]'")
    return found


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- layers ----------------------------------------------------------------------------------


def test_layers_are_kept() -> None:
    # The contracts live in pyproject.toml ([tool.importlinter]); docs/architecture.md explains
    # them. No cache: it would be written into the work tree.
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of the import graph that hold a cycle (Tarjan's
    algorithm, iterative so that a deep chain cannot hit the recursion limit), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(imports):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(imports[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1 or module in imports.get(module, ()):
                    cycles.append(sorted(component))
    return sorted(cycles)


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"], ["d"]]),
        ({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}, []),
    ],
)
def test_import_cycles_finds_every_cycle(
    imports: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert import_cycles(imports) == expected


def test_no_import_cycles() -> None:
    # The layers contract only sees imports between layers; a cycle inside one (two modules
    # of the store importing each other) is as hard to untangle. TYPE_CHECKING imports count,
    # as in the contract, and so does the root package: a module that imports the public names
    # from it depends on everything they re-export.
    graph = grimp.build_graph("pledgeledger", cache_dir=None)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    cycles = import_cycles(imports)
    assert cycles == [], (
        "import cycles, each a set of modules that import each other: "
        + "; ".join(" <-> ".join(cycle) for cycle in cycles)
    )


# -- suppressions ----------------------------------------------------------------------------

_PRAGMA = re.compile(
    r"(?P<noqa>(?:(?:ruff|flake8):\s*)?noqa\b)"
    r"|(?P<ignore>type:\s*ignore\b)"
    r"|(?P<skip>fmt:\s*skip\b)"
    r"|(?P<off>fmt:\s*off\b)"
    r"|(?P<other>fmt:\s*on\b|pragma:|pyright:|mypy:)",
    re.IGNORECASE,
)


def _kind(part: str) -> str | None:
    """What one ``#``-separated part of a comment is: a pragma's kind, or None for words."""
    found = _PRAGMA.match(part)
    return found.lastgroup if found else None


def _is_reason(part: str) -> bool:
    return _kind(part) is None and re.search(r"[^\W\d_]", part) is not None


def suppressions_without_reason(source: str) -> list[tuple[int, str]]:
    """Each ``noqa``, ``type: ignore``, ``fmt: skip`` and ``fmt: off`` comment in ``source``
    that does not say why, as (line, problem).

    ``noqa`` and ``type: ignore`` take their reason after them in the same comment
    (``# noqa: S311  # not cryptography``); ``fmt: skip`` anywhere in its comment (ruff reads
    it before or after other text); ``fmt: off`` on the comment line just above it, since the
    formatter ignores a ``# fmt: off`` with anything else in its comment.
    """
    comments = [
        (token.start[0], token.string, not token.line[: token.start[1]].strip())
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    alone = {line: text for line, text, standalone in comments if standalone}
    problems = []
    for line, text, _ in comments:
        parts = [part.strip() for part in text.split("#")[1:]]
        for i, part in enumerate(parts):
            kind = _kind(part)
            if kind in ("noqa", "ignore") and not any(_is_reason(p) for p in parts[i + 1 :]):
                problems.append((line, f"no reason after it: {text}"))
            elif kind == "skip" and not any(_is_reason(p) for p in parts):
                problems.append((line, f"no reason in the comment: {text}"))
            elif kind == "off" and len(parts) > 1:
                problems.append(
                    (line, f"ignored by the formatter (reason on the line above): {text}")
                )
            elif kind == "off":
                above = alone.get(line - 1, "")
                if not any(_is_reason(p) for p in above.split("#")[1:]):
                    problems.append((line, f"no reason on the comment line above: {text}"))
    return problems


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("x = 1  # noqa: S311  # not cryptography\n", []),
        ("x = 1  # noqa: S311\n", [1]),
        ("x = 1  # NOQA\n", [1]),
        ("x = 1  # noqa: S311 not cryptography\n", [1]),
        ("x = 1  # noqa: E501  # 42\n", [1]),
        ("# ruff: noqa: E501\nx = 1\n", [1]),
        ("x = 1  # type: ignore[attr-defined]  # eventsourcing's protocol lacks it\n", []),
        ("x = 1  # type: ignore[attr-defined]\n", [1]),
        ("x = 1  # type: ignore\n", [1]),
        ("x = 1  # type: ignore[misc]  # noqa: E501  # frozen on purpose\n", []),
        ("x = 1  # type: ignore[misc]  # noqa: E501\n", [1, 1]),
        ("x = 1  # aligned by hand  # fmt: skip\n", []),
        ("x = 1  # fmt: skip  # aligned by hand\n", []),
        ("x = 1  # fmt: skip\n", [1]),
        ("# a table, aligned by hand\n# fmt: off\nx = 1\n# fmt: on\n", []),
        ("x = 0\n# fmt: off\nx = 1\n# fmt: on\n", [2]),
        ("# fmt: off  # a table\nx = 1\n# fmt: on\n", [1]),
        ("s = '# noqa'  # a string, not a comment\n", []),
        ("x = 1  # the noqa comments elsewhere say why\n", []),
    ],
)
def test_suppressions_without_reason_finds_each_kind(source: str, lines: list[int]) -> None:
    assert [line for line, _ in suppressions_without_reason(source)] == lines


def _owned_python_files() -> Iterator[Path]:
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if not any(p.startswith(".") or p in ("build", "dist") for p in parts):
                yield path


def test_every_suppression_says_why() -> None:
    # STYLE.md: every ignore has a reason, so that the next reader can tell whether it still
    # applies. Nothing new may slip in without one.
    files = list(_owned_python_files())
    assert len(files) > 50  # the scan found the code (a wrong ROOT would pass vacuously)
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {problem}"
        for path in files
        for line, problem in suppressions_without_reason(path.read_text(encoding="utf-8"))
    ]
    assert problems == [], "\n".join(problems)
