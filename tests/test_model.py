"""The model uses the graph as docs/DESIGN.md §2 says: locality, relation types, zero-shot."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor

from ragviz.data.domains import domain_spec
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.model.config import AGGREGATIONS, COMPOSITIONS, DECODERS, ModelConfig, TrainConfig
from ragviz.model.rag import build_model, segment_softmax
from ragviz.model.tensors import GraphTensors, graph_tensors, make_vocab
from ragviz.training.train import train


def chain(n: int, relations: tuple[str, ...] = ("next",)) -> TaskGraph:
    graph = TaskGraph([Relation(r, directed=(r == "next")) for r in relations])
    for k in range(n):
        graph.add_task(Task(f"t{k}", "moons", {"rotate": 10.0 * k}, 20, 20, k))
    for k in range(n - 1):
        graph.add_edge(f"t{k}", f"t{k + 1}", relations[0])
    return graph


def embeddings(model, graph: TaskGraph) -> torch.Tensor:
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})
    with torch.no_grad():
        states, _ = model.eval().embed_tasks(g)
    return states[-1]


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_a_task_sees_exactly_its_l_hop_neighbourhood(layers: int, aggregation: str) -> None:
    graph = chain(7)
    model = build_model(ModelConfig(layers=layers, aggregation=aggregation), domain_spec(graph), make_vocab(graph))
    before = embeddings(model, graph)
    target = 0
    for source in range(1, 7):
        with torch.no_grad():
            saved = model.task_embedding[source].clone()
            model.task_embedding[source] += 1.0
        after = embeddings(model, graph)
        with torch.no_grad():
            model.task_embedding[source] = saved
        changed = not torch.equal(before[target], after[target])
        assert changed == (source <= layers), f"task {source} hops away, {layers} layers"


def test_mult_tells_relation_types_apart_where_none_cannot() -> None:
    def pair(relation: str) -> TaskGraph:
        graph = TaskGraph([Relation("same"), Relation("flipped")])
        graph.add_task(Task("a", "moons", {}, 20, 20, 0))
        graph.add_task(Task("b", "moons", {"flip": True}, 20, 20, 1))
        graph.add_edge("a", "b", relation)
        return graph

    same, flipped = pair("same"), pair("flipped")
    for composition, should_differ in [("mult", True), ("sub", True), ("rgcn", True), ("none", False)]:
        model = build_model(ModelConfig(composition=composition), domain_spec(same), make_vocab(same), seed=3)
        differs = not torch.allclose(embeddings(model, same)[1], embeddings(model, flipped)[1])
        assert differs == should_differ, composition


def test_learned_unseen_state_gives_every_zero_shot_task_the_shared_unknown_vector() -> None:
    graph = chain(3)
    graph.update_task("t1", train_size=0)
    model = build_model(ModelConfig(layers=0, unseen_state="learned"), domain_spec(graph), make_vocab(graph))
    h0 = embeddings(model, graph)
    assert torch.allclose(h0[1], model.unknown_task)
    assert "t1" not in model.vocab.tasks


def test_propagated_unseen_state_starts_at_the_mean_and_ends_at_the_transformed_mean_of_its_neighbours() -> None:
    """h⁰ of a zero-shot task between two seen ones: the α-weighted mean of theirs; t_v: of their τ_r-scaled
    last states, with τ_r and b_r computed from the relation embeddings z_r."""
    graph = chain(3)
    graph.update_task("t1", train_size=0)
    model = build_model(ModelConfig(layers=1), domain_spec(graph), make_vocab(graph), seed=2).eval()
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        model.relation_transform.weight.copy_(torch.randn(model.relation_transform.weight.shape, generator=generator))
        model.relation_score.weight.copy_(torch.randn(model.relation_score.weight.shape, generator=generator))
        states, _ = model.embed_tasks(g)
        alpha, _ = model.unseen.edge_weights(model, g)
        tau, _ = model.unseen.transforms(model)
    into = [k for k in range(int(g.src.shape[0])) if int(g.dst[k]) == 1 and int(g.src[k]) != 1]
    start = sum(alpha[k] * states[0][int(g.src[k])] for k in into)
    assert torch.allclose(states[0][1], start, atol=2e-3)  # up to the regulariser's pull
    end = sum(alpha[k] * tau[int(g.rel[k])] * states[-1][int(g.src[k])] for k in into)
    assert torch.allclose(states[-1][1], end, atol=2e-3)
    assert (tau.abs() <= 1).all() and not torch.allclose(tau, torch.ones_like(tau))


def test_the_sweeps_of_a_large_graph_reach_the_exact_fixed_point(monkeypatch) -> None:
    """Large graphs approach the fixed point by sweeps: the same states as the exact solve."""
    import ragviz.model.unseen.propagated as propagated

    graph = chain(9, ("next", "near"))
    graph.add_edge("t0", "t5", "near", 0.5)
    for name in ("t2", "t3", "t6", "t8"):
        graph.update_task(name, train_size=0)
    model = build_model(ModelConfig(layers=0), domain_spec(graph), make_vocab(graph), seed=4)
    torch.manual_seed(4)
    with torch.no_grad():
        model.relation_transform.weight.normal_(std=0.1)
        model.relation_score.weight.normal_()
    exact = embeddings(model, graph)
    monkeypatch.setattr(propagated, "SOLVE_MAX_TASKS", 0)
    monkeypatch.setattr(propagated, "SWEEPS", 200)
    assert torch.allclose(embeddings(model, graph), exact, atol=5e-3)


def test_a_task_three_hops_from_data_is_reached_by_the_propagation() -> None:
    """Two layers never reach a task 3 hops away; the initial state does, whatever the layers."""
    graph = chain(5)
    for name in ("t1", "t2", "t3", "t4"):
        graph.update_task(name, train_size=0)
    model = build_model(ModelConfig(layers=0), domain_spec(graph), make_vocab(graph), seed=1)
    h0 = embeddings(model, graph)
    for k in (1, 2, 3, 4):
        assert torch.allclose(h0[k], model.task_embedding[0].detach(), atol=5e-3)  # only t0 is seen: its state


def test_segment_softmax_sums_to_one_per_segment() -> None:
    scores = torch.tensor([1.0, 2.0, 3.0, -1.0, 500.0])
    segment = torch.tensor([0, 0, 1, 1, 1])
    alpha = segment_softmax(scores, segment, 2)
    assert torch.allclose(torch.zeros(2).index_add_(0, segment, alpha), torch.ones(2))
    assert torch.isfinite(alpha).all()


@pytest.mark.parametrize(
    "composition,aggregation,decoder",
    list(itertools.product(COMPOSITIONS, AGGREGATIONS, DECODERS))[::5]
    + [("rgcn", "attention", "generated"), ("mult", "mean", "mix")],
)
def test_every_option_trains_and_lowers_the_loss(composition: str, aggregation: str, decoder: str) -> None:
    graph = chain(4)
    config = ModelConfig(composition=composition, aggregation=aggregation, decoder=decoder, layers=2)
    result = train(graph, config, TrainConfig(steps=80, eval_every=40, lr=0.02))
    first, last = result.history.train_loss[0], result.history.train_loss[-1]
    assert sum(last) < sum(first)
    assert result.status == "finished"


def _moons_ring(seed_offset: int = 0) -> TaskGraph:
    graph = TaskGraph([Relation("near")])
    for k in range(12):
        zero = k in (3, 8)
        graph.add_task(Task(f"moons {30 * k}°", "moons", {"rotate": 30.0 * k, "noise": 0.1}, 0 if zero else 40, 100,
                            k + seed_offset))
    names = graph.task_names()
    for k in range(12):
        graph.add_edge(names[k], names[(k + 1) % 12], "near")
    return graph


def test_zero_shot_moons_ring_solved_from_relations_alone() -> None:
    """The zero-shot bar: ≥ 0.85 zero-shot accuracy, ≥ 0.2 above the same model without edges."""
    graph = _moons_ring()
    config = ModelConfig(layers=2)
    steps = TrainConfig(steps=500, eval_every=500, seed=0)
    with_edges = train(graph, config, steps).history.summary()["zero_shot"]
    no_edges = train(graph, config, steps, edges=[]).history.summary()["zero_shot"]
    assert with_edges >= 0.85
    assert with_edges - no_edges >= 0.2


@pytest.mark.parametrize("composition", ["mult", "sub", "none"])
@pytest.mark.parametrize("aggregation", ["sum", "mean"])
def test_sparse_aggregation_equals_the_per_message_path(monkeypatch, composition: str, aggregation: str) -> None:
    """Large graphs aggregate with one sparse product: same states and gradients as per-message tensors."""
    import ragviz.model.layers as model_module

    graph = chain(9, ("next", "near"))
    graph.add_edge("t0", "t5", "near", 0.5)
    graph.add_edge("t8", "t2", "next", 2.0)
    graph.add_edge("t3", "t7", "near", 1.5)
    model = build_model(ModelConfig(composition=composition, aggregation=aggregation),
                        domain_spec(graph), make_vocab(graph))
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})

    def states_and_grads(keep_messages: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        states, traces = model.embed_tasks(g, keep_messages=keep_messages)
        (states[-1] ** 2).sum().backward()
        assert (traces[0].messages is None) == (not keep_messages)
        return states[-1].detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    monkeypatch.setattr(model_module, "SPARSE_MIN_MESSAGES", 0)
    dense_states, dense_grads = states_and_grads(keep_messages=True)
    sparse_states, sparse_grads = states_and_grads(keep_messages=False)
    assert torch.allclose(dense_states, sparse_states, atol=1e-5)
    assert len(dense_grads) == len(sparse_grads)
    for a, b in zip(dense_grads, sparse_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    # sparse=False (the ensemble's vmapped members) keeps the per-message path, and keeps no messages either
    per_message, traces = model.embed_tasks(g, keep_messages=False, sparse=False)
    assert traces[0].messages is None and torch.allclose(per_message[-1], dense_states, atol=1e-5)


def test_layouts_are_worked_out_where_the_tensors_are_made_and_move_with_them() -> None:
    from ragviz.model.layouts import counts_layout, point_layout

    graph = chain(4)
    graph.add_edge("t0", "t2", "next", 0.5)
    model = build_model(ModelConfig(), domain_spec(graph), make_vocab(graph))
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})
    assert g.layout.in_degree[:, 0].tolist() == [3.0, 3.0, 4.0, 2.0]  # both directions and a self-loop
    assert g.layout.weight_column is not None and float(g.layout.weight_column.min()) == 0.5
    moved = g.to("meta")
    assert moved.layout.in_degree.device.type == "meta" and moved.layout.embed_rows.device.type == "meta"

    equal = counts_layout([5, 0, 5, 5])
    assert equal.block_size == 5 and equal.block_ids.tolist() == [0, 2, 3]
    assert counts_layout([5, 6]).block_ids is None
    shuffled = point_layout(torch.tensor([1, 0, 1, 0]), 2)
    assert shuffled.ends is None and shuffled.block_ids is None and shuffled.counts.tolist() == [2.0, 2.0]
    chunks = counts_layout([3, 4, 2, 6, 1]).chunks(6)
    assert [c for c, _ in chunks][0][0] == 0 and [c for c, _ in chunks][-1][1] == 5
    assert all(part.counts.sum() == b - a for (_, _, a, b), part in chunks)


@pytest.mark.parametrize("decoder", DECODERS)
def test_heads_are_a_named_record_and_chunked_decoding_matches_one_pass(monkeypatch, decoder: str) -> None:
    import ragviz.model.layouts as layouts_module
    from ragviz.training.prepared import prepare

    graph = chain(5)
    graph.update_task("t2", train_size=0)
    model = build_model(ModelConfig(decoder=decoder), domain_spec(graph), make_vocab(graph)).eval()
    prep = prepare(graph, model)
    with torch.no_grad():
        states, _ = model.embed_tasks(prep.g)
        heads = model.task_heads(states[-1], prep.g)
        assert (heads.weight is None) == (decoder == "film")
        assert (heads.scale is None) == (decoder in ("independent", "mix", "blended", "linear"))
        assert heads.rows(1, 3).n_tasks == 2
        whole = model.decode_points(heads, prep.test.x, prep.test.tid)  # per point, no layout
        monkeypatch.setitem(layouts_module.CHUNK_POINTS, "cpu", 30)  # several chunks of whole tasks
        chunked = model(prep.g, prep.test.x, prep.test.tid, layout=prep.test.layout)
    assert len(prep.test.layout.chunks(30)) > 1
    assert torch.allclose(whole, chunked, atol=1e-5)


def test_mix_decoder_blends_seen_heads_and_every_parameter_learns() -> None:
    """A zero-shot task's head is a weighted mean of the heads arriving along its edges (rows sum to one)."""
    graph = chain(5)
    graph.update_task("t2", train_size=0)
    model = build_model(ModelConfig(decoder="mix"), domain_spec(graph), make_vocab(graph))
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})
    with torch.no_grad():
        model.mix_flip.fill_(-30.0)  # no relation flips labels
    states, _ = model.embed_tasks(g)
    heads = model.task_heads(states[-1], g)
    hidden, classes = model.config.hidden, model.spec.n_outputs
    assert heads.weight.shape == (5, hidden, classes) and heads.bias.shape == (5, classes)
    own = torch.cat([model.heads, model.head_bias.unsqueeze(1)], 1).detach()
    t1, t3 = model.vocab.tasks.index("t1"), model.vocab.tasks.index("t3")
    mixed = torch.cat([heads.weight[2], heads.bias[2].unsqueeze(0)]).detach()
    assert torch.allclose(mixed, 0.5 * own[t1] + 0.5 * own[t3], atol=1e-5)  # equal weights, equal shares
    with torch.no_grad():
        model.mix_flip.fill_(30.0)  # every relation flips labels: each head arrives with its columns swapped
    flipped = model.task_heads(states[-1], g)
    assert torch.allclose(flipped.weight[2], heads.weight[2].flip(-1), atol=1e-5)
    with torch.no_grad():
        model.mix_flip.fill_(-30.0)
    # dropping t1 too: t2's head now comes from t3 alone, one hop further for t1
    drop = torch.tensor([False, True, False, False, False])
    heads_dropped = model.task_heads(model.embed_tasks(g, drop)[0][-1], g, drop)
    assert torch.allclose(heads_dropped.weight[2], model.heads[t3], atol=1e-5)
    x, tid = torch.randn(10, 2), torch.arange(5).repeat_interleave(2)
    model(g, x, tid, drop).pow(2).sum().backward()
    assert model.mix_relation.grad is not None  # zero here: with one relation type its weights cancel out
    learns = {"heads", "head_bias", "mix_flip", "encoder.0.weight", "encoder.2.weight"}
    assert learns <= {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_blended_decoder_blends_generated_heads_and_an_isolated_task_keeps_its_own() -> None:
    """blended: heads come from task embeddings; a zero-shot head is the blend, or W(t_v) when nothing reaches it."""
    graph = chain(5)
    graph.update_task("t2", train_size=0)
    model = build_model(ModelConfig(decoder="blended"), domain_spec(graph), make_vocab(graph))
    g = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})

    def head_rows(graph_tensors_: GraphTensors) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            model.mix_flip.fill_(-30.0)
            t = model.embed_tasks(graph_tensors_)[0][-1]
            heads = model.task_heads(t, graph_tensors_)
            own = model.decoder.own_heads(model, t, graph_tensors_)
            return torch.cat([heads.weight, heads.bias.unsqueeze(1)], 1), own

    blended, own = head_rows(g)
    assert torch.allclose(blended[[0, 1, 3, 4]], own[[0, 1, 3, 4]])  # seen tasks: their generated heads
    assert torch.allclose(blended[2], 0.5 * own[1] + 0.5 * own[3], atol=1e-5)  # zero-shot: the blend
    with torch.no_grad():
        model.task_embedding.add_(0.5)  # seen tasks' embeddings change, so do their heads and the blend
    assert not torch.allclose(head_rows(g)[0][2], blended[2])
    graph.remove_task("t1")
    graph.remove_task("t3")  # t2 is now isolated: no head reaches it
    isolated = graph_tensors(graph, model.vocab, {t.name: 2 for t in graph.tasks()})
    alone, own_alone = head_rows(isolated)
    index = isolated.names.index("t2")
    assert torch.allclose(alone[index], own_alone[index]) and own_alone[index].abs().sum() > 0
    x, tid = torch.randn(10, 2), torch.arange(5).repeat_interleave(2)
    model(g, x, tid, torch.tensor([False, True, False, False, False])).pow(2).sum().backward()
    learns = {"task_embedding", "gen_weight", "mix_flip", "layers.0.w_msg.weight", "encoder.0.weight"}
    assert learns <= {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("decoder", DECODERS)
def test_forward_runs_under_vmap_over_stacked_models(decoder: str) -> None:
    """Ensembles stack several models' parameters and vmap one forward over them: no data-dependent branching."""
    from torch.func import functional_call, stack_module_state, vmap

    graph = chain(5)
    graph.update_task("t2", train_size=0)
    models = [build_model(ModelConfig(decoder=decoder), domain_spec(graph), make_vocab(graph), seed=s) for s in (0, 1)]
    g = graph_tensors(graph, models[0].vocab, {t.name: 2 for t in graph.tasks()})
    x, tid = torch.randn(10, 2), torch.arange(5).repeat_interleave(2)
    params, buffers = stack_module_state(models)
    out = vmap(lambda p, b: functional_call(models[0], (p, b), (g, x, tid)))(params, buffers)
    for k, model in enumerate(models):
        assert torch.allclose(out[k], model(g, x, tid), atol=1e-5)


def test_zero_shot_with_the_mix_decoder_beats_no_edges_on_a_ring() -> None:
    graph = _moons_ring()
    config = ModelConfig(decoder="mix")
    steps = TrainConfig(steps=300, eval_every=300, seed=0)
    with_edges = train(graph, config, steps).history.summary()["zero_shot"]
    no_edges = train(graph, config, steps, edges=[]).history.summary()["zero_shot"]
    assert with_edges >= 0.85
    assert with_edges - no_edges >= 0.2


def test_a_mix_checkpoint_reloads_the_same_predictions(tmp_path) -> None:
    from ragviz.inspection.trace import compute_trace
    from ragviz.storage.checkpoint import load_checkpoint, save_checkpoint
    from ragviz.training.project import Project

    graph = _moons_ring()
    project = Project(graph, ModelConfig(decoder="mix"), TrainConfig(steps=30, eval_every=30), name="mix ring")
    result = train(project.graph, project.model_config, project.train_config)
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "mix.safetensors", project, result.model, result.history))
    assert ckpt.project.model_config.decoder == "mix"
    before, after = compute_trace(result.model, graph), compute_trace(ckpt.model, ckpt.project.graph)
    for name in before.task_names:
        assert torch.equal(torch.from_numpy(before.outputs_grid[name]), torch.from_numpy(after.outputs_grid[name]))
