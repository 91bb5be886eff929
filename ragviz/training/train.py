"""Training loop (docs/DESIGN.md §3): AdamW, batches across tasks, evaluation, snapshots, stop.

The loop never touches Streamlit. It reports through an optional callback and checks
an optional ``threading.Event`` between steps (and between tasks while data is prepared,
and between chunks while evaluating or taking a full-batch step), so the app can run it in a
worker thread and the CLI can drive a terminal progress bar, and a Stop ends a run within a
chunk's time in every phase. A run's memory stays flat however long it runs:
evaluations are capped per run and embedding snapshots are thinned as they arrive.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ragviz.graph.task_graph import Edges, TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.layouts import PointLayout, chunk_size, point_layout
from ragviz.model.rag import RNG_LOCK, Heads, RAGModel, build_model
from ragviz.model.tensors import GraphTensors, SplitTensors
from ragviz.safety.errors import Stopped, TrainingError
from ragviz.safety.limits import get_limits
from ragviz.training.history import MAX_SNAPSHOTS, History, max_evaluations
from ragviz.training.optim import make_adamw
from ragviz.training.prepared import Checked, Prepared, check_stop, check_work, evaluate, per_task_mean, prepare

__all__ = ["Progress", "TrainResult", "choose_device", "device_label", "evaluation_every", "train"]

MAX_SNAPSHOT_FLOATS = 4_000_000  # per snapshot; bigger graphs keep no embedding snapshots
EXPLODED_FACTOR = 1e6  # a loss this many times its first value (or 1) counts as diverged, though still finite
#: Task-dropout masks are drawn this many steps at a time without minibatches (the same numbers as one per step).
DROP_BLOCK = 64
#: A stopped run evaluates its last weights only when an evaluation takes at most this long (Stop ends a run in 2 s).
STOP_EVALUATION_S = 1.0


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


def evaluation_every(steps: int, eval_every: int, n_tasks: int, limit: int | None = None) -> tuple[int, str]:
    """The evaluation interval a run uses, and a note when it had to be raised to cap evaluations.

    A run records step 0, every k-th step and its last step: at most ``1 + ceil(steps / k)``
    evaluations, kept within :func:`ragviz.training.history.max_evaluations`.
    """
    cap = max_evaluations(n_tasks, get_limits().max_evaluations if limit is None else limit)
    needed = math.ceil(steps / (cap - 1))
    if eval_every >= needed:
        return eval_every, ""
    return needed, (f"Evaluated every {needed:,} steps instead of every {eval_every:,}, so this run keeps at most "
                    f"{cap:,} evaluations. ")


# ------------------------------------------------------------------------------------ the loss
def uncertainty_terms(model: RAGModel, rows: torch.Tensor, weighting: str) -> tuple[torch.Tensor | None, ...]:
    """Each task's loss weight exp(−s_t) and regulariser ½·s_t (uncertainty weighting, Kendall et al.
    2018), for the tasks whose embedding rows are ``rows``; (None, None) for equal weighting."""
    if weighting != "uncertainty":
        return None, None
    s = model.log_vars.index_select(0, rows)
    return torch.exp(-s), 0.5 * s


def batch_loss(model: RAGModel, g: GraphTensors, x: torch.Tensor, y: torch.Tensor, tid: torch.Tensor,
               drop: torch.Tensor | None, with_points: torch.Tensor, weighting: str,
               layout: PointLayout | None = None) -> torch.Tensor:
    """The training loss on a batch: the mean over tasks with points of their (weighted) mean loss."""
    layout = point_layout(tid, g.n_tasks) if layout is None else layout
    out = model(g, x, tid, drop, layout)
    losses = per_task_mean(model.point_loss(out, y), tid, g.n_tasks, layout.counts).index_select(0, with_points)
    s = model.log_vars.index_select(0, g.embed_index.clamp_min(0).index_select(0, with_points)) \
        if weighting == "uncertainty" else None
    return weighted_loss(losses, s)


def weighted_loss(losses: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
    """The mean over tasks (the last axis) of their losses; with log-variances ``s`` each task's loss is
    weighted exp(−s) and regularised ½·s (uncertainty weighting). One model's (n,) or an ensemble's (K, n)."""
    return losses.mean(-1) if s is None else (torch.exp(-s) * losses + 0.5 * s).mean(-1)


def chunked_loss_backward(
    model: RAGModel,
    g: GraphTensors,
    split: SplitTensors,
    drop: torch.Tensor | None,
    chunks: list[tuple[tuple[int, int, int, int], PointLayout]],
    weighting: str,
    has_points: torch.Tensor,
    stop: Any = None,
) -> torch.Tensor:
    """The full-batch training loss, back-propagated chunk by chunk; returns its (detached) value.

    ``stop`` is checked before every chunk: a Stop raises :class:`~ragviz.safety.errors.Stopped`
    mid-step, before the optimiser has changed any weight.

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
    weight, reg = uncertainty_terms(model, g.embed_index.clamp_min(0), weighting)
    coef = 1.0 / (counts * k) if weight is None else weight / (counts * k)
    extra = None if reg is None else reg[has_points].sum() / k
    fields = [name for name, t in heads._asdict().items() if t is not None]
    tables = [getattr(heads, name) for name in fields] + [coef]
    grads = [torch.zeros_like(t) if t.requires_grad else None for t in tables]
    total = torch.zeros((), dtype=coef.dtype, device=coef.device)
    for (lo, hi, a, b), layout in chunks:
        check_stop(stop)
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


