"""The RAG model: relation-aware message passing, a shared encoder and generated decoders.

Read top-down like the equations (docs/DESIGN.md §2): first one message-passing layer
(compose → message → aggregate → update), then the model (initial states, message passing,
task embedding, decoders). Everything is vectorised over edges and points; the index layouts
it reads (:mod:`ragviz.layouts`) are worked out once where the tensors are made.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ragviz.config import ModelConfig
from ragviz.data import DomainSpec
from ragviz.layouts import PointLayout, chunk_size, point_layout, relation_adjacency
from ragviz.tensors import GraphTensors, Vocab

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

    def forward(self, h: Tensor, z: Tensor, g: GraphTensors,
                keep_messages: bool = True) -> tuple[Tensor, Tensor, LayerTrace]:
        if not keep_messages and self.sparse_ok(g):
            a = self.aggregate_sparse(h, z, g)
            return self.update(h, a), self.w_rel(z), LayerTrace(None, None, a)
        m = self.message(self.compose(h, z, g), g)
        a, alpha = self.aggregate(m, h, g)
        return self.update(h, a), self.w_rel(z), LayerTrace(m, alpha, a)

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
    total = torch.zeros(n_segments, dtype=scores.dtype, device=scores.device).index_add_(0, segment, exp)
    return exp / total[segment].clamp_min(1e-30)


class Heads(NamedTuple):
    """Each task's decoder, one row per task: what :meth:`RAGModel.decode_points` applies to its points.

    generated: FiLM ``scale``/``shift`` on s, then a generated linear head ``weight``/``bias``;
    film: ``scale``/``shift`` only (the head is shared); independent: a free ``weight``/``bias``
    per seen task and ``known`` (0 for tasks without a head). ``mask``: outputs beyond a task's classes.
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


