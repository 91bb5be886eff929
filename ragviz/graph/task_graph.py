"""The task graph: tasks as nodes, typed weighted relations as edges (docs/DESIGN.md §1).

A :class:`TaskGraph` wraps a ``networkx.MultiDiGraph`` whose node keys are task names and
whose edge keys are relation names, so one ordered pair of tasks carries at most one edge
per relation. Undirected relations are stored once, in the direction they were added;
the model sends their messages both ways. Every edit validates first and raises
:class:`~ragviz.safety.errors.GraphError` with a message a user can act on.
"""

from __future__ import annotations

import copy
from typing import Any

import networkx as nx

from ragviz.graph.tasks import (
    FAMILY_DOMAIN,
    HEX_COLOR,
    RELATION_PALETTE,
    Edge,
    Edges,
    Relation,
    Task,
    check_name,
    check_weight,
    make_task,
    stored_name,
    task_from_attrs,
)
from ragviz.safety.errors import GraphError
from ragviz.safety.limits import check_budget, check_graph_budget, declared_points


class TaskGraph:
    """A directed multigraph of tasks with declared relations and one domain.

    The wrapped ``networkx.MultiDiGraph`` is available as :attr:`nx` for layouts and
    algorithms; edit through the methods so that every change is validated.
    """

    def __init__(self, relations: list[Relation] | None = None) -> None:
        self.nx: nx.MultiDiGraph = nx.MultiDiGraph()
        self.relations: dict[str, Relation] = {}
        for relation in relations or []:
            self.add_relation(relation.name, relation.directed, relation.color)

    # ------------------------------------------------------------------ relations
    def add_relation(self, name: str, directed: bool = False, color: str | None = None) -> Relation:
        name = check_name(name, "relation")
        if name in self.relations:
            raise GraphError(f"A relation named '{name}' already exists.")
        if color is None:
            color = RELATION_PALETTE[len(self.relations) % len(RELATION_PALETTE)]
        if not isinstance(color, str) or not HEX_COLOR.match(color):
            raise GraphError(f"Relation '{name}': colour must look like #1f77b4, got {color!r}.")
        relation = Relation(name, bool(directed), color)
        self.relations[name] = relation
        return relation

    def remove_relation(self, name: str) -> None:
        """Remove a relation; refused while edges still use it, so nothing vanishes silently."""
        self._need_relation(name)
        used = sum(1 for *_, k in self.nx.edges(keys=True) if k == name)
        if used:
            raise GraphError(f"Relation '{name}' is used by {used} edge(s); remove those edges first.")
        del self.relations[name]

    def _need_relation(self, name: str) -> Relation:
        if not isinstance(name, str) or name not in self.relations:
            known = ", ".join(self.relations) or "none declared"
            raise GraphError(f"Unknown relation '{name}' (known relations: {known}).")
        return self.relations[name]

    # ---------------------------------------------------------------------- tasks
    @property
    def domain(self) -> str | None:
        """The domain every task shares, or None for an empty graph."""
        for _, family in self.nx.nodes(data="family"):
            return FAMILY_DOMAIN[family]
        return None

    def add_task(self, task: Task) -> Task:
        task = make_task(task.name, task.family, task.params, task.train_size, task.test_size, task.seed,
                         task.pos)
        if task.name in self.nx:
            raise GraphError(f"A task named '{task.name}' already exists.")
        domain = self.domain
        if domain is not None and task.domain != domain:
            raise GraphError(
                f"Task '{task.name}' is a {task.domain} task but this graph's tasks are {domain} tasks; "
                "one graph uses one domain so that one encoder can serve all its tasks."
            )
        self._store(task)
        return task

    def _store(self, task: Task) -> None:
        attrs = task.to_dict()
        del attrs["name"]
        if self.nx.has_node(task.name):
            self.nx.nodes[task.name].clear()
            self.nx.nodes[task.name].update(attrs)
        else:
            self.nx.add_node(task.name, **attrs)

    def update_task(self, name: str, **changes: Any) -> Task:
        """Change a task's fields (not its name: see :meth:`rename_task`)."""
        old = self.task(name)
        fields = old.to_dict()
        unknown = set(changes) - (set(fields) - {"name"})
        if unknown:
            raise GraphError(f"Task '{name}': cannot change {', '.join(sorted(unknown))}.")
        fields.update(changes)
        new = make_task(**fields)
        if new.domain != old.domain and self.number_of_tasks() > 1:
            raise GraphError(
                f"Task '{name}' cannot become a {new.domain} task: the other tasks are {old.domain} tasks."
            )
        self._store(new)
        return new

    def rename_task(self, old: str, new: str) -> None:
        self.task(old)
        new = check_name(new)
        if new == old:
            return
        if new in self.nx:
            raise GraphError(f"A task named '{new}' already exists.")
        nx.relabel_nodes(self.nx, {old: new}, copy=False)

    def remove_task(self, name: str, with_edges: bool = True) -> None:
        """Remove a task; with ``with_edges=False`` refuse while it still has edges."""
        self.task(name)
        degree = self.nx.degree(name)
        if degree and not with_edges:
            raise GraphError(f"Task '{name}' has {degree} edge(s); remove them first or delete with its edges.")
        self.nx.remove_node(name)

    def task(self, name: str) -> Task:
        if name not in self.nx:
            raise GraphError(f"There is no task named '{name}'.")
        return task_from_attrs(name, self.nx.nodes[name])

    def tasks(self) -> list[Task]:
        return [task_from_attrs(n, a) for n, a in self.nx.nodes(data=True)]

    def task_names(self) -> list[str]:
        return list(self.nx.nodes)

    def number_of_tasks(self) -> int:
        return self.nx.number_of_nodes()

    def set_positions(self, positions: dict[str, tuple[float, float]]) -> None:
        for name, (x, y) in positions.items():
            if name in self.nx:
                self.nx.nodes[name]["pos"] = [float(x), float(y)]

    # ---------------------------------------------------------------------- edges
    def add_edge(self, source: str, target: str, relation: str, weight: Any = 1.0) -> Edge:
        source, target, relation = (stored_name(x) for x in (source, target, relation))
        rel = self._need_relation(relation)
        for end in (source, target):
            if end not in self.nx:
                raise GraphError(f"Edge {source} → {target}: there is no task named '{end}'.")
        if source == target:
            raise GraphError(f"Edge {source} → {target}: a task cannot be related to itself (self-loops are built in).")
        w = check_weight(weight, source, target)
        if self.nx.has_edge(source, target, key=relation) or (
            not rel.directed and self.nx.has_edge(target, source, key=relation)
        ):
            raise GraphError(f"Tasks '{source}' and '{target}' are already linked by '{relation}'.")
        self.nx.add_edge(source, target, key=relation, weight=w)
        return Edge(source, target, relation, w)

    def remove_edge(self, source: str, target: str, relation: str) -> None:
        if self.nx.has_edge(source, target, key=relation):
            self.nx.remove_edge(source, target, key=relation)
            return
        rel = self.relations.get(relation)
        if rel is not None and not rel.directed and self.nx.has_edge(target, source, key=relation):
            self.nx.remove_edge(target, source, key=relation)
            return
        raise GraphError(f"There is no '{relation}' edge between '{source}' and '{target}'.")

    def set_edge_weight(self, source: str, target: str, relation: str, weight: Any) -> None:
        """Change a weight in place: a refused weight leaves the edge (and edge order) untouched."""
        w = check_weight(weight, source, target)
        if self.nx.has_edge(source, target, key=relation):
            self.nx.edges[source, target, relation]["weight"] = w
            return
        rel = self.relations.get(relation)
        if rel is not None and not rel.directed and self.nx.has_edge(target, source, key=relation):
            self.nx.edges[target, source, relation]["weight"] = w
            return
        raise GraphError(f"There is no '{relation}' edge between '{source}' and '{target}'.")

    def edges(self) -> Edges:
        return [Edge(u, v, k, float(d.get("weight", 1.0))) for u, v, k, d in self.nx.edges(keys=True, data=True)]

    def number_of_edges(self) -> int:
        return self.nx.number_of_edges()

    # ---------------------------------------------------------------------- whole
    def copy(self) -> TaskGraph:
        return copy.deepcopy(self)

    def number_of_points(self) -> int:
        """The train + test points the tasks declare (what preparing their data would allocate)."""
        return sum(int(t.train_size) + int(t.test_size) for t in self.tasks())

    def work_counts(self) -> tuple[int, int, int]:
        """(tasks, edges, points): what the work budget (``check_graph_budget``) weighs."""
        return self.number_of_tasks(), self.number_of_edges(), self.number_of_points()

    def validate(self, need_tasks: bool = True, budget: bool = True) -> None:
        """Raise if the graph cannot be trained: no tasks, no training data, mixed domains, over the work budget.

        ``budget=False`` leaves the budget to a caller that checks it with a model right after (training's
        ``check_work``), so a graph on its way to training is weighed once.
        """
        tasks = self.tasks()
        if need_tasks and not tasks:
            raise GraphError("The graph has no tasks: add at least one task with training data.")
        domains = {t.domain for t in tasks}
        if len(domains) > 1:
            raise GraphError(f"The graph mixes domains ({', '.join(sorted(domains))}); one graph uses one domain.")
        if need_tasks and all(t.zero_shot for t in tasks):
            raise GraphError("Every task has train size 0: at least one task needs training data.")
        for *_, k in self.nx.edges(keys=True):
            self._need_relation(k)
        if budget:
            check_graph_budget(*self.work_counts(), relations=len(self.relations))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: relations plus networkx node-link data."""
        return {
            "relations": [r.to_dict() for r in self.relations.values()],
            "graph": nx.node_link_data(self.nx, edges="edges"),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TaskGraph:
        """Rebuild and validate a graph from :meth:`to_dict` output (or a file's contents)."""
        if not isinstance(data, dict):
            raise GraphError("A task graph must be a JSON object with 'relations' and 'graph'.")
        relations = data.get("relations", [])
        if not isinstance(relations, list):
            raise GraphError("'relations' must be a list.")
        graph = cls()
        for i, rel in enumerate(relations):
            if not isinstance(rel, dict) or "name" not in rel:
                raise GraphError(f"Relation #{i + 1} must be an object with a 'name'.")
            graph.add_relation(rel["name"], bool(rel.get("directed", False)), rel.get("color"))
        link = data.get("graph", {"nodes": [], "edges": []})
        if not isinstance(link, dict):
            raise GraphError("'graph' must be networkx node-link data (an object with 'nodes' and 'edges').")
        nodes = link.get("nodes", [])
        edges = link.get("edges", link.get("links", []))
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("'graph.nodes' and 'graph.edges' must be lists.")
        check_budget(tasks=len(nodes), edges=len(edges), points=declared_points(nodes),
                     relations=len(relations))  # before building
        for i, node in enumerate(nodes):
            if not isinstance(node, dict) or "id" not in node:
                raise GraphError(f"Node #{i + 1} must be an object with an 'id'.")
            if "family" not in node:
                raise GraphError(f"Task '{node['id']}' has no 'family'.")
            graph.add_task(
                make_task(
                    node["id"], node["family"], node.get("params"), node.get("train_size", 40),
                    node.get("test_size", 100), node.get("seed", 0), node.get("pos"),
                )
            )
        for i, edge in enumerate(edges):
            if not isinstance(edge, dict) or "source" not in edge or "target" not in edge:
                raise GraphError(f"Edge #{i + 1} must be an object with 'source' and 'target'.")
            relation = edge.get("key", edge.get("relation"))
            if relation is None:
                raise GraphError(f"Edge #{i + 1} ({edge['source']} → {edge['target']}) has no relation.")
            graph.add_edge(edge["source"], edge["target"], relation, edge.get("weight", 1.0))
        return graph

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskGraph):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (f"TaskGraph({self.number_of_tasks()} tasks, {self.number_of_edges()} edges, "
                f"relations={list(self.relations)}, domain={self.domain})")
