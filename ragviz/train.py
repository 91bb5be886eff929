"""Training loop (DESIGN section 3): AdamW, batches across tasks, evaluation, snapshots, stop.

The loop never touches Streamlit. It reports through an optional callback and checks
an optional ``threading.Event`` between steps, so the app can run it in a worker thread
and the CLI can drive a terminal progress bar.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ragviz.config import ModelConfig, TrainConfig
from ragviz.data import DomainSpec, TaskData, domain_spec, make_graph_data, task_n_classes
from ragviz.errors import DataError, TrainingError
from ragviz.graph import TaskGraph
from ragviz.layouts import PointLayout, chunk_size
from ragviz.model import RNG_LOCK, Heads, RAGModel, build_model
from ragviz.optim import make_adamw
from ragviz.tensors import GraphTensors, SplitTensors, graph_tensors, make_vocab, split_tensors

MAX_SNAPSHOT_FLOATS = 4_000_000  # per snapshot; bigger graphs keep no embedding snapshots
MAX_SNAPSHOTS = 40
EXPLODED_FACTOR = 1e6  # a loss this many times its first value (or 1) counts as diverged, though still finite


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` means CUDA when available; asking for CUDA without it is a clear error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("CUDA was requested but no CUDA device is available; choose 'auto' or 'cpu'.")
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def device_label(device: torch.device | str | None = None) -> str:
    """A human name for the device: the CUDA card's name or 'CPU'."""
    device = choose_device("auto") if device is None else torch.device(device)
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return "CPU"


@dataclass
class History:
    """Per-task metrics at each evaluation, plus layer-wise embedding snapshots."""

    tasks: list[str]
    zero_shot: list[str]
    metric: str  # "accuracy" or "mse"
    steps: list[int] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    train_loss: list[list[float]] = field(default_factory=list)
    test_loss: list[list[float]] = field(default_factory=list)
    train_metric: list[list[float]] = field(default_factory=list)
    test_metric: list[list[float]] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)  # each (L+1, N, d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; snapshots travel separately as one tensor."""
        d = {k: v for k, v in self.__dict__.items() if k != "snapshots"}
        return {k: (list(v) if isinstance(v, list) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], snapshots: np.ndarray | None = None) -> History:
        fields_ = dict(data)
        history = cls(**fields_)
        history.snapshots = [] if snapshots is None else [np.asarray(s) for s in snapshots]
        return history

    def final_metrics(self) -> dict[str, float]:
        """Each task's last test metric (NaN where a task has no test points)."""
        if not self.test_metric:
            return {}
        return dict(zip(self.tasks, self.test_metric[-1], strict=False))

    def summary(self) -> dict[str, float]:
        """Mean test metric over seen and over zero-shot tasks at the last evaluation."""
        final = self.final_metrics()
        seen = [v for k, v in final.items() if k not in self.zero_shot and np.isfinite(v)]
        zero = [v for k, v in final.items() if k in self.zero_shot and np.isfinite(v)]
        return {
            "seen": float(np.mean(seen)) if seen else float("nan"),
            "zero_shot": float(np.mean(zero)) if zero else float("nan"),
        }


@dataclass
class Progress:
    """What the loop reports to a callback: cheap to build every step."""

    step: int
    total: int
    elapsed: float
    loss: float | None = None
    evaluated: bool = False
    history: History | None = None  # the live history, set at evaluations; copy it, never keep it


@dataclass
class TrainResult:
    model: RAGModel
    history: History
    status: str  # "finished" | "stopped" | "diverged"
    message: str
    device: str
    steps_done: int


@dataclass
class Prepared:
    """A graph turned into tensors once, so training and evaluation share it."""

    graph: TaskGraph
    spec: DomainSpec
    data: dict[str, TaskData]
    g: GraphTensors
    train: SplitTensors
    test: SplitTensors