class RAGModel(nn.Module):
    """Graph → task embeddings → a generated predictor per task on a shared encoder."""

    def __init__(self, config: ModelConfig, spec: DomainSpec, vocab: Vocab) -> None:
        super().__init__()
        self.config = config
        self.spec = spec
        self.vocab = vocab
        d, hidden, c = config.embed_dim, config.hidden, spec.n_outputs
        n_rel = len(vocab.relations)
        n_seen = max(len(vocab.tasks), 1)
        self.task_embedding = nn.Parameter(torch.randn(n_seen, d) * 0.5)
        self.unknown_task = nn.Parameter(torch.randn(d) * 0.5)
        self.relation_embedding = nn.Parameter(torch.randn(2 * n_rel + 1, d) * 0.5 + 1.0)
        if config.use_descriptors and vocab.descriptor_keys:
            self.descriptor_proj = nn.Linear(len(vocab.descriptor_keys), d)
        self.layers = nn.ModuleList(
            RAGLayer(d, config.composition, config.aggregation, 2 * n_rel + 1, config.n_bases)
            for _ in range(config.layers)
        )
        self.encoder = nn.Sequential(  # in-place ReLUs: no extra (points × H) buffers
            nn.Linear(spec.input_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        )
        if config.decoder in ("generated", "film"):
            self.film = nn.Linear(d, 2 * hidden)
            nn.init.normal_(self.film.weight, std=0.1 / math.sqrt(d))
            nn.init.zeros_(self.film.bias)
        if config.decoder == "generated":
            self.gen_weight = nn.Parameter(torch.randn(hidden, c, d) * (0.1 / math.sqrt(hidden * d)))
            self.gen_base = nn.Linear(hidden, c)
            self.gen_bias = nn.Linear(d, c, bias=False)
        elif config.decoder == "film":
            self.head = nn.Linear(hidden, c)
        else:
            self.heads = nn.Parameter(torch.randn(n_seen, hidden, c) / math.sqrt(hidden))
            self.head_bias = nn.Parameter(torch.zeros(n_seen, c))
        self.log_vars = nn.Parameter(torch.zeros(n_seen))

    @property
    def regression(self) -> bool:
        return self.spec.kind == "regression"

    # --- message passing: h⁰ → h^L -------------------------------------------------------------

    def initial_states(self, g: GraphTensors, drop: Tensor | None = None) -> Tensor:
        """h⁰: a task's own embedding, or u for zero-shot (and randomly dropped) tasks."""
        use_u = g.embed_index < 0
        if drop is not None:
            use_u = use_u | drop
        rows = self.task_embedding.index_select(0, g.layout.embed_rows)
        h = torch.where(use_u.unsqueeze(-1), self.unknown_task.expand_as(rows), rows)
        if hasattr(self, "descriptor_proj"):
            h = h + self.descriptor_proj(g.descriptors)
        return h

    def embed_tasks(self, g: GraphTensors, drop: Tensor | None = None,
                    keep_messages: bool = True) -> tuple[list[Tensor], list[LayerTrace]]:
        """All layers' task states h⁰…h^L and each layer's messages (unless ``keep_messages`` is False)."""
        h = self.initial_states(g, drop)
        z = self.relation_embedding
        states, traces = [h], []
        for layer in self.layers:
            h, z, trace = layer(h, z, g, keep_messages)
            states.append(h)
            traces.append(trace)
        return states, traces

    # --- decoders: t_v = h_v^L → each task's predictor on the shared encoder s = enc(x) ------------

    def task_heads(self, t: Tensor, g: GraphTensors) -> Heads:
        """Everything the decoder needs per task, one row per task of ``g``, computed once."""
        mask = self.class_mask(g)
        if self.config.decoder == "independent":
            rows = g.layout.embed_rows
            known = (g.embed_index >= 0).to(self.heads.dtype)
            return Heads(weight=self.heads[rows], bias=self.head_bias[rows], known=known, mask=mask)
        gamma, beta = self.film(t).chunk(2, dim=-1)
        if self.config.decoder == "film":
            return Heads(scale=1 + gamma, shift=beta, mask=mask)
        weight = torch.einsum("hcd,nd->nhc", self.gen_weight, t) + self.gen_base.weight.t()  # W_v = G·t_v + W_0
        return Heads(1 + gamma, beta, weight, self.gen_bias(t) + self.gen_base.bias, mask=mask)

    def class_mask(self, g: GraphTensors) -> Tensor | None:
        """Which outputs lie beyond each task's classes; None when every task uses all of them."""
        width = self.spec.n_outputs
        if self.regression or g.layout.min_classes >= width:
            return None
        return torch.arange(width, device=g.n_classes.device).unsqueeze(0) >= g.n_classes.unsqueeze(1)

    def decode_points(self, heads: Heads, x: Tensor, tid: Tensor, layout: PointLayout | None = None) -> Tensor:
        """Outputs on points ``x`` of tasks ``tid`` (rows of ``heads``) laid out as ``layout`` says."""
        blocks = None if layout is None else layout.block_ids
        if self.config.decoder == "independent":
            s = self.encoder(x)
            out = torch.einsum("mh,mhc->mc", s, heads.weight[tid]) + heads.bias[tid]
            out = out * heads.known[tid].unsqueeze(-1)  # tasks without a head predict nothing: chance
            blocks = None
        elif blocks is not None:
            # Each task's points form one contiguous block of equal size (full batches, test splits,
            # plotting grids): FiLM and the generated head broadcast over a task's block, so no
            # per-point copies of task parameters are made (nor summed back).
            n_blocks, per_task = int(blocks.shape[0]), layout.block_size
            xb = x.reshape(n_blocks, per_task, -1)
            if not torch.is_grad_enabled() and n_blocks > 1 and torch.equal(xb, xb[:1].expand_as(xb)):
                s = self.encoder(x[:per_task]).expand(n_blocks, -1, -1)  # a shared grid: encode it once
            else:
                s = self.encoder(x).reshape(n_blocks, per_task, -1)
            s = torch.relu_(torch.addcmul(heads.shift[blocks].unsqueeze(1), heads.scale[blocks].unsqueeze(1), s))
            if heads.weight is None:
                out = self.head(s)
            else:
                out = torch.baddbmm(heads.bias[blocks].unsqueeze(1), s, heads.weight[blocks])
        else:
            s = self.encoder(x)
            s = torch.relu_(torch.addcmul(heads.shift.index_select(0, tid), heads.scale.index_select(0, tid), s))
            if heads.weight is None:
                out = self.head(s)
            else:
                weight, bias = heads.weight.index_select(0, tid), heads.bias.index_select(0, tid)
                out = torch.baddbmm(bias.unsqueeze(1), s.unsqueeze(1), weight).squeeze(1)
        if self.regression:
            return out.reshape(-1, out.shape[-1])[:, 0]
        if heads.mask is not None:
            mask = heads.mask[blocks].unsqueeze(1) if blocks is not None else heads.mask.index_select(0, tid)
            out = out.masked_fill(mask, NEG_INF)
        return out.reshape(-1, out.shape[-1])

    def decode_all(self, heads: Heads, x: Tensor, tid: Tensor, layout: PointLayout | None = None) -> Tensor:
        """:meth:`decode_points` for all tasks of ``heads``; inference on many points goes chunk by
        chunk of whole tasks (same outputs, less memory)."""
        if layout is None:
            layout = point_layout(tid, heads.n_tasks)
        if not torch.is_grad_enabled():
            chunks = layout.chunks(chunk_size(x.device))
            if chunks is not None:
                return torch.cat([self.decode_points(heads.rows(lo, hi), x[a:b], tid[a:b] - lo, part)
                                  for (lo, hi, a, b), part in chunks])
        return self.decode_points(heads, x, tid, layout)

    def forward(self, g: GraphTensors, x: Tensor, tid: Tensor, drop: Tensor | None = None,
                layout: PointLayout | None = None) -> Tensor:
        states, _ = self.embed_tasks(g, drop, keep_messages=False)
        return self.decode_all(self.task_heads(states[-1], g), x, tid, layout)

    def point_loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-point loss: squared error or cross-entropy over the task's own classes."""
        if self.regression:
            return (out - y) ** 2
        return F.cross_entropy(out, y, reduction="none")


RNG_LOCK = threading.Lock()  # runs in parallel threads must not draw from each other's seeded RNG


def build_model(config: ModelConfig, spec: DomainSpec, vocab: Vocab, seed: int = 0) -> RAGModel:
    """A freshly initialised model; the same seed gives the same weights."""
    with RNG_LOCK, torch.random.fork_rng(devices=[]):  # the global RNG: one thread at a time
        torch.manual_seed(seed)
        return RAGModel(config.validated(), spec, vocab)
