"""What a task graph is made of: tasks, relations and edges, and the checks each passes.

Every importer, form and checkpoint loader builds tasks through :func:`make_task` and names
through :func:`check_name`, so a task that exists is valid. The graph that holds them is
:class:`ragviz.graph.task_graph.TaskGraph`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ragviz.data import registry
from ragviz.data.task_data import MAX_SEED, MAX_TASK_SIZE
from ragviz.safety import checks
from ragviz.safety.errors import GraphError
from ragviz.safety.safe_text import HIDDEN_CATEGORIES, char_code, visible, without_lone_surrogates

#: Family name → its domain, family name → its default parameters, and the domains: read from the
#: family registry (:mod:`ragviz.data.registry`), the one place a family is added.
FAMILY_DOMAIN: dict[str, str] = registry.FAMILY_DOMAIN
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = registry.FAMILY_DEFAULTS
DOMAINS: list[str] = registry.DOMAINS

#: Colours given to relations that are declared without one (Plotly's default cycle).
RELATION_PALETTE: tuple[str, ...] = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f",
)

#: A relation colour: #rrggbb.
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: Longest task or relation name; a project name may be longer.
NAME_MAX = 80
PROJECT_NAME_MAX = 200


@dataclass
class Relation:
    """A named edge type; directed relations also get an inverse message direction."""

    name: str
    directed: bool = False
    color: str = "#1f77b4"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "directed": bool(self.directed), "color": self.color}


@dataclass
class Task:
    """A node of the task graph: what data it has and where it is drawn."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)
    train_size: int = 40
    test_size: int = 100
    seed: int = 0
    pos: tuple[float, float] | None = None

    @property
    def domain(self) -> str:
        return FAMILY_DOMAIN[self.family]

    @property
    def zero_shot(self) -> bool:
        """A task with no training data gets its predictor from its relations alone."""
        return self.train_size == 0

    def full_params(self) -> dict[str, Any]:
        """Family defaults overlaid with this task's own parameters."""
        return {**FAMILY_DEFAULTS.get(self.family, {}), **self.params}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "params": dict(self.params),
            "train_size": int(self.train_size),
            "test_size": int(self.test_size),
            "seed": int(self.seed),
            "pos": None if self.pos is None else [float(self.pos[0]), float(self.pos[1])],
        }


class Edge(NamedTuple):
    """One typed, weighted edge as the model and the pages see it (a tuple, so ablations and
    traces can pass plain ``(source, target, relation, weight)`` lists too)."""

    source: str
    target: str
    relation: str
    weight: float = 1.0


#: A list of edges to use instead of a graph's own (ablations, what-if traces, lessons).
Edges = list[Edge]


def check_name(name: Any, what: str = "task", limit: int = NAME_MAX) -> str:
    """Return the name stripped and NFC-normalised, or raise saying what is wrong with it.

    Names are keys (two names that look the same must be the same name) and are shown on
    every page, so they are visible text only: no control, bidi or zero-width characters,
    no lone surrogates (which cannot even be sent to a browser), and at most ``limit``
    characters. Every importer and checkpoint loader builds graphs through this check.
    """
    if not isinstance(name, str):
        raise GraphError(f"A {what} name must be text, got {type(name).__name__}.")
    clean = name.strip()
    if not clean:
        raise GraphError(f"A {what} name cannot be empty.")
    if len(clean) > limit:
        raise GraphError(f"The {what} name '{visible(clean[:20])}…' is longer than {limit} characters "
                         f"(it has {len(clean):,}).")
    hidden = next((ch for ch in clean if unicodedata.category(ch) in HIDDEN_CATEGORIES), None)
    if hidden is not None:
        kind = ("a lone surrogate (not a character)" if unicodedata.category(hidden) == "Cs"
                else f"an invisible or control character ({char_code(hidden)})")
        raise GraphError(f"The {what} name '{visible(clean)}' contains {kind}; names must be visible text. "
                         "Remove it and try again.")
    return unicodedata.normalize("NFC", clean)


