"""The Train page's parts: settings form, live progress, outcome, curves, baseline, saving.

Settings are plain widgets whose values are validated by the configs themselves, so a
typed value out of range gets the same clear ConfigError message the CLI would give,
and the form keeps what the user typed. Training runs in a worker thread (for a big graph,
in a child process the thread relays); the live panel only polls its snapshot.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.model.config import (
    AGGREGATIONS,
    COMPOSITIONS,
    DECODERS,
    DEVICES,
    UNSEEN,
    WEIGHTINGS,
    ModelConfig,
    TrainConfig,
)
from ragviz.plots.colors import curve_colors
from ragviz.plots.training import comparison_figure, curves_figure, metric_title
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.storage.gallery import MetricSet, comparison_table
from ragviz.storage.models_folder import safe_file_name
from ragviz.training.ablations import ABLATIONS
from ragviz.training.history import History
from ragviz.training.runner import RunSnapshot, RunStatus, TrainingRun
from ragviz.training.train import choose_device, evaluation_every
from ragviz.ui.checkpoint_widgets import save_for_session
from ragviz.ui.metric_table import comparison_dataframe
from ragviz.ui.projector import figure_columns, for_screen
from ragviz.ui.run_review import replay_panel, watch_lines
from ragviz.ui.runs import begin_run, run_handled
from ragviz.ui.state import (
    AppState,
    current_checkpoint_bytes,
    get_state,
    has_widget_value,
    set_widget_value,
    widget_value,
)
from ragviz.ui.timeline import record

WIDGET = "train_w."
NO_BASELINE = "none"


@dataclass(frozen=True)
class Setting:
    """One config field as a widget: where it lives, what it is called, what it does."""

    group: str  # "model" or "train"
    name: str
    label: str
    help: str
    options: tuple[str, ...] = ()
    step: float | None = None
    fmt: str | None = None
    advanced: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("model", "composition", "Composition φ", "How a message combines the sender's state h with the "
            "relation embedding z. **mult**: h⊙z (default). **sub**: h−z. **rgcn**: one matrix W_r per relation "
            "(basis decomposition). **none**: ignores relation types (relation-blind).", COMPOSITIONS),
    Setting("model", "aggregation", "Aggregation", "How a task combines its incoming messages: **mean**, **sum**, "
            "**max**, or **attention** (GAT-style learned weights over its incoming edges).", AGGREGATIONS),
    Setting("model", "layers", "Message-passing layers L", "Rounds of message passing, 0 to 6. With 0 a task sees "
            "only its own embedding (no graph); each layer reaches one hop further.", step=1),
    Setting("model", "unseen_state", "Unseen tasks start",
            "Where a task without data (zero-shot, or dropped while training) starts and ends. **propagated** "
            "(default): at the fixed point of its neighbours' states, before the first layer and again after "
            "the last, where each neighbour is moved by its relation's transform (learned from the relation's "
            "embedding); it reaches any number of hops. **learned**: one learned vector u for every such task; "
            "only the layers' messages tell them apart, one hop per layer.", UNSEEN),
    Setting("model", "decoder", "Decoder",
            "**linear** (default): each task's head is generated from its own final state, W_v = G·t_v + W_0; "
            "zero-shot tasks too. **generated**: FiLM (γ, β) and a head, all generated. **film**: FiLM from the "
            "embedding, one shared head. **independent**: one head per task and no graph, the classic multi-task "
            "baseline; it cannot do zero-shot. **blended** and **mix**: a task without data blends its nearest "
            "seen tasks' heads along its edges, beside the GNN (its own state decides nothing); kept to compare.",
            DECODERS),
    Setting("model", "task_dropout", "Task dropout p", "While training, each seen task is treated as unseen "
            "with probability p (it starts where *Unseen tasks start* says), so the model learns to infer a task "
            "from its neighbours. This is what makes zero-shot tasks work. 0 to 0.95.", step=0.05, fmt="%.2f"),
    Setting("train", "steps", "Steps", "Optimiser (AdamW) steps.", step=50),
    Setting("train", "lr", "Learning rate", "AdamW step size, above 0. Far too high (say 1000) makes the loss "
            "non-finite: training stops and keeps the last finite weights.", step=0.001, fmt="%g"),
    Setting("train", "eval_every", "Evaluate every", "Evaluate every task on its test split every k steps: the "
            "resolution of the curves (and a small cost).", step=5),
    Setting("train", "batch_size", "Batch size", "Points per step, drawn across all tasks. 0 = full batch "
            "(every training point every step).", step=32),
    Setting("train", "loss_weighting", "Loss weighting", "**equal**: the plain mean of per-task losses. "
            "**uncertainty**: learned per-task weights (Kendall et al. 2018), so noisy tasks count less.", WEIGHTINGS),
    Setting("train", "device", "Device", "**auto**: CUDA when available, else the CPU. **cpu**: reproducible "
            "bit for bit from the seed. **cuda**: a GPU, or a clear error if there is none.", DEVICES),
    Setting("train", "seed", "Seed", "Fixes initial weights, task dropout and batches: same seed, same run "
            "(on the CPU).", step=1),
    Setting("model", "embed_dim", "Embedding size d", "Size of task and relation embeddings.", step=4,
            advanced=True),
    Setting("model", "hidden", "Encoder width H", "Width of the encoder shared by all tasks.", step=8,
            advanced=True),
    Setting("model", "n_bases", "Bases (rgcn)", "Number of basis matrices shared by the relation matrices "
            "of the rgcn composition.", step=1, advanced=True),
    Setting("model", "use_descriptors", "Node descriptors", "Add each task's numeric parameters to its "
            "input. Off by default: the lesson is that the graph alone carries the information.", advanced=True),
    Setting("train", "weight_decay", "Weight decay", "AdamW weight decay, 0 to 10.", step=1e-4, fmt="%g",
            advanced=True),
)


# --------------------------------------------------------------------------- settings
def _config_values(state: AppState) -> dict[str, Any]:
    model, train = state.project.model_config.to_dict(), state.project.train_config.to_dict()
    return {f"{s.group}.{s.name}": (model if s.group == "model" else train)[s.name] for s in SETTINGS}


def _sync_widgets(state: AppState) -> None:
    """Show the project's settings; keep what the user typed until the project's settings change."""
    values = _config_values(state)
    token = json.dumps(values, sort_keys=True, default=str)
    stale = any(not has_widget_value(WIDGET + k) for k in values)
    if state.settings_token != token or stale:
        for key, value in values.items():
            set_widget_value(WIDGET + key, value)
        state.settings_token = token


def _widget(setting: Setting) -> None:
    key = WIDGET + f"{setting.group}.{setting.name}"
    if setting.options:
        st.selectbox(setting.label, setting.options, key=key, help=setting.help)
    elif isinstance(widget_value(key), bool):
        st.checkbox(setting.label, key=key, help=setting.help)
    else:
        step = setting.step
        if isinstance(widget_value(key), int) and step is not None and float(step).is_integer():
            step = int(step)
        else:
            set_widget_value(key, float(widget_value(key)))
        st.number_input(setting.label, key=key, help=setting.help, step=step, format=setting.fmt)


def widget_values() -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw model and training settings as typed (validated later by the configs)."""
    model = {s.name: widget_value(WIDGET + f"model.{s.name}") for s in SETTINGS if s.group == "model"}
    train = {s.name: widget_value(WIDGET + f"train.{s.name}") for s in SETTINGS if s.group == "train"}
    return model, train


