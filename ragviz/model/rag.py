"""The RAG model: relation-aware message passing, a shared encoder and a predictor generated per task.

Reads top-down like the equations (docs/DESIGN.md §2): initial states h⁰ (a seen task's own
embedding; an unseen task's from :mod:`ragviz.model.unseen`), L message-passing layers
(:mod:`ragviz.model.layers`), the task embedding t_v = h_v^L, and each task's head from t_v
(:mod:`ragviz.model.decoders`) on the shared encoding s = enc(x).
"""

from __future__ import annotations

import threading
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ragviz.data.domains import DomainSpec
from ragviz.model.config import ModelConfig
from ragviz.model.decoders import decoder_class
from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.layers import NEG_INF, LayerTrace, RAGLayer, segment_softmax
from ragviz.model.layouts import PointLayout, chunk_size, point_layout
from ragviz.model.tensors import GraphTensors, Vocab
from ragviz.model.unseen import unseen_state_class
from ragviz.model.unseen.base import UnseenState

__all__ = ["NEG_INF", "Heads", "LayerTrace", "RAGLayer", "RAGModel", "build_model", "segment_softmax"]


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
        self.decoder: Decoder = decoder_class(config.decoder)(self, d, hidden, c, n_seen, 2 * n_rel + 1)
        self.log_vars = nn.Parameter(torch.zeros(n_seen))
        self.unseen: UnseenState = unseen_state_class(config.unseen_state)(self, d, 2 * n_rel + 1)

    @property
    def regression(self) -> bool:
        return self.spec.kind == "regression"

    # --- message passing: h⁰ → h^L -------------------------------------------------------------

    def initial_states(self, g: GraphTensors, drop: Tensor | None = None) -> Tensor:
        """h⁰: a seen task's own embedding e_v; an unseen task's (zero-shot, or dropped this step) from
        the model's :class:`~ragviz.model.unseen.base.UnseenState` strategy."""
        unseen = self.unseen_tasks(g, drop)
        return self.start(g, unseen, self.unseen.prepare(self, g, unseen))

    def unseen_tasks(self, g: GraphTensors, drop: Tensor | None) -> Tensor:
        """Tasks without data of their own this pass: zero-shot ones, and those dropped this training step."""
        unseen = g.embed_index < 0
        return unseen if drop is None else unseen | drop

    def start(self, g: GraphTensors, unseen: Tensor, shared: Any) -> Tensor:
        h = self.unseen.initial(self, g, self.task_embedding.index_select(0, g.layout.embed_rows), unseen, shared)
        if hasattr(self, "descriptor_proj"):
            h = h + self.descriptor_proj(g.descriptors)
        return h

    def embed_tasks(self, g: GraphTensors, drop: Tensor | None = None, keep_messages: bool = True,
                    sparse: bool = True) -> tuple[list[Tensor], list[LayerTrace]]:
        """All layers' task states h⁰…h^L and each layer's messages (unless ``keep_messages`` is False;
        training keeps none). ``sparse=False`` keeps the per-message aggregation, which vmaps.

        The last layer's states are the task embeddings t_v; an unseen task's comes from
        :meth:`close`, so the trace of that layer shows what made it.
        """
        unseen = self.unseen_tasks(g, drop)
        shared = self.unseen.prepare(self, g, unseen)
        h = self.start(g, unseen, shared)
        z = self.relation_embedding
        states, traces = [h], []
        for layer in self.layers:
            h, z, trace = layer(h, z, g, keep_messages, sparse)
            states.append(h)
            traces.append(trace)
        if self.layers:
            states[-1] = self.close(g, unseen, shared, states[-1], traces[-1])
        return states, traces

    def close(self, g: GraphTensors, unseen: Tensor, shared: Any, h: Tensor, trace: LayerTrace) -> Tensor:
        """t_v = h^L_v for seen tasks; for unseen ones whatever the :class:`UnseenState` strategy makes of
        their neighbours' last states (the propagated strategy: their relation-transformed fixed point).
        When the trace keeps messages, its messages into unseen tasks become the terms that made t_v."""
        t, terms, weights = self.unseen.final(self, g, h, unseen, trace.messages is not None, shared)
        if terms is not None and trace.messages is not None:
            into = unseen.index_select(0, g.dst)
            trace.messages = torch.where(into.unsqueeze(-1), terms, trace.messages)
            trace.aggregate = torch.where(unseen.unsqueeze(-1), t, trace.aggregate)
            if trace.attention is not None and weights is not None:
                trace.attention = torch.where(into, weights, trace.attention)
        return t

    # --- decoders: t_v = h_v^L → each task's predictor on the shared encoder s = enc(x) ------------

    def task_heads(self, t: Tensor, g: GraphTensors, drop: Tensor | None = None) -> Heads:
        """Every task's decoder from its final state t_v, one row per task of ``g``, computed once.

        ``drop`` (the tasks dropped this training step) matters only to decoders that blend.
        """
        return self.decoder.heads(self, t, g, drop, self.class_mask(g))

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
        if self.regression:  # one value per point, or a whole output vector (a drawing's pixels)
            flat = out.reshape(-1, out.shape[-1])
            return flat[:, 0] if flat.shape[-1] == 1 else flat
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
        """Per-point loss: squared error (averaged over a point's outputs) or cross-entropy over the
        task's own classes."""
        if self.regression:
            error = (out - y) ** 2
            return error if error.dim() == 1 else error.mean(-1)
        return F.cross_entropy(out, y, reduction="none")


RNG_LOCK = threading.Lock()  # runs in parallel threads must not draw from each other's seeded RNG


def build_model(config: ModelConfig, spec: DomainSpec, vocab: Vocab, seed: int = 0) -> RAGModel:
    """A freshly initialised model; the same seed gives the same weights."""
    with RNG_LOCK, torch.random.fork_rng(devices=[]):  # the global RNG: one thread at a time
        torch.manual_seed(seed)
        return RAGModel(config.validated(), spec, vocab)
