"""Generated graphs: structure, parameter variation, zero-shot tasks, names, layouts."""

from __future__ import annotations

import math
import time

import networkx as nx
import pytest

from ragviz.graph.generators import GENERATORS, LAYOUTS, generate_graph, layout_positions, ring_of_moons
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, make_task
from ragviz.safety.errors import GraphError


def pairs(g: TaskGraph) -> set[frozenset[str]]:
    return {frozenset((e.source, e.target)) for e in g.edges()}


def test_ring_of_moons_is_the_canonical_example():
    g = ring_of_moons()
    names = g.task_names()
    assert names[0] == "moons 0°" and names[1] == "moons 30°" and names[-1] == "moons 330°"
    assert [t.params for t in g.tasks()][:2] == [{"noise": 0.1, "rotate": 0.0}, {"noise": 0.1, "rotate": 30.0}]
    assert [t.name for t in g.tasks() if t.zero_shot] == ["moons 90°", "moons 240°"]
    assert {t.train_size for t in g.tasks() if not t.zero_shot} == {40} and {t.test_size for t in g.tasks()} == {100}
    assert list(g.relations) == ["near"] and not g.relations["near"].directed
    assert g.number_of_edges() == 12 and frozenset(("moons 330°", "moons 0°")) in pairs(g)
    assert all(e.relation == "near" and e.weight == 1.0 for e in g.edges())
    g.validate()
    assert TaskGraph.from_dict(g.to_dict()) == g  # what the generator wrote passes full validation


@pytest.mark.parametrize(("kind", "n", "edges"), [
    ("ring", 7, 7), ("chain", 7, 6), ("star", 7, 6), ("complete", 7, 21), ("ring", 1, 0), ("ring", 2, 1),
    ("chain", 1, 0), ("complete", 1, 0), ("star", 2, 1),
])
def test_edge_counts(kind, n, edges):
    g = generate_graph(kind, n)
    assert g.number_of_tasks() == n and g.number_of_edges() == edges
    assert TaskGraph.from_dict(g.to_dict()) == g


def test_structures():
    names = generate_graph("chain", 5).task_names()
    assert pairs(generate_graph("chain", 5)) == {frozenset(names[k:k + 2]) for k in range(4)}
    star = generate_graph("star", 6)
    centre = star.task_names()[0]
    assert all(centre in (e.source, e.target) for e in star.edges())
    assert nx.is_isomorphic(nx.Graph(generate_graph("complete", 6).nx), nx.complete_graph(6))
    assert nx.is_isomorphic(nx.Graph(generate_graph("ring", 6).nx), nx.cycle_graph(6))


def test_grid_rounds_n_to_a_rectangle():
    g = generate_graph("grid", 12)  # rows = floor(√12) = 3, cols = 4
    assert g.number_of_tasks() == 12 and g.number_of_edges() == 3 * 3 + 4 * 2
    assert nx.is_isomorphic(nx.Graph(g.nx), nx.grid_2d_graph(3, 4))
    assert generate_graph("grid", 10).number_of_tasks() == 9  # 3 × round(10/3)
    xs = sorted({t.pos[0] for t in g.tasks()})
    ys = sorted({t.pos[1] for t in g.tasks()})
    assert len(xs) == 4 and len(ys) == 3
    rotations = [t.params["rotate"] for t in g.tasks()]
    assert rotations == sorted(rotations) and rotations[0] == 0.0 and rotations[-1] == 360.0