def build_configs(state: AppState, model: dict[str, Any], train: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """Validated configs from typed values; unknown fields keep the project's. Raises ConfigError."""
    base_model, base_train = state.project.model_config.to_dict(), state.project.train_config.to_dict()
    names_m = {f.name for f in fields(ModelConfig)}
    names_t = {f.name for f in fields(TrainConfig)}
    model_config = ModelConfig(**{**base_model, **{k: v for k, v in model.items() if k in names_m}}).validated()
    train_config = TrainConfig(**{**base_train, **{k: v for k, v in train.items() if k in names_t}}).validated()
    return model_config, train_config


def begin_training(state: AppState, model: dict[str, Any], train: dict[str, Any], baseline: str | None) -> None:
    """Validate everything, then start the worker. Any RagvizError leaves the session as it was.

    The graph and the work budget are checked once, by the run as it starts (before it queues).
    """
    model_config, train_config = build_configs(state, model, train)
    choose_device(train_config.device)  # asking for CUDA without one: say so now, not from the worker
    project = state.project
    before = project.model_config, project.train_config
    project.model_config, project.train_config = model_config, train_config
    try:
        begin_run(state, baseline if baseline and baseline != NO_BASELINE else None)
    except RagvizError:
        project.model_config, project.train_config = before
        raise


def _baseline_label(name: str) -> str:
    return "No baseline" if name == NO_BASELINE else ABLATIONS[name]


def graph_problem(graph: TaskGraph) -> str | None:
    """Why this graph cannot be trained (from graph.validate), or None."""
    try:
        graph.validate()
    except RagvizError as err:
        return str(err)
    return None


def settings_form(state: AppState) -> None:
    """The settings, the optional baseline and Start; starts the run when the form is sent."""
    _sync_widgets(state)
    running = state.run is not None and state.run.alive
    problem = graph_problem(state.project.graph)
    record("settings form", start_disabled=running or problem is not None, running=running)
    if problem:
        st.warning(f"{md_escape(problem)} Edit the graph on the **Task graph** page, or open a sample on **Home**.")
    with st.form("train_settings", border=True, enter_to_submit=False):  # training starts only on a click
        model_col, train_col = st.columns(2, gap="large")
        with model_col:
            st.markdown("**Model**")
            left, right = st.columns(2)
            for i, s in enumerate(x for x in SETTINGS if x.group == "model" and not x.advanced):
                with left if i % 2 == 0 else right:
                    _widget(s)
        with train_col:
            st.markdown("**Training**")
            cols = st.columns(3)
            for i, s in enumerate(x for x in SETTINGS if x.group == "train" and not x.advanced):
                with cols[i % 3]:
                    _widget(s)
        with st.expander("More settings: sizes, bases, descriptors, weight decay"):
            cols = st.columns(5)
            for i, s in enumerate(x for x in SETTINGS if x.advanced):
                with cols[i % 5]:
                    _widget(s)
        base_col, go_col = st.columns([3, 1], vertical_alignment="bottom")
        baseline = base_col.selectbox(
            "Train a baseline beside it (same data, same settings)", (NO_BASELINE, *ABLATIONS),
            format_func=_baseline_label, key=WIDGET + "baseline",
            help="After RAG finishes, train an ablation on the same tasks and compare test metrics task by task.",
        )
        start = go_col.form_submit_button("Start training", type="primary", icon=":material/play_arrow:",
                                          disabled=running or problem is not None)
    if start:
        try:
            begin_training(state, *widget_values(), baseline)
        except RagvizError as err:
            st.error(f"Training did not start: {md_escape(err)}")
        else:
            record("run started", steps=state.project.train_config.steps, seed=state.project.train_config.seed)
            st.rerun()  # the live panel sits above the form: draw the page again with it


# ------------------------------------------------------------------------- live run
def _fmt(value: float, metric: str = "accuracy") -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.4g}"


