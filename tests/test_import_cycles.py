"""No import cycles among kplay's packages: a module never needs, even indirectly, a module that needs it.

Read from the source (``ast``), so a cycle is found even when the order modules happen to
be loaded in hides it. Imports under ``if TYPE_CHECKING:`` are only for type checkers and
do not count; imports inside functions run too, later, so they count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "broker_core", "widgets")


def project_modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the packages, by dotted name: its file, and whether it is a package's ``__init__``."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run, at import time or later (all but TYPE_CHECKING blocks)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _imports(node.body) + _imports(node.orelse)
        elif isinstance(node, ast.Try):
            found += _imports(node.body) + _imports(node.orelse) + _imports(node.finalbody)
            for handler in node.handlers:
                found += _imports(handler.body)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.With, ast.AsyncWith,
                               ast.For, ast.AsyncFor, ast.While)):
            found += _imports(node.body)
    return found


def import_graph(modules: dict[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    """For each module, the project modules it imports (``from pkg import sub`` names the submodule)."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                edges[name] |= {alias.name for alias in node.names if alias.name in modules}
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    edges[name].add(f"{target}.{alias.name}")
                elif target in modules:
                    edges[name].add(target)
        edges[name].discard(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_the_packages_have_no_import_cycle() -> None:
    modules = project_modules()
    edges = import_graph(modules)
    assert "broker_core.log" in modules and "broker_core.log_validator" in edges["broker_core.log"]  # the walk sees imports
    assert cycles(edges) == []


def test_the_cycle_check_finds_a_cycle_through_several_modules() -> None:
    edges = import_graph(project_modules())
    # broker_core.log imports broker_core.log_validator, which imports broker_core.record_batch.
    edges["broker_core.record_batch"] = edges["broker_core.record_batch"] | {"broker_core.log"}
    assert any({"broker_core.log", "broker_core.log_validator", "broker_core.record_batch"} <= set(group)
               for group in cycles(edges))
