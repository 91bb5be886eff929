"""The RAG model built on PyTorch Geometric's message passing: the comparison a PyG user would write.

Two variants, both full batch, with the same sizes (d, H, layers, bases), the same generated
decoder (written the PyG way: per-point gathers by the ``batch``/task index) and the same
training settings as ``ragviz.training.train.train``:

- ``compgcn``: a ``MessagePassing`` layer with the same message as ragviz's default
  (h_u ⊙ z_r, W_msg, edge weight, mean aggregation). It shares the parameters of a
  :class:`ragviz.model.rag.RAGModel`, so its loss equals ragviz's (:func:`check_same_loss`).
- ``rgcn``: PyG's own ``RGCNConv`` (basis decomposition, mean aggregation, root weight)
  in each layer, compared with ragviz's ``composition="rgcn"``. Its own parameters.

Needs ``pip install torch-geometric==2.8.1`` (requirements-bench.txt); pure Python, no
torch_scatter or torch_sparse.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from common import accuracy_summary
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing, RGCNConv
from torch_geometric.utils import scatter, softmax, to_dense_adj

from ragviz.graph.task_graph import TaskGraph
from ragviz.model.rag import NEG_INF, RAGLayer, RAGModel
from ragviz.model.unseen.propagated import REGULARISER
from ragviz.training.prepared import Prepared, per_task_mean, prepare


class CompGCNConv(MessagePassing):
    """ragviz's layer as a PyG ``MessagePassing``: message W_msg(h_u ⊙ z_r)·w_uv, mean, then the update."""

    def __init__(self, layer: RAGLayer) -> None:
        super().__init__(aggr="mean")
        self.layer = layer

    def forward(self, h: Tensor, z: Tensor, edge_index: Tensor, edge_type: Tensor,
                edge_weight: Tensor) -> tuple[Tensor, Tensor]:
        a = self.propagate(edge_index, x=h, z=z, edge_type=edge_type, edge_weight=edge_weight)
        layer = self.layer
        return layer.norm(h + F.relu(layer.w_self(h) + a)), layer.w_rel(z)

    def message(self, x_j: Tensor, z: Tensor, edge_type: Tensor, edge_weight: Tensor) -> Tensor:
        return self.layer.w_msg(x_j * z[edge_type]) * edge_weight.unsqueeze(-1)


