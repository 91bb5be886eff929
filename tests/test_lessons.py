"""Every lesson's claim holds, with its margin, on the small version that trains in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from ragviz.lessons import LESSONS, hop_chain, hop_distance, run_lesson, typed_relations
from ragviz.samples import SAMPLES

torch.set_num_threads(1)  # small models train several times faster on one thread


@pytest.mark.parametrize("key", list(LESSONS))
def test_claim_holds_on_quick_version(key: str) -> None:
    lesson = LESSONS[key]
    run = run_lesson(key, seed=0, quick=True)
    assert math.isfinite(run.model_value) and math.isfinite(run.contrast_value)
    assert lesson.holds([run.model_value], [run.contrast_value]), (
        f"{key}: {lesson.model_label} {run.model_value:.3f} vs {lesson.contrast_label} {run.contrast_value:.3f} "
        f"({lesson.requirement})"
    )


def test_every_sample_has_a_lesson_and_back() -> None:
    assert [s.key for s in SAMPLES] == list(LESSONS)


def test_hop_chain_puts_held_out_tasks_three_hops_from_data() -> None:
    graph = hop_chain()
    dist = hop_distance(graph)
    far = sorted(name for name, d in dist.items() if d == 3)
    assert len(far) == 2
    assert max(dist.values()) == 3
    assert all(graph.task(name).zero_shot for name in far)
    assert {e.weight for e in graph.edges()} == {3.0}


def test_typed_relations_zero_shot_twins_differ_only_by_relation() -> None:
    graph = typed_relations()
    zero = [t for t in graph.tasks() if t.zero_shot]
    assert len(zero) == 6
    for task in zero:
        edges = [e for e in graph.edges() if task.name in (e.source, e.target)]
        assert len(edges) == 1
        expected = "labels flipped" if task.params["flip"] else "same"
        assert edges[0].relation == expected


def test_contrast_changes_one_thing() -> None:
    lesson = LESSONS["message_passing_hops"]
    graph = lesson.build_graph(quick=True)
    model_config, _ = lesson.configs(0, quick=True)
    contrast, edges = lesson.contrast_setup(model_config, graph, 0)
    assert edges is None
    assert contrast.layers == 1 and model_config.layers == 3
    assert {k: v for k, v in contrast.to_dict().items() if k != "layers"} == \
        {k: v for k, v in model_config.to_dict().items() if k != "layers"}


def test_holds_needs_every_seed() -> None:
    acc = LESSONS["zero_shot_ring"]
    assert acc.holds([0.9, 0.95], [0.5, 0.6])
    assert not acc.holds([0.9, 0.7], [0.5, 0.6])  # the worst seed is too close
    assert not acc.holds([0.9], [float("nan")])
    mse = LESSONS["message_passing_hops"]
    assert mse.holds([0.02, 0.05], [0.4, 0.45])
    assert not mse.holds([0.02, 0.2], [0.4, 0.45])
