"""The vectorised ensemble: members match their own forward, seeds differ, disagreement and the trust flag."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import small_ring
from torch.func import stack_module_state

from ragviz.graph.generators import generate_graph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import ConfigError
from ragviz.training.ensemble import (
    Ensemble,
    _Member,
    argmax_disagreement,
    band,
    class_agreement,
    disagreement_of,
    spread,
    stacked_forward,
    train_ensemble,
)
from ragviz.training.ensemble_run import EnsembleRun
from ragviz.training.guess import (
    CLASS_RULE,
    class_spread,
    guess_reasons,
    hops_beyond_data,
    output_scale,
    regression_spread,
)
from ragviz.training.prepared import prepare
from ragviz.training.project import Project
from ragviz.training.train import train

TINY = ModelConfig(embed_dim=8, hidden=16)
STEPS = TrainConfig(steps=15, device="cpu")


@pytest.fixture(scope="module")
def ensemble() -> Ensemble:
    return train_ensemble(small_ring(), TINY, STEPS, k=3, seed=4)


def test_vectorised_outputs_equal_each_members_own_forward(ensemble) -> None:
    members = ensemble.members()
    prep = prepare(ensemble.graph, members[0])
    stacked = ensemble.outputs(prep.g, prep.test.x, prep.test.tid)
    assert stacked.shape == (3, len(prep.test), 2)
    drop = torch.tensor([[True, False, False, True, False, False],  # each member its own dropped tasks
                         [False, True, False, False, False, False],
                         [False] * 6])
    with torch.no_grad():
        params, buffers = stack_module_state(members)
        dropped = stacked_forward(_Member(members[0]), params, buffers, prep.g, prep.test.x, prep.test.tid, drop)[0]
    for k, member in enumerate(members):
        with torch.no_grad():
            torch.testing.assert_close(stacked[k], member(prep.g, prep.test.x, prep.test.tid), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(dropped[k], member(prep.g, prep.test.x, prep.test.tid, drop[k]),
                                       atol=1e-5, rtol=1e-5)
    probabilities = ensemble.predict()
    assert probabilities.shape == (3, len(prep.test), 2)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_member_zero_follows_train_with_the_same_seed_and_a_run_repeats(ensemble) -> None:
    steps = TrainConfig(steps=70, device="cpu", seed=4)  # past the first block of dropout masks
    alone = train(ensemble.graph, TINY, steps).model.eval()
    member = train_ensemble(ensemble.graph, TINY, steps, k=2, seed=4).members()[0]
    # Compared as functions: some parameters do not change any output (with two classes, the part of the
    # generated head that label reversal keeps adds the same score to both; one relation type's score
    # cancels in the softmax), so Adam turns their rounding-noise gradients into steps that differ.
    prep = prepare(ensemble.graph, alone)
    with torch.no_grad():
        torch.testing.assert_close(member(prep.g, prep.test.x, prep.test.tid).log_softmax(-1),
                                   alone(prep.g, prep.test.x, prep.test.tid).log_softmax(-1), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(member.task_embedding, alone.task_embedding.detach(), atol=1e-3, rtol=1e-3)
    again = train_ensemble(small_ring(), TINY, STEPS, k=3, seed=4)
    for name, value in ensemble.params.items():
        assert torch.equal(value, again.params[name]), name


def test_different_seeds_give_different_members(ensemble) -> None:
    first, second, _ = ensemble.members()
    assert not torch.equal(first.encoder[0].weight, second.encoder[0].weight)
    outputs = ensemble.predict()
    assert not np.allclose(outputs[0], outputs[1], atol=1e-4)
    assert all(v > 0 for v in ensemble.disagreement().values())


def test_identical_members_never_disagree(ensemble) -> None:
    same = {name: value[:1].expand(4, *value.shape[1:]).clone() for name, value in ensemble.params.items()}
    clones = Ensemble(ensemble.graph, ensemble.model_config, ensemble.train_config, ensemble.spec, same, {},
                      ensemble.seed)
    assert clones.k == 4
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in clones.disagreement().values())
    assert all(v == 0.0 for v in clones.class_disagreement().values())
    assert clones.untrusted() == {"moons 120°": False}


@pytest.mark.parametrize("model", [ModelConfig(aggregation="attention"), ModelConfig(aggregation="max"),
                                   ModelConfig(composition="rgcn", aggregation="sum"), ModelConfig(decoder="film"),
                                   ModelConfig(decoder="independent"), ModelConfig(use_descriptors=True)])
def test_every_architecture_runs_vectorised(model) -> None:
    result = train_ensemble(small_ring(n=4), model, TrainConfig(steps=2, device="cpu"), k=2)
    assert result.vectorised and result.status == "finished" and result.steps_done == 2


def test_minibatches_uncertainty_weighting_and_regression() -> None:
    graph = generate_graph("chain", 5, "sine", vary="phase", start=0.0, stop=3.0, train_size=20, test_size=10,
                           zero_shot=[2])
    result = train_ensemble(graph, TINY, TrainConfig(steps=4, batch_size=16, loss_weighting="uncertainty",
                                                     device="cpu"), k=2)
    assert result.regression and result.vectorised
    assert result.predict().shape == (2, 50)
    grid = np.linspace(-5, 5, 7, dtype=np.float32)[:, None]
    zero = graph.task_names()[2]
    assert result.predict_grid(grid, [zero])[zero].shape == (2, 7)
    assert set(result.untrusted()) == {zero}
    # The spread is the members' std against the seen tasks' target std (the output scale).
    prep = prepare(graph, result.members()[0])
    seen = (prep.g.embed_index >= 0).index_select(0, prep.test.tid)
    scale = output_scale(prep.test.y[seen].numpy())
    outputs = result.predict_tasks()
    assert result.spreads() == pytest.approx({n: regression_spread(o, scale) for n, o in outputs.items()})


def test_text_tasks_take_the_same_class_path() -> None:
    """A text task is classes on the frozen encoder's vectors: its warning is the 2-D families' warning."""
    from ragviz.lessons.text_lesson import text_task_graph

    graph = text_task_graph(train_size=30, test_size=20)
    result = train_ensemble(graph, TINY, TrainConfig(steps=4, device="cpu"), k=2)
    assert not result.regression and result.vectorised
    outputs = result.predict_tasks()
    assert result.spreads() == pytest.approx({n: class_spread(o) for n, o in outputs.items()}, nan_ok=True)
    zero = [t.name for t in graph.tasks() if t.zero_shot]
    hops = hops_beyond_data(graph.task_names(), [(e.source, e.target) for e in graph.edges()], zero)
    assert result.guess_reasons() == guess_reasons(result.spreads(), zero, hops, CLASS_RULE)
    assert set(result.untrusted()) == set(zero) and len(zero) == 3


def test_a_task_far_from_data_is_a_guess_even_where_members_agree() -> None:
    graph = generate_graph("chain", 5, "moons", vary="rotate", start=0.0, stop=120.0, train_size=20,
                           test_size=10, zero_shot=[3, 4])
    result = train_ensemble(graph, TINY, TrainConfig(steps=3, device="cpu"), k=2)
    far = graph.task_names()[4]  # two relations from the nearest task with data
    same = {name: value[:1].expand(2, *value.shape[1:]).clone() for name, value in result.params.items()}
    clones = Ensemble(graph, TINY, result.train_config, result.spec, same, {}, 0)
    assert clones.guess_reasons()[far] == ("far" if CLASS_RULE.max_hops < 2 else "")


def test_stop_and_bad_k() -> None:
    stop = threading.Event()
    stop.set()
    result = train_ensemble(small_ring(n=4), TINY, STEPS, k=2, stop=stop)
    assert result.status == "stopped" and result.steps_done == 0
    with pytest.raises(ConfigError, match="between 1 and"):
        train_ensemble(small_ring(n=4), TINY, STEPS, k=0)


# --------------------------------------------------------------------------- pure measures
def test_spread_and_disagreement_of() -> None:
    agree = np.tile(np.array([[0.7, 0.3], [0.2, 0.8]]), (5, 1, 1))
    assert disagreement_of(agree) == 0.0
    split = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # two members, one point, opposite certainties
    assert disagreement_of(split) == pytest.approx(0.5)
    assert spread(np.array([[1.0, 2.0], [3.0, 2.0]])).tolist() == [1.0, 0.0]
    assert disagreement_of(np.array([[1.0, 2.0], [3.0, 2.0]]), regression=True) == pytest.approx(0.5)
    assert np.isnan(disagreement_of(np.zeros((3, 0, 2))))
    with pytest.raises(ValueError):
        disagreement_of(agree, regression=True)


def test_argmax_disagreement_and_class_agreement() -> None:
    probs = np.array([[[0.9, 0.1], [0.9, 0.1], [0.4, 0.6]],
                      [[0.8, 0.2], [0.1, 0.9], [0.3, 0.7]],
                      [[0.6, 0.4], [0.2, 0.8], [0.1, 0.9]]])  # point 1: one member of three says class 0
    assert argmax_disagreement(probs) == pytest.approx((0 + 4 / 6 + 0) / 3)
    agreement = class_agreement(probs, np.array([0, 1, 1]), 3)
    assert agreement[0] == 1.0 and agreement[1] == 0.5 and np.isnan(agreement[2])
    mean, low, high = band(np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert mean.tolist() == [1.0, 2.0] and low.tolist() == [0.0, 1.0] and high.tolist() == [2.0, 3.0]


# --------------------------------------------------------------------------- the app's worker
def test_a_run_nobody_polls_stops_and_errors_are_reported() -> None:
    project = Project(small_ring(n=4), TINY, TrainConfig(steps=200, device="cpu"))
    run = EnsembleRun(project, k=2, heartbeat_timeout=0.0).start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert snap.status == "stopped" and snap.done and run.ensemble is not None and run.ensemble.steps_done < 200
    done = EnsembleRun(Project(small_ring(n=4), TINY, TrainConfig(steps=3, device="cpu")), k=2).start()
    done.join(timeout=60)
    assert done.snapshot().status == "finished" and done.snapshot().fraction == 1.0
    if not torch.cuda.is_available():
        failed = EnsembleRun(Project(small_ring(n=4), TINY, TrainConfig(steps=3, device="cuda")), k=2).start()
        failed.join(timeout=60)
        assert failed.snapshot().status == "error" and "CUDA" in failed.snapshot().message


def test_an_ensemble_is_one_run_in_the_servers_queue() -> None:
    """Over the server's cap the 5 models wait their turn like any training run, then train."""
    from ragviz.training.runner import RunSlots, TrainingRun

    slots = RunSlots(capacity=1)
    other = TrainingRun(Project(small_ring(n=4), TINY, TrainConfig(steps=100_000, device="cpu")), slots=slots).start()
    try:
        run = EnsembleRun(Project(small_ring(n=4), TINY, TrainConfig(steps=3, device="cpu")), k=2, slots=slots).start()
        snap = run.snapshot()
        assert snap.queue_place == 1 and not snap.done and run.ensemble is None
    finally:
        other.stop()
    run.join(timeout=60)
    assert run.snapshot().status == "finished" and run.ensemble is not None