class PygRAG(nn.Module):
    """Task embeddings by PyG layers, then the generated decoder on all points at once."""

    def __init__(self, rag: RAGModel, prep: Prepared, variant: str) -> None:
        super().__init__()
        config = rag.config
        if config.decoder not in ("linear", "generated"):
            raise ValueError("the PyG reference uses the linear (default) or generated decoder")
        self.rag = rag  # embeddings, encoder and decoder parameters
        self.variant = variant
        g = prep.g
        self.edge_index = torch.stack([g.src, g.dst])  # messages flow src -> dst, self-loops included
        self.edge_type, self.edge_weight = g.rel, g.weight
        self.embed_index, self.n_classes, self.n = g.embed_index, g.n_classes, g.n_tasks
        classes = torch.arange(rag.spec.n_outputs)
        k = g.n_classes.unsqueeze(1)
        self.reverse = torch.where(classes < k, k - 1 - classes, classes)  # each task's label reversal, (N, C)
        if variant == "compgcn":
            if config.composition != "mult" or config.aggregation != "mean":
                raise ValueError("the compgcn variant reproduces composition 'mult' with 'mean' aggregation")
            self.convs = nn.ModuleList(CompGCNConv(layer) for layer in rag.layers)
        elif variant == "rgcn":
            d, slots = config.embed_dim, rag.relation_embedding.shape[0]
            self.convs = nn.ModuleList(RGCNConv(d, d, slots, num_bases=config.n_bases, aggr="mean")
                                       for _ in range(config.layers))
            self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(config.layers))
        else:
            raise ValueError(f"unknown variant {variant!r}")

    def embed(self, drop: Tensor | None = None) -> Tensor:
        rag = self.rag
        use_u = self.embed_index < 0
        if drop is not None:
            use_u = use_u | drop
        rows = rag.task_embedding[self.embed_index.clamp_min(0)]
        h = torch.where(use_u.unsqueeze(-1), rag.unknown_task.expand_as(rows), rows)
        propagated = rag.config.unseen_state == "propagated"
        if propagated:
            h = self.propagate(h, use_u, scaled=False)
        if self.variant == "compgcn":
            z = rag.relation_embedding
            for conv in self.convs:
                h, z = conv(h, z, self.edge_index, self.edge_type, self.edge_weight)
        else:
            for conv, norm in zip(self.convs, self.norms, strict=True):
                h = norm(h + F.relu(conv(h, self.edge_index, self.edge_type)))
        if propagated and len(self.convs):
            h = self.propagate(h, use_u, scaled=True)
        return h

    def propagate(self, start: Tensor, unseen: Tensor, scaled: bool) -> Tensor:
        """Unseen tasks' states by PyG's idioms: α_uv = softmax over v's edges and the weights as a dense
        adjacency (``torch_geometric.utils``), then one linear solve per half of the dimensions (``scaled``:
        the second half's weights times the relation's ρ). Unseen rows: (1 + ε) h_v − Σ_u α_uv τ_r h_u =
        (ε + 1 − Σ_u α_uv) start_v; seen rows: h_v = start_v."""
        rag = self.rag
        rho, bias = rag.unseen.relation_terms(rag)  # ρ_r and b_r from z_r, as the model defines them
        src, dst = self.edge_index
        keep = src != dst
        src, dst, rel = src[keep], dst[keep], self.edge_type[keep]
        alpha = softmax(bias[rel] + self.edge_weight[keep].clamp_min(1e-6).log(), dst, num_nodes=self.n)
        # to_dense_adj puts edge (i → j) at [i, j]: flip it to [receiver, sender] rows
        adjacency = to_dense_adj(torch.stack([dst, src]), edge_attr=torch.stack([alpha, alpha * rho[rel]], 1),
                                 max_num_nodes=self.n)[0].permute(2, 0, 1)  # (2, N, N)
        rows = unseen.unsqueeze(-1)
        eye = torch.eye(self.n, device=start.device)
        system = torch.where(rows, (1 + REGULARISER) * eye - adjacency, eye)
        share = REGULARISER + 1 - scatter(alpha, dst, dim=0, dim_size=self.n, reduce="sum")
        rhs = torch.where(rows, share.unsqueeze(-1) * start, start)
        if not scaled:
            return torch.linalg.solve(system[0], rhs)
        half = start.shape[1] // 2
        return torch.cat([torch.linalg.solve(system[0], rhs[:, :half]), torch.linalg.solve(system[1], rhs[:, half:])],
                         1)

    def forward(self, x: Tensor, batch: Tensor, drop: Tensor | None = None) -> Tensor:
        """Logits of every point; ``batch`` says which task a point belongs to (PyG's idiom)."""
        rag = self.rag
        t = self.embed(drop)
        s = rag.encoder(x)
        if rag.config.decoder != "linear":
            gamma, beta = rag.film(t).chunk(2, dim=-1)
            s = F.relu((1 + gamma[batch]) * s + beta[batch])
        hidden, c, d = rag.gen_weight.shape
        projected = (s @ rag.gen_weight.reshape(hidden, c * d)).view(-1, c, d)  # s·G for every point
        tb = t[batch]
        if rag.config.decoder == "linear" and not rag.regression:
            # The linear decoder: the first half of t generates the part of the head that reversing the
            # task's labels keeps, the second half the part it negates (per point, by its task's reversal).
            half = d // 2
            keep = ((projected[..., :half] * tb[:, None, :half]).sum(-1) + rag.gen_base(s)
                    + tb[:, :half] @ rag.gen_bias.weight[:, :half].t())
            negate = ((projected[..., half:] * tb[:, None, half:]).sum(-1)
                      + tb[:, half:] @ rag.gen_bias.weight[:, half:].t())
            reverse = self.reverse[batch]
            out = (keep + keep.gather(1, reverse)) / 2 + (negate - negate.gather(1, reverse)) / 2
        else:
            out = (projected * tb.unsqueeze(1)).sum(-1) + rag.gen_base(s) + rag.gen_bias(t)[batch]
        if rag.regression:
            return out[:, 0]
        mask = torch.arange(c, device=out.device).unsqueeze(0) >= self.n_classes[batch].unsqueeze(1)
        return out.masked_fill(mask, NEG_INF)


