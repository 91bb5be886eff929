"""Data families are registered classes: a family defined here joins with one call and trains like any other."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from ragviz.data import registry
from ragviz.data.domains import domain_spec, make_task_data, task_n_classes
from ragviz.data.family import DataFamily, DomainSpec, Tables, number
from ragviz.data.task_data import TaskData, task_sizes
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN, make_task
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import DataError, GraphError
from ragviz.training.train import train


class Stripes(DataFamily):
    """A toy family: points on a line, class 1 where sin(frequency * x) > 0."""

    domain = "stripes"
    families = {"stripes": {"frequency": 1.0}}

    def n_classes(self, task: Any, tables: Tables = None) -> int:
        if number(task.full_params(), "frequency", task) <= 0:
            raise DataError(f"Task '{task.name}': frequency must be positive.")
        return 2

    def make(self, task: Any, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        self.n_classes(task)
        freq = float(task.full_params()["frequency"])
        train_n, test_n, seed = task_sizes(task)
        rng = np.random.default_rng(seed)
        x = rng.uniform(-3, 3, (train_n + test_n, 1)).astype(np.float32)
        y = (np.sin(freq * x[:, 0]) > 0).astype(np.int64)
        return TaskData(x[:train_n], y[:train_n], x[train_n:], y[train_n:], 2)

    def spec(self, tasks: Sequence[Any], tables: Tables = None) -> DomainSpec:
        for t in tasks:
            self.n_classes(t)
        return DomainSpec("stripes", 1, 2, "classification", (-3.0, 3.0))


@pytest.fixture()
def stripes() -> Iterator[Stripes]:
    family = registry.register(Stripes())
    yield family
    registry.unregister("stripes")


def _graph() -> TaskGraph:
    graph = TaskGraph()
    graph.add_relation("close")
    for i, freq in enumerate((1.0, 1.5, 2.0)):
        graph.add_task(make_task(f"f{freq}", "stripes", {"frequency": freq}, 0 if i == 1 else 30, 30, i))
    graph.add_edge("f1.0", "f1.5", "close")
    graph.add_edge("f1.5", "f2.0", "close")
    return graph


def test_a_registered_family_is_known_to_the_graph_and_trains(stripes: Stripes) -> None:
    assert FAMILY_DOMAIN["stripes"] == "stripes" and FAMILY_DEFAULTS["stripes"] == {"frequency": 1.0}
    graph = _graph()
    assert graph.domain == "stripes"
    assert domain_spec(graph) == DomainSpec("stripes", 1, 2, "classification", (-3.0, 3.0))
    data = make_task_data(graph.task("f2.0"))
    assert data.x_train.shape == (30, 1) and set(np.unique(data.y_test)) <= {0, 1}
    result = train(graph, ModelConfig(hidden=8), TrainConfig(steps=5, eval_every=5, device="cpu"))
    assert result.steps_done == 5
    assert len(result.history.test_metric[-1]) == 3
    assert result.history.zero_shot == ["f1.5"]


def test_a_registered_family_validates_through_its_own_class(stripes: Stripes) -> None:
    task = make_task("bad", "stripes", {"frequency": -1})
    with pytest.raises(DataError, match="frequency must be positive"):
        task_n_classes(task)


def test_unregistering_forgets_the_family() -> None:
    registry.register(Stripes())
    registry.unregister("stripes")
    assert "stripes" not in FAMILY_DOMAIN and "stripes" not in registry.DOMAINS
    with pytest.raises(GraphError, match="unknown data family"):
        make_task("a", "stripes")


def test_a_family_cannot_take_a_name_or_domain_already_registered() -> None:
    class Moons(Stripes):
        families = {"moons": {}}

    class Toy(Stripes):
        domain = "toy2d"

    with pytest.raises(DataError, match="moons already exist"):
        registry.register(Moons())
    with pytest.raises(DataError, match="already registered"):
        registry.register(Toy())
    assert FAMILY_DOMAIN["moons"] == "toy2d" and "stripes" not in FAMILY_DOMAIN


def test_every_built_in_family_has_defaults_and_a_domain_class() -> None:
    for name, domain in FAMILY_DOMAIN.items():
        assert registry.family_for(domain).families[name] == FAMILY_DEFAULTS[name]
