"""One relation-aware message-passing layer (docs/DESIGN.md §2.2): compose → message → aggregate → update.

Everything is vectorised over edges; the index layouts it reads (:mod:`ragviz.model.layouts`) are
worked out once where the tensors are made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ragviz.model.layouts import relation_adjacency
from ragviz.model.tensors import GraphTensors

NEG_INF = -1e9
#: From this many messages, sum and mean aggregation of mult/sub/none messages run as one sparse
#: product instead of per-message tensors (see :meth:`RAGLayer.aggregate_sparse`).
SPARSE_MIN_MESSAGES = 4096


@dataclass
class LayerTrace:
    """What one message-passing layer computed, for the pages to draw."""

    messages: Tensor | None  # (E', d); None when the layer ran without keeping messages (training)
    attention: Tensor | None  # (E',)
    aggregate: Tensor  # (N, d)


class RAGLayer(nn.Module):
    """One CompGCN-style layer: h_v' = LayerNorm(h_v + ReLU(W_self h_v + AGG_u w_uv W_msg φ(h_u, z_r)))."""

    def __init__(self, dim: int, composition: str, aggregation: str, n_relation_slots: int, n_bases: int) -> None:
        super().__init__()
        self.composition = composition
        self.aggregation = aggregation
        self.w_msg = nn.Linear(dim, dim, bias=False)
        self.w_self = nn.Linear(dim, dim)
        self.w_rel = nn.Linear(dim, dim, bias=False)
        self.norm = nn.LayerNorm(dim)
        if composition == "rgcn":
            self.bases = nn.Parameter(torch.randn(n_bases, dim, dim) / math.sqrt(dim))
            self.coefficients = nn.Parameter(torch.randn(n_relation_slots, n_bases) / math.sqrt(n_bases))
        if aggregation == "attention":
            self.w_att = nn.Linear(dim, dim, bias=False)
            self.att = nn.Parameter(torch.randn(2 * dim) / math.sqrt(2 * dim))

    def compose(self, h: Tensor, z: Tensor, g: GraphTensors) -> Tensor:
        """φ(h_u, z_r) for every message u → v of relation r: (E', d)."""
        if self.composition == "rgcn":
            transformed = torch.einsum("nd,bde->nbe", h, self.bases)  # each basis once per node
            coefficients = self.coefficients.index_select(0, g.rel).unsqueeze(-1)  # (E', B, 1)
            return (transformed.index_select(0, g.src) * coefficients).sum(1)
        hs = h.index_select(0, g.src)
        if self.composition == "mult":
            return hs * z.index_select(0, g.rel)
        if self.composition == "sub":
            return hs - z.index_select(0, g.rel)
        return hs

    def message(self, composed: Tensor, g: GraphTensors) -> Tensor:
        """m_uv = w_uv · W_msg φ(h_u, z_r)."""
        m = self.w_msg(composed)
        weight = g.layout.weight_column
        return m if weight is None else m * weight

    def aggregate(self, m: Tensor, h: Tensor, g: GraphTensors) -> tuple[Tensor, Tensor | None]:
        """a_v = AGG over v's incoming messages (sum, mean, max or attention); the attention weights if any."""
        dst = g.dst
        if self.aggregation == "max":
            index = dst.unsqueeze(-1).expand_as(m)
            return torch.zeros_like(h).scatter_reduce(0, index, m, reduce="amax", include_self=False), None
        if self.aggregation == "attention":
            d = h.shape[1]
            scores = F.leaky_relu(self.w_att(h)[dst] @ self.att[:d] + m @ self.att[d:], 0.2)
            alpha = segment_softmax(scores, dst, h.shape[0])
            return torch.zeros_like(h).index_add_(0, dst, m * alpha.unsqueeze(-1)), alpha
        a = torch.zeros_like(h).index_add_(0, dst, m)
        if self.aggregation == "mean":
            a = a / g.layout.in_degree.to(h.dtype)
        return a, None

    def update(self, h: Tensor, a: Tensor) -> Tensor:
        """h_v' = LayerNorm(h_v + ReLU(W_self h_v + a_v))."""
        return self.norm(h + F.relu(self.w_self(h) + a))

    def forward(self, h: Tensor, z: Tensor, g: GraphTensors, keep_messages: bool = True,
                sparse: bool = True) -> tuple[Tensor, Tensor, LayerTrace]:
        """One layer; the trace keeps the messages only if ``keep_messages``. ``sparse``: a large graph
        without kept messages may aggregate by :meth:`aggregate_sparse` (which does not vmap)."""
        if not keep_messages and sparse and self.sparse_ok(g):
            a = self.aggregate_sparse(h, z, g)
            return self.update(h, a), self.w_rel(z), LayerTrace(None, None, a)
        m = self.message(self.compose(h, z, g), g)
        a, alpha = self.aggregate(m, h, g)
        trace = LayerTrace(m, alpha, a) if keep_messages else LayerTrace(None, None, a)
        return self.update(h, a), self.w_rel(z), trace

    def sparse_ok(self, g: GraphTensors) -> bool:
        """Whether this layer can aggregate by :meth:`aggregate_sparse` on ``g`` (and it pays off)."""
        return (self.aggregation in ("sum", "mean") and self.composition in ("mult", "sub", "none")
                and int(g.src.shape[0]) >= SPARSE_MIN_MESSAGES
                and g.src.device.type == "cpu")  # measured and tested on the CPU; CUDA keeps per-message tensors

    def aggregate_sparse(self, h: Tensor, z: Tensor, g: GraphTensors) -> Tensor:
        """Σ_u A[v,u] W_msg φ(h_u, z_r) as W_msg(A · φ(h, z)) over (task, relation slot) pairs.

        The same aggregate as the per-message path up to float rounding, without the (E' × d)
        message tensors, which on large graphs are most of a step's memory traffic.
        """
        n, d = h.shape
        slots = z.shape[0]
        if self.composition == "mult":
            composed = h.unsqueeze(1) * z.unsqueeze(0)
        elif self.composition == "sub":
            composed = h.unsqueeze(1) - z.unsqueeze(0)
        else:
            composed = h.unsqueeze(1).expand(n, slots, d)
        adjacency = relation_adjacency(g.layout, g.src, g.dst, g.rel, g.weight, slots, self.aggregation == "mean")
        return self.w_msg(torch.sparse.mm(adjacency, composed.reshape(n * slots, d)))


def segment_softmax(scores: Tensor, segment: Tensor, n_segments: int) -> Tensor:
    """Softmax of ``scores`` within each segment (here: each task's incoming edges)."""
    top = torch.full((n_segments,), -math.inf, dtype=scores.dtype, device=scores.device)
    top = top.scatter_reduce(0, segment, scores, reduce="amax", include_self=True)
    exp = torch.exp(scores - top[segment])
    zeros = torch.zeros(n_segments, dtype=scores.dtype, device=scores.device)
    total = zeros.index_add(0, segment, exp)  # out of place, so it also runs under vmap
    return exp / total[segment].clamp_min(1e-30)
