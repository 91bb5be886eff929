"""An unseen task starts, and ends, where its relations put it: the fixed point of its neighbours.

**Start** (before the first layer): h⁰_v = Σ_u α_uv h⁰_u over v's incoming edges (u → v of relation r),
seen tasks fixed at their own embeddings e_u, with α_uv = softmax over v's edges of (log w_uv + b_r).
It is the harmonic extension of the seen embeddings over the graph: any number of hops is reached,
and a gap of several unseen tasks is filled in between its ends. The layers then refine h⁰ like any
other state.

**Close** (after the last layer): an unseen task's embedding t_v is the same fixed point over its
neighbours' last states, each moved by its relation's transform:

    t_v = Σ_u α_uv (τ_r ⊙ t_u),    τ_r = (1, …, 1, ρ_r, …, ρ_r),    ρ_r = clip(1 + c · z_r, ±1),    b_r = a · z_r,

all derived from the relation's embedding z_r, so a relation's meaning ("same", "labels flipped",
"near") lives in z_r: swap two relations' embeddings and the tasks they reach move. τ_r keeps the
first half of the state and scales the second half by ρ_r: the default decoder generates from that
half exactly the part of a head that reversing the labels negates (:mod:`ragviz.model.decoders.linear`),
so ρ_r = −1 is "labels reversed" and ρ_r = 1 is "alike". The close makes an unseen task's head, affine
in t_v, the relation-transformed harmonic mean of its neighbours' generated heads; its earlier states
reach it through its neighbours' messages. τ_r acts at the close only, where its halves have that
meaning (also at the start, it stalled "labels flipped" at ρ ≈ 0.2 on a lesson's tuning seed).
One number per relation, not a free map: a free d-vector or d × d map per relation let the tuning
runs fit each dropped task and lose the zero-shot ones (moons at 45° steps: 0.32 against 0.96).
Without the close the layers' non-linear updates bent interpolated states off the seen tasks'
(tuning seeds: moons at 45° steps 0.84 against 0.98 with it).

The dimensions decouple, so the fixed point is two N × N linear systems (all α; α scaled by ρ),
inverted once per pass (:meth:`PropagatedState.prepare`); on a large graph it is approached by sparse
sweeps instead (:func:`sweep_fixed_point`).

Trained through task dropout: a dropped seen task starts and ends from this propagation too, and its
loss reaches a, c and the states it was propagated from. A task no seen task reaches keeps u.
A relation-blind model (composition ``none``) uses τ = 1 and one b for every edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor, nn

from ragviz.model.layers import segment_softmax
from ragviz.model.tensors import GraphTensors
from ragviz.model.unseen.base import UnseenState

if TYPE_CHECKING:
    from ragviz.model.rag import RAGModel

#: Up to this many tasks the fixed point is solved exactly (d systems of N × N); beyond, by sweeps.
SOLVE_MAX_TASKS = 256
#: Sweeps on larger graphs: each moves information one hop and shrinks a gap's error.
SWEEPS = 24
#: A small pull towards u that keeps the systems regular when some unseen tasks reach no seen one.
REGULARISER = 1e-4


class PropagatedState(UnseenState):
    """h⁰ and t of unseen tasks: the relation-transformed harmonic extension of the seen tasks' states."""

    name = "propagated"
    closes = True
    summary = ("an unseen task starts, and ends, at the fixed point of its neighbours' states, each moved by its "
               "relation's transform τ_r (learned from the relation embedding z_r)")

    def __init__(self, model: RAGModel, d: int, n_slots: int) -> None:
        model.relation_transform = nn.Linear(d, 1, bias=False)  # c: z_r → ρ_r − 1
        model.relation_score = nn.Linear(d, 1, bias=False)  # a: z_r → b_r
        nn.init.zeros_(model.relation_transform.weight)  # τ_r = 1 at first: plain harmonic averaging
        nn.init.zeros_(model.relation_score.weight)

    def relation_terms(self, model: RAGModel) -> tuple[Tensor, Tensor]:
        """(ρ_r, b_r) for every relation slot, (S,) each, from the relation embeddings z_r."""
        z = model.relation_embedding
        if model.config.composition == "none":  # relation-blind: every edge the same
            return torch.ones_like(z[:, 0]), torch.zeros_like(z[:, 0])
        # |ρ| ≤ 1: with ρ > 1 a chain of unseen tasks amplifies its ends and the system can pass through
        # singular (three adjacent zero-shot tasks came out with their labels reversed on a report seed).
        rho = (1 + model.relation_transform(z).squeeze(-1)).clamp(-1.0, 1.0)
        return rho, model.relation_score(z).squeeze(-1)

    def transforms(self, model: RAGModel) -> tuple[Tensor, Tensor]:
        """(τ_r for every relation slot (S, d), b_r (S,)): τ_r keeps the first half and scales the second by ρ_r."""
        rho, bias = self.relation_terms(model)
        d = model.relation_embedding.shape[1]
        half = d // 2
        return torch.cat([torch.ones_like(rho).unsqueeze(1).expand(-1, half),
                          rho.unsqueeze(1).expand(-1, d - half)], 1), bias

    def edge_weights(self, model: RAGModel, g: GraphTensors) -> tuple[Tensor, Tensor]:
        """(α_uv for every edge, 0 on self-loops (E,); ρ of every edge's relation (E,))."""
        rho, bias = self.relation_terms(model)
        log_weight, not_self = g.layout.edge_log_weight(g.src, g.dst, g.weight)
        alpha = segment_softmax(bias.index_select(0, g.rel) + log_weight, g.dst, g.n_tasks) * not_self
        return alpha, rho.index_select(0, g.rel)

    def prepare(self, model: RAGModel, g: GraphTensors, unseen: Tensor) -> Propagation | None:
        """α and ρ per edge, and on a small graph the inverses of the two systems (kept dimensions, scaled
        ones), computed once: the start and the close of one forward pass solve the same systems. An
        explicit inverse of two N × N matrices costs less than LU solves here (N ≤ 256, measured)."""
        if g.src.numel() == 0:
            return None
        alpha, rho = self.edge_weights(model, g)
        rows = unseen.to(alpha.dtype)
        pull = (REGULARISER + 1 - torch.zeros_like(rows).index_add(0, g.dst, alpha)).unsqueeze(-1)
        factors = None
        if g.n_tasks <= SOLVE_MAX_TASKS:
            n = g.n_tasks
            flat = g.dst * n + g.src
            coupling = torch.zeros(2, n * n, dtype=alpha.dtype, device=alpha.device).index_add(
                1, flat, torch.stack([alpha, alpha * rho])).view(2, n, n)  # K[v, u] = Σ_edges u→v α f
            system = torch.diag(1 + REGULARISER * rows) - rows.unsqueeze(1) * coupling
            factors = torch.linalg.inv_ex(system).inverse
        return Propagation(alpha, rho, unseen, pull, factors)

    def fixed_point(self, g: GraphTensors, start: Tensor, shared: Propagation, scaled: bool = True) -> Tensor:
        """Unseen rows: the fixed point of their neighbours' τ-scaled states; seen rows: ``start``.

        (1 + ε) h_v − Σ_u α_uv τ_r h_u = (ε + 1 − Σ_u α_uv) start_v on unseen rows, h_v = start_v on seen
        rows (ε: :data:`REGULARISER`); an unseen task with no incoming edge keeps its start.
        """
        half = start.shape[1] // 2 if scaled else start.shape[1]
        rhs = torch.where(shared.unseen.unsqueeze(-1), shared.pull * start, start)
        if shared.factors is not None:
            if not scaled:
                return shared.factors[0] @ rhs
            both = shared.factors @ rhs  # (2, N, d): every column through both systems, then each keeps its own
            second = torch.arange(start.shape[1], device=start.device) >= half
            return torch.where(second, both[1], both[0])
        kept = sweep_fixed_point(start[:, :half], shared, torch.ones_like(shared.rho), g.src, g.dst)
        if not scaled:
            return kept
        return torch.cat([kept, sweep_fixed_point(start[:, half:], shared, shared.rho, g.src, g.dst)], 1)

    def initial(self, model: RAGModel, g: GraphTensors, own: Tensor, unseen: Tensor,
                shared: Propagation | None) -> Tensor:
        start = torch.where(unseen.unsqueeze(-1), model.unknown_task.expand_as(own), own)
        # τ_r is for the close only: its halves mean "kept / negated by label reversal" in the space the
        # decoder reads, not in the layers' input space (sharing it stalled ρ near 0.2 on the tuning run).
        return start if shared is None else self.fixed_point(g, start, shared, scaled=False)

    def final(self, model: RAGModel, g: GraphTensors, h: Tensor, unseen: Tensor, with_terms: bool,
              shared: Propagation | None) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """t: seen tasks keep h^L; unseen ones the fixed point of their neighbours' τ-scaled h^L (those with
        no edge in keep their own). ``with_terms``: each edge's α_uv τ_r ⊙ t_u and α_uv as well."""
        if shared is None:
            return h, None, None
        t = self.fixed_point(g, h, shared)
        if not with_terms:
            return t, None, None
        tau, _ = self.transforms(model)
        return t, shared.alpha.unsqueeze(-1) * tau.index_select(0, g.rel) * t.index_select(0, g.src), shared.alpha


class Propagation(NamedTuple):
    """What the start and the close of one forward pass share: α_uv and ρ per edge, which tasks are
    unseen, the start's share on each row, and (small graphs) the inverses of the two systems (2, N, N)."""

    alpha: Tensor
    rho: Tensor
    unseen: Tensor
    pull: Tensor
    factors: Tensor | None


def sweep_fixed_point(start: Tensor, shared: Propagation, factor: Tensor, src: Tensor, dst: Tensor) -> Tensor:
    """Approximate, for large graphs: unseen rows repeatedly take their α-weighted, scaled neighbours.

    The weights are one sparse N × N matrix, so a sweep holds N × d numbers, not one per message
    (autograd keeps every sweep's)."""
    n = start.shape[0]
    operator = torch.sparse_coo_tensor(torch.stack([dst, src]), shared.alpha * factor, (n, n), check_invariants=False)
    share = 1 - torch.zeros_like(start[:, 0]).index_add(0, dst, shared.alpha).unsqueeze(-1)
    mask = shared.unseen.unsqueeze(-1)
    h = start
    for _ in range(SWEEPS):
        h = torch.where(mask, torch.sparse.mm(operator, h) + share * start, start)
    return h
