"""A free head per seen task, no generation at all: the contrast that shows what generating adds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


def add_free_heads(model: RAGModel, hidden: int, c: int, n_seen: int) -> None:
    """One trainable (H, C) head and bias per seen task."""
    model.heads = nn.Parameter(torch.randn(n_seen, hidden, c) / math.sqrt(hidden))
    model.head_bias = nn.Parameter(torch.zeros(n_seen, c))


class IndependentDecoder(Decoder):
    """Seen task v: its own free head; a zero-shot task has none and predicts nothing (chance)."""

    name = "independent"
    generates_every_head = False
    summary = "a free head per seen task (zero-shot tasks get none)"

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        add_free_heads(model, hidden, c, n_seen)

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        rows = g.layout.embed_rows
        known = (g.embed_index >= 0).to(model.heads.dtype)
        return Heads(weight=model.heads[rows], bias=model.head_bias[rows], known=known, mask=mask)