def _curves(history: History | None, colors: dict[str, str], split: str, key: str) -> None:
    loss_col, metric_col = figure_columns(2)
    loss_col.plotly_chart(for_screen(curves_figure(history, "loss", split, colors, title=f"{split} loss per task")),
                          key=f"{key}_loss")
    metric_col.plotly_chart(for_screen(curves_figure(history, "metric", split, colors)), key=f"{key}_metric",
                            width="stretch")


def run_active(state: AppState) -> bool:
    """A run is going, or has ended and not been taken in yet."""
    return state.run is not None and not run_handled(state)


def _live_curves(history: History, graph: TaskGraph) -> None:
    """The live test curves, rebuilt only when a new evaluation arrived.

    Polls between evaluations re-send the same figures: building two Plotly figures costs a
    few hundred ms, which twenty sessions polling every second cannot afford on one server.
    """
    key = (id(history), len(history.steps))
    cached = get_state().live_figures
    if cached is None or cached[0] != key:
        colors = curve_colors(graph)
        cached = (key, curves_figure(history, "loss", "test", colors, title="test loss per task"),
                  curves_figure(history, "metric", "test", colors))
        get_state().live_figures = cached
    loss_col, metric_col = figure_columns(2)
    loss_col.plotly_chart(for_screen(cached[1]), key="live_loss")
    metric_col.plotly_chart(for_screen(cached[2]), key="live_metric", width="stretch")


