"""Index layouts: where each task's points and messages lie, worked out once where the tensors are made.

The model only reads these records. :func:`point_layout` describes a flat batch of points
(sorted by task or not); :func:`graph_layout` the message edges of one graph. Both are plain
data that move with ``.to(device)``, so a training run computes them once, not every step.
"""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

MIN_BLOCK = 4  # smaller blocks gain nothing from broadcasting over a task's points
#: Many points sorted by task are decoded in chunks of whole tasks of about this many points: on a
#: CPU one chunk's (points × H) activations stay in cache (measured fastest at 8k to 32k points,
#: about twice as fast as one pass on 300k points); on CUDA only to bound memory.
CHUNK_POINTS = {"cpu": 16_384, "cuda": 1 << 21}

Chunk = tuple[int, int, int, int]  # (first task, end task, first point, end point)


def chunk_size(device: torch.device | str) -> int:
    """Points per chunk on ``device`` (see :meth:`PointLayout.chunks`)."""
    return CHUNK_POINTS.get(torch.device(device).type, CHUNK_POINTS["cpu"])


@dataclass
class PointLayout:
    """How a flat batch of points is laid out by task.

    ``counts`` holds each task's number of points. ``ends`` (cumulative counts) is set when the
    points are sorted by task; ``block_ids`` when, in addition, every task with points has the
    same number of them (``block_size``): the decoder then broadcasts over each task's block.
    """

    counts: Tensor  # (N,) float32
    ends: tuple[int, ...] | None = None
    block_ids: Tensor | None = None
    block_size: int = 0
    _chunks: dict[int, list[tuple[Chunk, PointLayout]] | None] = field(default_factory=dict, repr=False)

    @property
    def with_points(self) -> Tensor:
        """Indices of the tasks that have at least one point."""
        return (self.counts > 0).nonzero().squeeze(1)

    def chunks(self, size: int) -> list[tuple[Chunk, PointLayout]] | None:
        """Runs of whole tasks of about ``size`` points, each with its own layout; None when one run will do."""
        if self.ends is None or not self.ends or self.ends[-1] <= size:
            return None
        if size not in self._chunks:
            self._chunks[size] = _chunks(self.ends, size, self.counts.device)
        return self._chunks[size]

    def to(self, device: torch.device | str) -> PointLayout:
        return PointLayout(self.counts.to(device), self.ends,
                           None if self.block_ids is None else self.block_ids.to(device), self.block_size)


def counts_layout(counts: list[int], device: torch.device | str = "cpu") -> PointLayout:
    """The layout of points sorted by task, ``counts[i]`` of them for task i (no device round trip)."""
    ends = tuple(int(e) for e in torch.tensor(counts, dtype=torch.long).cumsum(0).tolist()) if counts else ()
    counts_t = torch.tensor(counts, dtype=torch.float32, device=device)
    present = [i for i, c in enumerate(counts) if c > 0]
    sizes = {counts[i] for i in present}
    if len(sizes) == 1 and min(sizes) >= MIN_BLOCK:
        ids = torch.tensor(present, dtype=torch.long, device=device)
        return PointLayout(counts_t, ends, ids, sizes.pop())
    return PointLayout(counts_t, ends)


def point_layout(tid: Tensor, n_tasks: int) -> PointLayout:
    """The layout of any batch of points, read off ``tid`` (points built on the fly, random minibatches)."""
    counts = torch.bincount(tid, minlength=n_tasks)
    if bool((tid[1:] >= tid[:-1]).all()):
        return counts_layout(counts.tolist(), tid.device)
    return PointLayout(counts.to(torch.float32))


def _chunks(ends: tuple[int, ...], size: int, device: torch.device) -> list[tuple[Chunk, PointLayout]]:
    out, lo, a, n = [], 0, 0, len(ends)
    while lo < n:
        hi = max(bisect.bisect_right(ends, a + size), lo + 1)
        b = ends[hi - 1]
        counts = [ends[i] - (ends[i - 1] if i else 0) for i in range(lo, hi)]
        out.append(((lo, hi, a, b), counts_layout(counts, device)))
        lo, a = hi, b
    return out