def prepare(
    graph: TaskGraph,
    model: RAGModel,
    tables: dict[str, Any] | None = None,
    edges: list[tuple[str, str, str, float]] | None = None,
) -> Prepared:
    data = make_graph_data(graph, tables)
    names = graph.task_names()
    classes = {t.name: task_n_classes(t, tables) for t in graph.tasks()}
    if not model.regression:
        too_many = [name for name, count in classes.items() if count > model.spec.n_outputs]
        if too_many:
            raise DataError(f"Task(s) {', '.join(too_many[:5])} have more classes than the model's "
                            f"{model.spec.n_outputs} outputs; train again to include them.")
    dims = {np.asarray(d.x_test).reshape(len(d.x_test), -1).shape[1] for d in data.values() if len(d.x_test)}
    if dims and dims != {model.spec.input_dim}:
        raise DataError(f"The tasks' inputs have {sorted(dims)} features but the model expects "
                        f"{model.spec.input_dim}; train again on this data.")
    g = graph_tensors(graph, model.vocab, classes, edges)
    regression = model.regression
    return Prepared(
        graph, model.spec, data, g,
        split_tensors(names, data, "train", regression), split_tensors(names, data, "test", regression),
    )


def per_task_mean(values: torch.Tensor, tid: torch.Tensor, n_tasks: int,
                  counts: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of per-point values within each task (NaN for a task with no points); ``counts`` if known."""
    total = torch.zeros(n_tasks, dtype=values.dtype, device=values.device).index_add_(0, tid, values)
    if counts is None:
        counts = torch.zeros(n_tasks, dtype=values.dtype, device=values.device).index_add_(
            0, tid, torch.ones_like(values))
    return total / counts.to(values.dtype)


def chunked_loss_backward(
    model: RAGModel,
    g: GraphTensors,
    split: SplitTensors,
    drop: torch.Tensor | None,
    chunks: list[tuple[tuple[int, int, int, int], PointLayout]],
    weighting: str,
    has_points: torch.Tensor,
) -> torch.Tensor:
    """The full-batch training loss, back-propagated chunk by chunk; returns its (detached) value.

    Same loss and gradients as one pass (up to rounding): the graph and the per-task decoder
    tables run once; each chunk of whole tasks decodes its points and back-propagates to its
    rows of those tables; the tables then back-propagate through the graph once. Only one
    chunk's (points × H) activations are alive at a time: on a CPU they stay in cache (about
    twice as fast on large graphs) and peak memory no longer grows with the points.
    """
    states, _ = model.embed_tasks(g, drop, keep_messages=False)
    heads = model.task_heads(states[-1], g, drop)
    k = has_points.sum()
    counts = split.layout.counts.to(states[-1].dtype).clamp_min(1)
    extra = None
    if weighting == "uncertainty":
        s = model.log_vars[g.embed_index.clamp_min(0)]
        coef = torch.exp(-s) / (counts * k)
        extra = 0.5 * s[has_points].sum() / k
    else:
        coef = 1.0 / (counts * k)
    fields = [name for name, t in heads._asdict().items() if t is not None]
    tables = [getattr(heads, name) for name in fields] + [coef]
    grads = [torch.zeros_like(t) if t.requires_grad else None for t in tables]
    total = torch.zeros((), dtype=coef.dtype, device=coef.device)
    for (lo, hi, a, b), layout in chunks:
        part = [t.detach()[lo:hi].requires_grad_(t.requires_grad) for t in tables]
        tid = split.tid[a:b] - lo
        out = model.decode_points(Heads(**dict(zip(fields, part[:-1], strict=True))), split.x[a:b], tid, layout)
        chunk_loss = (model.point_loss(out, split.y[a:b]) * part[-1][tid]).sum()
        chunk_loss.backward()
        for buf, piece in zip(grads, part, strict=True):
            if buf is not None and piece.grad is not None:
                buf[lo:hi] = piece.grad
        total += chunk_loss.detach()
    outputs = [t for t, buf in zip(tables, grads, strict=True) if buf is not None]
    output_grads = [buf for buf in grads if buf is not None]
    if extra is not None:
        outputs.append(extra)
        output_grads.append(torch.ones_like(extra))
        total += extra.detach()
    torch.autograd.backward(outputs, output_grads)
    return total


@torch.no_grad()
def evaluate(model: RAGModel, prep: Prepared, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Per-task loss and metric (accuracy or MSE) on one split, all tasks in one call."""
    model.eval()
    part = prep.train if split == "train" else prep.test
    n = prep.g.n_tasks
    if len(part) == 0:
        return np.full(n, np.nan), np.full(n, np.nan)
    out = model(prep.g, part.x, part.tid, layout=part.layout)  # chunk by chunk when there are many points
    return split_metrics(model, out, part, n)


