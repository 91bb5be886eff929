"""An ensemble of K RAG models trained in one vectorised run, and how much its members disagree.

Where K models trained from different seeds agree, the prediction does not hinge on the
luck of one initialisation; where they disagree, it does, and on a zero-shot task that is
the sign of a guess. The members' parameters are stacked (``torch.func.stack_module_state``)
and every step runs one forward for all K (``torch.func.functional_call`` under
``torch.func.vmap``), one loss (the sum of the members' losses, so each member gets its own
gradient) and one AdamW step over the stacked tensors (AdamW is elementwise). Member k starts
from ``build_model(..., seed=seed + k)`` and draws its own task-dropout masks from its own
seed, as ``train`` would; member 0 therefore follows ``train`` with ``seed`` up to rounding.

The disagreement measures are pure NumPy functions below the class; the warning built on them (which
zero-shot prediction is a guess) is :mod:`ragviz.training.guess`'s.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from ragviz.data.domains import DomainSpec
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.layouts import PointLayout
from ragviz.model.rag import RAGModel, build_model
from ragviz.model.tensors import GraphTensors, make_vocab
from ragviz.safety.errors import ConfigError, DataError
from ragviz.training.guess import (
    CLASS_RULE,
    REGRESSION_RULE,
    class_spread,
    guess_reasons,
    hops_beyond_data,
    output_scale,
    pair_disagreement,
    regression_spread,
)
from ragviz.training.optim import make_adamw
from ragviz.training.prepared import Checked, Prepared, check_work, per_task_mean, prepare
from ragviz.training.train import (
    Guard,
    Progress,
    TaskDropout,
    apply_step,
    choose_device,
    draw_batch,
    run_steps,
    weighted_loss,
)

DEFAULT_K = 5
MAX_K = 32


class _Member(nn.Module):
    """One member's forward, as a module whose parameters ``functional_call`` can swap.

    Runs :meth:`RAGModel.embed_tasks` with ``sparse=False``: that keeps the per-message
    aggregation, which vmaps, rather than the CPU's sparse product, which does not.
    """

    def __init__(self, model: RAGModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, g: GraphTensors, x: Tensor, tid: Tensor, drop: Tensor | None,
                layout: PointLayout | None = None) -> Tensor:
        model = self.model
        states, _ = model.embed_tasks(g, drop, keep_messages=False, sparse=False)
        return model.decode_all(model.task_heads(states[-1], g, drop), x, tid, layout)


@dataclass(eq=False)  # tensors and a graph: compared by identity
class Ensemble:
    """K trained RAG models of one architecture, their parameters stacked along a first axis of size K."""

    graph: TaskGraph  # the graph it was trained on
    model_config: ModelConfig
    train_config: TrainConfig
    spec: DomainSpec
    params: dict[str, Tensor]  # name → (K, …), names of RAGModel's own parameters
    buffers: dict[str, Tensor]
    seed: int
    tables: dict[str, Any] | None = None
    status: str = "finished"  # "finished" | "stopped" | "diverged"
    message: str = ""
    steps_done: int = 0
    vectorised: bool = True  # False when the model's forward would not vmap and members ran one by one
    _skeleton: RAGModel | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def k(self) -> int:
        return int(next(iter(self.params.values())).shape[0])

    @property
    def regression(self) -> bool:
        return self.spec.kind == "regression"

    def members(self) -> list[RAGModel]:
        """Each member as an ordinary RAGModel (member k was initialised from seed + k)."""
        vocab = make_vocab(self.graph)
        out = []
        for k in range(self.k):
            model = build_model(self.model_config, self.spec, vocab, seed=self.seed + k)
            state = {name: value[k].detach().clone() for name, value in {**self.params, **self.buffers}.items()}
            model.load_state_dict(state)
            out.append(model.eval())
        return out

    # ------------------------------------------------------------------ inference
    def _module(self) -> _Member:
        if self._skeleton is None:
            self._skeleton = build_model(self.model_config, self.spec, make_vocab(self.graph), seed=self.seed)
        return _Member(self._skeleton)

    def _prepared(self, graph: TaskGraph | None, tables: dict[str, Any] | None) -> Prepared:
        graph = self.graph if graph is None else graph
        return prepare(graph, self._module().model, tables if tables is not None else self.tables)

    @torch.no_grad()
    def outputs(self, g: GraphTensors, x: Tensor, tid: Tensor) -> Tensor:
        """Raw outputs of all members on points ``x`` of tasks ``tid``: (K, M, C) logits or (K, M)."""
        return stacked_forward(self._module(), self.params, self.buffers, g, x, tid, None)[0]

    def predict(self, graph: TaskGraph | None = None, split: str = "test",
                tables: dict[str, Any] | None = None) -> np.ndarray:
        """Every member's probabilities (K, M, C), or means (K, M), on a split's points of all tasks.

        Points follow ``graph.task_names()`` and, within a task, the split's order.
        """
        prep = self._prepared(graph, tables)
        part = prep.test if split == "test" else prep.train
        return self._probabilities(self.outputs(prep.g, part.x, part.tid))

    def predict_tasks(self, graph: TaskGraph | None = None, split: str = "test",
                      tables: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """:meth:`predict` split by task: name → (K, n, C) or (K, n)."""
        prep = self._prepared(graph, tables)
        part = prep.test if split == "test" else prep.train
        stacked = self._probabilities(self.outputs(prep.g, part.x, part.tid))
        bounds = np.cumsum(part.counts.numpy())[:-1]
        return dict(zip(prep.g.names, np.split(stacked, bounds, axis=1), strict=True))

    def predict_grid(self, grid: np.ndarray, tasks: list[str], graph: TaskGraph | None = None,
                     tables: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Every member's outputs on the same inputs ``grid`` for each of ``tasks``: name → (K, G, C) or (K, G)."""
        prep = self._prepared(graph, tables)
        index = {name: i for i, name in enumerate(prep.g.names)}
        picked = [index[t] for t in tasks]
        x = torch.from_numpy(np.asarray(grid, dtype=np.float32)).repeat(len(picked), 1)
        tid = torch.tensor(picked, dtype=torch.long).repeat_interleave(len(grid))
        stacked = self._probabilities(self.outputs(prep.g, x, tid))
        return {t: stacked[:, i * len(grid):(i + 1) * len(grid)] for i, t in enumerate(tasks)}

    def _probabilities(self, out: Tensor) -> np.ndarray:
        return (out if self.regression else torch.softmax(out, dim=-1)).numpy()

    def _test_outputs(self, graph: TaskGraph | None, tables: dict[str, Any] | None) -> dict[str, np.ndarray]:
        if graph is not None:
            return self.predict_tasks(graph, "test", tables)
        if "test" not in self._cache:
            self._cache["test"] = self.predict_tasks()
        return self._cache["test"]

    def disagreement(self, graph: TaskGraph | None = None,
                     tables: dict[str, Any] | None = None) -> dict[str, float]:
        """Task name → how much the members disagree on its test points (see :func:`disagreement_of`);
        on the graph it was trained on unless ``graph`` is given."""
        return {name: disagreement_of(out, self.regression)
                for name, out in self._test_outputs(graph, tables).items()}

    def class_disagreement(self, graph: TaskGraph | None = None,
                           tables: dict[str, Any] | None = None) -> dict[str, float]:
        """Task name → share of member pairs predicting different classes (see :func:`argmax_disagreement`)."""
        if self.regression:
            raise ValueError("class disagreement needs classes; this ensemble does regression")
        return {name: argmax_disagreement(out) for name, out in self._test_outputs(graph, tables).items()}

    def spreads(self, graph: TaskGraph | None = None, tables: dict[str, Any] | None = None) -> dict[str, float]:
        """Task name → the members' spread on the warning's common scale (:mod:`ragviz.training.guess`):
        for classes the share of member pairs naming different classes over its largest value, for
        regression the members' std over the seen tasks' target std."""
        outputs = self._test_outputs(graph, tables)
        if not self.regression:
            return {name: class_spread(out) for name, out in outputs.items()}
        prep = self._prepared(graph, tables)
        seen_points = (prep.g.embed_index >= 0).index_select(0, prep.test.tid)
        scale = output_scale(prep.test.y[seen_points].numpy())
        return {name: regression_spread(out, scale) for name, out in outputs.items()}

    def guess_reasons(self, graph: TaskGraph | None = None, tables: dict[str, Any] | None = None) -> dict[str, str]:
        """Zero-shot task name → why its prediction is a guess, "" when it is not (see
        :func:`~ragviz.training.guess.guess_reasons`; the rule calibrated for classes or for regression)."""
        graph_ = self.graph if graph is None else graph
        zero = [t.name for t in graph_.tasks() if t.zero_shot]
        hops = hops_beyond_data(graph_.task_names(), [(e.source, e.target) for e in graph_.edges()], zero)
        rule = REGRESSION_RULE if self.regression else CLASS_RULE
        return guess_reasons(self.spreads(graph, tables), zero, hops, rule)

    def untrusted(self, graph: TaskGraph | None = None, tables: dict[str, Any] | None = None) -> dict[str, bool]:
        """Zero-shot task name → whether its prediction should not be trusted (see :meth:`guess_reasons`)."""
        return {name: bool(why) for name, why in self.guess_reasons(graph, tables).items()}


