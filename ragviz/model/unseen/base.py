"""The interface of an unseen task's initial state, and the plain one: one learned vector u for all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


class UnseenState:
    """h⁰ for every task: seen tasks their own embedding e_v, unseen ones whatever the strategy gives.

    A strategy, not a module: it declares its parameters on the model (stable checkpoint names).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    closes: ClassVar[bool] = False  # whether :meth:`final` replaces an unseen task's last state

    def __init__(self, model: RAGModel, d: int, n_slots: int) -> None:
        """Register this strategy's parameters on ``model``."""

    def prepare(self, model: RAGModel, g: GraphTensors, unseen: Tensor) -> Any:
        """Whatever :meth:`initial` and :meth:`final` share in one forward pass (computed once)."""
        return None

    def initial(self, model: RAGModel, g: GraphTensors, own: Tensor, unseen: Tensor, shared: Any) -> Tensor:
        """h⁰ (N, d) from every task's own row ``own`` (meaningless where ``unseen``)."""
        raise NotImplementedError

    def final(self, model: RAGModel, g: GraphTensors, h: Tensor, unseen: Tensor, with_terms: bool,
              shared: Any) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The task embeddings t from the last layer's states ``h`` and, if ``with_terms``, each edge's term
        of an unseen task's t (E', d) and its weight (E',), for the pages; the plain strategy keeps h."""
        return h, None, None


class LearnedState(UnseenState):
    """h⁰_v = u, one learned vector shared by every unseen task: only the layers tell them apart."""

    name = "learned"
    summary = "one learned vector u for every unseen task; only the layers' messages tell them apart"

    def initial(self, model: RAGModel, g: GraphTensors, own: Tensor, unseen: Tensor, shared: Any) -> Tensor:
        return torch.where(unseen.unsqueeze(-1), model.unknown_task.expand_as(own), own)
