"""The Task graph page in AppTest: what it shows, and that edits, undo, import and export work.

AppTest cannot click a Plotly chart, so selections are set through the state (the click
logic itself is tested in tests/test_selection.py) and the page's buttons are pressed.
"""

from __future__ import annotations

import pytest

from ragviz.graph.task_graph import TaskGraph
from ragviz.training.project import Project
from tests.app.helpers import checkpoint_state, errors_of, open_page, plain, untrained_state
from tests.helpers import small_ring

PAGE = "pages/task_graph.py"


def ring_page(n: int = 6):
    state = untrained_state(Project(small_ring(n), name="ring"))
    return open_page(PAGE, state), state


def button(at, label: str):
    matches = [b for b in at.button if plain(b.label) == label]
    assert matches, f"no button {label!r} among {[b.label for b in at.button]}"
    return matches[0]


def texts(elements) -> str:
    return " ".join(plain(str(e.value)) for e in elements)


def test_empty_graph_says_how_to_start():
    at = open_page(PAGE, untrained_state(Project(TaskGraph(), name="empty")))
    assert not errors_of(at)
    assert "no tasks yet" in texts(at.info)
    assert not at.get("plotly_chart")
    assert "**0** tasks" in texts(at.markdown)
    assert at.expander[0].label == "Add a task"
    assert button(at, "Undo (0)").disabled and button(at, "Redo (0)").disabled


def test_ring_shows_figure_tables_and_exports():
    at, state = ring_page()
    assert not errors_of(at)
    assert "Click a task to select it; shift-click a second" in texts(at.caption)
    assert len(at.get("plotly_chart")) >= 2  # the graph and the data preview
    assert "**6** tasks (1 zero-shot ★) · **6** edges" in texts(at.markdown)
    nodes, edges = at.dataframe[0].value, at.dataframe[1].value
    assert list(nodes["name"]) == state.graph.task_names() and len(edges) == 6
    assert [d.label for d in at.get("download_button")] == ["Download JSON", "Download GraphML",
                                                            "Download CSV (zip)"]


def test_add_task_with_the_form():
    at, state = ring_page()
    at.text_input(key=next(t.key for t in at.text_input if t.label == "Name")).set_value("extra moons")
    button(at, "Add task").click().run()
    assert not errors_of(at)
    assert "Added task 'extra moons'" in texts(at.toast)
    assert state.graph.number_of_tasks() == 7 and state.graph.task("extra moons").pos is not None
    assert state.selection == ["extra moons"]
    assert button(at, "Undo (1)").disabled is False


def test_connect_two_selected_tasks_then_a_duplicate_is_refused():
    at, state = ring_page()
    a, c = state.graph.task_names()[0], state.graph.task_names()[2]
    state.selection = [a, c]
    at.run()
    assert f"**① {a}** → **② {c}**" in texts(at.markdown)
    button(at, "Connect").click().run()
    assert f"Connected '{a}' → '{c}' with 'near'." in texts(at.toast)
    assert state.graph.nx.has_edge(a, c, key="near") and state.graph.number_of_edges() == 7
    button(at, "Connect").click().run()
    assert "already linked by 'near'" in texts(at.error)
    assert state.graph.number_of_edges() == 7 and state.edits.undo_steps == 1


def test_delete_needs_its_edges_then_undo_and_redo():
    at, state = ring_page()
    name = state.graph.task_names()[0]
    original = state.graph.copy()
    state.selection = [name]
    at.run()
    button(at, "Delete task").click().run()
    assert "has 2 edge(s)" in texts(at.error) and state.graph == original
    next(c for c in at.checkbox if c.label.startswith("Also delete its 2 edge")).check().run()
    button(at, "Delete task").click().run()
    assert f"Deleted task '{name}'." in texts(at.toast)
    assert name not in state.graph.nx and state.selection == []
    button(at, "Undo (1)").click().run()
    assert state.graph == original and "Undid" in texts(at.toast)
    button(at, "Redo (1)").click().run()
    assert name not in state.graph.nx and state.graph.number_of_tasks() == 5


def test_generate_replaces_the_graph_and_undo_brings_it_back():
    at, state = ring_page()
    original = state.graph.copy()
    at.number_input(key=next(n.key for n in at.number_input if n.label == "Tasks")).set_value(5)
    at.selectbox(key=next(s.key for s in at.selectbox if s.label == "Pattern")).set_value("chain")
    button(at, "Generate (replaces the graph)").click().run()
    assert not errors_of(at)
    assert state.graph.number_of_tasks() == 5 and state.graph.number_of_edges() == 4
    assert "Generated a chain graph of 5 moons tasks" in texts(at.toast)
    assert state.project.name == "A chain of 5 moons tasks"  # not still named after the graph it replaced
    button(at, "Undo (1)").click().run()
    assert state.graph == original


def test_new_graph_starts_empty_and_undo_brings_the_old_one_back():
    at, state = ring_page()
    original = state.graph.copy()
    button(at, "New graph").click().run()
    assert not errors_of(at)
    assert state.graph.number_of_tasks() == 0 and state.project.name == "New graph"
    assert "no tasks yet" in texts(at.info)
    button(at, "Undo (1)").click().run()
    assert state.graph == original


def test_the_add_task_panel_stays_open_for_the_next_task():
    state = untrained_state(Project(TaskGraph(), name="empty"))
    at = open_page(PAGE, state)
    for k, name in enumerate(["first", "second", "third"]):
        adder = next(e for e in at.expander if e.label == "Add a task")
        assert adder.proto.expanded, f"before task {k + 1}"
        at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("tg_add_"))).set_value(name)
        button(at, "Add task").click().run()
        assert not errors_of(at)
    assert state.graph.task_names() == ["first", "second", "third"]