def _task_losses(model: PygRAG, x: Tensor, y: Tensor, batch: Tensor, drop: Tensor | None = None) -> Tensor:
    out = model(x, batch, drop)
    return per_task_mean(model.rag.point_loss(out, y), batch, model.n)


def check_same_loss(rag: RAGModel, graph: TaskGraph) -> float:
    """|loss(ragviz) - loss(PyG compgcn)| at the shared initial weights, with every third seen task dropped
    (the loop reference's mask), so the unseen tasks' start and close count in the loss."""
    from reference_loop import dropped_for_check

    prep = prepare(graph, rag)
    model = PygRAG(rag, prep, "compgcn")
    drop = dropped_for_check(prep.g.embed_index)
    with torch.no_grad():
        ours = per_task_mean(rag.point_loss(rag(prep.g, prep.train.x, prep.train.tid, drop), prep.train.y),
                             prep.train.tid, prep.g.n_tasks)
        theirs = _task_losses(model, prep.train.x, prep.train.y, prep.train.tid, drop)
    keep = torch.isfinite(ours)
    return abs(float(ours[keep].mean()) - float(theirs[keep].mean()))


def train_pyg_reference(rag: RAGModel, graph: TaskGraph, variant: str, steps: int, lr: float,
                        weight_decay: float, eval_every: int, seed: int, device: torch.device) -> dict[str, float]:
    """Train a PyG reference like ``ragviz.training.train.train`` does; returns wall time and final accuracy."""
    start = time.perf_counter()
    prep = prepare(graph, rag)
    g = prep.g.to(device)
    train_split, test_split = prep.train.to(device), prep.test.to(device)
    prep = Prepared(prep.graph, prep.spec, prep.data, g, train_split, test_split)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PygRAG(rag, prep, variant).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch.manual_seed(seed)
    seen = g.embed_index >= 0
    has_points = torch.zeros(g.n_tasks, dtype=torch.bool, device=device).index_fill_(0, train_split.tid, True)
    p_drop = rag.config.task_dropout

    @torch.no_grad()
    def evaluate() -> list[float]:
        """Per-task loss and metric on both splits, as ragviz records them; returns the test metric."""
        model.eval()
        metric = torch.zeros(0)
        for part in (train_split, test_split):
            out = model(part.x, part.tid)
            loss = per_task_mean(rag.point_loss(out, part.y), part.tid, g.n_tasks)
            correct = loss if rag.regression else (out.argmax(-1) == part.y).float()
            metric = loss if rag.regression else per_task_mean(correct, part.tid, g.n_tasks)
            loss.tolist()
        model.train()
        return metric.tolist()

    metric = evaluate()
    for step in range(1, steps + 1):
        drop = None
        if p_drop > 0:
            drop = (torch.rand(g.n_tasks, generator=gen) < p_drop).to(device) & seen
        loss = _task_losses(model, train_split.x, train_split.y, train_split.tid, drop)[has_points].mean()
        if not math.isfinite(float(loss.detach())):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            metric = evaluate()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **accuracy_summary(metric, seen.tolist())}
