"""The code's shape: subpackages import only downwards, no import cycles, Streamlit only in the UI, and
the walk from the Train page's Start button to the first training step goes down the layers once.

Layers, lowest first (:data:`LAYERS`): a module may import its own subpackage and any lower one. ``plots``
may import anything but ``ui``; ``ui`` (and ``pages/``, ``app.py``) anything. ``ragviz/__init__.py`` names
its public API as strings (loaded on first use): ``from ragviz import __version__`` imports nothing, and
``from ragviz import train`` counts as importing the module that defines ``train``.
"""

from __future__ import annotations

import ast
import logging
import sys
import threading
from collections import Counter
from pathlib import Path

import networkx as nx

import ragviz
from tests.helpers import ROOT, small_ring

PACKAGE = ROOT / "ragviz"
#: Lowest first; ``ragviz`` is the package's own ``__init__``/``__main__``, on top with ``cli``.
LAYERS = ("safety", "graph", "data", "model", "training", "inspection", "storage", "lessons", "cli", "plots", "ui",
          "ragviz", "__main__")
#: Who may import Streamlit.
STREAMLIT_USERS = ("ragviz.ui",)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """``ragviz.graph.tasks`` → ``graph``; ``ragviz.cli`` → ``cli``; ``ragviz`` → ``ragviz``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


#: The one sanctioned import up the layers: the graph checks a task's family name and fills its default
#: parameters from the data families' registry (docs/DESIGN.md §7.1), the vocabulary both share.
FAMILY_VOCABULARY = ("ragviz.data.registry", "ragviz.data.family", "ragviz.data.task_data")


def may_import(importer: str, imported: str) -> bool:
    """The layering rule between two ragviz modules."""
    a, b = layer(importer), layer(imported)
    if a == "graph" and imported in FAMILY_VOCABULARY:
        return True
    if a == b or a in ("ui", "ragviz", "__main__"):
        return True
    if a == "plots":
        return b != "ui"
    if b in ("plots", "ui", "ragviz", "__main__"):
        return False
    return LAYERS.index(b) < LAYERS.index(a)


def import_statements(path: Path) -> list[tuple[str, ast.stmt]]:
    """Every executed import in a file (top level or in a function; not under ``if TYPE_CHECKING:``),
    as (module, statement); ``from a import b`` gives ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found: list[tuple[str, ast.stmt]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, node)] + [(f"{node.module}.{alias.name}", node) for alias in node.names]
            if node.module == "ragviz":  # a public name loads the module that defines it
                found += [(ragviz.PUBLIC[alias.name], node) for alias in node.names if alias.name in ragviz.PUBLIC]
    return found


def import_graph(root: Path = PACKAGE) -> nx.DiGraph:
    """Module → module it imports, from every import statement (top level or inside a function).

    ``from ragviz.x import y`` counts as importing ``ragviz.x.y`` when that is a module, else
    ``ragviz.x``; imports under ``if TYPE_CHECKING:`` are left out (they never run).
    """
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        by_statement: dict[int, list[str]] = {}
        for target, node in import_statements(path):
            by_statement.setdefault(id(node), []).append(target)
        for targets in by_statement.values():
            submodules = [t for t in targets[1:] if t in modules]
            for target in submodules or [t for t in targets[:1] if t in modules and t != "ragviz"]:
                if target != name:
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


def test_subpackages_import_only_downwards() -> None:
    """safety < data < graph < model < training < inspection < storage < lessons < cli; plots anything but ui."""
    wrong = sorted(f"{a} → {b}" for a, b in import_graph().edges if not may_import(a, b))
    assert wrong == []


def test_the_layer_rule_refuses_a_climb() -> None:
    assert not may_import("ragviz.data.domains", "ragviz.training.train")
    assert not may_import("ragviz.training.train", "ragviz.plots.graph")
    assert not may_import("ragviz.plots.graph", "ragviz.ui.state")
    assert may_import("ragviz.model.rag", "ragviz.data.domains")
    assert may_import("ragviz.plots.graph", "ragviz.lessons.catalogue")
    assert may_import("ragviz.ui.state", "ragviz.plots.graph")


def test_only_the_ui_imports_streamlit() -> None:
    """Pages and app.py may; a library module that did would drag a web server into a notebook."""
    users = sorted(module_name(path) for path in PACKAGE.rglob("*.py")
                   for target, _ in import_statements(path) if target.split(".")[0] == "streamlit")
    assert [m for m in users if not m.startswith(STREAMLIT_USERS)] == []
    assert "ragviz.ui.state" in users


# ------------------------------------------------------------------ one owner for a session's state
#: The one module that may touch ``st.session_state`` (issue 20: one state, one owner).
STATE_OWNER = PACKAGE / "ui" / "state.py"