def stored_name(name: Any) -> Any:
    """A name as stored (stripped, NFC), so a file may spell a reference the way it spelled the task."""
    return unicodedata.normalize("NFC", name.strip()) if isinstance(name, str) else name


def _check_size(value: Any, what: str, task: str, limit: int = MAX_TASK_SIZE) -> int:
    return checks.whole(value, f"Task '{task}': {what}", GraphError, 0, limit)


def _check_family_param(family: str, key: str, value: Any, task: str) -> None:
    """A parameter the family names a list of values for must be one of them; one whose default is a number
    must be one (text that spells a number counts), so a file's ``"speaker": "martian"`` or ``"rotate": "ninety"``
    is refused on import, not later when its data is made."""
    what = f"Task '{task}': parameter '{key}'"
    choices = registry.param_choices(family).get(key)
    if choices is not None and (not isinstance(value, str) or value.strip() not in choices):
        raise GraphError(f"{what} must be one of {', '.join(choices)}, got {value!r}.")
    default = FAMILY_DEFAULTS[family].get(key)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        checks.real(value, what, GraphError)


def _check_params(params: Any, task: str, family: str | None = None) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise GraphError(f"Task '{task}': params must be a mapping of name to value.")
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise GraphError(f"Task '{task}': parameter names must be text.")
        key = check_name(key, f"task '{task}' parameter")
        if isinstance(value, float) and not math.isfinite(value):
            raise GraphError(f"Task '{task}': parameter '{key}' is {value}, which is not a finite number.")
        if not isinstance(value, (str, int, float, bool)):
            raise GraphError(f"Task '{task}': parameter '{key}' must be a number, text or true/false.")
        if isinstance(value, str) and without_lone_surrogates(value) != value:  # no browser could be sent it
            raise GraphError(f"Task '{task}': parameter '{key}' is '{visible(value)}', which contains a lone "
                             "surrogate (not a character); a parameter's text must be valid text.")
        if family is not None:
            _check_family_param(family, key, value, task)
        clean[key] = value
    return clean


def make_task(
    name: str,
    family: str,
    params: dict[str, Any] | None = None,
    train_size: Any = 40,
    test_size: Any = 100,
    seed: Any = 0,
    pos: Any = None,
) -> Task:
    """Build a validated :class:`Task` from loosely typed input (forms, files, tables)."""
    name = check_name(name)
    if not isinstance(family, str) or family not in FAMILY_DOMAIN:
        raise GraphError(
            f"Task '{name}': unknown data family {family!r}; choose one of {', '.join(FAMILY_DOMAIN)}."
        )
    params = _check_params(params, name, family)
    train = _check_size(train_size, "train size", name)
    test = _check_size(test_size, "test size", name)
    seed_int = _check_size(seed, "seed", name, MAX_SEED) if seed is not None else 0
    position: tuple[float, float] | None = None
    if pos is not None:
        try:
            x, y = (float(v) for v in pos)
        except (TypeError, ValueError, OverflowError):
            raise GraphError(f"Task '{name}': position must be two numbers, got {pos!r}.") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise GraphError(f"Task '{name}': position must be finite.")
        position = (x, y)
    return Task(name, family, params, train, test, seed_int, position)


def check_weight(weight: Any, source: str, target: str) -> float:
    """An edge weight: a positive finite number (a zero weight would silence the edge)."""
    what = f"Edge {source} → {target}: weight"
    try:
        return checks.real(weight, what, GraphError, 0.0, low_open=True)
    except GraphError:
        raise GraphError(f"{what} must be a positive finite number, got {weight!r}.") from None


def task_from_attrs(name: str, attrs: dict[str, Any]) -> Task:
    """The task a graph node stores (its attributes were checked when it was added)."""
    return Task(
        name=name,
        family=attrs["family"],
        params=dict(attrs.get("params", {})),
        train_size=int(attrs.get("train_size", 0)),
        test_size=int(attrs.get("test_size", 0)),
        seed=int(attrs.get("seed", 0)),
        pos=tuple(attrs["pos"]) if attrs.get("pos") is not None else None,
    )
