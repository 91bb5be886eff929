"""Behaviour of ragviz.data.domains: deterministic families, domains, grids and user tables."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from ragviz.data import domains as D
from ragviz.data.digits import digit_images
from ragviz.data.domains import DataError, DomainSpec, TaskData
from ragviz.data.table_io import load_table
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Task, make_task

TOY = ("moons", "circles", "xor", "blobs", "spiral", "linear")


def graph_of(*tasks: Task) -> TaskGraph:
    graph = TaskGraph()
    graph.add_relation("similar")
    for task in tasks:
        graph.add_task(task)
    return graph


def rot(degrees: float) -> np.ndarray:
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# ----------------------------------------------------------------- determinism, shapes
@pytest.mark.parametrize("family", [*TOY, "sine", "digits_rotated", "digits_one_vs_rest", "digits_pair"])
def test_same_seed_same_arrays_other_seed_different(family):
    a = D.make_task_data(Task("a", family, {}, 30, 50, 7))
    D.clear_cache()
    b = D.make_task_data(Task("b", family, {}, 30, 50, 7))
    c = D.make_task_data(Task("c", family, {}, 30, 50, 8))
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("family", TOY)
def test_toy_shapes_dtypes_and_balance(family):
    k = 4 if family in ("blobs", "spiral") else 2
    params = {"n_classes": k} if family in ("blobs", "spiral") else {}
    d = D.make_task_data(Task("t", family, params, 40, 100, 1))
    assert d.x_train.shape == (40, 2) and d.x_test.shape == (100, 2)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64 and d.y_test.dtype == np.int64
    assert d.n_classes == k
    for y, n in ((d.y_train, 40), (d.y_test, 100)):
        counts = np.bincount(y, minlength=k)
        assert len(counts) == k and counts.max() - counts.min() <= 1 and counts.sum() == n
    assert np.abs(d.x_test).max() < 3.5  # centred and scaled into the plotting square
    assert not np.array_equal(d.x_train[:5], d.x_test[:5])


def test_train_does_not_depend_on_test_size():
    a = D.make_task_data(Task("a", "moons", {}, 40, 100, 3))
    b = D.make_task_data(Task("b", "moons", {}, 40, 7, 3))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert b.x_test.shape == (7, 2)


def test_zero_sizes_keep_two_dimensional_arrays():
    d = D.make_task_data(Task("z", "circles", {}, 0, 0, 0))
    assert d.x_train.shape == (0, 2) and d.y_train.shape == (0,)
    s = D.make_task_data(Task("z", "sine", {}, 0, 5, 0))
    assert s.x_train.shape == (0, 1) and s.x_test.shape == (5, 1)


def test_cached_arrays_are_read_only_and_wrapper_is_fresh():
    task = Task("t", "moons", {}, 40, 100, 11)
    first = D.make_task_data(task)
    with pytest.raises(ValueError):
        first.x_train[0, 0] = 99.0
    first.x_train = np.zeros((1, 2), np.float32)  # reassigning a field must not reach the cache
    again = D.make_task_data(task)
    assert again.x_train.shape == (40, 2)


# ----------------------------------------------------------------- transforms
@pytest.mark.parametrize("degrees", [90.0, 37.0])
def test_rotate_rotates_points_about_origin(degrees):
    base = D.make_task_data(Task("a", "moons", {"noise": 0.2}, 40, 60, 5))
    turned = D.make_task_data(Task("b", "moons", {"noise": 0.2, "rotate": degrees}, 40, 60, 5))
    np.testing.assert_allclose(turned.x_train, base.x_train @ rot(degrees).T, atol=1e-5)
    np.testing.assert_array_equal(turned.y_train, base.y_train)
    if degrees == 90.0:  # (x, y) -> (-y, x)
        np.testing.assert_allclose(turned.x_test[:, 0], -base.x_test[:, 1], atol=1e-5)


def test_flip_shift_scale():
    base = D.make_task_data(Task("a", "blobs", {"n_classes": 3}, 30, 30, 2))
    flipped = D.make_task_data(Task("b", "blobs", {"n_classes": 3, "flip": True}, 30, 30, 2))
    np.testing.assert_array_equal(flipped.y_train, 2 - base.y_train)
    np.testing.assert_array_equal(flipped.x_train, base.x_train)
    moved = D.make_task_data(Task("c", "blobs", {"n_classes": 3, "scale": 0.5, "shift_x": 1, "shift_y": -2},
                                  30, 30, 2))
    np.testing.assert_allclose(moved.x_train, base.x_train * 0.5 + np.array([1, -2]), atol=1e-5)


def test_noise_zero_puts_circles_on_their_radii():
    d = D.make_task_data(Task("c", "circles", {"noise": 0}, 50, 0, 4))
    radius = np.linalg.norm(d.x_train, axis=1)
    np.testing.assert_allclose(radius[d.y_train == 0], 2.0, atol=1e-5)
    np.testing.assert_allclose(radius[d.y_train == 1], 1.0, atol=1e-5)


def test_xor_and_linear_labels_follow_their_rule_without_noise():
    x = D.make_task_data(Task("x", "xor", {"noise": 0}, 200, 0, 1))
    assert np.array_equal(x.y_train == 1, x.x_train[:, 0] * x.x_train[:, 1] < 0)
    lin = D.make_task_data(Task("l", "linear", {"noise": 0}, 200, 0, 1))
    normal = np.array([-math.sin(math.pi / 6), math.cos(math.pi / 6)])
    assert np.array_equal(lin.y_train == 1, lin.x_train @ normal > 0)


# ----------------------------------------------------------------- sine
def test_sine_matches_formula_without_noise():
    params = {"amplitude": 2.5, "frequency": 1.7, "phase": 0.4, "noise": 0}
    d = D.make_task_data(Task("s", "sine", params, 30, 40, 9))
    assert d.x_train.shape == (30, 1) and d.y_train.dtype == np.float32 and d.n_classes == 0
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        np.testing.assert_allclose(y, 2.5 * np.sin(1.7 * x[:, 0].astype(np.float64) + 0.4), atol=1e-4)
        assert x.min() >= -5 and x.max() <= 5
    noisy = D.make_task_data(Task("s", "sine", {**params, "noise": 0.5}, 30, 40, 9))
    residual = noisy.y_train - 2.5 * np.sin(1.7 * noisy.x_train[:, 0] + 0.4)
    assert 0.2 < residual.std() < 1.0


# ----------------------------------------------------------------- digits
def test_digits_one_vs_rest_labels_and_balance():
    images, labels = digit_images()
    flat = images.reshape(len(images), -1)
    d = D.make_task_data(Task("d", "digits_one_vs_rest", {"digit": 7}, 40, 60, 3))
    assert d.x_train.shape == (40, 64) and d.x_train.dtype == np.float32 and d.n_classes == 2
    assert np.bincount(d.y_train).tolist() == [20, 20] and np.bincount(d.y_test).tolist() == [30, 30]
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        # find each image in the bundled set: its true digit decides the label
        dist = ((x[:, None, :] - flat[None]) ** 2).sum(-1)
        true = labels[dist.argmin(1)]
        assert dist.min(1).max() < 1e-10
        np.testing.assert_array_equal(y, (true == 7).astype(np.int64))
    # train and test are disjoint images
    assert not (np.abs(d.x_train[:, None, :] - d.x_test[None]).sum(-1) < 1e-9).any()


def test_digits_match_sklearn_load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = digit_images()
    np.testing.assert_allclose(images, bunch.images / 16.0, atol=1e-6)
    np.testing.assert_array_equal(labels, bunch.target)
    assert not images.flags.writeable


def test_digits_pair_labels_a_zero_b_one():
    images, labels = digit_images()
    flat = images.reshape(len(images), -1)
    d = D.make_task_data(Task("p", "digits_pair", {"a": 2, "b": 5}, 20, 20, 0))
    true = labels[((d.x_train[:, None, :] - flat[None]) ** 2).sum(-1).argmin(1)]
    np.testing.assert_array_equal(d.y_train, (true == 5).astype(np.int64))
    assert set(true.tolist()) == {2, 5}


def test_digits_rotated_90_is_rot90_of_the_image():
    plain = D.make_task_data(Task("a", "digits_rotated", {}, 20, 10, 1))
    turned = D.make_task_data(Task("b", "digits_rotated", {"rotate": 90}, 20, 10, 1))
    np.testing.assert_array_equal(turned.y_train, plain.y_train)
    assert plain.n_classes == 10 and plain.x_train.min() >= 0 and plain.x_train.max() <= 1
    for p, t in zip(plain.x_train, turned.x_train, strict=True):
        expected = np.rot90(p.reshape(8, 8)).ravel()
        assert np.corrcoef(expected, t)[0, 1] > 0.99
        assert np.corrcoef(p, t)[0, 1] < 0.9


def test_digits_sizes_are_capped_to_the_available_images():
    d = D.make_task_data(Task("p", "digits_pair", {"a": 0, "b": 1}, 1000, 1000, 0))
    n = len(d.y_train) + len(d.y_test)
    assert 300 < n <= 2 * 178 and len(d.y_test) >= n // 2 - 1


# ----------------------------------------------------------------- csv
def table_csv() -> bytes:
    rows = ["task,target,f1,f2"]
    for t in ("a", "b"):
        for i in range(12):
            rows.append(f"{t},{i % 3},{i * 0.5},{-i}")
    return "\n".join(rows).encode()


def test_load_table_from_bytes_file_path_and_frame(tmp_path):
    frame = load_table(table_csv())
    assert list(frame.columns) == ["task", "target", "f1", "f2"] and len(frame) == 24
    assert frame["target"].dtype == np.float64
    assert frame["task"].map(type).eq(str).all()
    path = tmp_path / "t.csv"
    path.write_bytes(table_csv())
    pd.testing.assert_frame_equal(load_table(str(path)), frame)
    pd.testing.assert_frame_equal(load_table(io.BytesIO(table_csv())), frame)
    pd.testing.assert_frame_equal(load_table(io.StringIO(table_csv().decode())), frame)
    pd.testing.assert_frame_equal(load_table(frame), frame)


def test_load_table_renames_columns_and_strips_names():
    raw = b" group , y ,x\n1,0.5,1\n1,0.7,2\n2,1.5,3\n2,2.5,4\n"
    frame = load_table(raw, task_column="group", target_column="y")
    assert list(frame.columns) == ["task", "target", "x"]
    assert frame["task"].tolist() == ["1", "1", "2", "2"]


@pytest.mark.parametrize(
    ("text", "kwargs", "needles"),
    [
        (b"task,f1\na,1\na,2\n", {}, ["target", "'task', 'f1'"]),
        (b"task,target,f1\na,1,1\na,1,\n", {}, ["f1", "row 2", "missing"]),
        (b"task,target,f1\na,1,1\na,1,inf\n", {}, ["f1", "row 2", "infinite"]),
        (b"task,target,f1\na,1,1\na,1,2\na,0,abc\n", {}, ["f1", "row 3", "abc"]),
        (b"task,target,f1\na,1,1\na,yes,2\n", {}, ["target", "row 2", "yes"]),
        (b"task,target\na,1\na,2\n", {}, ["no feature columns"]),
        (b"task,target,f1\na,1,1\na,1,2\nb,0,3\n", {}, ["Task 'b'", "at least 2"]),
        (b"task,target,f1\n", {}, ["no rows"]),
        (b"", {}, ["empty"]),
        (b"group,target,f1\na,1,1\na,1,2\n", {"task_column": "kind"}, ["'kind'", "group"]),
    ],
)
def test_load_table_errors_name_the_problem(text, kwargs, needles):
    with pytest.raises(DataError) as err:
        load_table(text, **kwargs)
    for needle in needles:
        assert needle in str(err.value)


def test_load_table_refuses_large_input_naming_size():
    with pytest.raises(DataError, match="The table is 200 bytes; the limit is 100 bytes"):
        load_table(b"x" * 200, max_bytes=100)
    with pytest.raises(DataError, match="limit"):
        load_table(io.BytesIO(b"x" * 200), max_bytes=100)
    with pytest.raises(DataError, match="no file"):
        load_table("/nonexistent/table.csv")


def test_csv_tasks_split_classes_and_regression():
    table = load_table(table_csv())
    tables = {"t": table}
    task = Task("A", "csv", {"table": "t", "task": "a"}, 8, 4, 1)
    d = D.make_task_data(task, tables)
    assert d.x_train.shape == (8, 2) and d.x_test.shape == (4, 2) and d.y_train.dtype == np.int64
    assert d.n_classes == 3 and D.task_n_classes(task, tables) == 3
    rows = table[table["task"] == "a"][["f1", "f2"]].to_numpy(np.float32)
    both = np.concatenate([d.x_train, d.x_test])
    assert sorted(map(tuple, both)) == sorted(map(tuple, rows))  # disjoint, all from task 'a'
    np.testing.assert_array_equal(D.make_task_data(task, tables).x_train, d.x_train)
    # more rows asked than exist: test keeps half, train the rest
    big = D.make_task_data(Task("B", "csv", {"table": "t", "task": "b"}, 100, 100, 0), tables)
    assert (len(big.y_train), len(big.y_test)) == (6, 6)
    # real-valued target -> regression
    reg = table.assign(target=table["target"] + 0.25)
    r = D.make_task_data(task, {"t": reg})
    assert r.n_classes == 0 and r.y_train.dtype == np.float32
    spec = D.domain_spec(graph_of(task), {"t": reg})
    assert (spec.kind, spec.n_outputs, spec.input_dim) == ("regression", 1, 2)


def test_csv_classes_are_indexed_over_the_whole_table():
    frame = pd.DataFrame({"task": ["a"] * 4 + ["b"] * 4, "target": [5, 9, 5, 9, 7, 9, 7, 9],
                          "f": np.arange(8.0)})
    tables = {"t": load_table(frame)}
    b = D.make_task_data(Task("b", "csv", {"table": "t", "task": "b"}, 2, 2, 0), tables)
    labels = set(np.concatenate([b.y_train, b.y_test]).tolist())
    assert labels == {1, 2} and b.n_classes == 3  # 5 -> 0, 7 -> 1, 9 -> 2


def test_csv_errors():
    tables = {"t": load_table(table_csv())}
    with pytest.raises(DataError, match="no table named 'missing'"):
        D.make_task_data(Task("x", "csv", {"table": "missing", "task": "a"}), tables)
    with pytest.raises(DataError, match="no rows for task 'zzz'"):
        D.make_task_data(Task("x", "csv", {"table": "t", "task": "zzz"}), tables)
    with pytest.raises(DataError):
        D.make_task_data(Task("x", "csv", {"table": "t", "task": "a"}), None)


# ----------------------------------------------------------------- domains and grids
def test_domain_spec_for_each_domain():
    toy = graph_of(make_task("m", "moons"), make_task("b", "blobs", {"n_classes": 5}))
    spec = D.domain_spec(toy)
    assert spec == DomainSpec("toy2d", 2, 5, "classification", (-3.5, 3.5))
    assert D.domain_spec(graph_of(make_task("m", "moons"))).n_outputs == 2
    assert D.domain_spec(graph_of(make_task("s", "sine"))) == DomainSpec("sine", 1, 1, "regression", (-5.0, 5.0))
    digits = D.domain_spec(graph_of(make_task("d", "digits_pair")))
    assert (digits.input_dim, digits.n_outputs, digits.kind) == (64, 10, "classification")
    tables = {"t": load_table(table_csv())}
    csv = D.domain_spec(graph_of(make_task("c", "csv", {"table": "t", "task": "a"})), tables)
    assert (csv.name, csv.input_dim, csv.n_outputs, csv.kind) == ("csv", 2, 3, "classification")
    assert csv.x_range == (-11.0, 5.5)
    wide = graph_of(make_task("m", "moons", {"shift_x": 3}))
    assert D.domain_spec(wide).x_range[1] >= 6


def test_domain_spec_errors():
    with pytest.raises(DataError, match="The graph has no tasks"):
        D.domain_spec(TaskGraph())
    mixed = graph_of(make_task("m", "moons"))
    mixed.nx.add_node("s", family="sine", params={}, train_size=5, test_size=5, seed=0, pos=None)
    with pytest.raises(DataError, match="mixes domains"):
        D.domain_spec(mixed)


def test_plot_grid_shapes_and_order():
    toy = DomainSpec("toy2d", 2, 2, "classification", (-3.5, 3.5))
    grid = D.plot_grid(toy, 5)
    assert grid.shape == (25, 2) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[:5, 0], np.linspace(-3.5, 3.5, 5))  # x runs fastest
    assert np.all(grid[:5, 1] == -3.5) and grid[5, 1] > -3.5
    assert D.plot_grid(DomainSpec("sine", 1, 1, "regression", (-5, 5)), 60).shape == (60, 1)
    with pytest.raises(DataError):
        D.plot_grid(DomainSpec("digits", 64, 10, "classification", (0, 1)))
    with pytest.raises(DataError):
        D.plot_grid(toy, 1)


def test_make_graph_data_keyed_in_graph_order():
    graph = graph_of(*(make_task(f"t{i}", f, seed=i) for i, f in enumerate(TOY)))
    data = D.make_graph_data(graph)
    assert list(data) == graph.task_names()
    assert all(isinstance(v, TaskData) for v in data.values())


# ----------------------------------------------------------------- bad params
@pytest.mark.parametrize(
    ("family", "params", "needle"),
    [
        ("moons", {"noise": "abc"}, "noise"),
        ("moons", {"noise": -0.1}, "noise"),
        ("moons", {"rotate": True}, "rotate"),
        ("circles", {"flip": "maybe"}, "flip"),
        ("moons", {"scale": 0}, "scale"),
        ("blobs", {"n_classes": 7}, "n_classes"),
        ("spiral", {"n_classes": 1}, "n_classes"),
        ("blobs", {"n_classes": 2.5}, "n_classes"),
        ("sine", {"amplitude": "big"}, "amplitude"),
        ("sine", {"noise": -1}, "noise"),
        ("digits_one_vs_rest", {"digit": 10}, "digit"),
        ("digits_pair", {"a": 4, "b": 4}, "differ"),
        ("digits_pair", {"a": -1}, "'a'"),
        ("digits_rotated", {"rotate": "x"}, "rotate"),
        ("nope", {}, "unknown data family"),
    ],
)
def test_bad_params_raise_data_error(family, params, needle):
    task = Task("bad", family, params, 10, 10, 0)
    with pytest.raises(DataError, match=needle):
        D.make_task_data(task)
    with pytest.raises(DataError, match=needle):
        D.task_n_classes(task)


def test_numeric_strings_are_accepted():
    a = D.make_task_data(Task("a", "moons", {"noise": "0.2", "flip": "true"}, 10, 10, 0))
    b = D.make_task_data(Task("b", "moons", {"noise": 0.2, "flip": True}, 10, 10, 0))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)


# ----------------------------------------------------------------- cache
def test_a_rerun_reads_generated_data_from_the_cache():
    """The app regenerates the same graph's data on every rerun: the second time nothing is generated.

    (How long generation takes is a benchmark figure: benchmarks/bench_scale.py.)
    """
    D.clear_cache()
    ring = graph_of(*(make_task(f"t{i}", TOY[i % 6], {"rotate": 30 * i}, 40, 100, i) for i in range(12)))
    first = D.make_graph_data(ring)
    again = D.make_graph_data(ring)
    assert all(again[name].x_train is first[name].x_train for name in first)
    D.clear_cache()
    fresh = D.make_graph_data(ring)
    assert all(fresh[name].x_train is not first[name].x_train for name in first)
    np.testing.assert_array_equal(fresh["t3"].x_train, first["t3"].x_train)