def session_state_uses(source: str) -> list[int]:
    """The lines of ``source`` whose code names ``session_state`` (an attribute, a name, an import, or a
    ``getattr`` string); comments and docstrings do not count."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        named = ((isinstance(node, ast.Attribute) and node.attr == "session_state")
                 or (isinstance(node, ast.Name) and node.id == "session_state")
                 or (isinstance(node, ast.alias) and node.name.split(".")[-1] == "session_state")
                 or (isinstance(node, ast.Constant) and node.value == "session_state"))
        if named:
            lines.append(node.lineno)
    return sorted(lines)


def app_modules() -> list[Path]:
    return [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]


def test_the_session_state_scan_sees_code_and_not_words() -> None:
    assert session_state_uses('"""st.session_state is kept in state.py."""\n# st.session_state["x"]\nx = 1\n') == []
    assert session_state_uses("import streamlit as st\nv = st.session_state.get('k')\n") == [2]
    assert session_state_uses("from streamlit import session_state\n") == [1]
    assert session_state_uses("import streamlit as st\nss = getattr(st, 'session_state')\n") == [2]


def test_only_the_state_module_touches_session_state() -> None:
    """Every piece of a session's state is a field of ``AppState``; widget values go through state.py's
    accessors. A module that reads or writes ``st.session_state`` itself keeps state nobody can see."""
    assert STATE_OWNER.exists() and session_state_uses(STATE_OWNER.read_text())
    users = {str(path.relative_to(ROOT)): found for path in app_modules() if path != STATE_OWNER
             for found in [session_state_uses(path.read_text())] if found}
    assert users == {}


# ------------------------------------------------------------------ from Start to the first step
def start_to_first_step() -> list[tuple[str, str, str]]:
    """Press Start in code and record every ragviz function called until the first optimiser step.

    It runs what the Train page's Start button runs (``begin_training``: configs, checks, then a
    :class:`~ragviz.training.runner.TrainingRun`, whose worker thread trains a small graph in this
    process) under a profiler. Each record is (caller module, callee module, callee function), the
    caller being the nearest ragviz frame below the call.
    """
    from ragviz.graph.editing import EditHistory
    from ragviz.training.project import Project
    from ragviz.ui import train_widgets
    from ragviz.ui.state import AppState

    calls: list[tuple[str, str, str]] = []
    reached = threading.Event()

    def profile(frame, event, arg):  # noqa: ANN001, ANN202 (the profiler's signature)
        if event != "call" or reached.is_set():
            return
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("ragviz"):
            return
        caller = frame.f_back
        while caller is not None and not caller.f_globals.get("__name__", "").startswith("ragviz"):
            caller = caller.f_back
        calls.append((caller.f_globals["__name__"] if caller is not None else "", module, frame.f_code.co_qualname))
        if module == "ragviz.training.optim" and frame.f_code.co_name == "step":
            reached.set()

    graph = small_ring()
    state = AppState(Project(graph), EditHistory(graph))
    logging.disable(logging.WARNING)  # "no script run context": Streamlit's session state outside a server
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        train_widgets.begin_training(state, {}, {"steps": 3}, None)
        assert reached.wait(60), "the run never reached its first optimiser step"
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        logging.disable(logging.NOTSET)
        if state.run is not None:
            state.run.stop()
            state.run.join(10)
    return calls


def climbs(calls: list[tuple[str, str, str]]) -> Counter:
    """Calls from a lower layer into a higher one (a callback, or a method of an object from above)."""
    return Counter(f"{caller} → {callee}.{function}" for caller, callee, function in calls
                   if caller and layer(caller) != layer(callee) and not may_import(caller, callee))


def test_the_walk_from_start_to_the_first_step_goes_down_once() -> None:
    """docs/DESIGN.md's flow: the graph is validated and budget-checked once, and no layer calls back up.

    Measured dynamically (see :func:`start_to_first_step`); a method call on a passed-in object counts
    as a call into the layer that defines it.
    """
    calls = start_to_first_step()
    assert any(callee == "ragviz.training.optim" for _, callee, _ in calls)
    counts = Counter(f"{callee}.{function}" for _, callee, function in calls)
    walk = {"validations": counts["ragviz.graph.task_graph.TaskGraph.validate"],
            "budget checks": counts["ragviz.safety.limits.check_graph_budget"],
            "model built after the data": data_before_model(calls),
            "climbs": dict(climbs(calls))}
    assert walk == {"validations": 1, "budget checks": 1, "model built after the data": True, "climbs": {}}


def data_before_model(calls: list[tuple[str, str, str]]) -> bool:
    """Whether the data was done (no call into ``ragviz.data`` is left) before the model was built
    (``build_model``): the flow graph → data → tensors → model that docs/DESIGN.md §7 states."""
    order = [function if function == "build_model" else layer(callee) for _, callee, function in calls]
    return "build_model" in order and "data" not in order[order.index("build_model"):]


def test_the_order_check_sees_a_model_built_first() -> None:
    data = ("ragviz.training.prepared", "ragviz.data.domains", "make_graph_data")
    model = ("ragviz.training.prepared", "ragviz.model.rag", "build_model")
    assert data_before_model([data, model]) and not data_before_model([data, model, data])
    assert not data_before_model([data])


def test_the_climb_count_sees_a_callback() -> None:
    calls = [("ragviz.ui.train_widgets", "ragviz.training.runner", "start"),
             ("ragviz.training.runner", "ragviz.graph.task_graph", "TaskGraph.validate"),
             ("ragviz.data.domains", "ragviz.training.prepared", "<lambda>")]
    assert climbs(calls) == Counter({"ragviz.data.domains → ragviz.training.prepared.<lambda>": 1})
