"""The TaskGraph core: every edit validates and a bad one leaves the graph unchanged."""

from __future__ import annotations

import pytest

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, MAX_SEED, Edge, Relation, Task, make_task
from ragviz.safety.errors import GraphError


def small_graph() -> TaskGraph:
    g = TaskGraph([Relation("near"), Relation("teaches", directed=True, color="#d62728")])
    g.add_task(make_task("a", "moons", {"rotate": 0.0}, pos=(0.0, 0.0)))
    g.add_task(make_task("b", "moons", {"rotate": 30.0}, train_size=0))
    g.add_task(make_task("c", "circles", {"noise": 0.2, "flip": True}, seed=3, pos=(1, 2)))
    g.add_edge("a", "b", "near")
    g.add_edge("b", "c", "teaches", 2)
    return g


def test_add_task_validates_and_cleans():
    g = TaskGraph()
    task = g.add_task(Task("  moons 0°  ", "moons", {"rotate": 0.0}, 40, 100, 1, (1, 2)))
    assert task.name == "moons 0°"
    assert g.task("moons 0°").pos == (1.0, 2.0)
    assert g.domain == "toy2d"
    assert g.task_names() == ["moons 0°"]
    assert g.task("moons 0°").full_params() == {**FAMILY_DEFAULTS["moons"], "rotate": 0.0}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "", "family": "moons"}, "empty"),
        ({"name": 3, "family": "moons"}, "text"),
        ({"name": "x" * 81, "family": "moons"}, "longer"),
        ({"name": "a\x01b", "family": "moons"}, "control"),
        ({"name": "a", "family": "nope"}, "family"),
        ({"name": "a", "family": "moons", "train_size": -1}, "train size"),
        ({"name": "a", "family": "moons", "train_size": 1.5}, "whole number"),
        ({"name": "a", "family": "moons", "test_size": "many"}, "test size"),
        ({"name": "a", "family": "moons", "test_size": 10**400}, "test size"),
        ({"name": "a", "family": "moons", "seed": MAX_SEED + 1}, "seed"),
        ({"name": "a", "family": "moons", "params": {"noise": float("nan")}}, "finite"),
        ({"name": "a", "family": "moons", "params": {"noise": [1]}}, "number, text"),
        ({"name": "a", "family": "moons", "params": [1]}, "mapping"),
        ({"name": "a", "family": "moons", "pos": (1, "x")}, "position"),
        ({"name": "a", "family": "moons", "pos": (1, float("inf"))}, "finite"),
    ],
)
def test_make_task_refuses_bad_input(kwargs, match):
    with pytest.raises(GraphError, match=match):
        make_task(**kwargs)


def test_large_seeds_are_allowed():
    assert make_task("a", "moons", seed=MAX_SEED).seed == MAX_SEED


def test_duplicate_task_and_mixed_domains_refused():
    g = small_graph()
    with pytest.raises(GraphError, match="already exists"):
        g.add_task(make_task("a", "moons"))
    with pytest.raises(GraphError, match="domain"):
        g.add_task(make_task("s", "sine"))
    assert g.number_of_tasks() == 3


def test_rename_task_keeps_edges():
    g = small_graph()
    g.rename_task("b", "bee")
    assert "b" not in g.task_names() and "bee" in g.task_names()
    assert {(e.source, e.target, e.relation) for e in g.edges()} == {("a", "bee", "near"), ("bee", "c", "teaches")}
    g.rename_task("a", "a")  # no-op
    with pytest.raises(GraphError, match="already exists"):
        g.rename_task("a", "c")
    with pytest.raises(GraphError, match="no task"):
        g.rename_task("zzz", "y")


def test_update_task():
    g = small_graph()
    new = g.update_task("a", train_size=0, params={"rotate": 90.0})
    assert new.zero_shot and g.task("a").params == {"rotate": 90.0}
    with pytest.raises(GraphError, match="cannot change"):
        g.update_task("a", colour="red")
    with pytest.raises(GraphError, match="sine"):
        g.update_task("a", family="sine")
    assert g.task("a").family == "moons"


def test_remove_task():
    g = small_graph()
    with pytest.raises(GraphError, match="edge"):
        g.remove_task("b", with_edges=False)
    g.remove_task("b")
    assert g.task_names() == ["a", "c"] and g.number_of_edges() == 0
    with pytest.raises(GraphError, match="no task"):
        g.remove_task("b")


