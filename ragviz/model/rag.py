"""The RAG model: relation-aware message passing, a shared encoder and generated decoders.

Read top-down like the equations (docs/DESIGN.md §2): first one message-passing layer
(compose → message → aggregate → update), then the model (initial states, message passing,
task embedding, decoders). Everything is vectorised over edges and points; the index layouts
it reads (:mod:`ragviz.model.layouts`) are worked out once where the tensors are made.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ragviz.data.domains import DomainSpec
from ragviz.model.config import ModelConfig
from ragviz.model.layouts import PointLayout, chunk_size, point_layout, relation_adjacency
from ragviz.model.tensors import GraphTensors, Vocab

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
    zeros = torch.zeros(n_segments, dtype=scores.dtype, device=scores.device)
    total = zeros.index_add(0, segment, exp)  # out of place, so it also runs under vmap
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
        if config.decoder in ("generated", "blended"):
            self.gen_weight = nn.Parameter(torch.randn(hidden, c, d) * (0.1 / math.sqrt(hidden * d)))
            self.gen_base = nn.Linear(hidden, c)
            self.gen_bias = nn.Linear(d, c, bias=False)
        elif config.decoder == "film":
            self.head = nn.Linear(hidden, c)
        else:  # independent and mix: a free head per seen task
            self.heads = nn.Parameter(torch.randn(n_seen, hidden, c) / math.sqrt(hidden))
            self.head_bias = nn.Parameter(torch.zeros(n_seen, c))
        if config.decoder in ("mix", "blended"):
            self.mix_relation = nn.Parameter(torch.zeros(2 * n_rel + 1))  # b_r: how much a relation's heads count
            self.mix_flip = nn.Parameter(torch.full((2 * n_rel + 1,), -4.0))  # σ(f_r): how often r flips labels
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

    def task_heads(self, t: Tensor, g: GraphTensors, drop: Tensor | None = None) -> Heads:
        """Everything the decoder needs per task, one row per task of ``g``, computed once.

        ``drop`` (the tasks dropped this training step) matters only to the mix decoder.
        """
        mask = self.class_mask(g)
        if self.config.decoder in ("mix", "blended"):
            head = self.mixed_heads(g, drop, t)
            return Heads(weight=head[:, :-1], bias=head[:, -1], mask=mask)
        if self.config.decoder == "independent":
            rows = g.layout.embed_rows
            known = (g.embed_index >= 0).to(self.heads.dtype)
            return Heads(weight=self.heads[rows], bias=self.head_bias[rows], known=known, mask=mask)
        gamma, beta = self.film(t).chunk(2, dim=-1)
        if self.config.decoder == "film":
            return Heads(scale=1 + gamma, shift=beta, mask=mask)
        weight = torch.einsum("hcd,nd->nhc", self.gen_weight, t) + self.gen_base.weight.t()  # W_v = G·t_v + W_0
        return Heads(1 + gamma, beta, weight, self.gen_bias(t) + self.gen_base.bias, mask=mask)

    def own_heads(self, t: Tensor, g: GraphTensors) -> Tensor:
        """Each task's own linear head on s with its bias, as (N, H + 1, C): free rows for mix,
        W_v = G·t_v + W_0 and b_v = g·t_v + b_0 generated from the task embedding for blended."""
        if self.config.decoder == "mix":
            return torch.cat([self.heads, self.head_bias.unsqueeze(1)], 1).index_select(0, g.layout.embed_rows)
        weight = torch.einsum("hcd,nd->nhc", self.gen_weight, t) + self.gen_base.weight.t()
        return torch.cat([weight, (self.gen_bias(t) + self.gen_base.bias).unsqueeze(1)], 1)

    def mixed_heads(self, g: GraphTensors, drop: Tensor | None = None, t: Tensor | None = None) -> Tensor:
        """Each task's linear head on s, stacked with its bias as an (N, H + 1, C) tensor.

        A seen task uses its own head (:meth:`own_heads`). Any other task (zero-shot, or dropped
        while training) gets the nearest heads' weighted mean: each hop (L of them, at least one),
        a task not yet settled takes α_uv-weighted heads of its settled in-neighbours,
        α_uv = softmax over v's edges of log w_uv + b_r, and a head crossing a relation r reverses
        the task's labels with the learned probability σ(f_r) (so "labels flipped" works in
        predictor space; a relation-blind model, composition ``none``, has one b and one f for
        every edge). So a zero-shot prediction is a blend of real predictors, like averaging
        the neighbours', but with learned relation weights, and with heads trained (through task
        dropout) to be blended: dropped tasks' losses reach their neighbours' heads.

        blended (the default): every head is generated from its task's embedding, W_v = G·t_v + W_0,
        so message passing shapes every prediction; as W is affine in t, a blend of heads is the
        head of the blended neighbours' embeddings (up to label flips). A task no head reaches (no
        edges to a seen task) keeps the head its own embedding generates. Letting reached tasks
        move a learned share towards that head was tried: on the tuning seeds it pulled zero-shot
        tasks towards the hypernetwork's extrapolation and lost badly (6-class blobs 0.55 vs 0.72).
        mix: free heads per seen task; the GNN's states do not enter, and a task no head reaches
        gets a zero head (equal scores for every class).
        """
        own = self.own_heads(t, g)
        known = g.embed_index >= 0
        if drop is not None:
            known = known & ~drop
        src, dst, n = g.src, g.dst, g.n_tasks
        rel = g.rel if self.config.composition != "none" else torch.zeros_like(g.rel)  # relation-blind: one type
        score = self.mix_relation.index_select(0, rel) + g.weight.clamp_min(1e-6).log()
        flip = torch.sigmoid(self.mix_flip).index_select(0, rel)[:, None, None]
        classes = torch.arange(own.shape[-1], device=own.device)
        k = g.n_classes.unsqueeze(1)
        reverse = torch.where(classes < k, k - 1 - classes, classes)  # (N, C): class j ↔ k-1-j within a task's k
        not_self = src != dst
        head = own * known.to(own.dtype)[:, None, None]
        has_head = known  # settled tasks: seen ones at once, the others at the first hop that reaches them
        for _ in range(max(len(self.layers), 1)):
            usable = not_self & has_head.index_select(0, src)
            alpha = segment_softmax(score.masked_fill(~usable, NEG_INF), dst, n) * usable.to(own.dtype)
            sent = head.index_select(0, src)
            reversed_ = sent.gather(2, reverse.index_select(0, src).unsqueeze(1).expand_as(sent))
            passed = (sent + flip * (reversed_ - sent)) * alpha[:, None, None]
            mixed = torch.zeros_like(head).index_add_(0, dst, passed)
            reached = torch.zeros_like(own[:, 0, 0]).index_add_(0, dst, alpha) > 0.5
            head = torch.where(has_head[:, None, None], head, mixed)
            has_head = has_head | reached
        if self.config.decoder == "blended":
            head = torch.where(has_head[:, None, None], head, own)  # no head reaches it: its own W(t_v)
        return head

    def class_mask(self, g: GraphTensors) -> Tensor | None:
        """Which outputs lie beyond each task's classes; None when every task uses all of them."""
        width = self.spec.n_outputs
        if self.regression or g.layout.min_classes >= width:
            return None
        return torch.arange(width, device=g.n_classes.device).unsqueeze(0) >= g.n_classes.unsqueeze(1)

    def decode_points(self, heads: Heads, x: Tensor, tid: Tensor, layout: PointLayout | None = None) -> Tensor:
        """Outputs on points ``x`` of tasks ``tid`` (rows of ``heads``) laid out as ``layout`` says.

        out = head_v(FiLM_v(s)) with s = enc(x): FiLM when the heads have a scale, the task's own
        linear head when they have a weight (else the shared one), zero where a task has no head.
        """
        blocks = None if layout is None else layout.block_ids
        if blocks is not None:
            # Each task's points form one contiguous block of equal size (full batches, test splits,
            # plotting grids): task parameters broadcast over a task's block, so no per-point copies
            # of them are made (nor summed back).
            n_blocks, per_task = int(blocks.shape[0]), layout.block_size
            xb = x.reshape(n_blocks, per_task, -1)
            if not torch.is_grad_enabled() and n_blocks > 1 and torch.equal(xb, xb[:1].expand_as(xb)):
                s = self.encoder(x[:per_task]).expand(n_blocks, -1, -1)  # a shared grid: encode it once
            else:
                s = self.encoder(x).reshape(n_blocks, per_task, -1)
        else:
            s = self.encoder(x).unsqueeze(1)  # (M, 1, H): every point is its own block

        def rows(table: Tensor) -> Tensor:
            """A task table's row for each block, as (blocks, 1, …)."""
            picked = table[blocks] if blocks is not None else table.index_select(0, tid)
            return picked.unsqueeze(1)

        if heads.scale is not None:
            s = torch.relu_(torch.addcmul(rows(heads.shift), rows(heads.scale), s))
        if heads.weight is None:
            out = self.head(s)
        else:
            out = torch.baddbmm(rows(heads.bias), s, rows(heads.weight).squeeze(1))
        if heads.known is not None:
            out = out * rows(heads.known).unsqueeze(-1)  # tasks without a head predict nothing: chance
        if self.regression:
            return out.reshape(-1, out.shape[-1])[:, 0]
        if heads.mask is not None:
            out = out.masked_fill(rows(heads.mask), NEG_INF)
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
        return self.decode_all(self.task_heads(states[-1], g, drop), x, tid, layout)

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
