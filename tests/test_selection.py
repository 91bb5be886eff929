"""Behaviour of ragviz.graph.selection: chart clicks → selection, edited tables → new graphs."""

from __future__ import annotations

import pandas as pd
import pytest

from ragviz.graph.schema import PARAM_PREFIX
from ragviz.graph.selection import (
    ROW_ID,
    apply_edge_table,
    apply_node_table,
    edge_table,
    event_tasks,
    node_table,
    selected_tasks,
)
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.safety.errors import GraphError


def event(*names, edge=None) -> dict:
    """A Streamlit plotly selection event as st.plotly_chart returns it."""
    points = [{"curve_number": 4, "point_number": i, "point_index": i, "x": 0.0, "y": 0.0, "customdata": n}
              for i, n in enumerate(names)]
    if edge:
        points.append({"curve_number": 1, "point_index": 0, "customdata": ["edge", *edge]})
    return {"selection": {"points": points, "point_indices": list(range(len(points))), "box": [], "lasso": []}}


@pytest.fixture
def graph() -> TaskGraph:
    g = TaskGraph([Relation("near", False, "#1f77b4"), Relation("teaches", True, "#d62728")])
    for i, name in enumerate(["a", "b", "c"]):
        g.add_task(Task(name, "moons", {"rotate": 30.0 * i}, 0 if name == "c" else 20, 50, i, (float(i), 0.0)))
    g.add_edge("a", "b", "near")
    g.add_edge("b", "c", "teaches", 0.5)
    return g


# --------------------------------------------------------------------------- selection
def test_click_selects_one_task():
    assert selected_tasks(event("b"), []) == ["b"]
    assert selected_tasks(event("b"), ["a", "c"]) == ["b"]  # a plain click replaces the selection


def test_shift_click_keeps_click_order_even_when_plotly_reorders_points():
    assert selected_tasks(event("a", "b"), ["b"]) == ["b", "a"]
    assert selected_tasks(event("b", "a"), ["a"]) == ["a", "b"]


def test_third_task_drops_the_oldest():
    assert selected_tasks(event("a", "b", "c"), ["a", "b"]) == ["b", "c"]


def test_empty_or_odd_events_select_nothing():
    assert selected_tasks(event(), ["a"]) == []
    assert selected_tasks(None, ["a"]) == []
    assert selected_tasks({"selection": {"points": [{"point_index": 3}]}}, []) == []  # edge line, no customdata


def test_customdata_as_list_and_edge_markers():
    ev = {"selection": {"points": [{"customdata": ["a"]}]}}
    assert event_tasks(ev) == ["a"]
    assert selected_tasks(event(edge=("b", "c", "teaches")), ["a"]) == ["b", "c"]
    assert event_tasks(event("a", edge=("b", "c", "teaches")), edges=False) == ["a"]


def test_bare_selection_part_is_accepted():
    assert event_tasks(event("a")["selection"]) == ["a"]


# --------------------------------------------------------------------------- tables out
def test_node_table_lists_tasks_with_parameters(graph):
    table = node_table(graph)
    assert table["name"].tolist() == ["a", "b", "c"]
    assert table[ROW_ID].tolist() == ["a", "b", "c"]
    assert table["zero_shot"].tolist() == [False, False, True]
    assert table[PARAM_PREFIX + "rotate"].tolist() == [0.0, 30.0, 60.0]
    assert table[PARAM_PREFIX + "noise"].tolist() == [0.1, 0.1, 0.1]  # the family default is shown
    assert table["x"].tolist() == [0.0, 1.0, 2.0]


def test_edge_table_lists_edges(graph):
    table = edge_table(graph)
    assert table[["source", "target", "relation"]].values.tolist() == [["a", "b", "near"], ["b", "c", "teaches"]]
    assert table["weight"].tolist() == [1.0, 0.5]
    assert table["directed"].tolist() == [False, True]


def test_empty_graph_tables_have_columns():
    assert list(node_table(TaskGraph()).columns)[:3] == [ROW_ID, "name", "family"]
    assert len(edge_table(TaskGraph())) == 0


def test_unchanged_tables_give_an_equal_graph(graph):
    assert apply_node_table(graph, node_table(graph)) == graph
    assert apply_edge_table(graph, edge_table(graph)) == graph


# --------------------------------------------------------------------------- node edits
def test_rename_keeps_edges_and_leaves_original_alone(graph):
    table = node_table(graph)
    table.loc[0, "name"] = "alpha"
    new = apply_node_table(graph, table)
    assert new.task_names() == ["alpha", "b", "c"] or set(new.task_names()) == {"alpha", "b", "c"}
    assert ("alpha", "b", "near") in [(e.source, e.target, e.relation) for e in new.edges()]
    assert "a" in graph.nx and "alpha" not in graph.nx


def test_two_tasks_can_swap_names(graph):
    table = node_table(graph)
    table.loc[0, "name"], table.loc[1, "name"] = "b", "a"
    new = apply_node_table(graph, table)
    assert new.task("b").params["rotate"] == 0.0 and new.task("a").params["rotate"] == 30.0
    assert new.nx.has_edge("b", "a", key="near")


def test_parameter_and_size_changes(graph):
    table = node_table(graph)
    table.loc[1, PARAM_PREFIX + "rotate"] = 45.0
    table.loc[1, "train_size"] = 0
    new = apply_node_table(graph, table)
    task = new.task("b")
    assert task.params == {"rotate": 45.0} and task.zero_shot
    assert "noise" not in task.params  # unchanged defaults are not copied into params


