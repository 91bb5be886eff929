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
        rho = (torch.mv(z, model.relation_transform.weight[0]) + 1).clamp(-1.0, 1.0)  # not hardtanh: ρ starts
        # at 1, where hardtanh passes no gradient and clamp does
        return rho, torch.mv(z, model.relation_score.weight[0])

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
        """What the start and the close of one forward pass share, computed once per pass (the unseen rows
        change with every step's task dropout).

        Small graphs: the fixed point is linear in the states, h = P @ start, so the two maps P (kept
        dimensions; dimensions scaled by ρ) are worked out once as dense N × N matrices. A step is then one
        product per map with few small operations around it (a ring step is bound by their count, not by
        arithmetic). Large graphs: α and ρ per edge, for :func:`sweep_fixed_point`.
        """
        if g.src.numel() == 0:
            return None
        if g.n_tasks <= SOLVE_MAX_TASKS:
            return Propagation(None, None, unseen, self.dense_maps(model, g, unseen))
        alpha, rho = self.edge_weights(model, g)
        return Propagation(alpha, rho, unseen, None)

    def dense_maps(self, model: RAGModel, g: GraphTensors, unseen: Tensor) -> Tensor:
        """(2, N, N): P with h = P @ start for the kept dimensions (P[0]) and the ρ-scaled ones (P[1]).

        Unseen rows solve (1 + ε) h_v − Σ_u α_uv f_r h_u = (ε + 1 − Σ_u α_uv) start_v (f_r = 1 or ρ_r); seen
        rows are h_v = start_v. α_uv = w_uv e^{b_r} / Σ_{edges into v} w e^{b}: the softmax of (log w + b_r)
        over v's edges. An explicit inverse of two
        N × N matrices costs less than LU solves here (N ≤ 256, measured).
        """
        rho, bias = self.relation_terms(model)
        n = g.n_tasks
        flat, weight, no_in = g.layout.dense_edges(g.src, g.dst, g.weight, n)  # self-loops carry weight 0
        scale = torch.exp(bias - bias.detach().max())  # the softmax is the same for any shift; this one stays finite
        raw = torch.stack([scale, scale * rho]).index_select(1, g.rel) * weight  # (2, E): both systems' weights
        coupling = torch.zeros(2, n * n, dtype=raw.dtype, device=raw.device).index_add(1, flat, raw).view(2, n, n)
        coupling = coupling / coupling[0].sum(1, keepdim=True).clamp_min(1e-30)  # the softmax over v's edges
        eye = g.layout.constant(("eye", n, raw.dtype), lambda: torch.eye(n, dtype=raw.dtype, device=raw.device))
        pulled = g.layout.constant(("pulled", n, raw.dtype), lambda: (1 + REGULARISER) * eye)
        system = torch.where(unseen.unsqueeze(-1), pulled - coupling, eye)
        pull = g.layout.constant(("pull", n, raw.dtype), lambda: no_in + REGULARISER)
        start_share = torch.where(unseen, pull, 1.0)  # ε + 1 − Σ_u α_uv on unseen rows
        return torch.linalg.inv_ex(system).inverse * start_share

    def fixed_point(self, g: GraphTensors, start: Tensor, shared: Propagation, scaled: bool = True) -> Tensor:
        """Unseen rows: the fixed point of their neighbours' (τ-scaled when ``scaled``) states; seen rows: ``start``.

        (1 + ε) h_v − Σ_u α_uv τ_r h_u = (ε + 1 − Σ_u α_uv) start_v on unseen rows, h_v = start_v on seen
        rows (ε: :data:`REGULARISER`); an unseen task with no incoming edge keeps its start.
        """
        half = start.shape[1] // 2 if scaled else start.shape[1]
        if shared.maps is not None:
            if not scaled:
                return shared.maps[0] @ start
            n, d = start.shape  # both maps at once: the halves as a batch of two
            return torch.bmm(shared.maps, start.view(n, 2, half).transpose(0, 1)).transpose(0, 1).reshape(n, d)
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
        alpha = shared.alpha if shared.alpha is not None else self.edge_weights(model, g)[0]
        tau, _ = self.transforms(model)
        return t, alpha.unsqueeze(-1) * tau.index_select(0, g.rel) * t.index_select(0, g.src), alpha


class Propagation(NamedTuple):
    """What the start and the close of one forward pass share: which tasks are unseen, and either (small
    graphs) the two dense maps of :meth:`PropagatedState.dense_maps`, or (large graphs) α_uv and ρ per
    edge, for the sweeps."""

    alpha: Tensor | None
    rho: Tensor | None
    unseen: Tensor
    maps: Tensor | None


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
