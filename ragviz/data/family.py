"""What every data family is: one interface, so adding a family is one new file and one registry line.

A :class:`DataFamily` serves one *domain* (the input/output space every task of a graph shares, so one
encoder serves them all) and names the task families in it with their default parameters. It says three
things about a task: how many classes it has (validating its parameters without generating anything),
its data, and the :class:`DomainSpec` of a graph made of its tasks. The registry
(:mod:`ragviz.data.registry`) lists the families; :mod:`ragviz.data.domains` dispatches to them and caches.

Family modules import nothing from :mod:`ragviz.graph` at run time (tasks are read through their
attributes), because the graph reads its family names and defaults from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ragviz.safety import checks
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.data.task_data import TaskData
    from ragviz.graph.tasks import Task

MAX_NOISE = 100.0
#: A user's tables by name (pandas DataFrames), for the families that read them (``csv``, ``text_table``);
#: typed loosely so that reading the registry never imports pandas.
Tables = dict[str, Any] | None


@dataclass(frozen=True)
class DomainSpec:
    """The input/output space every task of a graph shares, so one encoder serves them all."""

    name: str
    input_dim: int
    n_outputs: int
    kind: str  # "classification" | "regression"
    x_range: tuple[float, float]


class DataFamily:
    """One domain's task families: their defaults, validation, data and shared space.

    Subclasses set :attr:`domain` and :attr:`families` and implement :meth:`n_classes`,
    :meth:`make` and :meth:`spec`. Instances hold no state: the registry keeps one of each.
    """

    #: The domain's name: one graph uses one domain.
    domain: ClassVar[str] = ""
    #: Family name → its default parameters (a task's own params override them).
    families: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Text parameters that take one of a few values: parameter → the values (forms offer a list).
    choices: ClassVar[Mapping[str, Sequence[str]]] = {}

    def cacheable(self, task: Task) -> bool:
        """Whether the task's data is a pure function of the task (so it may be cached)."""
        return True

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        """The number of classes the task uses (0 for regression); raises DataError on bad parameters."""
        raise NotImplementedError

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        """The task's train and test split. ``shared`` is scratch space one graph's tasks share (a table read once)."""
        raise NotImplementedError

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        """The shared space of these tasks (all of this domain); validates each."""
        raise NotImplementedError

    def grid(self, axis: np.ndarray) -> np.ndarray | None:
        """Inputs to draw predictions on, from one axis of values; None when the inputs cannot be drawn."""
        return None


# --------------------------------------------------------------------------- parameters
def number(params: dict[str, Any], key: str, task: Task) -> float:
    """A finite real parameter, or a DataError naming the task and parameter."""
    return checks.real(params.get(key), f"Task '{task.name}': parameter '{key}'", DataError)


def whole(params: dict[str, Any], key: str, task: Task, low: int, high: int) -> int:
    """A whole-number parameter in [low, high]."""
    return checks.whole(params.get(key), f"Task '{task.name}': parameter '{key}'", DataError, low, high)


def noise_level(params: dict[str, Any], task: Task) -> float:
    """The ``noise`` parameter: from 0 to :data:`MAX_NOISE`."""
    noise = number(params, "noise", task)
    if not 0 <= noise <= MAX_NOISE:
        raise DataError(f"Task '{task.name}': noise must be between 0 and {MAX_NOISE:g}, got {noise:g}.")
    return noise


def flag(params: dict[str, Any], key: str, task: Task) -> bool:
    """A true/false parameter (missing means false)."""
    return checks.flag(params.get(key, False), f"Task '{task.name}': parameter '{key}'", DataError, empty=False)
