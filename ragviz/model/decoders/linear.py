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
        width = model.gen_base.out_features
        reverse = g.layout.class_reversal(g.n_classes, width)
        if g.layout.min_classes == g.layout.max_classes:  # one reversal for every task: split the generator once
            sign = g.layout.half_sign(t.shape[-1], t.dtype, t.device)
            reverse = None if g.layout.min_classes == width else reverse[0]  # None: every class, so a flip
            gen = split_generator(model.gen_weight, reverse, sign)
            gen_b = split_generator(model.gen_bias.weight, reverse, sign)
            base, base_b = kept_part(model.gen_base.weight, reverse), kept_part(model.gen_base.bias, reverse)
            weight = torch.einsum("hcd,nd->nhc", gen, t) + base.t()
            return Heads(weight=weight, bias=torch.addmm(base_b, t, gen_b.t()), mask=mask)
        half = t.shape[-1] // 2
        keep, negate = t[:, :half], t[:, half:]
        weight_keep = torch.einsum("hcd,nd->nhc", model.gen_weight[..., :half], keep) + model.gen_base.weight.t()
        weight_negate = torch.einsum("hcd,nd->nhc", model.gen_weight[..., half:], negate)
        bias_keep = keep @ model.gen_bias.weight[:, :half].t() + model.gen_base.bias
        bias_negate = negate @ model.gen_bias.weight[:, half:].t()
        return Heads(weight=reversal_parts(weight_keep, reverse, +1) + reversal_parts(weight_negate, reverse, -1),
                     bias=reversal_parts(bias_keep, reverse, +1) + reversal_parts(bias_negate, reverse, -1),
                     mask=mask)


def split_generator(gen: Tensor, reverse: Tensor | None, half_sign: Tensor) -> Tensor:
    """A generator (…, C, d) projected for one class reversal R: the first half of the state dimensions
    onto the part R keeps, (M + M∘R)/2, the second half onto the part it negates, (M − M∘R)/2
    (``half_sign``: ±½ by half, :meth:`~ragviz.model.layouts.GraphLayout.half_sign`)."""
    return torch.addcmul(gen * 0.5, reversed_classes(gen, -2, reverse), half_sign)


def kept_part(table: Tensor, reverse: Tensor | None) -> Tensor:
    """The part of a base (C, …) that the class reversal R keeps: (M + M∘R)/2 along its first axis."""
    return torch.add(table * 0.5, reversed_classes(table, 0, reverse), alpha=0.5)


def reversed_classes(table: Tensor, axis: int, reverse: Tensor | None) -> Tensor:
    """``table`` with its class axis reversed as ``reverse`` says (None: all of it, a flip)."""
    return table.flip(axis) if reverse is None else table.index_select(axis, reverse)


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
