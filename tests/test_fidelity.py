"""The default model's zero-shot predictions come from the GNN: what the pages show is what decides.

Each test perturbs one mechanism and checks the prediction moves (issue #19). All three fail for a
decoder that blends neighbours' heads beside the GNN (``blended``, the previous default): there a
zero-shot task's own final state and the GNN's relation embeddings decide nothing.
"""

from __future__ import annotations

import pytest
import torch

from ragviz.lessons.graphs import typed_relations
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.prepared import prepare
from ragviz.training.train import train


@pytest.fixture(scope="module")
def lesson() -> tuple:
    """The relation-types lesson's quick graph, trained with the default model."""
    graph = typed_relations(rotations=(0, 90))
    result = train(graph, ModelConfig(), TrainConfig(steps=500, seed=0, device="cpu"))
    model = result.model.eval()
    return graph, model, prepare(graph, model)


def zero_shot_rows(prep) -> list[int]:
    return [i for i, e in enumerate(prep.g.embed_index.tolist()) if e < 0]


def predictions(model, prep, t: torch.Tensor) -> torch.Tensor:
    """Every test point's predicted class, decoded from the final states ``t``."""
    with torch.no_grad():
        heads = model.task_heads(t, prep.g)
        return model.decode_all(heads, prep.test.x, prep.test.tid, prep.test.layout).argmax(-1)


def final_states(model, prep) -> torch.Tensor:
    with torch.no_grad():
        return model.embed_tasks(prep.g)[0][-1]


def test_the_default_model_solves_the_lessons_zero_shot_tasks(lesson) -> None:
    """The other tests perturb a model that works (else changed predictions would prove little)."""
    graph, model, prep = lesson
    t = final_states(model, prep)
    right = predictions(model, prep, t) == prep.test.y
    zero = torch.isin(prep.test.tid, torch.tensor(zero_shot_rows(prep)))
    assert right[zero].float().mean() > 0.85


def test_replacing_a_zero_shot_tasks_final_state_changes_its_predictions(lesson) -> None:
    graph, model, prep = lesson
    t = final_states(model, prep)
    before = predictions(model, prep, t)
    names = prep.g.names
    for row in zero_shot_rows(prep):
        other = names.index(f"moons {names[row].split()[1].rstrip('°')}° flipped") if "(same)" in names[row] \
            else names.index(f"moons {names[row].split()[1].rstrip('°')}° copy")
        swapped = t.clone()
        swapped[row] = t[other]  # a seen task of the same group with the opposite labels
        points = prep.test.tid == row
        changed = (predictions(model, prep, swapped)[points] != before[points]).float().mean()
        assert changed > 0.5, f"{names[row]}: only {changed:.0%} of its predictions changed"


def test_swapping_two_relation_embeddings_changes_the_zero_shot_predictions(lesson) -> None:
    graph, model, prep = lesson
    before = predictions(model, prep, final_states(model, prep))
    relations = model.vocab.relations
    a, b = relations.index("same"), relations.index("labels flipped")
    n_rel = len(relations)
    original = model.relation_embedding.detach().clone()
    with torch.no_grad():
        for shift in (0, n_rel):  # forward and inverse slots
            model.relation_embedding[[a + shift, b + shift]] = original[[b + shift, a + shift]]
    try:
        after = predictions(model, prep, final_states(model, prep))
    finally:
        with torch.no_grad():
            model.relation_embedding.copy_(original)
    zero = torch.isin(prep.test.tid, torch.tensor(zero_shot_rows(prep)))
    changed = (after[zero] != before[zero]).float().mean()
    assert changed > 0.5, f"swapping the relation embeddings changed only {changed:.0%} of zero-shot predictions"


def generator(model, t_v: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The default decoder's generator written out for one task with k classes, from its final state alone:
    the first half of t_v generates the head's part that reversing the labels keeps, the second half the
    part it negates."""
    half = t_v.shape[0] // 2
    keep = model.gen_weight[..., :half] @ t_v[:half] + model.gen_base.weight.t()
    negate = model.gen_weight[..., half:] @ t_v[half:]
    keep_b = model.gen_bias.weight[:, :half] @ t_v[:half] + model.gen_base.bias
    negate_b = model.gen_bias.weight[:, half:] @ t_v[half:]
    order = list(range(k))[::-1] + list(range(k, keep.shape[-1]))
    weight = (keep + keep[:, order]) / 2 + (negate - negate[:, order]) / 2
    bias = (keep_b + keep_b[order]) / 2 + (negate_b - negate_b[order]) / 2
    return weight, bias


def test_every_tasks_head_is_the_generator_applied_to_its_final_state(lesson) -> None:
    graph, model, prep = lesson
    t = final_states(model, prep)
    with torch.no_grad():
        heads = model.task_heads(t, prep.g)
        others = t + torch.randn_like(t)
        for v in range(t.shape[0]):
            weight, bias = generator(model, t[v], int(prep.g.n_classes[v]))
            assert torch.allclose(heads.weight[v], weight, atol=1e-5)
            assert torch.allclose(heads.bias[v], bias, atol=1e-5)
            moved = others.clone()
            moved[v] = t[v]  # every other task's state changed, this one's kept: its head stays
            assert torch.allclose(model.task_heads(moved, prep.g).weight[v], heads.weight[v], atol=1e-6)
    assert heads.scale is None and heads.shift is None and heads.known is None
    assert model.decoder.generates_every_head
