"""The package reads as the pipeline (issue 9): no import cycles, the public API is the functions,
no module shadows a public name, the command layer imports nothing of the CLI root."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import sizer

PACKAGE = Path(sizer.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that runs (at module level or inside a function), not those only for type checkers."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports(child))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _edges(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _edges(name, path) for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(GRAPH):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycle() is None


def test_the_cycle_check_sees_a_planted_cycle() -> None:
    GRAPH["sizer.errors"].add("sizer.catalog.loading")  # loading imports errors: a cycle now
    try:
        found = _cycle()
    finally:
        GRAPH["sizer.errors"].discard("sizer.catalog.loading")
    assert found is not None and "sizer.errors" in found


@pytest.mark.parametrize("name", ["fit", "recommend", "load_catalog", "detect"])
def test_the_public_api_returns_functions(name: str) -> None:
    api = importlib.import_module("sizer")
    assert inspect.isfunction(getattr(api, name))
    assert name in api.__all__


def test_no_module_is_named_like_a_public_name() -> None:
    public = set(sizer.__all__)
    # (command modules are named by their CLI command and live apart, in sizer.commands)
    assert not [m for m in MODULES if m.rsplit(".", 1)[-1] in public and not m.startswith("sizer.commands.")]


def test_the_top_level_holds_only_the_entry_points_and_shared_basics() -> None:
    top = sorted(m for m, p in MODULES.items() if m.count(".") == 1 and p.name != "__init__.py")
    assert top == ["sizer.__main__", "sizer.calibrate", "sizer.cli", "sizer.errors", "sizer.limits", "sizer.units"]


def test_commands_do_not_import_the_cli_root() -> None:
    offenders = {m for m in MODULES if m.startswith("sizer.commands") and "sizer.cli" in GRAPH[m]}
    assert not offenders


def test_the_library_never_imports_click_or_the_commands() -> None:
    library = [m for m in MODULES if not m.startswith(("sizer.commands", "sizer.cli", "sizer.__main__"))]
    for name in library:
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in _imports(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in _imports(tree) if isinstance(n, ast.ImportFrom)}
        assert "click" not in imported, name
        assert not any(t.startswith("sizer.commands") for t in GRAPH[name]), name
