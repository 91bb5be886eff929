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
from ragviz.model.unseen.propagated import REGULARISER as EPS
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
        """Task embeddings: each node gathers and aggregates its own incoming messages; with the propagated
        strategy, unseen tasks start and end at the fixed point of their neighbours."""
        rag = self.rag
        unseen = [self.embed_index[v] < 0 or (drop is not None and drop[v]) for v in range(self.n)]
        h = torch.stack([rag.unknown_task if unseen[v] else rag.task_embedding[self.embed_index[v]]
                         for v in range(self.n)])
        propagated = rag.config.unseen_state == "propagated"
        if propagated:
            h = self.propagate(unseen, h, scaled=False)
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
        if propagated and rag.layers:
            h = self.propagate(unseen, h, scaled=True)
        return h

    def propagate(self, unseen: list[bool], start: Tensor, scaled: bool) -> Tensor:
        """Unseen tasks' states: each row of the linear system written task by task, then one dense solve
        per half of the dimensions (``scaled``: the second half's weights times the relation's ρ).
        Unseen rows: (1 + ε) h_v − Σ_u α_uv τ_r h_u = (ε + 1 − Σ_u α_uv) start_v; seen rows: h_v = start_v.
        (Sweeping to the fixed point instead took up to 200 sweeps when dropped tasks sat side by side.)"""
        rag = self.rag
        rho, bias = rag.unseen.relation_terms(rag)  # ρ_r and b_r from z_r, as the model defines them
        kept, turned, own = [], [], []
        for v in range(self.n):
            src, rel, weight = self.incoming[v]
            other = src != v
            row = torch.zeros(self.n)
            if not unseen[v] or not other.any():
                kept.append(row.index_fill(0, torch.tensor([v]), 1.0))
                turned.append(kept[-1])
                own.append(torch.ones(()))
                continue
            alpha = torch.softmax(bias[rel[other]] + weight[other].clamp_min(1e-6).log(), 0)
            diagonal = row.index_fill(0, torch.tensor([v]), 1 + EPS)
            kept.append(diagonal - row.index_add(0, src[other], alpha))
            turned.append(diagonal - row.index_add(0, src[other], alpha * rho[rel[other]]))
            own.append(EPS + 1 - alpha.sum())
        rhs = torch.stack(own).unsqueeze(-1) * start
        if not scaled:
            return torch.linalg.solve(torch.stack(kept), rhs)
        half = start.shape[1] // 2
        return torch.cat([torch.linalg.solve(torch.stack(kept), rhs[:, :half]),
                          torch.linalg.solve(torch.stack(turned), rhs[:, half:])], 1)

    def task_output(self, t: Tensor, x: Tensor, n_classes: int) -> Tensor:
        """One task's logits (or means) on its points, from its embedding ``t``."""
        rag = self.rag
        s = rag.encoder(x)
        if rag.config.decoder != "linear":
            gamma, beta = rag.film(t).chunk(2)
            s = F.relu((1 + gamma) * s + beta)
        if rag.config.decoder == "film":
            out = rag.head(s)
        elif rag.config.decoder == "linear" and not rag.regression:
            weight, bias = self.linear_head(t, n_classes)
            out = s @ weight + bias
        else:
            weight = rag.gen_weight @ t  # (H, C): this task's generated head
            out = s @ weight + rag.gen_base(s) + rag.gen_bias(t)
        if rag.regression:
            return out[:, 0]
        if n_classes < out.shape[1]:
            out = torch.cat([out[:, :n_classes], torch.full_like(out[:, n_classes:], NEG_INF)], dim=1)
        return out

    def linear_head(self, t: Tensor, n_classes: int) -> tuple[Tensor, Tensor]:
        """One task's head (H, C) and bias (C,) by the linear decoder: the first half of t's dimensions
        generates the part that reversing the task's labels keeps, (M + M∘R)/2, the second half the part
        it negates, (M − M∘R)/2."""
        rag = self.rag
        half = t.shape[0] // 2
        reverse = [n_classes - 1 - j if j < n_classes else j for j in range(rag.gen_base.out_features)]

        def split(gen: Tensor, base: Tensor) -> Tensor:
            keep = gen[..., :half] @ t[:half] + base
            negate = gen[..., half:] @ t[half:]
            return (keep + keep[..., reverse]) / 2 + (negate - negate[..., reverse]) / 2

        return split(rag.gen_weight, rag.gen_base.weight.t()), split(rag.gen_bias.weight, rag.gen_base.bias)

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
    """|loss(ragviz) - loss(loop)| at the shared initial weights, with every third seen task dropped (so
    the unseen tasks' start and close count in the loss, as task dropout makes them in training)."""
    from ragviz.training.prepared import per_task_mean

    loop = LoopRAG(rag, graph, torch.device("cpu"))
    prep = prepare(graph, rag)
    drop = dropped_for_check(prep.g.embed_index)
    with torch.no_grad():
        out = rag(prep.g, prep.train.x, prep.train.tid, drop)
        per_task = per_task_mean(rag.point_loss(out, prep.train.y), prep.train.tid, prep.g.n_tasks)
        ours = per_task[torch.isfinite(per_task)].mean()
        theirs = loop.loss(drop.tolist())
    return abs(float(ours) - float(theirs))


def dropped_for_check(embed_index: Tensor) -> Tensor:
    """Every third seen task, as a task-dropout mask: the loss check's unseen tasks with data."""
    seen = (embed_index >= 0).nonzero().flatten()
    return torch.zeros(len(embed_index), dtype=torch.bool).index_fill_(0, seen[::3], True)


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