# --------------------------------------------------------------------------- the vectorised step
def stacked_forward(module: _Member, params: dict[str, Tensor], buffers: dict[str, Tensor], g: GraphTensors,
                    x: Tensor, tid: Tensor, drop: Tensor | None,
                    layout: PointLayout | None = None) -> tuple[Tensor, bool]:
    """All members' outputs (K, …) in one vmapped call; (outputs, True), or one by one (…, False) when the
    forward has an op without a batching rule. ``layout``: the points' layout when known (the full
    training split), so it is not read off ``tid`` again every step."""
    named = {f"model.{k}": v for k, v in params.items()}
    named_buffers = {f"model.{k}": v for k, v in buffers.items()}

    def one(p: dict[str, Tensor], b: dict[str, Tensor], d: Tensor | None, xs: Tensor) -> Tensor:
        return functional_call(module, (p, b), (g, xs, tid, d, layout), tie_weights=False, strict=False)

    k = next(iter(params.values())).shape[0]
    # Training: x as a batched (stride-0) input makes every layer's activations (K, M, H), the
    # layout batched matrix products want. Inference keeps it shared, so a shared grid is encoded once.
    batched_x = torch.is_grad_enabled()
    try:
        return vmap(one, in_dims=(0, 0, 0 if drop is not None else None, 0 if batched_x else None))(
            named, named_buffers, drop, x.expand(k, *x.shape) if batched_x else x), True
    except (RuntimeError, NotImplementedError):
        outs = [one({n: v[i] for n, v in named.items()}, {n: v[i] for n, v in named_buffers.items()},
                    None if drop is None else drop[i], x) for i in range(k)]
        return torch.stack(outs), False


