"""The code's shape: no import cycles among ragviz modules, and no module too long to read in one go."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.helpers import ROOT

PACKAGE = ROOT / "ragviz"
MAX_LINES = 450


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> nx.DiGraph:
    """Module → module it imports, from every import statement (top level or inside a function).

    ``from ragviz.x import y`` counts as importing ``ragviz.x.y`` when that is a module, else
    ``ragviz.x``; imports under ``if TYPE_CHECKING:`` are left out (they never run).
    """
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_import_graph_finds_real_imports() -> None:
    graph = import_graph()
    assert graph.has_edge("ragviz.graph.task_graph", "ragviz.graph.tasks")
    assert graph.has_edge("ragviz.ui.routing", "ragviz.ui.state")
    assert graph.has_edge("ragviz.ui.routing", "ragviz.ui.sidebar")


def test_the_cycle_check_fails_on_a_cycle(tmp_path: Path) -> None:
    """A function-level import closes a cycle too (it runs on first call)."""
    package = tmp_path / "ragviz"
    package.mkdir()
    (package / "a.py").write_text("from ragviz.b import f\n")
    (package / "b.py").write_text("def f():\n    from ragviz import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ragviz import a\n")
    graph = import_graph(package)
    assert [sorted(cycle) for cycle in nx.simple_cycles(graph)] == [["ragviz.a", "ragviz.b"]]
    assert not graph.has_edge("ragviz.c", "ragviz.a")


def test_ragviz_imports_have_no_cycles() -> None:
    """A cycle means two modules are one job split badly (or a getter that does more than get)."""
    cycles = sorted(" → ".join([*cycle, cycle[0]]) for cycle in nx.simple_cycles(import_graph()))
    assert cycles == []


def test_no_module_is_longer_than_the_limit() -> None:
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text(encoding="utf-8").splitlines()))
            > MAX_LINES}
    assert long == {}