@st.fragment(run_every=1.0)
def live_panel(state: AppState) -> None:
    """Progress, Stop and live curves. It only draws: when the run ends, the app shell's watcher
    (:mod:`ragviz.ui.run_watcher`) takes it in and redraws the page."""
    run = state.run
    if run is None:
        return
    snap = run.snapshot()
    record("live panel", status=str(snap.status), step=snap.step, handled=run_handled(state))
    if snap.done or run_handled(state):
        st.caption(f"The run {snap.status}: showing its result…")
        return
    if snap.status == RunStatus.QUEUED:
        queued_panel(run, snap)
        return
    what = f"Training the baseline ({run.baseline})" if snap.phase == "baseline" else "Training RAG"
    text = (f"{what}: step {snap.step:,} of {snap.total:,} · {snap.steps_per_sec:,.1f} steps/s · "
            f"{snap.elapsed:.0f} s")
    bar_col, stop_col = st.columns([6, 1], vertical_alignment="bottom")
    bar_col.progress(snap.fraction, text=text)
    stop_col.button("Stop", on_click=run.stop, key="train_stop", icon=":material/stop:", width="stretch",
                    help="Ends the run cleanly after the current step; the model trained so far is kept.")
    _, note = evaluation_every(run.project.train_config.steps, run.project.train_config.eval_every,
                               run.project.graph.number_of_tasks())
    if note:
        st.caption(note)
    history = snap.baseline_history if snap.phase == "baseline" else snap.history
    if history is None:
        st.caption("Preparing the data and the first evaluation… (Stop works at any time.)")
        return
    _live_curves(history, run.project.graph)
    st.caption("Test-split curves, updated at every evaluation; dashed lines are zero-shot tasks. "
               f"{ZERO_SHOT_MEANING}.")
    watch_lines(history)


def queued_panel(run: TrainingRun, snap: RunSnapshot) -> None:
    """The server is at its cap of runs: say so, show the place in the queue, offer to leave it."""
    info_col, stop_col = st.columns([6, 1], vertical_alignment="center")
    ahead = "you are next" if snap.queue_place == 1 else f"{snap.queue_place - 1} run(s) ahead of yours"
    info_col.info(f"The server is busy: {snap.runs_going} training run(s) are going, the most it runs at once. "
                  f"Your run is number {snap.queue_place} in the queue ({ahead}); it starts by itself when a run "
                  "finishes. Keep this tab open: closing it leaves the queue.", icon=":material/hourglass_top:")
    stop_col.button("Leave queue", on_click=run.stop, key="train_leave_queue", icon=":material/close:",
                    width="stretch", help="Cancel this run before it starts; your current model is kept.")


# -------------------------------------------------------------------------- results
def _trained_graph(state: AppState) -> TaskGraph:
    return state.trained.graph if state.trained is not None else state.project.graph


