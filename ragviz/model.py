"""The RAG model: relation-aware message passing, a shared encoder and generated decoders.

Everything is vectorised over edges with ``index_add_`` / ``scatter_reduce`` and a
segment softmax; there is no Python loop over tasks, nodes or edges in forward or
backward. All tasks are decoded in one batched call on the concatenated points.
"""

from __future__ import annotations

import bisect
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ragviz.config import ModelConfig
from ragviz.data import DomainSpec
from ragviz.tensors import GraphTensors, Vocab

NEG_INF = -1e9


@dataclass
class LayerTrace:
    """What one message-passing layer computed, for the pages to draw."""

    messages: Tensor | None  # (E', d); None when the layer ran without keeping messages (training)
    attention: Tensor | None  # (E',)
    aggregate: Tensor  # (N, d)


def segment_softmax(scores: Tensor, segment: Tensor, n_segments: int) -> Tensor:
    """Softmax of ``scores`` within each segment (here: each task's incoming edges)."""
    top = torch.full((n_segments,), -math.inf, dtype=scores.dtype, device=scores.device)
    top = top.scatter_reduce(0, segment, scores, reduce="amax", include_self=True)
    exp = torch.exp(scores - top[segment])
    # out of place (index_add, not index_add_): an ensemble vmaps this over stacked parameters
    total = torch.zeros(n_segments, dtype=scores.dtype, device=scores.device).index_add(0, segment, exp)
    return exp / total[segment].clamp_min(1e-30)


MIN_BLOCK = 4  # smaller blocks gain nothing from broadcasting over a task's points
#: Many points sorted by task are decoded in chunks of whole tasks of about this many points: on a
#: CPU one chunk's (points × H) activations stay in cache (measured fastest at 8k to 32k points,
#: about twice as fast as one pass on 300k points); on CUDA only to bound memory.
CHUNK_POINTS = {"cpu": 16_384, "cuda": 1 << 21}


def chunk_size(device: torch.device | str) -> int:
    """Points per chunk on ``device`` (see :func:`point_chunks`)."""
    return CHUNK_POINTS.get(torch.device(device).type, CHUNK_POINTS["cpu"])


def point_chunks(tid: Tensor, n_tasks: int, size: int) -> list[tuple[int, int, int, int]] | None:
    """Split points sorted by task into runs of whole tasks of about ``size`` points.

    Returns ``(first task, end task, first point, end point)`` per chunk, or None when the
    points fit one chunk or are not sorted by task (random minibatches).
    """
    if int(tid.shape[0]) <= size:
        return None
    return cached_on(tid, f"_ragviz_chunks_{n_tasks}_{size}", lambda: _point_chunks(tid, n_tasks, size))


def _point_chunks(tid: Tensor, n_tasks: int, size: int) -> list[tuple[int, int, int, int]] | None:
    if not bool((tid[1:] >= tid[:-1]).all()):
        return None
    ends = torch.bincount(tid, minlength=n_tasks).cumsum(0).tolist()
    chunks, lo, a = [], 0, 0
    while lo < n_tasks:
        hi = max(bisect.bisect_right(ends, a + size), lo + 1)
        b = ends[hi - 1]
        chunks.append((lo, hi, a, b))
        lo, a = hi, b
    return chunks


def cached_on(tid: Tensor, key: str, compute: Any) -> Any:
    """``compute()``, remembered on the ``tid`` tensor itself until it is modified in place.

    A training run passes the same index tensor every step: this spares recomputing its layout
    (and, on CUDA, the host synchronisations that costs) each time.
    """
    hit = getattr(tid, key, None)
    if hit is not None and hit[0] == tid._version:
        return hit[1]
    value = compute()
    try:
        setattr(tid, key, (tid._version, value))
    except (AttributeError, RuntimeError):  # tensors that take no attributes: just don't cache
        pass
    return value


def point_blocks(tid: Tensor) -> tuple[Tensor, int] | None:
    """(task of each block, block size) when ``tid`` is equal-sized contiguous runs of tasks, else None."""
    return cached_on(tid, "_ragviz_blocks", lambda: _point_blocks(tid))


def _point_blocks(tid: Tensor) -> tuple[Tensor, int] | None:
    m = tid.shape[0]
    if m < MIN_BLOCK:
        return None
    ids, counts = torch.unique_consecutive(tid, return_counts=True)
    size = m // ids.shape[0]
    if size < MIN_BLOCK or size * ids.shape[0] != m or not bool((counts == size).all()):
        return None
    return ids, size


def edge_weight_column(weight: Tensor) -> Tensor | None:
    """Edge weights as a column to scale messages by, or None when all are 1 (nothing to scale)."""
    return cached_on(weight, "_ragviz_weight_col",
                   lambda: (None,) if bool((weight == 1).all()) else (weight.unsqueeze(-1),))[0]


