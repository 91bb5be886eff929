"""The decoder interface every decoder implements, and the per-task tables it returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NamedTuple

from torch import Tensor

from ragviz.model.tensors import GraphTensors

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel


class Heads(NamedTuple):
    """Each task's decoder, one row per task: what :meth:`RAGModel.decode_points` applies to its points.

    ``scale``/``shift``: FiLM on the shared encoding s; ``weight``/``bias``: a linear head per task (else
    the model's shared ``head``); ``known``: 0 for tasks without a head; ``mask``: outputs beyond a task's classes.
    """

    scale: Tensor | None = None  # (N, H)
    shift: Tensor | None = None  # (N, H)
    weight: Tensor | None = None  # (N, H, C)
    bias: Tensor | None = None  # (N, C)
    known: Tensor | None = None  # (N,)
    mask: Tensor | None = None  # (N, C) bool

    def rows(self, lo: int, hi: int) -> Heads:
        """The heads of tasks lo … hi-1."""
        return Heads(*(None if t is None else t[lo:hi] for t in self))

    @property
    def n_tasks(self) -> int:
        return next(int(t.shape[0]) for t in self if t is not None)


class Decoder:
    """t_v → task v's predictor. A strategy, not a module: it declares its parameters on the model
    (so a checkpoint's tensor names stay ``model.<name>`` whatever the decoder) and reads them back.

    ``generates_every_head``: every task's head is a function of its own final state alone (the
    pages then show t_v as what decides); False for decoders that blend neighbours' heads.
    """

    name: ClassVar[str] = ""
    generates_every_head: ClassVar[bool] = True
    summary: ClassVar[str] = ""  # one line for the Train page's help

    def __init__(self, model: RAGModel, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        """Register this decoder's parameters on ``model``."""

    def heads(self, model: RAGModel, t: Tensor, g: GraphTensors, drop: Tensor | None, mask: Tensor | None) -> Heads:
        """Every task's head from the final states ``t`` (N, d); ``drop``: tasks dropped this training step."""
        raise NotImplementedError