def model_panel(state: AppState, watch: bool = True) -> None:
    """The current model's final metrics and its per-task training curves, with a replay slider.

    ``watch``: report best against last step here (False when the run's outcome above already did).
    """
    if not state.trained:
        st.info("No trained model yet. Choose settings above and press **Start training**, or open a sample "
                "on **Home** or a checkpoint on **Checkpoints**.", icon=":material/info:")
        return
    st.subheader("Current model")
    trained = state.trained
    st.caption(f"Source: {md_escape(trained.source)} · device: {md_escape(trained.device or 'not recorded')}")
    history = state.history
    if history is None or not history.steps:
        st.info("This checkpoint stores no training history, so there are no curves or metrics to show.")
        return
    summary = history.summary()
    cols = st.columns(4)
    name = "accuracy" if history.metric == "accuracy" else "MSE"
    cols[0].metric(f"Test {name}, seen", _fmt(summary["seen"], history.metric),
                   help="Mean over the tasks that have training data.")
    cols[1].metric(f"Test {name}, zero-shot", _fmt(summary["zero_shot"], history.metric),
                   help="Mean over the tasks with no training data: their predictor comes from their relations "
                        "alone.")
    cols[2].metric("Steps trained", f"{history.steps[-1]:,}")
    cols[3].metric("Training time", f"{history.wall_time[-1]:.1f} s" if history.wall_time else "—")
    if watch:
        watch_lines(history)
    split = st.segmented_control("Curves on the", ("test", "train"), default="test", key="train_curve_split",
                                 help="Zero-shot tasks have no training split, so they only appear on test.")
    replay_panel(history, _trained_graph(state), split or "test")


def baseline_panel(state: AppState) -> None:
    """RAG and the baseline side by side: per-task table with means, bars and the baseline's curves."""
    baseline = state.baseline
    if baseline is None or baseline.history is None or state.history is None:
        return
    st.subheader(f"RAG vs baseline ({md_escape(baseline.name)})")
    st.caption(f"{md_escape(ABLATIONS.get(baseline.name, baseline.name))}; same tasks, data and settings. "
               f"Final {metric_title(state.history.metric)} per task; Δ = baseline − RAG. {ZERO_SHOT_MEANING}.")
    ours = MetricSet.from_history("RAG", state.history)
    theirs = MetricSet.from_history("baseline", baseline.history)
    table_col, bars_col = figure_columns([5, 4])
    with table_col:
        comparison_dataframe(comparison_table(ours, theirs))
    bars_col.plotly_chart(for_screen(comparison_figure([ours, theirs])), key="baseline_bars")
    with st.expander("The baseline's training curves"):
        _curves(baseline.history, curve_colors(_trained_graph(state)), "test", "baseline")


def save_current(state: AppState, name: str, folder: str | Path | None = None) -> Path:
    """Write the current model into the models folder and list it among this session's saves."""
    path, _ = save_for_session(state, name, current_checkpoint_bytes(state), folder)
    return path


def save_panel(state: AppState) -> None:
    """Download the current model, or save it into the models folder (then listed on Checkpoints)."""
    if not state.trained:
        return
    st.subheader("Save this model")
    name_col, down_col, save_col = st.columns([2, 1, 1], vertical_alignment="bottom")
    name = name_col.text_input("File name", value=state.project.name,
                               help="Saved as <name>.safetensors; unsafe characters become '_'.")
    down_col.download_button("Download", data=lambda: current_checkpoint_bytes(state),
                             file_name=safe_file_name(name or "checkpoint"), mime="application/octet-stream",
                             on_click="ignore", icon=":material/download:")
    if save_col.button("Save to models folder", icon=":material/save:", width="stretch",
                       help="Writes into the server's models folder, shared by everyone on this server; "
                            "it never replaces a checkpoint someone else saved."):
        try:
            _, message = save_for_session(state, name, current_checkpoint_bytes(state))
        except RagvizError as err:
            st.error(f"Could not save: {md_escape(err)}")
        else:
            st.success(message)
