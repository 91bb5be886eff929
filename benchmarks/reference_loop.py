"""A straightforward RAG written task by task: the comparison point for ragviz's vectorised model.

This is how the model tends to be written first: messages gathered node by node, and each
task's FiLM, generated head and loss computed in a Python loop over tasks. It shares the
parameters of a :class:`ragviz.model.rag.RAGModel` (so sizes, initial weights and the loss are
the same; :func:`check_same_loss` verifies it) and trains with the same settings as
``ragviz.training.train.train``: AdamW, full batch, task dropout from the same seeded generator,
equal task weighting, evaluation of every task's train and test split every ``eval_every``
steps. Kept in ``benchmarks/`` for this comparison only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from common import accuracy_summary
from torch import Tensor, nn

from ragviz.graph.task_graph import TaskGraph
from ragviz.model.rag import NEG_INF, RAGModel
from ragviz.training.prepared import prepare


@dataclass
class TaskTensors:
    """One task's points and how to score them."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int


class LoopRAG(nn.Module):
    """The RAG forward pass with a Python loop over nodes (messages) and over tasks (heads, losses)."""

    def __init__(self, rag: RAGModel, graph: TaskGraph, device: torch.device) -> None:
        super().__init__()
        config = rag.config
        if config.composition not in ("mult", "sub", "none") or config.aggregation not in ("mean", "sum", "max"):
            raise ValueError("the loop reference covers compositions mult/sub/none and mean/sum/max aggregation")
        if config.decoder not in ("linear", "generated", "film"):
            raise ValueError("the loop reference covers the linear (default), generated and film decoders")
        self.rag = rag.to(device)
        prep = prepare(graph, rag)
        g = prep.g
        self.n = g.n_tasks
        self.embed_index = g.embed_index.tolist()
        src, dst, rel, weight = g.src.tolist(), g.dst.tolist(), g.rel.tolist(), g.weight.tolist()
        self.incoming: list[tuple[Tensor, Tensor, Tensor]] = []
        for v in range(self.n):
            picks = [i for i, d in enumerate(dst) if d == v]
            self.incoming.append((
                torch.tensor([src[i] for i in picks], device=device),
                torch.tensor([rel[i] for i in picks], device=device),
                torch.tensor([weight[i] for i in picks], device=device),
            ))
        self.tasks: list[TaskTensors] = []
        dim = rag.spec.input_dim
        y_dtype = torch.float32 if rag.regression else torch.long
        for name in g.names:
            data = prep.data[name]
            self.tasks.append(TaskTensors(
                torch.tensor(data.x_train, dtype=torch.float32, device=device).reshape(-1, dim),
                torch.tensor(data.y_train, dtype=y_dtype, device=device),
                torch.tensor(data.x_test, dtype=torch.float32, device=device).reshape(-1, dim),
                torch.tensor(data.y_test, dtype=y_dtype, device=device),
                int(data.n_classes),
            ))

    def embed(self, drop: list[bool] | None = None) -> Tensor:
        """Task embeddings: each node gathers and aggregates its own incoming messages."""
        rag = self.rag
        rows = []
        for v in range(self.n):
            row = self.embed_index[v]
            use_u = row < 0 or (drop is not None and drop[v])
            rows.append(rag.unknown_task if use_u else rag.task_embedding[row])
        h = torch.stack(rows)
        if rag.config.unseen_state == "propagated":
            h = self.propagate([self.embed_index[v] < 0 or (drop is not None and drop[v]) for v in range(self.n)], h)
        z = rag.relation_embedding
        for layer in rag.layers:
            aggregates = []
            for v in range(self.n):
                src, rel, weight = self.incoming[v]
                hs = h[src]
                if layer.composition == "mult":
                    hs = hs * z[rel]
                elif layer.composition == "sub":
                    hs = hs - z[rel]
                m = layer.w_msg(hs) * weight.unsqueeze(-1)
                if layer.aggregation == "mean":
                    aggregates.append(m.mean(0))
                elif layer.aggregation == "sum":
                    aggregates.append(m.sum(0))
                else:
                    aggregates.append(m.max(0).values)
            a = torch.stack(aggregates)
            h = layer.norm(h + F.relu(layer.w_self(h) + a))
            z = layer.w_rel(z)
        return h

    def propagate(self, unseen: list[bool], h: Tensor, sweeps: int = 500, tol: float = 1e-6) -> Tensor:
        """Unseen tasks' initial states, task by task: each takes the α-weighted, τ-scaled states of its
        neighbours (plus u for the share of no edge), sweep after sweep until they settle."""
        rag = self.rag
        z = rag.relation_embedding
        blind = rag.config.composition == "none"
        tau = torch.ones_like(z) if blind else 1 + rag.relation_transform(z)
        bias = torch.zeros_like(z[:, 0]) if blind else rag.relation_score(z).squeeze(-1)
        weights = []
        for v in range(self.n):
            src, rel, weight = self.incoming[v]
            other = src != v
            alpha = torch.softmax(bias[rel[other]] + weight[other].clamp_min(1e-6).log(), 0) if other.any() else None
            weights.append((src[other], rel[other], alpha))
        start = h
        for _ in range(sweeps):
            rows = []
            for v in range(self.n):
                src, rel, alpha = weights[v]
                if not unseen[v] or alpha is None:
                    rows.append(start[v])
                else:
                    rows.append((alpha.unsqueeze(-1) * tau[rel] * h[src]).sum(0))
            h, before = torch.stack(rows), h
            if float((h - before).abs().max()) < tol:
                break
        return h

    def task_output(self, t: Tensor, x: Tensor, n_classes: int) -> Tensor:
        """One task's logits (or means) on its points, from its embedding ``t``."""
        rag = self.rag
        s = rag.encoder(x)
        if rag.config.decoder != "linear":
            gamma, beta = rag.film(t).chunk(2)
            s = F.relu((1 + gamma) * s + beta)
        if rag.config.decoder == "film":
            out = rag.head(s)
        else:
            weight = rag.gen_weight @ t  # (H, C): this task's generated head
            out = s @ weight + rag.gen_base(s) + rag.gen_bias(t)
        if rag.regression:
            return out[:, 0]
        if n_classes < out.shape[1]:
            out = torch.cat([out[:, :n_classes], torch.full_like(out[:, n_classes:], NEG_INF)], dim=1)
        return out

    def task_loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(out, y) if self.rag.regression else F.cross_entropy(out, y)

    def loss(self, drop: list[bool] | None = None) -> Tensor:
        """Mean over tasks with training points of each task's mean loss."""
        t = self.embed(drop)
        losses = []
        for v, task in enumerate(self.tasks):
            if len(task.y_train):
                losses.append(self.task_loss(self.task_output(t[v], task.x_train, task.n_classes), task.y_train))
        return torch.stack(losses).mean()

    @torch.no_grad()
    def evaluate(self) -> dict[str, list[float]]:
        """Per-task loss and metric on both splits, task by task."""
        t = self.embed()
        result: dict[str, list[float]] = {"train_loss": [], "train_metric": [], "test_loss": [], "test_metric": []}
        for v, task in enumerate(self.tasks):
            for split, x, y in (("train", task.x_train, task.y_train), ("test", task.x_test, task.y_test)):
                if not len(y):
                    result[f"{split}_loss"].append(float("nan"))
                    result[f"{split}_metric"].append(float("nan"))
                    continue
                out = self.task_output(t[v], x, task.n_classes)
                loss = self.task_loss(out, y)
                metric = loss if self.rag.regression else (out.argmax(-1) == y).float().mean()
                result[f"{split}_loss"].append(float(loss))
                result[f"{split}_metric"].append(float(metric))
        return result