def _snapshot(model: RAGModel, g: GraphTensors) -> np.ndarray | None:
    states, _ = model.embed_tasks(g, keep_messages=False)
    stacked = torch.stack(states)
    if stacked.numel() > MAX_SNAPSHOT_FLOATS:
        return None
    return stacked.detach().cpu().numpy().astype(np.float32)


# ------------------------------------------------------------------------- what every step shares
class Guard:
    """The divergence check of every run (single or ensemble): a non-finite loss, or one
    :data:`EXPLODED_FACTOR` times the first, stops the run and restores the weights of the step before."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.params = params
        self.last_good = [p.detach().clone() for p in params]
        self.first: float | None = None

    def fine(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        self.first = value if self.first is None else self.first
        return value <= EXPLODED_FACTOR * max(abs(self.first), 1.0)

    def keep(self) -> None:
        with torch.no_grad():
            torch._foreach_copy_(self.last_good, [p.detach() for p in self.params])

    def restore(self) -> None:
        with torch.no_grad():
            for p, good in zip(self.params, self.last_good, strict=True):
                p.copy_(good)


def apply_step(optimizer: torch.optim.Optimizer, guard: Guard, loss: torch.Tensor, value: float,
               backward: bool = True) -> None:
    """The optimiser step on a loss whose value ``guard`` accepts (weights kept first); ``backward=False``
    when the gradients are already there (the chunked full batch). A refused loss changes nothing."""
    if guard.fine(value):
        guard.keep()
        if backward:
            loss.backward()
        optimizer.step()


class TaskDropout:
    """Each step's task-dropout masks, one per model, each from its model's own seeded generator.

    Without minibatches nothing else draws from the generators, so the masks of the next
    :data:`DROP_BLOCK` steps are drawn at once (the same numbers as one draw per step).
    """

    def __init__(self, gens: list[torch.Generator], rate: float, seen: torch.Tensor, device: torch.device,
                 block: bool) -> None:
        self.gens, self.rate, self.seen, self.device = gens, rate, seen.cpu(), device
        self.block = DROP_BLOCK if block else 1
        self.masks: torch.Tensor | None = None

    def mask(self, step: int) -> torch.Tensor | None:
        """Step ``step``'s masks (K, n) (step counts from 1), or None without task dropout."""
        if self.rate <= 0:
            return None
        at = (step - 1) % self.block
        if at == 0 or self.masks is None:
            n = self.seen.shape[0]
            draws = torch.stack([torch.rand(self.block, n, generator=gen) for gen in self.gens], dim=1)
            self.masks = ((draws < self.rate) & self.seen).to(self.device)
        return self.masks[at]


def run_steps(total: int, stop: Any, step: Callable[[int], float], guard: Guard,
              diverged: Callable[[float, int], str], after: Callable[[int, float], None]) -> tuple[str, str, int]:
    """The loop every run shares: ``step(i)`` for i = 1 … ``total`` until stopped or diverged, ``after(i, loss)``
    past each good step. Returns (status, message, steps done); a finished run's message is ''.

    A Stop in the middle of a step (a full batch, chunk by chunk) leaves that step undone; one in the
    middle of ``after`` (an evaluation) leaves the step done and its evaluation unrecorded.
    """
    for i in range(1, total + 1):
        if stop is not None and stop.is_set():
            return "stopped", f"Stopped by the user after {i - 1} of {total} steps.", i - 1
        try:
            value = step(i)
        except Stopped:
            return "stopped", f"Stopped by the user after {i - 1} of {total} steps.", i - 1
        if not guard.fine(value):
            guard.restore()
            return "diverged", diverged(value, i), i - 1
        try:
            after(i, value)
        except Stopped:
            return "stopped", f"Stopped by the user after {i} of {total} steps.", i
    return "finished", "", total