def test_the_work_budget_weighs_every_model_of_the_ensemble(monkeypatch) -> None:
    """A graph one model may train on, but k = 5 side by side may not: refused before anything is built."""
    from ragviz.safety.limits import BudgetError
    from ragviz.training.prepared import check_work
    from ragviz.training.runner import RunSlots

    graph = small_ring(n=6)
    one = check_work(graph, TINY)  # the default budget
    cost = _one_model_cost(graph)
    monkeypatch.setenv("RAGVIZ_MAX_ACTIVATIONS_M", str(2 * cost / 1e6))  # room for two models, not five
    assert check_work(graph, TINY).models == 1  # one model fits
    with pytest.raises(BudgetError) as refused:
        check_work(graph, TINY, models=5)
    message = str(refused.value)
    print(f"\nrefusal: {message}")
    assert message.startswith("The work of these 5 models trained together on the graph (5 × model size × points")
    assert f"is {5 * cost:,}; this server's limit is {2 * cost:,}." in message  # five times one model's cost
    assert "RAGVIZ_MAX_ACTIVATIONS_M" in message and "or fewer models." in message
    slots = RunSlots(capacity=1)
    with pytest.raises(BudgetError, match="these 5 models"):  # the page's Start: refused at once, nothing queued
        EnsembleRun(Project(graph, TINY, TrainConfig(steps=3, device="cpu")), k=5, slots=slots).start()
    assert slots._running == [] and slots._waiting == []  # it took no slot and waits for none
    with pytest.raises(BudgetError, match="these 5 models"):  # checked for one model is rechecked for five
        train_ensemble(one, k=5, train_cfg=STEPS)
    assert train_ensemble(graph, TINY, TrainConfig(steps=2, device="cpu"), k=2).steps_done == 2  # two fit


def _one_model_cost(graph) -> int:
    from ragviz.safety.limits import activation_count

    tasks, edges, points = graph.work_counts()
    return activation_count(tasks, edges, points, embed_dim=TINY.embed_dim, hidden=TINY.hidden, layers=TINY.layers,
                            relations=len(graph.relations), composition=TINY.composition,
                            aggregation=TINY.aggregation, n_bases=TINY.n_bases, decoder=TINY.decoder,
                            unseen_state=TINY.unseen_state)