def train_ensemble(
    graph: TaskGraph | Checked,
    model_cfg: ModelConfig | None = None,
    train_cfg: TrainConfig | None = None,
    k: int = DEFAULT_K,
    seed: int = 0,
    progress: Callable[[Progress], None] | None = None,
    stop: Any = None,
    tables: dict[str, Any] | None = None,
) -> Ensemble:
    """Train K RAG models (seeds ``seed`` … ``seed + k − 1``) together in one vectorised run.

    The same path as :func:`~ragviz.training.train.train` (check, prepare, build; its loop, dropout,
    loss weighting and divergence check); what is the ensemble's own is the stacked parameters and
    the vmapped forward. ``graph`` may come :class:`~ragviz.training.prepared.Checked` (then its config and
    tables are used). The work budget weighs all ``k`` models (they hold their activations side by side).
    ``progress`` gets a :class:`~ragviz.training.train.Progress` after every
    step; ``stop`` is anything with ``is_set()``. The steps, learning rate, weight decay, batch size,
    loss weighting and device come from ``train_cfg``; its seed is replaced by ``seed``.
    """
    cfg = (train_cfg or TrainConfig()).validated()
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ConfigError(f"The ensemble needs between 1 and {MAX_K} models, got {k!r}.")
    if not isinstance(graph, Checked):
        checked = check_work(graph, model_cfg, tables, models=k)
    elif graph.models < k:  # weighed for fewer models than train here: weigh all k
        checked = check_work(graph.graph, graph.model_config, graph.tables, graph.edges, models=k)
    else:
        checked = graph
    graph, tables = checked.graph, checked.tables
    prep = prepare(checked)  # a Stop from here on still returns an ensemble (stopped, 0 steps)
    if prep.spec.kind == "regression" and prep.spec.n_outputs > 1:
        raise DataError(f"Ensembles measure disagreement on one output per point; the {prep.spec.name} "
                        f"domain's tasks output {prep.spec.n_outputs} (an image), so train one model instead.")
    device = choose_device(cfg.device)
    models = [build_model(checked.model_config, prep.spec, prep.vocab, seed=seed + i) for i in range(k)]
    run = _EnsembleSteps(models, prep, cfg, seed, device)
    start = time.perf_counter()

    def after(step: int, value: float) -> None:
        if progress is not None:
            progress(Progress(step, cfg.steps, time.perf_counter() - start, value))

    status, message, step = run_steps(cfg.steps, stop, run.step, run.guard, run.diverged, after)
    return Ensemble(graph.copy(), checked.model_config, cfg, prep.spec,
                    {k_: v.detach().cpu() for k_, v in run.params.items()},
                    {k_: v.cpu() for k_, v in run.buffers.items()}, seed, tables, status,
                    message or f"Trained {k} models for {cfg.steps} steps.", step, run.vectorised,
                    run.skeleton.cpu())