def in_degree_column(dst: Tensor, n: int, dtype: torch.dtype) -> Tensor:
    """Each task's number of incoming messages (at least 1), as a column: the mean's divisor."""
    def compute() -> Tensor:
        degree = torch.zeros(n, dtype=dtype, device=dst.device).index_add_(
            0, dst, torch.ones(dst.shape[0], dtype=dtype, device=dst.device))
        return degree.clamp_min(1).unsqueeze(-1)
    return cached_on(dst, f"_ragviz_degree_{n}_{dtype}", compute)


def class_mask(n_classes: Tensor, tid: Tensor, width: int) -> Tensor | None:
    """Which outputs of each point lie beyond its task's classes, or None when every task uses all ``width``."""
    def compute() -> tuple[Tensor, Tensor | None]:
        if bool((n_classes >= width).all()):
            return n_classes, None
        classes = torch.arange(width, device=n_classes.device)
        return n_classes, classes.unsqueeze(0) >= n_classes[tid].unsqueeze(1)
    hit = cached_on(tid, f"_ragviz_class_mask_{width}", compute)
    if hit[0] is not n_classes or hit[0]._version != n_classes._version:  # another graph's classes: recompute
        hit = compute()
    return hit[1]


#: From this many messages, sum and mean aggregation of mult/sub/none messages run as one sparse
#: product instead of per-message tensors (see :meth:`RAGLayer.aggregate_sparse`).
SPARSE_MIN_MESSAGES = 4096


def relation_adjacency(g: GraphTensors, n_slots: int, mean: bool) -> Tensor:
    """A (N × N·R) sparse CSR matrix: row v, column u·R + r holds w_uv (÷ v's in-degree for the mean).

    Multiplying it with every task's composed state for every relation slot, laid out as
    (N·R × d), sums each task's incoming messages before W_msg (which is linear) in one product.
    """
    def compute() -> Tensor:
        n = g.n_tasks
        values = g.weight.to(torch.float32)
        if mean:
            values = values / in_degree_column(g.dst, n, torch.float32)[:, 0].index_select(0, g.dst)
        index = torch.stack([g.dst, g.src * n_slots + g.rel])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta": the product used here is stable
            coo = torch.sparse_coo_tensor(index, values, (n, n * n_slots), check_invariants=True).coalesce()
            return coo.to_sparse_csr()
    return cached_on(g.src, f"_ragviz_adjacency_{n_slots}_{mean}", compute)


class RAGLayer(nn.Module):
    """One CompGCN-style layer: compose, transform, weight, aggregate, update (DESIGN 2.3)."""

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
        adjacency = relation_adjacency(g, slots, self.aggregation == "mean")
        return self.w_msg(torch.sparse.mm(adjacency, composed.reshape(n * slots, d)))

    def forward(self, h: Tensor, z: Tensor, g: GraphTensors,
                keep_messages: bool = True) -> tuple[Tensor, Tensor, LayerTrace]:
        n = h.shape[0]
        if not keep_messages and self.sparse_ok(g):
            a = self.aggregate_sparse(h, z, g)
            h_new = self.norm(h + F.relu(self.w_self(h) + a))
            return h_new, self.w_rel(z), LayerTrace(None, None, a)
        m = self.w_msg(self.compose(h, z, g))
        weight = edge_weight_column(g.weight)
        if weight is not None:
            m = m * weight
        alpha = None
        dst = g.dst
        if self.aggregation == "max":
            index = dst.unsqueeze(-1).expand_as(m)
            a = torch.zeros_like(h).scatter_reduce(0, index, m, reduce="amax", include_self=False)
        elif self.aggregation == "attention":
            d = h.shape[1]
            scores = F.leaky_relu(self.w_att(h)[dst] @ self.att[:d] + m @ self.att[d:], 0.2)
            alpha = segment_softmax(scores, dst, n)
            a = torch.zeros_like(h).index_add_(0, dst, m * alpha.unsqueeze(-1))
        else:
            a = torch.zeros_like(h).index_add_(0, dst, m)
            if self.aggregation == "mean":
                a = a / in_degree_column(dst, n, h.dtype)
        h_new = self.norm(h + F.relu(self.w_self(h) + a))
        return h_new, self.w_rel(z), LayerTrace(m, alpha, a)


