"""Projections to 2-D (PCA, seeded t-SNE), snapshot frames and nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.inspection.projection import (
    distances,
    explained_variance,
    frame_subset,
    nearest_neighbours,
    pca_2d,
    project_embeddings,
    snapshot_frames,
    tsne_perplexity,
)


def test_pca_of_points_on_a_line_recovers_their_positions() -> None:
    t = np.array([-2.0, -1.0, 0.5, 2.5])
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    points = t[:, None] * direction + np.array([1.0, 1.0, 1.0])
    coords, ratio = pca_2d(points)
    centred = t - t.mean()
    assert np.allclose(np.abs(coords[:, 0]), np.abs(centred))
    assert np.allclose(coords[:, 1], 0.0, atol=1e-9)
    assert ratio[0] == pytest.approx(1.0) and ratio[1] == pytest.approx(0.0, abs=1e-12)


def test_pca_signs_are_fixed_so_the_picture_never_flips() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 5))
    a, _ = pca_2d(x)
    b, _ = pca_2d(x[::-1].copy())
    assert np.allclose(a[::-1], b)


def test_layers_are_projected_jointly_so_a_shift_stays_a_shift() -> None:
    rng = np.random.default_rng(1)
    h0 = rng.normal(size=(6, 4))
    layers = np.stack([h0, h0 + np.array([2.0, 0, 0, 0]), h0 + np.array([4.0, 0, 0, 0])])
    points = project_embeddings(layers, "pca")
    assert points.shape == (3, 6, 2)
    step = points[1] - points[0]
    assert np.allclose(step, step[0])  # every task moves by the same 2-D vector
    assert np.allclose(points[2] - points[1], step)
    assert explained_variance(layers)[0] > 0.5


def test_project_accepts_a_list_and_refuses_unknown_methods() -> None:
    arrays = [np.eye(3), np.eye(3) * 2]
    assert project_embeddings(arrays).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="Unknown projection"):
        project_embeddings(arrays, "umap")


def test_one_dimensional_embeddings_are_padded() -> None:
    points = project_embeddings(np.arange(5, dtype=float).reshape(1, 5, 1))
    assert points.shape == (1, 5, 2) and np.allclose(points[..., 1], 0.0)


def test_tsne_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(2)
    layers = rng.normal(size=(2, 8, 6))
    a = project_embeddings(layers, "tsne", seed=3)
    b = project_embeddings(layers, "tsne", seed=3)
    assert a.shape == (2, 8, 2) and np.array_equal(a, b)
    assert np.isfinite(a).all()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tsne_on_tiny_inputs_falls_back_to_pca(n: int) -> None:
    x = np.arange(n * 3, dtype=float).reshape(1, n, 3)
    points = project_embeddings(x, "tsne")
    assert points.shape == (1, n, 2) and np.isfinite(points).all()


def test_identical_points_do_not_break_tsne() -> None:
    points = project_embeddings(np.ones((1, 6, 4)), "tsne")
    assert np.allclose(points, 0.0)


@pytest.mark.parametrize("n", [2, 4, 10, 91, 1000])
def test_perplexity_is_always_below_the_number_of_points(n: int) -> None:
    assert 1.0 <= tsne_perplexity(n) < n
    assert tsne_perplexity(n) <= 30.0


def test_frame_subset_keeps_first_and_last_and_the_budget() -> None:
    assert frame_subset(5, 10) == [0, 1, 2, 3, 4]
    kept = frame_subset(40, 24, max_points=240)
    assert kept[0] == 0 and kept[-1] == 39 and len(kept) * 24 <= 240
    assert frame_subset(40, 1000, max_points=240) == [0, 39]


def test_snapshot_frames_pick_one_layer_and_each_snapshots_metric(trained_ring) -> None:
    _, result = trained_ring
    history = result.history
    arrays, labels, metric = snapshot_frames(history, layer=-1)
    s = len(history.snapshots)
    assert arrays.shape == (s, len(history.tasks), history.snapshots[0].shape[-1])
    assert np.array_equal(arrays[-1], history.snapshots[-1][-1])
    assert labels == [f"step {k}" for k in history.snapshot_steps]
    row = history.steps.index(history.snapshot_steps[-1])
    assert np.allclose(metric[-1], history.test_metric[row], equal_nan=True)
    first, _, _ = snapshot_frames(history, layer=0)
    assert np.array_equal(first[0], history.snapshots[0][0])


def test_nearest_neighbours_by_cosine_and_euclidean() -> None:
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [10.0, 0.5]])
    names = ["a", "b", "c", "d", "e"]
    cos = nearest_neighbours(emb, names, "a", "cosine", k=3)
    assert list(cos["task"]) == ["e", "b", "c"]  # e points the same way, however long it is
    assert list(cos["rank"]) == [1, 2, 3]
    euc = nearest_neighbours(emb, names, "a", "euclidean", k=2)
    assert list(euc["task"]) == ["b", "c"]
    assert euc["distance"].iloc[0] == pytest.approx(np.hypot(0.1, 0.1))
    assert "a" not in set(nearest_neighbours(emb, names, "a", k=10)["task"])


def test_cosine_distance_of_a_zero_vector_is_finite() -> None:
    d = distances(np.array([[0.0, 0.0], [1.0, 0.0]]), 0, "cosine")
    assert np.isfinite(d).all()
    with pytest.raises(ValueError):
        distances(np.eye(2), 0, "manhattan")