def split_metrics(model: RAGModel, out: torch.Tensor, part: SplitTensors, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-task loss and metric from the model's outputs ``out`` on the points of ``part``."""
    counts = part.layout.counts
    loss = per_task_mean(model.point_loss(out, part.y), part.tid, n, counts)
    if model.regression:
        metric = loss
    else:
        metric = per_task_mean((out.argmax(-1) == part.y).float(), part.tid, n, counts)
    return loss.cpu().numpy().astype(float), metric.cpu().numpy().astype(float)


def _snapshot(model: RAGModel, g: GraphTensors) -> np.ndarray | None:
    states, _ = model.embed_tasks(g, keep_messages=False)
    stacked = torch.stack(states)
    if stacked.numel() > MAX_SNAPSHOT_FLOATS:
        return None
    return stacked.detach().cpu().numpy().astype(np.float32)


def train(
    graph: TaskGraph,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    tables: dict[str, Any] | None = None,
    *,
    callback: Callable[[Progress], None] | None = None,
    stop: Any = None,
    edges: list[tuple[str, str, str, float]] | None = None,
    model: RAGModel | None = None,
    report_every: int = 1,
) -> TrainResult:
    """Train a RAG on ``graph``; reproducible from ``train_config.seed`` on the CPU.

    ``stop`` is anything with ``is_set()`` (a ``threading.Event``); ``edges`` replaces the
    graph's edges for ablations (no edges, shuffled edges) without touching the graph.
    """
    model_config = (model_config or ModelConfig()).validated()
    cfg = (train_config or TrainConfig()).validated()
    graph.validate()
    spec = domain_spec(graph, tables)
    if model is None:
        model = build_model(model_config, spec, make_vocab(graph), seed=cfg.seed)
    device = choose_device(cfg.device)
    if device.type == "cpu":
        return _train_on(graph, model, cfg, tables, device, callback, stop, edges, report_every)
    # The CUDA attempt updates the weights in place: keep the starting ones so the CPU retry starts afresh.
    initial = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    try:
        return _train_on(graph, model, cfg, tables, device, callback, stop, edges, report_every)
    except torch.cuda.OutOfMemoryError:
        pass  # retried below, outside the handler, so the traceback's CUDA tensors can be freed first
    model = model.to("cpu")
    model.load_state_dict(initial)
    torch.cuda.empty_cache()
    result = _train_on(graph, model, cfg, tables, torch.device("cpu"), callback, stop, edges, report_every)
    result.message = "CUDA ran out of memory, so training restarted on the CPU. " + result.message
    return result


def _train_on(
    graph: TaskGraph,
    model: RAGModel,
    cfg: TrainConfig,
    tables: dict[str, Any] | None,
    device: torch.device,
    callback: Callable[[Progress], None] | None,
    stop: Any,
    edges: list[tuple[str, str, str, float]] | None,
    report_every: int,
) -> TrainResult:
    prep = prepare(graph, model, tables, edges)
    g, train_split = prep.g.to(device), prep.train.to(device)
    prep = Prepared(prep.graph, prep.spec, prep.data, g, train_split, prep.test.to(device))
    model = model.to(device)
    n = g.n_tasks
    zero_shot = [t.name for t in graph.tasks() if t.zero_shot]
    history = History(tasks=list(g.names), zero_shot=zero_shot, metric="mse" if model.regression else "accuracy")
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    with RNG_LOCK:  # never reseed the global RNG while another run's model is being initialised from it
        torch.manual_seed(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_adamw(params, cfg.lr, cfg.weight_decay, device)
    last_good = [p.detach().clone() for p in params]
    seen = g.embed_index >= 0
    rows = g.layout.embed_rows
    m = len(train_split)
    batch = cfg.batch_size if 0 < cfg.batch_size < m else 0
    chunks = None if batch else train_split.layout.chunks(chunk_size(device))
    full_has_points = train_split.layout.counts > 0
    full_with_points = train_split.layout.with_points  # tasks whose losses count, as indices
    status, message = "finished", f"Trained {cfg.steps} steps."
    start = time.perf_counter()
    step = 0
    first_loss: float | None = None

    def record(step_: int) -> None:
        tr_loss, tr_metric = evaluate(model, prep, "train")
        te_loss, te_metric = evaluate(model, prep, "test")
        history.steps.append(step_)
        history.wall_time.append(time.perf_counter() - start)
        history.train_loss.append(tr_loss.tolist())
        history.train_metric.append(tr_metric.tolist())
        history.test_loss.append(te_loss.tolist())
        history.test_metric.append(te_metric.tolist())
        with torch.no_grad():
            snap = _snapshot(model, g)
        if snap is not None:
            history.snapshot_steps.append(step_)
            history.snapshots.append(snap)
        model.train()

    record(0)
    if callback is not None:
        callback(Progress(0, cfg.steps, 0.0, None, True, history))
    for step in range(1, cfg.steps + 1):
        if stop is not None and stop.is_set():
            status, message = "stopped", f"Stopped by the user after {step - 1} of {cfg.steps} steps."
            step -= 1
            break
        if not model.training:  # record() leaves it in training mode; setting it every step costs time
            model.train()
        if batch:
            pick = torch.randint(0, m, (batch,), generator=gen).to(device)
            x, y, tid = train_split.x[pick], train_split.y[pick], train_split.tid[pick]
            layout = PointLayout(torch.bincount(tid, minlength=n).to(torch.float32))  # a random draw: no structure
        else:
            x, y, tid, layout = train_split.x, train_split.y, train_split.tid, train_split.layout
        drop = None
        if model.config.task_dropout > 0:
            drop = (torch.rand(n, generator=gen) < model.config.task_dropout).to(device) & seen
        if chunks is not None:  # large full batch: gradients are computed chunk by chunk right here
            optimizer.zero_grad(set_to_none=True)
            loss = chunked_loss_backward(model, g, train_split, drop, chunks, cfg.loss_weighting, full_has_points)
        else:
            out = model(g, x, tid, drop, layout)
            task_loss = per_task_mean(model.point_loss(out, y), tid, n, layout.counts)
            with_points = layout.with_points if batch else full_with_points
            losses = task_loss.index_select(0, with_points)
            if cfg.loss_weighting == "uncertainty":
                s = model.log_vars.index_select(0, rows.index_select(0, with_points))
                loss = (torch.exp(-s) * losses + 0.5 * s).mean()
            else:
                loss = losses.mean()
        value = float(loss.detach())
        first_loss = value if first_loss is None else first_loss
        exploded = math.isfinite(value) and value > EXPLODED_FACTOR * max(abs(first_loss), 1.0)
        if not math.isfinite(value) or exploded:
            with torch.no_grad():
                for p, good in zip(params, last_good, strict=False):
                    p.copy_(good)
            status = "diverged"
            what = f"exploded to {value:.3g}" if exploded else "became non-finite"
            message = (f"The loss {what} at step {step} (learning rate {cfg.lr:g} may be too high); "
                       f"training stopped and kept the last finite weights from step {step - 1}.")
            step -= 1
            break
        with torch.no_grad():
            torch._foreach_copy_(last_good, [p.detach() for p in params])
        if chunks is None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        optimizer.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            history.step_loss.append(float(loss.detach()))
            record(step)
            if callback is not None:
                callback(Progress(step, cfg.steps, time.perf_counter() - start, history.step_loss[-1], True, history))
        elif callback is not None and step % report_every == 0:
            callback(Progress(step, cfg.steps, time.perf_counter() - start))
    if status != "finished" and (not history.steps or history.steps[-1] != step):
        record(step)
        if callback is not None:
            callback(Progress(step, cfg.steps, time.perf_counter() - start, None, True, history))
    _thin_snapshots(history)
    model.eval()
    model = model.to("cpu")
    return TrainResult(model, history, status, message, device_label(device), step)


def _thin_snapshots(history: History) -> None:
    """Keep at most MAX_SNAPSHOTS evenly spaced snapshots (first and last always kept)."""
    k = len(history.snapshots)
    if k <= MAX_SNAPSHOTS:
        return
    keep = sorted(set(np.linspace(0, k - 1, MAX_SNAPSHOTS).round().astype(int).tolist()))
    history.snapshots = [history.snapshots[i] for i in keep]
    history.snapshot_steps = [history.snapshot_steps[i] for i in keep]
