"""Generation tasks (ragviz.data.drawing): "draw digit d rotated by θ", a 64-pixel output per point.

The family's data, the frozen classifier that judges drawings, a model whose heads draw (training,
the neighbour average, checkpoints, the view link, the command line) and the Task outputs figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ragviz.cli import main
from ragviz.data.digits import digit_images, rotate_images
from ragviz.data.domains import domain_spec, make_task_data
from ragviz.data.drawing import (
    INPUT_DIM,
    N_PIXELS,
    digits_of,
    drawing_rotations,
    recognised,
    rotated_centroids,
    style_codes,
)
from ragviz.graph.io import graph_to_json
from ragviz.graph.tasks import Task
from ragviz.inspection.baselines import baseline_zero_shot
from ragviz.inspection.trace import compute_trace
from ragviz.lessons.catalogue import DRAWING_KEY, LESSONS
from ragviz.lessons.graphs import rotated_drawings
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.plots.drawings import image_strip, shown_points
from ragviz.plots.outputs import drawings_figure, kind_of, outputs_figure
from ragviz.safety.errors import DataError
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.storage.view_link import View, build_view, encode_view, read_link
from ragviz.training.project import Project
from ragviz.training.train import train

torch.set_num_threads(1)


def task(rotate: object = 0.0, train_size: int = 30, test_size: int = 20, seed: int = 0) -> Task:
    return Task(f"draw {rotate}", "digits_drawn", {"rotate": rotate}, train_size, test_size, seed)


@pytest.fixture(scope="module")
def trained():
    graph = rotated_drawings(train_size=60, test_size=30)
    project = Project(graph, ModelConfig(hidden=32, layers=1), TrainConfig(steps=80, lr=0.01, eval_every=40,
                                                                           device="cpu"), name="Drawn digits")
    return project, train(graph, project.model_config, project.train_config)


# ------------------------------------------------------------------------------------- data
def test_a_task_asks_for_a_digit_and_a_style_and_gets_the_image_turned_by_its_angle() -> None:
    images, labels = digit_images()
    upright, turned = make_task_data(task(0.0)), make_task_data(task(90.0))
    assert upright.x_train.shape == (30, INPUT_DIM) and upright.y_train.shape == (30, N_PIXELS)
    assert upright.n_classes == 0 and upright.y_train.min() >= 0 and upright.y_train.max() <= 1
    # Same seed, same base images: the inputs agree and the outputs are the images turned by 90°.
    np.testing.assert_array_equal(upright.x_train, turned.x_train)
    base = np.flatnonzero((style_codes()[:, None, :] == upright.x_train[None, :, 10:]).all(-1).any(1))
    assert len(base) >= 30
    first = upright.y_train[0].reshape(8, 8)
    np.testing.assert_allclose(turned.y_train[0].reshape(8, 8), np.rot90(first), atol=1e-6)
    assert labels[int(np.flatnonzero((images.reshape(len(images), -1) == upright.y_train[0]).all(1))[0])] \
        == digits_of(upright.x_train)[0]
    np.testing.assert_array_equal(make_task_data(task(90.0)).y_test, turned.y_test)  # deterministic


def test_a_bad_angle_names_the_task() -> None:
    with pytest.raises(DataError, match="draw oops.*rotate"):
        make_task_data(task("oops"))


def test_the_graph_has_one_drawing_space_and_neighbouring_angles_are_linked() -> None:
    graph = rotated_drawings()
    spec = domain_spec(graph)
    assert (spec.name, spec.kind, spec.input_dim, spec.n_outputs) == ("drawing", "regression", INPUT_DIM, 64)
    assert graph.number_of_tasks() == 12 and len(graph.edges()) == 12
    assert sorted(t.name for t in graph.tasks() if t.zero_shot) == ["draw 240°", "draw 90°"]
    rotations = drawing_rotations(graph.tasks())
    for edge in graph.edges():
        assert abs(rotations[edge.source] - rotations[edge.target]) % 360 in (30.0, 330.0)


# ------------------------------------------------------------------------------- classifier
def test_the_frozen_classifier_reads_true_turned_digits_and_not_wrong_ones() -> None:
    images, labels = digit_images()
    turned = rotate_images(images[:300], 120.0).reshape(300, -1)
    assert recognised(turned, labels[:300], 120.0) > 0.8
    assert recognised(turned, (labels[:300] + 1) % 10, 120.0) < 0.1
    assert recognised(rotated_centroids(45.0), np.arange(10), 45.0) == 1.0
    assert np.isnan(recognised(np.zeros((0, 64)), np.zeros(0, int), 0.0))


# ------------------------------------------------------------------------------------ model
def test_heads_that_draw_learn_the_pixels(trained) -> None:
    project, result = trained
    final = result.history.final_metrics()
    seen = [final[t.name] for t in project.graph.tasks() if not t.zero_shot]
    pixels = np.concatenate([make_task_data(t).y_test for t in project.graph.tasks()])
    mean_image_mse = float(((pixels - pixels.mean(axis=0)) ** 2).mean())
    assert np.mean(seen) < 0.8 * mean_image_mse  # better than drawing the average image for everything
    trace = compute_trace(result.model, project.graph)
    assert trace.outputs_test["draw 90°"].shape == (30, 64) and kind_of(trace) == "drawing"
    average = baseline_zero_shot(result.model, project.graph)
    assert set(average) == {"draw 90°", "draw 240°"} and all(np.isfinite(list(average.values())))


def test_a_drawing_checkpoint_comes_back_with_the_same_drawings(trained) -> None:
    project, result = trained
    ckpt = load_checkpoint(checkpoint_bytes(project, result.model, result.history))
    assert ckpt.project.graph == project.graph and ckpt.model.spec.n_outputs == 64
    before, after = compute_trace(result.model, project.graph), compute_trace(ckpt.model, ckpt.project.graph)
    for name in before.task_names:
        np.testing.assert_allclose(after.outputs_test[name], before.outputs_test[name], atol=1e-6)


def test_a_drawing_graph_travels_in_the_view_link() -> None:
    graph = rotated_drawings()
    view = View(name="Drawn digits", graph=graph, model_config=ModelConfig(layers=2), focus="draw 90°")
    back = build_view(read_link(encode_view(view).token))
    assert back.graph == graph and back.focus == "draw 90°" and domain_spec(back.graph).name == "drawing"


def test_the_command_line_trains_evaluates_and_describes_a_drawing_model(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    graph_file, out = tmp_path / "drawings.json", tmp_path / "drawings.safetensors"
    graph_file.write_text(graph_to_json(rotated_drawings(train_size=20, test_size=10)), encoding="utf-8")
    assert main(["train", "--graph", str(graph_file), "--steps", "5", "--device", "cpu", "--out", str(out)]) == 0
    assert "zero-shot tasks: mean test MSE" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "domain:    drawing" in text and "tasks:     12 (2 zero-shot" in text
    assert main(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    assert "MSE" in text and "draw 90°" in text
    assert main(["train", "--sample", DRAWING_KEY, "--steps", "2", "--out", str(tmp_path / "s.safetensors")]) == 0


# ----------------------------------------------------------------------------------- figure
def test_a_strip_puts_true_images_above_their_drawings() -> None:
    true, drawn = np.full((3, 64), 0.25), np.full((3, 64), 2.0)
    strip = image_strip(true, drawn)
    assert strip.shape == (17, 26)
    assert np.all(strip[:8, :8] == 0.25) and np.all(strip[9:, :8] == 1.0)  # drawings clipped to [0, 1]
    assert np.isnan(strip[8]).all() and np.isnan(strip[:, 8]).all()
    assert list(shown_points(np.array([3, 1, 0, 1, 2, 4, 0]), 3)) == [2, 1, 4]


def test_the_figure_shows_each_task_beside_the_truth_with_its_verdict(trained) -> None:
    project, result = trained
    trace = compute_trace(result.model, project.graph)
    tasks = ["draw 0°", "draw 90°", "no such task"]
    fig = drawings_figure(trace, tasks, drawing_rotations(project.graph.tasks()), marked={"draw 90°"})
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert fig.data[0].z.shape == (17, 44)
    titles = [a.text for a in fig.layout.annotations]
    assert "★" in titles[1] and "MSE" in titles[1] and "recognised" in titles[1]
    assert len(fig.layout.shapes) == 1  # the lesson's mark on draw 90°
    # "true"/"drawn" once per row, at its left: labels between panels ran into the neighbour's images
    assert fig.layout.yaxis.showticklabels and fig.layout.yaxis2.showticklabels is False
    plain = outputs_figure(trace, tasks)  # the generic entry point draws the same panels, without verdicts
    assert len(plain.data) == 2 and "recognised" not in plain.layout.annotations[0].text


def test_the_lesson_is_declared_like_the_others() -> None:
    lesson = LESSONS[DRAWING_KEY]
    assert lesson.contrast == "no edges" and lesson.lower_is_better
    assert set(lesson.also_trained) == {"neighbour average, zero-shot MSE", "zero-shot drawings recognised"}
    assert lesson.holds([0.05] * 5, [0.05 * lesson.mse_ratio] * 5)
    assert not lesson.holds([0.05] * 5, [0.05 * lesson.mse_ratio] * 4 + [0.05])


def test_an_ensemble_of_drawing_models_is_refused_with_a_reason() -> None:
    from ragviz.training.ensemble import train_ensemble

    with pytest.raises(DataError, match="image"):
        train_ensemble(rotated_drawings(train_size=10, test_size=5), ModelConfig(hidden=8), TrainConfig(steps=1), k=2)