class _EnsembleSteps:
    """The ensemble's own part of a step: K members' stacked parameters, one vmapped forward and the sum
    of their losses (each member's parameters get the gradient of its own loss), one AdamW step."""

    def __init__(self, models: list[RAGModel], prep: Prepared, cfg: TrainConfig, seed: int,
                 device: torch.device) -> None:
        k = len(models)
        stacked, buffers = stack_module_state(models)
        self.params = {name: p.detach().to(device).requires_grad_() for name, p in stacked.items()}
        self.buffers = {name: b.to(device) for name, b in buffers.items()}
        self.skeleton = copy.deepcopy(models[0])
        self.module = _Member(self.skeleton)
        self.g, self.split = prep.g.to(device), prep.train.to(device)
        self.cfg, self.device, self.k, self.n = cfg, device, k, self.g.n_tasks
        self.rows = self.g.embed_index.clamp_min(0)
        self.gens = [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(k)]
        m = len(self.split)
        self.batch = cfg.batch_size if 0 < cfg.batch_size < m else 0
        self.offsets = (torch.arange(k, device=device) * self.n).unsqueeze(1)  # member i's tasks: i·n … i·n + n − 1
        self.full = self._points(self.split.x, self.split.y, self.split.tid)
        tensors = list(self.params.values())
        self.optimizer = make_adamw(tensors, cfg.lr, cfg.weight_decay, device)
        self.guard = Guard(tensors)
        self.dropout = TaskDropout(self.gens, self.skeleton.config.task_dropout, self.g.embed_index >= 0, device,
                                   block=not self.batch)
        self.vectorised = True

    def _points(self, x: Tensor, y: Tensor, tid: Tensor) -> _Batch:
        return _Batch(x, y.repeat(self.k), tid, (tid.unsqueeze(0) + self.offsets).reshape(-1),
                      _with_points(tid, self.n))

    def step(self, step: int) -> float:
        """One step for all members; returns their mean loss before it."""
        split, part = self.split, self.full
        if self.batch:  # one minibatch for all members, drawn as member 0's own run would draw it
            pick = draw_batch(self.gens[0], len(split), self.batch, self.device)
            part = self._points(split.x[pick], split.y[pick], split.tid[pick])
        drop = self.dropout.mask(step)
        out, ok = stacked_forward(self.module, self.params, self.buffers, self.g, part.x, part.tid, drop,
                                  None if self.batch else split.layout)
        self.vectorised = self.vectorised and ok
        regression = self.skeleton.regression
        point = self.skeleton.point_loss(out.reshape(-1) if regression else out.reshape(-1, out.shape[-1]), part.y)
        losses = per_task_mean(point, part.flat_tid, self.k * self.n).reshape(self.k, self.n)
        losses = losses.index_select(1, part.with_points)
        s = self.params["log_vars"].index_select(1, self.rows.index_select(0, part.with_points)) \
            if self.cfg.loss_weighting == "uncertainty" else None
        total = weighted_loss(losses, s).sum()  # each member's parameters get the gradient of its own loss
        value = float(total.detach()) / self.k
        self.optimizer.zero_grad(set_to_none=True)
        apply_step(self.optimizer, self.guard, total, value)
        return value

    def diverged(self, value: float, step: int) -> str:
        return (f"The loss of one of the models became too large at step {step} (learning rate "
                f"{self.cfg.lr:g} may be too high); kept the weights from step {step - 1}.")