@dataclass
class GraphLayout:
    """Per-graph indices the message passing reads every step."""

    embed_rows: Tensor  # (N,) each task's embedding row (0 for zero-shot tasks, which use u instead)
    in_degree: Tensor  # (N, 1) float32, incoming messages per task, at least 1: the mean's divisor
    weight_column: Tensor | None  # (E', 1) edge weights to scale messages by; None when all are 1
    min_classes: int  # the fewest classes of any task (decoders mask outputs beyond a task's classes)
    max_classes: int = 0  # the most: equal to min_classes when every task reverses its labels alike
    _adjacency: dict[tuple[int, bool], Tensor] = field(default_factory=dict, repr=False)
    _constants: dict[tuple, Tensor] = field(default_factory=dict, repr=False)

    def constant(self, key: tuple, make: Callable[[], Tensor]) -> Tensor:
        """A tensor that depends only on this graph (and ``key``), made once and reused every step: a ring
        step is bound by its count of small operations, so nothing the graph fixes is recomputed."""
        if key not in self._constants:
            self._constants[key] = make()
        return self._constants[key]

    def edge_log_weight(self, src: Tensor, dst: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
        """(log w_uv with self-loops at −10⁹, 1 where the edge is no self-loop)."""
        not_self = self.constant(("not_self",), lambda: (src != dst).to(weight.dtype))
        return self.constant(("log",), lambda: weight.clamp_min(1e-6).log().masked_fill(src == dst, -1e9)), not_self

    def dense_edges(self, src: Tensor, dst: Tensor, weight: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """(each edge's cell v·N + u in an N × N matrix; its weight, self-loops at 0; 1 for the tasks that no
        edge but self-loops reaches, else 0)."""
        flat = self.constant(("dense",), lambda: dst * n + src)
        weights = self.constant(("dense_weight",), lambda: weight.masked_fill(src == dst, 0.0))
        no_in = self.constant(("no_in",), lambda: (torch.zeros(n, dtype=weight.dtype, device=weight.device)
                                                    .index_add(0, dst, weights) <= 0).to(weight.dtype))
        return flat, weights, no_in

    def class_reversal(self, n_classes: Tensor, width: int) -> Tensor:
        """Each task's class reversal as an index (N, C): class j ↔ k−1−j below its k classes, others stay."""
        def make() -> Tensor:
            classes = torch.arange(width, device=n_classes.device)
            k = n_classes.unsqueeze(1)
            return torch.where(classes < k, k - 1 - classes, classes)
        return self.constant(("reversal", width), make)

    def half_sign(self, d: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """(d,): +½ on the first half of the state's dimensions, −½ on the second."""
        return self.constant(("half_sign", d, dtype, device),
                             lambda: torch.where(torch.arange(d, device=device) < d // 2, 0.5, -0.5).to(dtype))

    def to(self, device: torch.device | str) -> GraphLayout:
        return GraphLayout(self.embed_rows.to(device), self.in_degree.to(device),
                           None if self.weight_column is None else self.weight_column.to(device), self.min_classes,
                           self.max_classes)


def graph_layout(embed_index: Tensor, dst: Tensor, weight: Tensor, n_classes: Tensor) -> GraphLayout:
    """Work out a graph's :class:`GraphLayout` from its index tensors."""
    n = int(embed_index.shape[0])
    degree = torch.zeros(n, dtype=torch.float32, device=dst.device).index_add_(
        0, dst, torch.ones(dst.shape[0], dtype=torch.float32, device=dst.device))
    column = None if bool((weight == 1).all()) else weight.unsqueeze(-1)
    return GraphLayout(embed_index.clamp_min(0), degree.clamp_min(1).unsqueeze(-1), column,
                       int(n_classes.min()) if n else 0, int(n_classes.max()) if n else 0)


def relation_adjacency(layout: GraphLayout, src: Tensor, dst: Tensor, rel: Tensor, weight: Tensor,
                       n_slots: int, mean: bool) -> Tensor:
    """A (N × N·R) sparse CSR matrix: row v, column u·R + r holds w_uv (÷ v's in-degree for the mean).

    Multiplying it with every task's composed state for every relation slot, laid out as
    (N·R × d), sums each task's incoming messages before W_msg (which is linear) in one product.
    Built the first time a layer asks and kept in ``layout``.
    """
    key = (n_slots, mean)
    if key not in layout._adjacency:
        n = int(layout.embed_rows.shape[0])
        values = weight.to(torch.float32)
        if mean:
            values = values / layout.in_degree[:, 0].index_select(0, dst)
        index = torch.stack([dst, src * n_slots + rel])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta": the product used here is stable
            coo = torch.sparse_coo_tensor(index, values, (n, n * n_slots), check_invariants=True).coalesce()
            layout._adjacency[key] = coo.to_sparse_csr()
    return layout._adjacency[key]
