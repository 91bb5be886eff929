"""The fast graph fill reads networkx internals: it must build exactly what the public API builds."""

from __future__ import annotations

import networkx as nx

from ragviz.graph.nx_fill import fast_fill_available, fill_graph

NODES = [(f"t{i}", {"family": "moons", "k": i}) for i in range(6)]
EDGES = [("t0", "t1"), ("t1", "t2"), ("t2", "t0"), ("t3", "t4"), ("t5", "t0")]


def _filled(fast: bool) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    fill_graph(g, NODES, EDGES, "near", fast=fast)
    return g


def test_this_networkx_has_the_internals_the_fast_fill_writes() -> None:
    assert fast_fill_available(nx.MultiDiGraph()), (
        "networkx changed the internals ragviz.graph.nx_fill writes (G._node/_succ/_pred, nx._clear_cache): "
        "check fill_graph against the new networkx, or drop the fast path")


def test_fast_and_public_fills_build_the_same_graph() -> None:
    fast, public = _filled(True), _filled(False)
    assert list(fast.nodes(data=True)) == list(public.nodes(data=True))
    assert sorted(fast.edges(keys=True, data=True)) == sorted(public.edges(keys=True, data=True))
    assert fast.number_of_edges() == len(EDGES)
    assert list(fast.predecessors("t0")) == list(public.predecessors("t0"))
    fast.add_edge("t4", "t5", key="near", weight=2.0)  # the graph stays usable through the public API
    assert fast.has_edge("t4", "t5", key="near") and fast.in_degree("t5") == 1
