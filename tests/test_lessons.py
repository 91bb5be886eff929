"""Every lesson's claim holds, with its margin, on the small version that trains in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from ragviz.lessons.catalogue import LESSONS, run_lesson
from ragviz.lessons.graphs import hop_chain, hop_distance, typed_relations, works_and_fails
from ragviz.lessons.lesson import LESSON_SEEDS
from ragviz.lessons.samples import SAMPLES

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
    assert len(LESSONS) >= 7 and "when_zero_shot_fails" in LESSONS


def test_report_seeds_are_not_tuning_seeds_and_set_the_data() -> None:
    assert len(LESSON_SEEDS) >= 5 and not set(LESSON_SEEDS) & set(range(6))
    for key, lesson in LESSONS.items():
        first, again, other = (lesson.build_graph(quick=True, seed=s) for s in (11, 11, 12))
        assert first == again, key
        assert [t.seed for t in first.tasks()] != [t.seed for t in other.tasks()], key
    assert LESSONS["zero_shot_ring"].build_graph() == LESSONS["zero_shot_ring"].build_graph(seed=LESSON_SEEDS[0])


def test_zero_shot_contrasts_are_the_same_model_without_edges_or_with_other_edges() -> None:
    for key, lesson in LESSONS.items():
        graph = lesson.build_graph(quick=True)
        if not any(t.zero_shot for t in graph.tasks()) or lesson.measure.__name__ == "seen_mean":
            continue
        assert lesson.contrast != "independent", key  # a zero-shot independent head is a constant class


def test_works_and_fails_puts_a_zero_shot_task_where_relations_cannot_tell_it_apart() -> None:
    graph = works_and_fails()
    works = [t for t in graph.tasks() if t.name.startswith("works")]
    fails = [t for t in graph.tasks() if t.name.startswith("fails")]
    assert len(works) == 12 and len(fails) == 4 and len(graph.tasks()) == 16
    assert all(e.source[:5] == e.target[:5] for e in graph.edges())  # two separate rings
    for ring in (works, fails):
        [zero] = [t for t in ring if t.zero_shot]
        assert zero.params["rotate"] == 90.0

    def neighbours(name: str) -> set[str]:
        return {e.target for e in graph.edges() if e.source == name} | {e.source for e in graph.edges()
                                                                        if e.target == name}

    [zero] = [t.name for t in fails if t.zero_shot]
    twins = [t.name for t in fails if not t.zero_shot and neighbours(t.name) == neighbours(zero)]
    assert twins == ["fails 270°"]
    [works_zero] = [t.name for t in works if t.zero_shot]
    assert not [t.name for t in works if t.name != works_zero and neighbours(t.name) == neighbours(works_zero)]


def test_same_model_contrast_measures_the_failing_ring() -> None:
    lesson = LESSONS["when_zero_shot_fails"]
    run = run_lesson("when_zero_shot_fails", seed=0, quick=True)
    assert run.contrast is run.model
    final = run.model.history.final_metrics()
    works = [final[t.name] for t in run.graph.tasks() if t.zero_shot and t.name.startswith("works")]
    fails = [final[t.name] for t in run.graph.tasks() if t.zero_shot and t.name.startswith("fails")]
    assert run.model_value == pytest.approx(sum(works) / len(works))  # judged: the 30° ring's task …
    assert run.contrast_value == pytest.approx(sum(fails) / len(fails))  # … against the 90° ring's, same model
    model_config, _ = lesson.configs(0, quick=True)
    assert lesson.contrast_setup(model_config, run.graph, 0) == (model_config, None)


def test_hop_lesson_reports_every_zero_shot_hop() -> None:
    lesson = LESSONS["message_passing_hops"]
    graph = lesson.build_graph(quick=True)
    dist = hop_distance(graph)
    zero_hops = {dist[t.name] for t in graph.tasks() if t.zero_shot}
    assert zero_hops == {1, 2, 3}
    assert set(lesson.also) == {"1-hop zero-shot MSE", "2-hop zero-shot MSE"}


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
    assert acc.holds([0.9, 0.7], [0.74, 0.5])  # seed by seed: each seed against its own contrast
    assert not acc.holds([0.9, 0.7], [0.5, 0.6])  # the second seed is too close
    assert not acc.holds([0.9], [float("nan")]) and not acc.holds([0.9, 0.9], [0.5])
    fails = LESSONS["when_zero_shot_fails"]  # the 30° ring's task against the 90° ring's, seed by seed
    assert fails.holds([1.0, 0.99], [0.01, 0.46]) and not fails.holds([1.0, 0.99], [0.01, 0.9])
    assert "model ≥ contrast + 0.15" in fails.requirement
    digits = LESSONS["real_digits"]  # judged against chance; the contrast is shown beside it
    assert digits.chance == 0.1 and "not judged" in digits.requirement
    assert digits.holds([0.5, 0.3], [0.6, 0.6]) and not digits.holds([0.5, 0.2], [0.1, 0.1])
    mse = LESSONS["message_passing_hops"]
    assert mse.holds([0.02, 0.05], [0.4, 0.45])
    assert not mse.holds([0.02, 0.2], [0.4, 0.45])