def test_relations():
    g = small_graph()
    assert g.relations["near"].directed is False and g.relations["teaches"].directed is True
    with pytest.raises(GraphError, match="already exists"):
        g.add_relation("near")
    with pytest.raises(GraphError, match="colour"):
        g.add_relation("x", color="red")
    with pytest.raises(GraphError, match="used by 1 edge"):
        g.remove_relation("near")
    g.add_relation("spare")
    g.remove_relation("spare")
    assert list(g.relations) == ["near", "teaches"]
    with pytest.raises(GraphError, match="Unknown relation"):
        g.remove_relation("spare")


def test_edges_validate():
    g = small_graph()
    with pytest.raises(GraphError, match="itself"):
        g.add_edge("a", "a", "near")
    with pytest.raises(GraphError, match="Unknown relation 'far'"):
        g.add_edge("a", "c", "far")
    with pytest.raises(GraphError, match="no task named 'zzz'"):
        g.add_edge("a", "zzz", "near")
    with pytest.raises(GraphError, match="already linked"):
        g.add_edge("a", "b", "near")
    with pytest.raises(GraphError, match="already linked"):
        g.add_edge("b", "a", "near")  # undirected: the other way round is the same edge
    g.add_edge("c", "b", "teaches")  # directed: the other way round is a new edge
    for bad in (0, -1, float("nan"), "heavy", 10**400):
        with pytest.raises(GraphError, match="weight"):
            g.add_edge("a", "c", "near", bad)
    assert g.number_of_edges() == 3
    assert Edge("a", "b", "near", 1.0) in g.edges()


def test_remove_edge_and_weights():
    g = small_graph()
    g.set_edge_weight("b", "a", "near", 3)  # undirected: either direction names the edge
    assert g.edges()[0] == Edge("a", "b", "near", 3.0)
    with pytest.raises(GraphError, match="weight"):
        g.set_edge_weight("a", "b", "near", -2)
    assert g.edges()[0] == Edge("a", "b", "near", 3.0)  # a refused weight keeps the old one
    with pytest.raises(GraphError, match="no 'teaches' edge"):
        g.set_edge_weight("c", "b", "teaches", 1)
    g.remove_edge("b", "a", "near")
    with pytest.raises(GraphError, match="no 'near' edge"):
        g.remove_edge("a", "b", "near")
    with pytest.raises(GraphError, match="no 'teaches' edge"):
        g.remove_edge("c", "b", "teaches")  # directed: the reverse does not exist


def test_validate():
    with pytest.raises(GraphError, match="no tasks"):
        TaskGraph().validate()
    TaskGraph().validate(need_tasks=False)
    g = TaskGraph([Relation("near")])
    g.add_task(make_task("a", "moons", train_size=0))
    with pytest.raises(GraphError, match="train size 0"):
        g.validate()
    g.update_task("a", train_size=5)
    g.validate()
    g.nx.add_node("s", **{k: v for k, v in make_task("s", "sine").to_dict().items() if k != "name"})
    with pytest.raises(GraphError, match="mixes domains"):
        g.validate()


def test_copy_is_independent():
    g = small_graph()
    h = g.copy()
    assert h == g
    h.update_task("a", params={"rotate": 45.0})
    h.add_relation("new")
    h.remove_edge("a", "b", "near")
    assert g.task("a").params == {"rotate": 0.0}
    assert "new" not in g.relations and g.number_of_edges() == 2
    assert h != g


def test_dict_round_trip_and_order():
    g = small_graph()
    g.add_relation("unused", directed=True)
    data = g.to_dict()
    h = TaskGraph.from_dict(data)
    assert h == g
    assert h.task_names() == ["a", "b", "c"]
    assert list(h.relations) == ["near", "teaches", "unused"]
    assert h.task("b").pos is None and h.task("c").params == {"noise": 0.2, "flip": True}
    assert h.task("c").seed == 3 and h.task("b").zero_shot
    assert repr(h).startswith("TaskGraph(3 tasks, 2 edges")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "JSON object"),
        ({"relations": {}}, "list"),
        ({"relations": [{"directed": True}]}, "name"),
        ({"graph": []}, "node-link"),
        ({"graph": {"nodes": {}, "edges": []}}, "lists"),
        ({"graph": {"nodes": [{"family": "moons"}]}}, "id"),
        ({"graph": {"nodes": [{"id": "a"}]}}, "family"),
        ({"graph": {"nodes": [{"id": "a", "family": "moons"}], "edges": [{"source": "a"}]}}, "source"),
        ({"graph": {"nodes": [{"id": "a", "family": "moons"}, {"id": "b", "family": "moons"}],
                    "edges": [{"source": "a", "target": "b"}]}}, "no relation"),
    ],
)
def test_from_dict_refuses_malformed(data, match):
    with pytest.raises(GraphError, match=match):
        TaskGraph.from_dict(data)
