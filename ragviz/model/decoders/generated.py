"""FiLM on the shared encoding, then a generated linear head: the decoder of DESIGN §2.4's first version."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import Tensor, nn

from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.decoders.linear import LinearDecoder, generated_bias, generated_weight
from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


def add_film(model: RAGModel, d: int, hidden: int) -> None:
    """γ_v, β_v = FiLM(t_v): a per-task scale and shift of the shared encoding."""
    model.film = nn.Linear(d, 2 * hidden)
    nn.init.normal_(model.film.weight, std=0.1 / math.sqrt(d))
    nn.init.zeros_(model.film.bias)


class GeneratedDecoder(Decoder):
    """out_v = W_v·ReLU((1 + γ_v)·s + β_v) + b_v, everything generated from t_v."""

    name = "generated"
    summary = "FiLM on the shared encoding, then a generated head"

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        add_film(model, d, hidden)
        LinearDecoder(model, d, hidden, c, n_seen, n_slots)

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        gamma, beta = model.film(t).chunk(2, dim=-1)
        return Heads(1 + gamma, beta, generated_weight(model, t), generated_bias(model, t), mask=mask)
