"""Text tasks in the pages: example texts, confusion matrices, test texts, try-your-own-sentence, sentence vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ragviz.data import text_cache, text_encoder
from ragviz.data.text import load_corpus
from ragviz.lessons.text_lesson import text_task_graph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.project import Project
from ragviz.training.train import train
from tests.app.helpers import all_element_text, checkpoint_state, errors_of, open_page


@pytest.fixture(scope="module")
def trained_text():
    project = Project(text_task_graph(train_size=40, test_size=20), ModelConfig(hidden=16),
                      TrainConfig(steps=20, eval_every=10), name="Text test")
    return project, train(project.graph, project.model_config, project.train_config)


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[str]:
    """The transformer replaced by a corpus look-up (a typed corpus sentence gets its real vector)."""
    monkeypatch.setenv("RAGVIZ_TEXT_CACHE", str(tmp_path))
    text_cache.clear_memory()
    corpus = load_corpus("reviews")
    index = {t: i for i, t in enumerate(corpus.table["text"])}
    calls: list[str] = []

    def fake(texts, progress=None, batch_size=32):
        calls.extend(texts)
        return np.stack([corpus.vectors[index.get(t, 0)] for t in texts])

    monkeypatch.setattr(text_encoder, "encode_uncached", fake)
    yield calls
    text_cache.clear_memory()


def predict(at, sentence: str) -> None:
    at.text_input(key="to_sentence").input(sentence)
    next(b for b in at.button if b.label == "Predict").click()
    at.run()


def test_task_graph_preview_shows_example_texts_with_labels(trained_text, encoder_calls) -> None:
    at = open_page("pages/task_graph.py", checkpoint_state(*trained_text))
    assert errors_of(at) == []
    table = next(d.value for d in at.dataframe if "text" in d.value.columns and "true" in d.value.columns)
    corpus_texts = set(load_corpus("reviews").table["text"])
    assert len(table) > 0 and set(table["text"]) <= corpus_texts
    assert set(table["true"]) <= {"pos", "neg", "yes", "no", "formal", "casual", "complaint", "no complaint"}
    assert encoder_calls == []  # opening text tasks never runs the transformer


def test_task_outputs_text_section_and_try_a_sentence(trained_text, encoder_calls) -> None:
    project, _ = trained_text
    at = open_page("pages/task_outputs.py", checkpoint_state(*trained_text))
    assert errors_of(at) == []
    assert encoder_calls == []
    kinds = {trace["type"] for c in at.get("plotly_chart") for trace in json.loads(c.proto.spec)["data"]}
    assert "heatmap" in kinds  # the confusion matrices
    examples = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert {"text", "true", "predicted", "P(predicted)", "right"} <= set(examples.columns)

    sentence = load_corpus("reviews").table["text"].iloc[5]
    predict(at, sentence)
    assert errors_of(at) == []
    assert encoder_calls == [sentence]
    bars = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"].get("barmode") == "stack")
    rows = set(bars["data"][0]["y"])
    assert len(rows) == project.graph.number_of_tasks()
    assert any(r.endswith("★") for r in rows)  # zero-shot tasks answer too
    for k in range(len(rows)):
        total = sum(trace["x"][k] for trace in bars["data"])
        assert total == pytest.approx(1.0, abs=1e-5)

    predict(at, sentence)
    assert encoder_calls == [sentence]  # seen before: cached


def test_user_markup_in_a_sentence_stays_plain_text(trained_text, encoder_calls) -> None:
    at = open_page("pages/task_outputs.py", checkpoint_state(*trained_text))
    predict(at, "<b>bold</b> **star** <script>alert(1)</script>")
    assert errors_of(at) == []
    assert "<script>" not in " ".join(m.value for m in at.markdown)


def test_embeddings_shows_sentence_vectors_by_label(trained_text, encoder_calls) -> None:
    at = open_page("pages/embeddings.py", checkpoint_state(*trained_text))
    assert errors_of(at) == []
    text = all_element_text(at)
    assert "Sentence vectors of a task" in text
    first = trained_text[0].graph.task_names()[0]
    pca = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if json.loads(c.proto.spec)["layout"].get("title", {}).get("text") == first]
    assert pca and {t["name"] for t in pca[0]["data"]} <= {"pos", "neg", "yes", "no", "formal", "casual",
                                                          "complaint", "no complaint"}
    assert encoder_calls == []


@pytest.mark.parametrize("page", ["pages/home.py", "pages/train.py", "pages/message_passing.py",
                                  "pages/checkpoints.py"])
def test_the_other_pages_work_unchanged_for_text(trained_text, encoder_calls, page: str) -> None:
    at = open_page(page, checkpoint_state(*trained_text))
    assert errors_of(at) == []
    assert encoder_calls == []


def test_confusion_matrices_show_class_names(trained_text, encoder_calls) -> None:
    at = open_page("pages/task_outputs.py", checkpoint_state(*trained_text))
    assert errors_of(at) == []
    heatmaps = [t for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"] if t["type"] == "heatmap"]
    axes = {tuple(t["x"]) for t in heatmaps}
    assert heatmaps and axes <= {("neg", "pos"), ("no complaint", "complaint"), ("no", "yes"), ("casual", "formal")}
    assert ("no complaint", "complaint") in axes  # complaint tasks: names of their own, not sentiment's


def _text_table_project(encoder_calls) -> tuple[Project, object]:
    from ragviz.data.text import load_text_table
    from ragviz.graph.generators import text_table_graph

    corpus = load_corpus("reviews").table
    rows = corpus[corpus["domain"].isin(["hotels", "books"])].groupby("domain").head(12)
    table = load_text_table(rows.rename(columns={"domain": "task"}), "text", "task", "sentiment")
    project = Project(text_table_graph(table, "texts"), ModelConfig(hidden=8), TrainConfig(steps=5, eval_every=5),
                      {"texts": table}, name="My texts")
    return project, train(project.graph, project.model_config, project.train_config, project.tables)


def test_a_reopened_text_table_checkpoint_shows_its_texts(encoder_calls) -> None:
    project, result = _text_table_project(encoder_calls)
    at = open_page("pages/task_outputs.py", checkpoint_state(project, result))
    assert errors_of(at) == []
    examples = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert "(text not stored)" not in set(examples["text"])
    assert set(examples["text"]) <= set(project.tables["texts"].attrs["texts"])
    assert set(examples["true"]) <= {"neg", "pos"}
    assert not [i for i in at.info if "came without" in i.value]


def test_a_text_table_without_texts_says_what_is_missing(encoder_calls) -> None:
    project, result = _text_table_project(encoder_calls)
    state = checkpoint_state(project, result)
    state.project.tables["texts"].attrs.clear()  # as an older checkpoint opens: vectors only
    at = open_page("pages/task_outputs.py", state)
    assert errors_of(at) == []
    assert any("came without its texts and class names" in i.value for i in at.info)
    examples = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert set(examples["text"]) == {"(text not stored)"}