def draw_batch(gen: torch.Generator, size: int, batch: int, device: torch.device) -> torch.Tensor:
    """A minibatch's point indices, drawn before the step's dropout masks (the seeded draws keep their order)."""
    return torch.randint(0, size, (batch,), generator=gen).to(device)


def seed_generators(seed: int, k: int = 1) -> list[torch.Generator]:
    """Each model's generator (model i: ``seed + i``), and the global RNG seeded as a run has always done."""
    gens = [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(k)]
    with RNG_LOCK:  # never reseed the global RNG while another run's model is being initialised from it
        torch.manual_seed(seed)
    return gens


# ------------------------------------------------------------------------------------ the run
def train(
    graph: TaskGraph | Checked,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    tables: dict[str, Any] | None = None,
    *,
    callback: Callable[[Progress], None] | None = None,
    stop: Any = None,
    edges: Edges | None = None,
    report_every: int = 1,
) -> TrainResult:
    """Train a RAG on ``graph``; reproducible from ``train_config.seed`` on the CPU.

    One path (docs/DESIGN.md §7): the graph is checked (validation and work budget, once; or passed
    already :class:`~ragviz.training.prepared.Checked`, whose config and tables are used), prepared
    (vocabulary, data, tensors), and only then is the model built from what was prepared.
    ``stop`` is anything with ``is_set()`` (a ``threading.Event``); ``edges`` replaces the
    graph's edges for ablations (no edges, shuffled edges) without touching the graph.
    Raises :class:`ragviz.safety.errors.Stopped` when stopped before the first evaluation finished
    (nothing trained yet), and :class:`ragviz.safety.limits.BudgetError` for work over budget.
    """
    cfg = (train_config or TrainConfig()).validated()
    checked = graph if isinstance(graph, Checked) else check_work(graph, model_config, tables, edges)
    prep = prepare(checked, stop=stop)
    model = build_model(checked.model_config, prep.spec, prep.vocab, seed=cfg.seed)
    device = choose_device(cfg.device)
    run = TrainingAttempt(prep, model, cfg, callback, stop, report_every)
    if device.type == "cpu":
        return run.on(device)
    # The CUDA attempt updates the weights in place: keep the starting ones so the CPU retry starts afresh.
    initial = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    try:
        return run.on(device)
    except torch.cuda.OutOfMemoryError:
        pass  # retried below, outside the handler, so the traceback's CUDA tensors can be freed first
    run.model = model.to("cpu")
    run.model.load_state_dict(initial)
    torch.cuda.empty_cache()
    result = run.on(torch.device("cpu"))
    result.message = "CUDA ran out of memory, so training restarted on the CPU. " + result.message
    return result


