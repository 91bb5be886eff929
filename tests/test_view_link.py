"""The view link (ragviz.storage.view_link): round trips, the size budget, and damaged or hostile links."""

from __future__ import annotations

import base64
import json
import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragviz.graph.generators import generate_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.counterfactual import with_edge, with_zero_shot_task, without_edge
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import RagvizError
from ragviz.safety.limits import BudgetError
from ragviz.storage.view_link import (
    LINK_BUDGET,
    MAX_LINK_CHARS,
    VERSION,
    View,
    ViewLinkError,
    apply_patch,
    build_view,
    compact_graph,
    encode_view,
    graph_patch,
    pack,
    read_link,
)
from tests.app.hostile import PROJECT, TASKS, hostile_project
from tests.helpers import small_ring

FUZZ = settings(max_examples=int(os.environ.get("RAGVIZ_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def round_trip(view: View, base=None, sample_graph=None) -> View:
    encoded = encode_view(view, base=base)
    assert encoded.fits
    return build_view(read_link(encoded.token), sample_graph)


# ------------------------------------------------------------------------------ round trips
def test_a_graph_its_settings_and_the_pickers_come_back_equal() -> None:
    graph = small_ring()
    view = View(name="My ring", graph=graph, model_config=ModelConfig(layers=3, embed_dim=8),
                train_config=TrainConfig(steps=123, lr=0.005, seed=7), layer=3, focus="moons 120°", projector=True,
                screen="1280×720")
    back = round_trip(view)
    assert back.screen == "1280×720"
    assert back.graph == graph and back.graph is not graph
    assert back.model_config == ModelConfig(layers=3, embed_dim=8)
    assert back.train_config == TrainConfig(steps=123, lr=0.005, seed=7)
    assert (back.name, back.layer, back.focus, back.projector) == ("My ring", 3, "moons 120°", True)
    assert back.sample is None and not back.graph_omitted and back.whatif is None


def test_an_unedited_sample_travels_as_its_name_and_its_what_if_as_a_patch() -> None:
    graph = small_ring()
    whatif = without_edge(with_edge(graph, "moons 0°", "moons 180°", "near", 0.5), "moons 60°", "moons 120°", "near")
    view = View(name="Zero-shot tasks", sample="zero_shot_ring", whatif=whatif, whatif_edits=["add", "remove"])
    encoded = encode_view(view, base=graph)
    payload = read_link(encoded.token)
    assert payload["s"] == "zero_shot_ring" and "g" not in payload  # the server has the sample's graph
    assert set(payload["w"]["p"]) == {"e+", "e-"}  # two edits, not a second copy of the graph
    back = build_view(payload, sample_graph=graph)
    assert back.graph is None and back.whatif == whatif and back.whatif_edits == ["add", "remove"]


def test_a_closed_lesson_and_a_trained_contrast_travel_in_the_link() -> None:
    graph = small_ring()
    closed = View(name="Mine", sample="zero_shot_ring", graph=graph, lesson_closed=True)
    payload = read_link(encode_view(closed).token)
    assert payload["c"] == 1 and "b" not in payload
    back = build_view(payload, sample_graph=graph)
    assert back.lesson_closed and back.contrast is None and back.graph == graph
    trained = View(name="Zero-shot tasks", sample="zero_shot_ring", graph=graph, contrast="no edges")
    back = round_trip(trained, sample_graph=graph)
    assert back.contrast == "no edges" and not back.lesson_closed and back.sample == "zero_shot_ring"
    plain_view = read_link(encode_view(View(name="x", sample="zero_shot_ring")).token)
    assert "c" not in plain_view and "b" not in plain_view  # an open lesson, the usual case, costs nothing
    assert not build_view(plain_view, graph).lesson_closed  # old links (no "c") open the lesson as before


def test_a_graph_over_the_budget_keeps_the_closed_lesson_and_the_contrast() -> None:
    big = generate_graph("chain", 400, zero_shot=[3])
    encoded = encode_view(View(name="Long", sample="zero_shot_ring", graph=big, lesson_closed=True,
                               contrast="no edges"))
    assert not encoded.fits
    back = build_view(read_link(encoded.token))
    assert back.graph_omitted and back.lesson_closed and back.contrast == "no edges"


def test_every_kind_of_what_if_edit_survives_the_patch() -> None:
    graph = small_ring()
    graph.add_relation("far", directed=True)
    edited = with_zero_shot_task(graph, "new task", "moons", {"rotate": 15.0}, ["moons 0°", "moons 60°"], "far")
    edited.update_task("moons 240°", train_size=3)
    edited.set_edge_weight("moons 0°", "moons 60°", "near", 2.5)
    edited.remove_task("moons 300°")
    base, new = compact_graph(graph), compact_graph(edited)
    patched = apply_patch(base, json.loads(json.dumps(graph_patch(base, new))))
    assert TaskGraph.from_dict(patched) == edited
    assert graph_patch(base, base) == {}


def test_hostile_names_come_back_as_the_same_text() -> None:
    project = hostile_project()
    back = round_trip(View(name=PROJECT, graph=project.graph, focus=TASKS[0]))
    assert back.graph == project.graph and back.name == PROJECT and back.focus == TASKS[0]


# ------------------------------------------------------------------------------ the budget
def test_a_graph_too_big_for_a_link_is_left_out_and_the_rest_kept() -> None:
    big = generate_graph("chain", 400, zero_shot=[3])
    view = View(name="big", sample="zero_shot_ring", graph=big, layer=2, focus="x", projector=False)
    encoded = encode_view(view)
    assert not encoded.fits and encoded.full_chars > LINK_BUDGET >= len(encoded.token)
    back = build_view(read_link(encoded.token))
    assert back.graph is None and back.graph_omitted
    assert (back.sample, back.layer, back.focus, back.projector) == ("zero_shot_ring", 2, "x", False)


def test_a_link_longer_than_any_view_is_refused_before_decoding() -> None:
    with pytest.raises(ViewLinkError, match="at most"):
        read_link("A" * (MAX_LINK_CHARS + 1))


def test_a_decompression_bomb_stops_at_the_limit() -> None:
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" + b" " * 8_000_000 + b"]", 9)).decode().rstrip("=")
    assert len(bomb) < MAX_LINK_CHARS
    with pytest.raises(ViewLinkError, match="unpacks to more than"):
        read_link(bomb)


def test_the_graph_file_limit_bounds_a_link_too(monkeypatch) -> None:
    token = encode_view(View(name="r", graph=small_ring())).token
    monkeypatch.setenv("RAGVIZ_MAX_GRAPH_MB", "0.001")  # 1,000 bytes: less than the ring's JSON
    with pytest.raises(ViewLinkError, match="unpacks to more than 1.0 kB"):
        read_link(token)


def test_the_work_budget_applies_to_a_links_graph(monkeypatch) -> None:
    token = encode_view(View(name="r", graph=small_ring())).token
    monkeypatch.setenv("RAGVIZ_MAX_TASKS", "4")
    with pytest.raises(BudgetError, match="number of tasks is 6"):
        build_view(read_link(token))


# ------------------------------------------------------------------------------ damaged and hostile links
@pytest.mark.parametrize(("token", "words"), [
    ("", "empty"),
    ("abc$def", "characters a view link never has"),
    ("A", "not complete"),
    ("AAAA", "cannot be unpacked"),
    (pack({"v": 1, "n": "x"})[:-6], "cut short"),
    (pack([1, 2]), "not a ragviz view"),
    (pack({"n": "x"}), "no valid version"),
    (pack({"v": VERSION + 1}), "newer ragviz"),
    (base64.urlsafe_b64encode(zlib.compress(b"{not json")).decode().rstrip("="), "could not be read"),
    (base64.urlsafe_b64encode(zlib.compress(b"[" * 100_000)).decode().rstrip("="), "could not be read|nested"),
])
def test_a_damaged_link_says_what_is_wrong(token: str, words: str) -> None:
    with pytest.raises(RagvizError, match=words):
        read_link(token)


@pytest.mark.parametrize(("payload", "words"), [
    ({"n": "bad\u202ename"}, "invisible or control character"),
    ({"f": "x" * 500}, "longer than 80"),
    ({"s": "zero\nshot"}, "sample name is damaged"),
    ({"s": 5}, "sample name is damaged"),
    ({"l": 99}, "layer must be between 0 and 6"),
    ({"l": "two"}, "layer must be a whole number"),
    ({"m": {"layers": 1e9}}, "layers"),
    ({"t": {"steps": -5, "evil": 1}}, "Unknown TrainConfig"),
    ({"g": {"graph": {"nodes": [{"id": "<b>x</b>\u0000", "family": "moons"}]}}}, "invisible or control"),
    ({"g": "a graph"}, "not a task graph"),
    ({"g": {"graph": {"nodes": [{"id": "a"}]}}}, "no 'family'"),
    ({"w": {"p": {"n+": [{"id": 3}]}}, "e": []}, "has no name"),
    ({"w": {"p": {"e-": "all"}}, "e": []}, "not a list"),
    ({"w": {"p": {}, "e": ["x"] * 51}}, "at most 50"),
    ({"m": {"task_dropout": float("nan")}}, "finite"),
    ({"w": {"p": {"e+": [{"source": ["a"], "target": "b", "key": "near"}]}, "e": []}}, "as text"),
    ({"w": {"p": {"e+": [{"source": "a", "target": {"x": 1}, "key": "near"}]}, "e": []}}, "as text"),
    ({"w": {"p": {"e+": [{"source": "a", "target": "b", "relation": [1]}]}, "e": []}}, "as text"),
    ({"c": "maybe"}, "closed-lesson flag must be true or false"),
    ({"b": "no\u202eedges"}, "invisible or control"),
])
def test_a_hostile_payload_is_refused_with_a_message(payload: dict, words: str) -> None:
    with pytest.raises(RagvizError, match=words):
        text = json.dumps({"v": 1, **payload})  # Python's JSON writes NaN, as a hostile link may
        build_view(read_link(base64.urlsafe_b64encode(zlib.compress(text.encode())).decode().rstrip("=")), small_ring())


def test_a_what_if_on_a_sample_this_server_lacks_is_dropped_not_guessed() -> None:
    token = encode_view(View(name="s", sample="gone", whatif=small_ring(4), whatif_edits=["e"]),
                        base=small_ring()).token
    back = build_view(read_link(token), sample_graph=None)
    assert back.whatif is None and back.whatif_edits == [] and back.sample == "gone"


GOOD = encode_view(View(name="ring", graph=small_ring(), layer=2, focus="moons 0°",
                        whatif=with_edge(small_ring(), "moons 0°", "moons 180°", "near"), whatif_edits=["a"]),
                   base=small_ring()).token


def _open(token: str) -> View | None:
    """What the app does with a link: either a View or a RagvizError (never anything else)."""
    try:
        return build_view(read_link(token), sample_graph=small_ring())
    except RagvizError as err:
        assert str(err)
        return None


@FUZZ
@given(st.data())
def test_a_damaged_link_never_raises_anything_but_a_message(data) -> None:
    token = GOOD
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(token)))
        action = data.draw(st.sampled_from(["cut", "flip", "insert", "drop"]))
        char = data.draw(st.sampled_from("AZaz09-_=+/%$ é"))
        if action == "cut":
            token = token[:where]
        elif action == "flip":
            token = token[:where] + char + token[where + 1:]
        elif action == "insert":
            token = token[:where] + char + token[where:]
        else:
            token = token[:where] + token[where + 2:]
    _open(token)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=10)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)


@FUZZ
@given(st.fixed_dictionaries({"v": st.just(1)}, optional={k: JSON for k in "nsgxmtwlfp"}))
def test_any_well_packed_payload_opens_or_gives_a_message(payload) -> None:
    view = _open(pack(payload))
    if view is not None and view.graph is not None:
        view.graph.validate(need_tasks=False)

