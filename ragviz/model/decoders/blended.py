"""Decoders that blend neighbours' heads beside the GNN: ``mix`` (free heads) and ``blended`` (generated).

Kept as contrasts: a zero-shot task's head here is a relation-weighted mean of its nearest seen
tasks' heads, passed along the edges with two learned numbers per relation (b_r, f_r), so its own
final state decides nothing while any seen task reaches it (issue #19 measured this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.decoders.independent import add_free_heads
from ragviz.model.decoders.linear import LinearDecoder, generated_bias, generated_weight
from ragviz.model.layers import NEG_INF, segment_softmax
from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


class MixDecoder(Decoder):
    """Free heads per seen task; every other task gets the blend of its nearest settled heads."""

    name = "mix"
    generates_every_head = False
    summary = "free heads per seen task; zero-shot tasks blend their neighbours' heads"

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        self.add_heads(model, d, hidden, c, n_seen, n_slots)
        model.mix_relation = nn.Parameter(torch.zeros(n_slots))  # b_r: how much a relation's heads count
        model.mix_flip = nn.Parameter(torch.full((n_slots,), -4.0))  # σ(f_r): how often r flips labels

    def add_heads(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        add_free_heads(model, hidden, c, n_seen)

    def own_heads(self, model: RAGModel, t: Tensor, g: GraphTensors) -> Tensor:
        """Each task's own head with its bias as one (N, H + 1, C) tensor."""
        return torch.cat([model.heads, model.head_bias.unsqueeze(1)], 1).index_select(0, g.layout.embed_rows)

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        head = self.blend(model, self.own_heads(model, t, g), g, drop)
        return Heads(weight=head[:, :-1], bias=head[:, -1], mask=mask)

    def blend(self, model: RAGModel, own: Tensor, g: GraphTensors, drop: Tensor | None) -> Tensor:
        """Seen tasks keep ``own``; each hop (L of them, at least one) a task not yet settled takes the
        α_uv-weighted heads of its settled in-neighbours, α_uv = softmax of log w_uv + b_r, a head
        crossing relation r reversing the labels with probability σ(f_r). Unreached tasks: zero heads."""
        known = g.embed_index >= 0
        if drop is not None:
            known = known & ~drop
        src, dst, n = g.src, g.dst, g.n_tasks
        rel = g.rel if model.config.composition != "none" else torch.zeros_like(g.rel)  # relation-blind: one type
        score = model.mix_relation.index_select(0, rel) + g.weight.clamp_min(1e-6).log()
        flip = torch.sigmoid(model.mix_flip).index_select(0, rel)[:, None, None]
        classes = torch.arange(own.shape[-1], device=own.device)
        k = g.n_classes.unsqueeze(1)
        reverse = torch.where(classes < k, k - 1 - classes, classes)  # (N, C): class j ↔ k-1-j within a task's k
        not_self = src != dst
        head = own * known.to(own.dtype)[:, None, None]
        has_head = known
        for _ in range(max(len(model.layers), 1)):
            usable = not_self & has_head.index_select(0, src)
            alpha = segment_softmax(score.masked_fill(~usable, NEG_INF), dst, n) * usable.to(own.dtype)
            sent = head.index_select(0, src)
            reversed_ = sent.gather(2, reverse.index_select(0, src).unsqueeze(1).expand_as(sent))
            passed = (sent + flip * (reversed_ - sent)) * alpha[:, None, None]
            mixed = torch.zeros_like(head).index_add_(0, dst, passed)
            reached = torch.zeros_like(own[:, 0, 0]).index_add_(0, dst, alpha) > 0.5
            head = torch.where(has_head[:, None, None], head, mixed)
            has_head = has_head | reached
        return self.unreached(head, has_head, own)

    def unreached(self, head: Tensor, has_head: Tensor, own: Tensor) -> Tensor:
        """What a task no head reaches keeps: mix leaves it a zero head (equal scores for every class)."""
        return head


class BlendedDecoder(MixDecoder):
    """As ``mix``, but each seen head is generated from its task embedding, W_v = G·t_v + W_0; a task
    no head reaches keeps the head its own embedding generates."""

    name = "blended"
    summary = "generated heads; zero-shot tasks blend their neighbours' heads (the previous default)"

    def add_heads(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        LinearDecoder(model, d, hidden, c, n_seen, n_slots)

    def own_heads(self, model: RAGModel, t: Tensor, g: GraphTensors) -> Tensor:
        return torch.cat([generated_weight(model, t), generated_bias(model, t).unsqueeze(1)], 1)

    def unreached(self, head: Tensor, has_head: Tensor, own: Tensor) -> Tensor:
        return torch.where(has_head[:, None, None], head, own)