def test_parameter_variation():
    ring = generate_graph("ring", 12, vary="rotate", start=0, stop=360)
    assert [t.params["rotate"] for t in ring.tasks()] == [30.0 * k for k in range(12)]  # endpoint excluded
    chain = generate_graph("chain", 5, vary="rotate", start=10, stop=50)
    assert [t.params["rotate"] for t in chain.tasks()] == [10.0, 20.0, 30.0, 40.0, 50.0]  # endpoint included
    star = generate_graph("star", 5, start=0, stop=40)
    assert star.tasks()[0].params["rotate"] == 0.0 and [t.params["rotate"] for t in star.tasks()[1:]] == \
        [10.0, 20.0, 30.0, 40.0]
    sine = generate_graph("chain", 4, "sine", vary="phase", start=0, stop=math.pi)
    assert sine.task_names()[:2] == ["sine φ=0", "sine φ=1.05"]
    assert sine.tasks()[-1].params["phase"] == pytest.approx(math.pi)
    noisy = generate_graph("chain", 3, vary="noise", start=0.0, stop=0.2, base_params={"flip": True})
    assert noisy.task_names() == ["moons 0", "moons 1", "moons 2"]
    assert [t.params for t in noisy.tasks()][1] == {"flip": True, "noise": 0.1}
    digits = generate_graph("chain", 10, "digits_one_vs_rest", vary="digit", start=0, stop=9)
    assert [t.params["digit"] for t in digits.tasks()] == list(range(10))  # integer parameters stay integers
    plain = generate_graph("ring", 3, vary=None, name_prefix="task")
    assert plain.task_names() == ["task 0", "task 1", "task 2"] and all(t.params == {} for t in plain.tasks())


def test_seeds_sizes_zero_shot_and_options():
    g = generate_graph("chain", 4, seed=3, zero_shot=[0, 3], train_size=7, test_size=9, relation="next",
                       directed=True)
    assert [t.seed for t in g.tasks()] == [3000, 3001, 3002, 3003]
    assert [t.train_size for t in g.tasks()] == [0, 7, 7, 0] and {t.test_size for t in g.tasks()} == {9}
    assert g.relations["next"].directed
    assert [(e.source, e.target) for e in g.edges()][0] == tuple(g.task_names()[:2])
    assert generate_graph("ring", 2, directed=True).number_of_edges() == 2


def test_names_are_unique_even_when_values_are_close_or_equal():
    for g in (generate_graph("ring", 5000), generate_graph("chain", 7, start=5, stop=5),
              generate_graph("chain", 50, start=0, stop=1e-6)):
        assert len(set(g.task_names())) == g.number_of_tasks()
    assert generate_graph("chain", 3, start=5, stop=5).task_names() == ["moons 0", "moons 1", "moons 2"]


def test_random_is_seeded():
    a = generate_graph("random", 40, p=0.2, seed=1)
    assert a == generate_graph("random", 40, p=0.2, seed=1)
    assert pairs(a) != pairs(generate_graph("random", 40, p=0.2, seed=2))
    assert generate_graph("random", 10, p=0.0).number_of_edges() == 0
    assert generate_graph("random", 10, p=1.0).number_of_edges() == 45


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "tree", "n": 3}, "Unknown graph kind"),
    ({"kind": "ring", "n": 0}, "between 1 and"),
    ({"kind": "ring", "n": 200_001}, "between 1 and"),
    ({"kind": "ring", "n": 2.5}, "whole number"),
    ({"kind": "ring", "n": 4, "zero_shot": [4]}, "out of range"),
    ({"kind": "ring", "n": 4, "zero_shot": [-1]}, "out of range"),
    ({"kind": "random", "n": 4, "p": 1.5}, "between 0 and 1"),
    ({"kind": "random", "n": 4, "p": -0.1}, "between 0 and 1"),
    ({"kind": "ring", "n": 4, "family": "lasagna"}, "family"),
    ({"kind": "ring", "n": 4, "vary": "flip"}, "numeric parameter"),
    ({"kind": "ring", "n": 4, "stop": float("inf")}, "finite"),
    ({"kind": "ring", "n": 4, "train_size": -1}, "train size"),
    ({"kind": "ring", "n": 4, "base_params": {"noise": [1]}}, "noise"),
    ({"kind": "ring", "n": 4, "relation": ""}, "relation"),
    ({"kind": "ring", "n": 4, "name_prefix": "x" * 90}, "longer"),
    ({"kind": "complete", "n": 5000}, "edges"),
])
def test_generator_validation(kwargs, match):
    with pytest.raises(GraphError, match=match):
        generate_graph(**kwargs)