@dataclass
class TrainingAttempt:
    """One attempt at a run on one device (:func:`train` makes a second, on the CPU, when CUDA runs
    out of memory); :meth:`on` runs it in a few named steps."""

    prepared: Prepared  # on the CPU; each attempt moves a copy to its device
    model: RAGModel
    cfg: TrainConfig
    callback: Callable[[Progress], None] | None
    stop: Any
    report_every: int

    def on(self, device: torch.device) -> TrainResult:
        """Evaluate at step 0, take steps until done, stopped or diverged (:func:`run_steps`), then finish."""
        self.device = device
        self._setup()
        self._record(0, interruptible=True)  # a Stop here raises Stopped: nothing trained yet
        self._report(0, None, evaluated=True)
        status, message, step = run_steps(self.cfg.steps, self.stop, self._step, self.guard, self._diverged,
                                          self._after)
        message = message or f"Trained {self.cfg.steps} steps."
        if status != "finished" and (not self.history.steps or self.history.steps[-1] != step):
            if self._quick_to_evaluate():
                self._record(step)
                self._report(step, None, evaluated=True)
            else:  # a Stop must not wait for a long evaluation: the metrics stay those of the last one
                message += (f" Its metrics are from step {self.history.steps[-1]}, the last evaluation: evaluating "
                            f"again would have taken about {self.eval_seconds:.0f} s.")
        self.history.thin_snapshots(MAX_SNAPSHOTS)
        model = self.model
        model.eval()
        self.model = model.to("cpu")
        return TrainResult(self.model, self.history, status, self.note + message, device_label(device), step)

    # -- steps of a run
    def _setup(self) -> None:
        """Data and model on the device, the optimiser, the seeded generator and the empty history."""
        cfg, device = self.cfg, self.device
        self.prep = self.prepared.to(device)
        self.model = self.model.to(device)
        g, n = self.prep.g, self.prep.g.n_tasks
        zero_shot = [t.name for t in self.prep.graph.tasks() if t.zero_shot]
        self.history = History(tasks=list(g.names), zero_shot=zero_shot,
                               metric="mse" if self.model.regression else "accuracy")
        self.every, self.note = evaluation_every(cfg.steps, cfg.eval_every, n)
        self.gen = seed_generators(cfg.seed)[0]
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_adamw(self.params, cfg.lr, cfg.weight_decay, device)
        self.guard = Guard(self.params)
        train_split = self.prep.train
        m = len(train_split)
        self.batch = cfg.batch_size if 0 < cfg.batch_size < m else 0
        self.chunks = None if self.batch else train_split.layout.chunks(chunk_size(device))
        self.has_points = train_split.layout.counts > 0
        self.with_points = train_split.layout.with_points  # tasks whose losses count, as indices
        self.dropout = TaskDropout([self.gen], self.model.config.task_dropout, g.embed_index >= 0, device,
                                   block=not self.batch)
        self.start = time.perf_counter()

    def _step(self, step: int) -> float:
        """One AdamW step on a batch (or the full batch, chunk by chunk); returns the loss before it."""
        model, g, split, n = self.model, self.prep.g, self.prep.train, self.prep.g.n_tasks
        if not model.training:  # evaluations leave it in eval mode; setting it every step costs time
            model.train()
        x, y, tid, with_points, layout = split.x, split.y, split.tid, self.with_points, split.layout
        if self.batch:
            pick = draw_batch(self.gen, len(split), self.batch, self.device)
            x, y, tid = x[pick], y[pick], tid[pick]
            layout = PointLayout(torch.bincount(tid, minlength=n).to(torch.float32))  # a random draw: no structure
            with_points = layout.with_points
        masks = self.dropout.mask(step)
        drop = None if masks is None else masks[0]
        self.optimizer.zero_grad(set_to_none=True)
        if self.chunks is not None:  # large full batch: gradients are computed chunk by chunk right here
            loss = chunked_loss_backward(model, g, split, drop, self.chunks, self.cfg.loss_weighting, self.has_points,
                                         self.stop)
        else:
            loss = batch_loss(model, g, x, y, tid, drop, with_points, self.cfg.loss_weighting, layout)
        value = float(loss.detach())
        apply_step(self.optimizer, self.guard, loss, value, backward=self.chunks is None)
        return value

    def _diverged(self, value: float, step: int) -> str:
        what = f"exploded to {value:.3g}" if math.isfinite(value) else "became non-finite"
        return (f"The loss {what} at step {step} (learning rate {self.cfg.lr:g} may be too high); "
                f"training stopped and kept the last finite weights from step {step - 1}.")

    def _after(self, step: int, value: float) -> None:
        if step % self.every == 0 or step == self.cfg.steps:
            self._record(step, interruptible=True)  # a Stop midway raises Stopped (run_steps ends the run)
            self.history.step_loss.append(value)
            self._report(step, value, evaluated=True)
        elif self.callback is not None and step % self.report_every == 0:
            self._report(step, None)

    def _record(self, step: int, interruptible: bool = False) -> None:
        """Evaluate both splits and keep a snapshot; an interruptible evaluation raises Stopped between chunks
        (and records nothing). Its duration is kept: a stopped run's last evaluation waits for none longer."""
        stop = self.stop if interruptible else None
        began = time.perf_counter()
        tr_loss, tr_metric = evaluate(self.model, self.prep, "train", stop)
        te_loss, te_metric = evaluate(self.model, self.prep, "test", stop)
        check_stop(stop)
        self.eval_seconds = time.perf_counter() - began
        with torch.no_grad():
            snap = _snapshot(self.model, self.prep.g)
        h = self.history
        h.steps.append(step)
        h.wall_time.append(time.perf_counter() - self.start)
        h.train_loss.append(tr_loss.tolist())
        h.train_metric.append(tr_metric.tolist())
        h.test_loss.append(te_loss.tolist())
        h.test_metric.append(te_metric.tolist())
        if snap is not None:
            h.add_snapshot(step, snap)
        self.model.train()

    def _quick_to_evaluate(self) -> bool:
        """Whether a run that ends early evaluates its last weights: always, unless a Stop asked for the end
        and an evaluation takes longer than :data:`STOP_EVALUATION_S`."""
        return self.stop is None or not self.stop.is_set() or self.eval_seconds <= STOP_EVALUATION_S

    def _report(self, step: int, loss: float | None, evaluated: bool = False) -> None:
        if self.callback is not None:
            self.callback(Progress(step, self.cfg.steps, time.perf_counter() - self.start, loss, evaluated,
                                   self.history if evaluated else None))