@dataclass
class _Batch:
    """One step's points, with each member's task ids made distinct (``flat_tid``) for one flat per-task mean."""

    x: Tensor
    y: Tensor  # the labels repeated K times
    tid: Tensor
    flat_tid: Tensor
    with_points: Tensor  # tasks whose losses count


def _with_points(tid: Tensor, n: int) -> Tensor:
    return torch.zeros(n, dtype=torch.bool, device=tid.device).index_fill_(0, tid, True).nonzero().squeeze(1)


# --------------------------------------------------------------------------- disagreement, pure
def spread(outputs: np.ndarray) -> np.ndarray:
    """Per point, the std across members (axis 0): of the output (K, n) → (n,), or for
    probabilities (K, n, C) the largest std over classes → (n,)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    std = outputs.std(axis=0)
    return std.max(axis=-1) if std.ndim == 2 else std


def disagreement_of(outputs: np.ndarray, regression: bool = False) -> float:
    """How much K members disagree on a task: the mean over its points of :func:`spread`.

    For classes, the std across members of P(class), at its largest class, averaged over points:
    0 when all members give the same probabilities, up to 0.5 when half say 0 and half 1. For
    regression, the std of the predicted values (in the target's own units). NaN without points.
    """
    outputs = np.asarray(outputs)
    if outputs.shape[1] == 0 if outputs.ndim >= 2 else True:
        return float("nan")
    if regression != (outputs.ndim == 2):
        raise ValueError("regression outputs are (K, n), class probabilities (K, n, C)")
    return float(spread(outputs).mean())


def argmax_disagreement(probabilities: np.ndarray) -> float:
    """The share of member pairs whose predicted classes differ, averaged over points (0: all agree)."""
    per_point = pair_disagreement(probabilities)
    return float(per_point.mean()) if per_point.size else float("nan")


def class_agreement(probabilities: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per true class, the share of its points on which every member predicts the same class (NaN: no points)."""
    labels = np.asarray(probabilities).argmax(axis=-1)  # (K, n)
    unanimous = (labels == labels[:1]).all(axis=0)
    y = np.asarray(y).astype(int)
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        pick = y == c
        if pick.any():
            out[c] = float(unanimous[pick].mean())
    return out


def band(outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, min, max) across members of regression outputs (K, n): the band the members span."""
    outputs = np.asarray(outputs, dtype=np.float64)
    return outputs.mean(axis=0), outputs.min(axis=0), outputs.max(axis=0)