def test_every_kind_builds_and_validates():
    for kind in GENERATORS:
        g = generate_graph(kind, 9, zero_shot=[1])
        assert g.number_of_tasks() == 9 and all(t.pos is not None for t in g.tasks())
        assert len({t.pos for t in g.tasks()}) == 9  # no two tasks drawn on top of each other
        assert TaskGraph.from_dict(g.to_dict()) == g


def test_large_ring_is_fast():
    start = time.process_time()  # CPU time: a busy shared machine must not make this flaky
    g = generate_graph("ring", 20_000, zero_shot=[5])
    assert time.process_time() - start < 3.0
    assert g.number_of_tasks() == 20_000 and g.number_of_edges() == 20_000
    assert len(set(g.task_names())) == 20_000


def _graph_with(n_nodes: int, edges: list[tuple[int, int]]) -> TaskGraph:
    g = TaskGraph([Relation("near")])
    for k in range(n_nodes):
        g.add_task(make_task(f"t{k}", "moons"))
    for u, v in edges:
        g.add_edge(f"t{u}", f"t{v}", "near")
    return g


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("n", "edges"), [(0, []), (1, []), (2, []), (2, [(0, 1)]), (7, [(0, 1), (1, 2), (3, 4)]),
                                          (12, [(k, (k + 1) % 12) for k in range(12)])])
def test_layouts_on_small_and_disconnected_graphs(layout, n, edges):
    g = _graph_with(n, edges)
    pos = layout_positions(g, layout, seed=1)
    assert list(pos) == g.task_names()
    assert all(math.isfinite(x) and math.isfinite(y) for x, y in pos.values())
    assert all(abs(x) <= 1.5 and abs(y) <= 1.5 for x, y in pos.values())
    if n > 1:
        assert len(set(pos.values())) > 1
    g.set_positions(pos)


def test_layout_is_seeded_and_validated():
    g = ring_of_moons()
    assert layout_positions(g, "spring", seed=3) == layout_positions(g, "spring", seed=3)
    with pytest.raises(GraphError, match="Unknown layout"):
        layout_positions(g, "hairball")


# ------------------------------------------------------------------ readable layouts
def _spans(positions) -> tuple[float, float]:
    xs, ys = zip(*positions, strict=True)
    return max(xs) - min(xs), max(ys) - min(ys)


def _area(a, b, c) -> float:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) / 2


@pytest.mark.parametrize("n", [5, 12, 30, 61])
def test_a_chain_is_an_arc_or_snake_wider_than_tall(n):
    from ragviz.graph.layout import chain_positions

    pos = chain_positions(n)
    width, height = _spans(pos)
    assert math.isclose(max(width, height), 2.0, rel_tol=1e-6)  # fills [-1, 1] along its long side
    assert width >= height > (0.1 if n < 12 else 0.25) * width  # landscape, not a thin line (a bow when short)
    if n <= 16:  # an arc: no three tasks in a line
        assert all(_area(*pos[k:k + 3]) > 1e-4 for k in range(n - 2))


@pytest.mark.parametrize("layout", ["spring", "kamada_kawai", "spectral"])
def test_force_layouts_draw_a_long_chain_as_a_snake_not_a_line(layout):
    graph = generate_graph("chain", 40, "moons")
    width, height = _spans(layout_positions(graph, layout).values())
    assert width >= height > 0.25 * width


def test_spring_spreads_a_random_graph_over_the_plot():
    graph = generate_graph("random", 40, "moons", p=0.2)
    pos = layout_positions(graph, "spring")
    width, height = _spans(pos.values())
    assert math.isclose(max(width, height), 2.0, rel_tol=1e-6) and width >= height
    points = list(pos.values())
    nearest = [min(math.dist(p, q) for q in points if q is not p) for p in points]
    assert sorted(nearest)[len(nearest) // 2] > 0.08  # the typical task has room around it
