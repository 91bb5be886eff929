"""FiLM only: a per-task scale and shift of the shared encoding, one head shared by every task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.decoders.generated import add_film
from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


class FilmDecoder(Decoder):
    """out_v = head(ReLU((1 + γ_v)·s + β_v)) with γ_v, β_v from t_v."""

    name = "film"
    summary = "FiLM only: one shared head"

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        add_film(model, d, hidden)
        model.head = nn.Linear(hidden, c)

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        gamma, beta = model.film(t).chunk(2, dim=-1)
        return Heads(scale=1 + gamma, shift=beta, mask=mask)