def test_the_two_task_panel_changes_an_edges_relation():
    graph = small_ring(6)
    graph.add_relation("opposite", False, "#d62728")
    state = untrained_state(Project(graph, name="ring"))
    at = open_page(PAGE, state)
    a, b = state.graph.task_names()[:2]
    state.selection = [a, b]
    at.run()
    assert at.selectbox(key=next(s.key for s in at.selectbox if s.label == "Change its relation to")).value \
        == "opposite"
    button(at, "Change").click().run()
    assert not errors_of(at)
    assert state.graph.nx.has_edge(a, b, key="opposite") and not state.graph.nx.has_edge(a, b, key="near")
    assert "from 'near' to 'opposite'" in texts(at.toast)
    button(at, "Undo (1)").click().run()
    assert state.graph.nx.has_edge(a, b, key="near")


EVIL_XML = (b'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<graphml><graph edgedefault="directed"><node id="&b;"/></graph></graphml>')


@pytest.mark.parametrize(("name", "data", "why"), [
    ("bad.json", b"{not json", "not valid JSON"),
    ("evil.graphml", EVIL_XML, "DTD"),
    ("nodes.csv", b"name,family,train_size,test_size,seed\nx,no_such_family,1,1,0\n", "no_such_family"),
])
def test_bad_import_says_why_and_keeps_the_graph(name, data, why):
    at, state = ring_page()
    original = state.graph.copy()
    at.get("file_uploader")[0].set_value((name, data, "application/octet-stream"))
    at.run()
    button(at, f"Replace the graph with {name}").click().run()
    assert f"Could not import {name}" in texts(at.error) and why in texts(at.error)
    assert "Your graph was not changed" in texts(at.error)
    assert state.graph == original and state.edits.undo_steps == 0
    at.run()
    uploader = at.get("file_uploader")[0]
    assert uploader.key == "tg_upload#1" and uploader.value is None  # read: Streamlit holds it no longer


def test_too_big_upload_is_refused_before_reading(monkeypatch):
    monkeypatch.setenv("RAGVIZ_MAX_GRAPH_MB", "0.00001")  # 10 bytes
    at, state = ring_page()
    original = state.graph.copy()
    at.get("file_uploader")[0].set_value(("big.json", b"{" + b" " * 100 + b"}", "application/json"))
    at.run()
    button(at, "Replace the graph with big.json").click().run()
    assert "the limit is 10 bytes" in texts(at.error) and state.graph == original


def test_pasted_json_imports_and_can_be_undone():
    at, state = ring_page()
    original = state.graph.copy()
    from ragviz.graph.io import graph_to_json

    at.text_area[0].set_value(graph_to_json(small_ring(3))).run()
    button(at, "Import pasted JSON").click().run()
    assert not errors_of(at) and state.graph.number_of_tasks() == 3
    button(at, "Undo (1)").click().run()
    assert state.graph == original


def test_trained_model_note_after_an_edit(trained_ring):
    project, result = trained_ring
    state = checkpoint_state(project, result)
    state.selection = [state.graph.task_names()[0], state.graph.task_names()[3]]
    at = open_page(PAGE, state)
    assert "has a trained model" in texts(at.caption)
    button(at, "Connect").click().run()
    banner = texts(at.warning)  # the banner at the top of every page says what changed, and offers Train
    assert "changed since the model was trained (1 edge or relation changed)" in banner
    assert "without retraining" in banner and any(link.label == "Train on this graph" for link in at.get("page_link"))


def test_table_edits_apply_once_and_a_bad_edit_is_refused():
    at, state = ring_page()
    names = state.graph.task_names()
    nodes_key = at.data_editor[0].key
    at.session_state[nodes_key] = {"edited_rows": {1: {"train_size": 0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "Applied your edits to the task table." in texts(at.toast)
    assert state.graph.task(names[1]).zero_shot and state.edits.undo_steps == 1
    at.run()  # the editor starts afresh from the new graph: the edit is not applied twice
    assert at.data_editor[0].key != nodes_key and state.edits.undo_steps == 1
    before = state.graph.copy()
    at.session_state[at.data_editor[1].key] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"source": names[1], "target": names[0], "relation": "near"}]}
    at.run()
    assert "Edge table row 7" in texts(at.error) and "already linked" in texts(at.error)
    assert state.graph == before
    button(at, "Discard the edge table's edits").click().run()
    assert not errors_of(at) and state.graph == before


def test_connecting_two_tasks_of_a_flat_chain_keeps_the_snake_it_was_drawn_as():
    from ragviz.graph.generators import generate_graph
    from ragviz.plots.graph import drawing_positions

    graph = generate_graph("chain", 20, "moons")
    graph.set_positions({n: (float(k), 0.0) for k, n in enumerate(graph.task_names())})  # an old, flat drawing
    drawn = drawing_positions(graph)
    state = untrained_state(Project(graph, name="chain"))
    at = open_page(PAGE, state)
    a, c = graph.task_names()[0], graph.task_names()[10]
    state.selection = [a, c]
    at.run()
    button(at, "Connect").click().run()
    assert not errors_of(at) and state.graph.number_of_edges() == 20
    assert {n: tuple(state.graph.task(n).pos) for n in graph.task_names()} == drawn
