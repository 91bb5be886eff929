"""Task graphs from plain networkx node-link data, the usual way to save a networkx graph.

``json.dumps(nx.node_link_data(G))`` has no ragviz header and no relation list: its nodes
become tasks when they carry a ``family``, its edges typed edges when they carry a
``relation``. Anything lacking is refused with the list of what lacks it, never imported
as an empty or partial graph.
"""

from __future__ import annotations

from typing import Any

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN, make_task
from ragviz.safety.errors import GraphError
from ragviz.safety.limits import check_budget, declared_points


def is_node_link(data: dict[str, Any]) -> bool:
    """networkx node-link data at the top level: its own 'nodes', and no ragviz 'graph' holding them."""
    inner = data.get("graph")
    return "nodes" in data and not (isinstance(inner, dict) and "nodes" in inner)


def _node_name(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # networkx's own graphs number their nodes 0, 1, 2…
    raise GraphError(f"{what} must be text or a whole number, got {value!r}.")


def _few(items: list[str], n: int = 5) -> str:
    shown = ", ".join(f"'{i}'" for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def graph_from_node_link(data: dict[str, Any]) -> TaskGraph:
    """Tasks from networkx node-link data: each node needs a ``family``; each edge a ``relation``.

    Optional node attributes: ``params`` (or the family's parameters as plain attributes),
    ``train_size``, ``test_size``, ``seed``, ``pos``. Edges are read from ``edges`` (networkx
    3.4 and later) or ``links`` (earlier); relations are undirected unless the graph is directed.
    A node or edge lacking what a task graph needs is refused with the list of which ones.
    """
    nodes = data.get("nodes")
    edges = data["edges"] if "edges" in data else data.get("links", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise GraphError("The networkx node-link data's 'nodes' and 'edges' (or 'links') must be lists.")
    if not nodes:
        raise GraphError("The networkx node-link data has no nodes: there is no task to import.")
    # Counted as parsed, before any task is built or laid out.
    relations = {_edge_relation(e) for e in edges if isinstance(e, dict)} - {None}
    check_budget(tasks=len(nodes), edges=len(edges), points=declared_points(nodes), relations=len(relations))
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or "id" not in node:
            raise GraphError(f"Node #{i + 1} must be an object with an 'id'.")
    names = [_node_name(node["id"], f"Node #{i + 1}'s id") for i, node in enumerate(nodes)]
    lacking = [name for name, node in zip(names, nodes, strict=True) if "family" not in node]
    if lacking:
        raise GraphError(
            f"The JSON file is networkx node-link data, but {len(lacking)} of its {len(nodes)} nodes have no "
            f"'family' attribute ({_few(lacking)}). Each node needs 'family' (one of {', '.join(FAMILY_DOMAIN)}); "
            "it may also have 'params', 'train_size', 'test_size', 'seed' and 'pos'. In networkx: "
            "G.nodes[n]['family'] = 'moons'.")
    unlabelled = [f"{e.get('source')} → {e.get('target')}" for e in edges
                  if isinstance(e, dict) and _edge_relation(e) is None]
    if unlabelled:
        raise GraphError(
            f"The JSON file is networkx node-link data, but {len(unlabelled)} of its {len(edges)} edges have no "
            f"'relation' attribute ({_few(unlabelled)}). Each edge needs one, the name of its relation type; in "
            "networkx: G.add_edge(u, v, relation='similar').")
    graph = TaskGraph()
    directed = bool(data.get("directed", False))
    for name, node in zip(names, nodes, strict=True):
        family = node["family"]
        params = node.get("params")
        if "params" not in node and isinstance(family, str):
            params = {k: node[k] for k in FAMILY_DEFAULTS.get(family, {}) if k in node}
        pos = node.get("pos")
        if pos is None and "x" in node and "y" in node:
            pos = (node["x"], node["y"])
        graph.add_task(make_task(name, family, params, node.get("train_size", 40), node.get("test_size", 100),
                                 node.get("seed", 0), pos))
    for i, edge in enumerate(edges):
        if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
            raise GraphError(f"Edge #{i + 1} must be an object with 'source' and 'target'.")
        relation = _edge_relation(edge)
        if relation not in graph.relations:
            graph.add_relation(relation, directed)
        graph.add_edge(_node_name(edge["source"], f"Edge #{i + 1}'s source"),
                       _node_name(edge["target"], f"Edge #{i + 1}'s target"), relation, edge.get("weight", 1.0))
    return graph


def _edge_relation(edge: dict[str, Any]) -> str | None:
    """An edge's relation: its 'relation' attribute, or a multigraph key that is a name (not 0, 1, …)."""
    relation = edge.get("relation")
    if relation is None and isinstance(edge.get("key"), str):
        relation = edge["key"]
    if relation is not None and not isinstance(relation, str):
        raise GraphError(f"Edge {edge.get('source')} → {edge.get('target')}: its relation must be text, "
                         f"got {relation!r}.")
    return relation