def test_cleared_parameter_falls_back_to_default(graph):
    table = node_table(graph)
    table.loc[2, PARAM_PREFIX + "rotate"] = None
    assert "rotate" not in apply_node_table(graph, table).task("c").params


def test_numeric_text_is_parsed(graph):
    table = node_table(graph).astype({PARAM_PREFIX + "rotate": object})
    table.loc[0, PARAM_PREFIX + "rotate"] = "12.5"
    assert apply_node_table(graph, table).task("a").params["rotate"] == 12.5


def test_added_row_becomes_a_task_with_defaults(graph):
    table = node_table(graph)
    table.loc[len(table)] = {ROW_ID: None, "name": "d", "family": None, "train_size": None, "test_size": None,
                             "seed": None, "x": None, "y": None}
    new = apply_node_table(graph, table)
    task = new.task("d")
    assert task.family == "moons" and task.train_size == 40 and task.test_size == 100 and task.pos is None
    assert graph.number_of_tasks() == 3


def test_blank_added_row_is_ignored(graph):
    table = node_table(graph)
    table.loc[len(table)] = {c: None for c in table.columns}
    assert apply_node_table(graph, table) == graph


def test_deleting_an_isolated_task(graph):
    graph.remove_edge("b", "c", "teaches")
    table = node_table(graph)
    new = apply_node_table(graph, table[table["name"] != "c"])
    assert new.task_names() == ["a", "b"]


def test_deleting_a_task_with_edges_is_refused(graph):
    table = node_table(graph)
    with pytest.raises(GraphError, match="Deleting task 'c'.*edge"):
        apply_node_table(graph, table[table["name"] != "c"])
    assert graph.number_of_tasks() == 3


def test_duplicate_name_names_both_rows(graph):
    table = node_table(graph)
    table.loc[2, "name"] = "a"
    with pytest.raises(GraphError, match=r"row 3.*'a' already exists \(row 1\)"):
        apply_node_table(graph, table)


def test_empty_name_and_bad_size_name_the_row(graph):
    table = node_table(graph)
    table.loc[1, "name"] = "  "
    with pytest.raises(GraphError, match="row 2.*empty"):
        apply_node_table(graph, table)
    table = node_table(graph)
    table.loc[1, "test_size"] = -5
    with pytest.raises(GraphError, match=r"Task table row 2 \('b'\).*test size"):
        apply_node_table(graph, table)


def test_other_domain_is_refused(graph):
    table = node_table(graph)
    table.loc[len(table)] = {ROW_ID: None, "name": "s", "family": "sine"}
    with pytest.raises(GraphError, match="row 4.*sine"):
        apply_node_table(graph, table)


def test_half_a_position_is_refused(graph):
    table = node_table(graph)
    table.loc[0, "y"] = None
    table.loc[0, "x"] = None
    assert apply_node_table(graph, table).task("a").pos == (0.0, 0.0)  # both empty: position kept
    table = node_table(graph)
    table.loc[0, "y"] = None
    with pytest.raises(GraphError, match="row 1.*both x and y"):
        apply_node_table(graph, table)


def test_moved_task(graph):
    table = node_table(graph)
    table.loc[0, "x"], table.loc[0, "y"] = 5.0, -1.0
    assert apply_node_table(graph, table).task("a").pos == (5.0, -1.0)


# --------------------------------------------------------------------------- edge edits
def test_weight_change(graph):
    table = edge_table(graph)
    table.loc[1, "weight"] = 2.0
    new = apply_edge_table(graph, table)
    assert new.nx.edges["b", "c", "teaches"]["weight"] == 2.0
    assert graph.nx.edges["b", "c", "teaches"]["weight"] == 0.5


def test_repointed_and_added_and_deleted_edges(graph):
    table = edge_table(graph)
    table.loc[0, "target"] = "c"
    table.loc[len(table)] = {ROW_ID: None, "source": "c", "target": "a", "relation": "teaches", "weight": None}
    table = table.drop(index=1)
    new = apply_edge_table(graph, table)
    assert sorted((e.source, e.target, e.relation, e.weight) for e in new.edges()) == [
        ("a", "c", "near", 1.0), ("c", "a", "teaches", 1.0)]


@pytest.mark.parametrize(("row", "message"), [
    ({"source": "a", "target": "b", "relation": "likes"}, "row 3.*Unknown relation 'likes'"),
    ({"source": "b", "target": "a", "relation": "near"}, "row 3.*already linked"),
    ({"source": "a", "target": "a", "relation": "near"}, "row 3.*itself"),
    ({"source": "a", "target": "zz", "relation": "near"}, "row 3.*no task named 'zz'"),
    ({"source": "a", "target": None, "relation": "near"}, "row 3.*fill in target"),
    ({"source": "a", "target": "c", "relation": "near", "weight": -1}, "row 3.*positive"),
])
def test_bad_edge_rows_are_refused_with_the_row(graph, row, message):
    table = edge_table(graph)
    table.loc[len(table)] = {ROW_ID: None, "weight": None, **row}
    with pytest.raises(GraphError, match=message):
        apply_edge_table(graph, table)
    assert graph.number_of_edges() == 2


def test_table_without_needed_columns_is_refused(graph):
    with pytest.raises(GraphError, match="no column 'relation'"):
        apply_edge_table(graph, pd.DataFrame({"source": ["a"], "target": ["b"]}))