class RAGModel(nn.Module):
    """Graph → task embeddings → a generated predictor per task on a shared encoder."""

    def __init__(self, config: ModelConfig, spec: DomainSpec, vocab: Vocab) -> None:
        super().__init__()
        self.config = config
        self.spec = spec
        self.vocab = vocab
        d, hidden, c = config.embed_dim, config.hidden, spec.n_outputs
        n_rel = len(vocab.relations)
        self.task_embedding = nn.Parameter(torch.randn(max(len(vocab.tasks), 1), d) * 0.5)
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
            self.heads = nn.Parameter(torch.randn(max(len(vocab.tasks), 1), hidden, c) / math.sqrt(hidden))
            self.head_bias = nn.Parameter(torch.zeros(max(len(vocab.tasks), 1), c))
        self.log_vars = nn.Parameter(torch.zeros(max(len(vocab.tasks), 1)))

    @property
    def regression(self) -> bool:
        return self.spec.kind == "regression"

    def initial_states(self, g: GraphTensors, drop: Tensor | None = None) -> Tensor:
        """h⁰: a task's own embedding, or u for zero-shot (and randomly dropped) tasks."""
        use_u = g.embed_index < 0
        if drop is not None:
            use_u = use_u | drop
        rows = self.task_embedding.index_select(
            0, cached_on(g.embed_index, "_ragviz_rows", lambda: g.embed_index.clamp_min(0)))
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

    def generated_heads(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Each task's generated linear head on s': weights (N, H, C) = G·t + base, biases (N, C)."""
        weight = torch.einsum("hcd,nd->nhc", self.gen_weight, t) + self.gen_base.weight.t()
        return weight, self.gen_bias(t) + self.gen_base.bias

    def task_heads(self, t: Tensor, g: GraphTensors) -> tuple[Tensor, ...]:
        """Everything the decoder needs per task, one row per task of ``g``, computed once.

        generated: (1 + γ, β, W_v, b_v); film: (1 + γ, β); independent: (head, bias, known).
        :meth:`decode_points` then only works on points; rows can be sliced to a subset of tasks.
        """
        if self.config.decoder == "independent":
            rows = g.embed_index.clamp_min(0)
            known = (g.embed_index >= 0).to(self.heads.dtype)
            return self.heads[rows], self.head_bias[rows], known
        gamma, beta = self.film(t).chunk(2, dim=-1)
        if self.config.decoder == "film":
            return 1 + gamma, beta
        return (1 + gamma, beta, *self.generated_heads(t))

    def decode_points(self, heads: tuple[Tensor, ...], x: Tensor, tid: Tensor, n_classes: Tensor) -> Tensor:
        """Outputs on points ``x`` of tasks ``tid`` (rows of ``heads`` and ``n_classes``)."""
        if self.config.decoder == "independent":
            s = self.encoder(x)
            head, bias, known = heads
            out = torch.einsum("mh,mhc->mc", s, head[tid]) + bias[tid]
            out = out * known[tid].unsqueeze(-1)  # tasks without a head predict nothing: chance
        else:
            scale, shift = heads[0], heads[1]
            blocks = point_blocks(tid)
            if blocks is not None:
                # Each task's points form one contiguous block of equal size (full batches, test
                # splits, plotting grids): FiLM and the generated head broadcast over a task's
                # block, so no per-point copies of task parameters are made (nor summed back).
                ids, per_task = blocks
                xb = x.reshape(ids.shape[0], per_task, -1)
                if not torch.is_grad_enabled() and ids.shape[0] > 1 and torch.equal(xb, xb[:1].expand_as(xb)):
                    s = self.encoder(x[:per_task]).expand(ids.shape[0], -1, -1)  # a shared grid: encode it once
                else:
                    s = self.encoder(x).reshape(ids.shape[0], per_task, -1)
                s = torch.relu_(torch.addcmul(shift[ids].unsqueeze(1), scale[ids].unsqueeze(1), s))
                if self.config.decoder == "film":
                    out = self.head(s)
                else:
                    out = torch.baddbmm(heads[3][ids].unsqueeze(1), s, heads[2][ids])
                out = out.reshape(-1, out.shape[-1])
            else:
                s = self.encoder(x)
                s = torch.relu_(torch.addcmul(shift.index_select(0, tid), scale.index_select(0, tid), s))
                if self.config.decoder == "film":
                    out = self.head(s)
                else:
                    weight, bias = heads[2].index_select(0, tid), heads[3].index_select(0, tid)
                    out = torch.baddbmm(bias.unsqueeze(1), s.unsqueeze(1), weight).squeeze(1)
        if self.regression:
            return out[:, 0]
        mask = class_mask(n_classes, tid, out.shape[1])
        return out if mask is None else out.masked_fill(mask, NEG_INF)

    def decode_all(self, heads: tuple[Tensor, ...], g: GraphTensors, x: Tensor, tid: Tensor) -> Tensor:
        """:meth:`decode_points` for all tasks of ``g``; inference on many points goes chunk by chunk
        of whole tasks (same outputs, less memory)."""
        if not torch.is_grad_enabled():
            chunks = point_chunks(tid, g.n_tasks, chunk_size(x.device))
            if chunks is not None:
                return torch.cat([self.decode_points(tuple(h[lo:hi] for h in heads), x[a:b], tid[a:b] - lo,
                                                     g.n_classes[lo:hi]) for lo, hi, a, b in chunks])
        return self.decode_points(heads, x, tid, g.n_classes)

    def forward(self, g: GraphTensors, x: Tensor, tid: Tensor, drop: Tensor | None = None) -> Tensor:
        states, _ = self.embed_tasks(g, drop, keep_messages=False)
        return self.decode_all(self.task_heads(states[-1], g), g, x, tid)

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
