"""The default decoder: a linear head generated from the task embedding, W_v = G·t_v + W_0 (DESIGN §2.4)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


class LinearDecoder(Decoder):
    """out_v(x) = W_v·s + b_v with W_v = G·t_v + W_0 and b_v = g·t_v + b_0, s = enc(x).

    Affine in t_v, so every task's predictor, a zero-shot task's included, is its own final state
    through one shared generator: whatever moves t_v moves the prediction, and nothing else does.

    For classes the generator is split in two (:func:`reversal_parts`): the first half of t_v's
    dimensions generates the part of the head that reversing the task's labels (class j ↔ k−1−j)
    leaves alone, the second half the part it negates. So a relation that reverses labels has an
    exact form in state space, negating the second half (τ_r = −1 there, :mod:`ragviz.model.unseen.propagated`).
    """

    name = "linear"
    summary = "a linear head generated from each task's own final state: W_v = G·t_v + W_0 (the default)"

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        model.gen_weight = nn.Parameter(torch.randn(hidden, c, d) * (0.1 / math.sqrt(hidden * d)))
        model.gen_base = nn.Linear(hidden, c)
        model.gen_bias = nn.Linear(d, c, bias=False)

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        if model.regression:
            return Heads(weight=generated_weight(model, t), bias=generated_bias(model, t), mask=mask)
        if g.layout.min_classes == g.layout.max_classes:  # one reversal for every task: split the generator once
            reverse = class_reversal(g.n_classes[:1], model.gen_base.out_features)[0]
            gen, base = split_generator(model.gen_weight, model.gen_base.weight.t(), reverse)
            gen_b, base_b = split_generator(model.gen_bias.weight.unsqueeze(0), model.gen_base.bias, reverse)
            weight = torch.einsum("hcd,nd->nhc", gen, t) + base
            return Heads(weight=weight, bias=t @ gen_b[0].t() + base_b, mask=mask)
        half = t.shape[-1] // 2
        keep, negate = t[:, :half], t[:, half:]
        weight_keep = torch.einsum("hcd,nd->nhc", model.gen_weight[..., :half], keep) + model.gen_base.weight.t()
        weight_negate = torch.einsum("hcd,nd->nhc", model.gen_weight[..., half:], negate)
        bias_keep = keep @ model.gen_bias.weight[:, :half].t() + model.gen_base.bias
        bias_negate = negate @ model.gen_bias.weight[:, half:].t()
        reverse = class_reversal(g.n_classes, weight_keep.shape[-1])
        return Heads(weight=reversal_parts(weight_keep, reverse, +1) + reversal_parts(weight_negate, reverse, -1),
                     bias=reversal_parts(bias_keep, reverse, +1) + reversal_parts(bias_negate, reverse, -1),
                     mask=mask)


def split_generator(gen: Tensor, base: Tensor, reverse: Tensor) -> tuple[Tensor, Tensor]:
    """The generator (…, C, d) and base (…, C) projected once for one class reversal R: the first half of
    the state dimensions onto the part R keeps, (M + M∘R)/2, the second half onto the part it negates."""
    d = gen.shape[-1]
    sign = torch.ones(d, dtype=gen.dtype, device=gen.device)
    sign[d // 2:] = -1
    projected = (gen + gen.index_select(-2, reverse) * sign) / 2
    return projected, (base + base.index_select(-1, reverse)) / 2


def class_reversal(n_classes: Tensor, width: int) -> Tensor:
    """Each task's class reversal as an index (N, C): class j ↔ k−1−j below its k classes, others stay."""
    classes = torch.arange(width, device=n_classes.device)
    k = n_classes.unsqueeze(1)
    return torch.where(classes < k, k - 1 - classes, classes)


def reversal_parts(table: Tensor, reverse: Tensor, sign: int) -> Tensor:
    """The part of each task's head (…, C) that reversal keeps (sign +1) or negates (sign −1): (M ± M∘R)/2."""
    index = reverse.view(reverse.shape[0], *([1] * (table.dim() - 2)), reverse.shape[1]).expand_as(table)
    return (table + sign * table.gather(-1, index)) / 2


def generated_weight(model: RAGModel, t: Tensor) -> Tensor:
    """W_v = G·t_v + W_0 for every row of ``t``: (N, H, C)."""
    return torch.einsum("hcd,nd->nhc", model.gen_weight, t) + model.gen_base.weight.t()


def generated_bias(model: RAGModel, t: Tensor) -> Tensor:
    """b_v = g·t_v + b_0: (N, C)."""
    return model.gen_bias(t) + model.gen_base.bias