def check_same_loss(rag: RAGModel, graph: TaskGraph) -> float:
    """|loss(ragviz) - loss(loop)| at the shared initial weights, without task dropout."""
    from ragviz.training.prepared import per_task_mean

    loop = LoopRAG(rag, graph, torch.device("cpu"))
    prep = prepare(graph, rag)
    with torch.no_grad():
        out = rag(prep.g, prep.train.x, prep.train.tid)
        per_task = per_task_mean(rag.point_loss(out, prep.train.y), prep.train.tid, prep.g.n_tasks)
        ours = per_task[torch.isfinite(per_task)].mean()
        theirs = loop.loss()
    return abs(float(ours) - float(theirs))


def train_loop_reference(rag: RAGModel, graph: TaskGraph, steps: int, lr: float, weight_decay: float,
                         eval_every: int, seed: int, device: torch.device) -> dict[str, float]:
    """Train the loop reference like ``ragviz.training.train.train`` does; returns wall time and final accuracy."""
    start = time.perf_counter()
    model = LoopRAG(rag, graph, device)
    params = [p for p in rag.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch.manual_seed(seed)
    seen = [row >= 0 for row in model.embed_index]
    p_drop = rag.config.task_dropout
    history = [model.evaluate()]
    for step in range(1, steps + 1):
        drop = None
        if p_drop > 0:
            draws = torch.rand(model.n, generator=gen).tolist()
            drop = [d < p_drop and s for d, s in zip(draws, seen, strict=True)]
        loss = model.loss(drop)
        if not torch.isfinite(loss):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            history.append(model.evaluate())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **accuracy_summary(history[-1]["test_metric"], seen)}

