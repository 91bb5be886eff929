"""The Checkpoints page's parts: gallery cards, opening, upload, and comparing two models.

Cards are drawn from header summaries cached by (path, mtime, size) or by the bytes
themselves, so a rerun never loads a model; weights are read only when a card is opened.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.plots.training import comparison_figure
from ragviz.safety.errors import CheckpointError, RagvizError
from ragviz.safety.limits import get_limits, keep_bounded, size_text
from ragviz.safety.safe_text import md_escape
from ragviz.storage.checkpoint import load_checkpoint
from ragviz.storage.gallery import (
    CheckpointSummary,
    MetricSet,
    comparable,
    comparison_table,
    list_checkpoint_files,
    metric_label,
    models_dir,
    summarize_bytes,
    summarize_file,
)
from ragviz.storage.models_folder import safe_file_name, save_to_folder
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.metric_table import comparison_dataframe
from ragviz.ui.projector import figure_columns, for_screen
from ragviz.ui.state import AppState, adopt_checkpoint, notify, set_widget_value, widget_value
from ragviz.ui.upload_widgets import file_uploader, read_uploaded, real_limit, release_upload, uploader_key

UPLOAD_WIDGET = "ckpt_upload"
PAGE_SIZE = 9
PER_ROW = 3
SAMPLE_DIR = Path("sample_models")
SOURCE_BADGE = {"sample": ("sample", "violet"), "session": ("this session", "green"),
                "folder": ("models folder", "blue"), "upload": ("uploaded", "orange")}
SOURCE_NAME = {"sample": "sample", "session": "saved in this session", "folder": "models folder",
               "upload": "uploaded"}
CURRENT = "Current model"


@dataclass
class Entry:
    """One card: where the checkpoint lives and its header summary."""

    key: str
    title: str
    summary: CheckpointSummary
    path: Path | None = None
    data: bytes | None = None
    sample_key: str | None = None

    @property
    def source_label(self) -> str:
        """The ``TrainedModel.source`` text this checkpoint gets when opened (marks the open card)."""
        kind = {"sample": "sample", "session": "saved", "folder": "file", "upload": "uploaded"}[self.summary.source]
        return f"{kind}: {self.title}"

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


# ---------------------------------------------------------------------------- cached
@st.cache_data(max_entries=2000, show_spinner=False)
def _file_summary(path: str, mtime_ns: int, size: int, source: str) -> CheckpointSummary:
    """Header-only summary; (mtime, size) in the key re-reads a file only when it changed."""
    return summarize_file(path, source)


@st.cache_data(max_entries=256, show_spinner=False)
def _bytes_summary(data: bytes, name: str, source: str) -> CheckpointSummary:
    return summarize_bytes(data, name, source)


def file_summary(path: Path, source: str) -> CheckpointSummary:
    try:
        stat = path.stat()
    except OSError as err:
        return CheckpointSummary(name=path.name, source=source, error=f"Cannot read the file: {err.strerror}.")
    return _file_summary(str(path.resolve()), stat.st_mtime_ns, stat.st_size, source)


@st.cache_resource(max_entries=256, show_spinner=False)
def _thumbnail(graph_json: str) -> go.Figure | None:
    """A small drawing of the task graph (None if the Task graph page's plots are unavailable).

    One figure shared by every session, never changed once made (``st.plotly_chart`` copies it): as
    ``cache_data`` it was unpickled, a new Plotly figure validated again, for every card on every rerun.
    """
    try:
        from ragviz.plots.graph import graph_figure, without_webgl

        return without_webgl(graph_figure(TaskGraph.from_dict(json.loads(graph_json)), compact=True, height=150))
    except (ImportError, RagvizError, ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------- lists
def _samples() -> list[Any]:
    try:
        from ragviz.lessons.samples import SAMPLES
    except ImportError:
        return []
    return list(SAMPLES)


def sample_entries() -> list[Entry]:
    """Shipped samples under their titles; without ragviz.lessons.samples, whatever sample_models/ holds."""
    entries = []
    samples = _samples()
    for sample in samples:
        path = Path(sample.path)
        if path.is_file():
            entries.append(Entry(f"sample:{sample.key}", sample.title, file_summary(path, "sample"), path=path,
                                 sample_key=sample.key))
    if not samples:
        for path in list_checkpoint_files(SAMPLE_DIR):
            entries.append(Entry(f"sample:{path.name}", path.stem, file_summary(path, "sample"), path=path))
    return entries


def session_entries(state: AppState) -> list[Entry]:
    return [Entry(f"session:{name}", Path(name).stem, _bytes_summary(data, name, "session"), data=data)
            for name, data in state.saved.items()]


def folder_entries(state: AppState, folder: Path) -> list[Entry]:
    """Files in the models folder, except those this session saved (already listed with them)."""
    return [Entry(f"folder:{p.name}", p.stem, file_summary(p, "folder"), path=p)
            for p in list_checkpoint_files(folder) if p.name not in state.saved]


def upload_entries(files: dict[str, bytes]) -> list[Entry]:
    return [Entry(f"upload:{name}", Path(name).stem, _bytes_summary(data, name, "upload"), data=data)
            for name, data in files.items()]


# --------------------------------------------------------------------------- actions
def open_entry(state: AppState, entry: Entry) -> bool:
    """Load a card's checkpoint (weights now) and make it the session's; on failure nothing changes."""
    try:
        if entry.sample_key is not None:
            from ragviz.lessons.samples import load_sample

            ckpt = load_sample(entry.sample_key)
        elif entry.path is not None:
            ckpt = load_checkpoint(entry.path)
        else:
            ckpt = load_checkpoint(entry.read())
    except (RagvizError, ImportError) as err:
        notify(state, "error", f"Could not open '{entry.title}': {err} The current project is unchanged.")
        return False
    source = f"sample: {ckpt.project.name}" if entry.sample_key is not None else entry.source_label
    adopt_checkpoint(state, ckpt, source, sample_key=entry.sample_key)
    notify(state, "success", f"Opened '{entry.title}' ({ckpt.project.name}). Every page now shows this model.")
    return True


def accept_upload(state: AppState, files: dict[str, bytes], name: str, data: bytes,
                  max_bytes: int | None = None) -> bool:
    """Validate an uploaded file fully; if good, list it and open it. A bad file changes nothing.

    ``max_bytes`` defaults to the configured checkpoint limit (``RAGVIZ_MAX_CHECKPOINT_MB``).
    """
    try:
        ckpt = load_checkpoint(bytes(data), max_bytes=max_bytes)
    except RagvizError as err:
        notify(state, "error", f"'{name}' was not opened: {err} The current project is unchanged.")
        return False
    files[name] = bytes(data)
    dropped = keep_bounded(files)
    if dropped:
        limits = get_limits()
        notify(state, "info", f"This session keeps at most {limits.kept_uploads} uploads "
                              f"({size_text(limits.kept_uploads_bytes)} in all): the oldest {len(dropped)} left "
                              "the list. Upload a file again to open it again.")
    adopt_checkpoint(state, ckpt, f"uploaded: {Path(name).stem}")
    notify(state, "success", f"Uploaded and opened '{name}' ({ckpt.project.name}, "
                             f"{ckpt.project.graph.number_of_tasks()} tasks).")
    return True


def _on_upload(state: AppState, key: str) -> None:
    file = widget_value(key)
    if file is None:
        return
    try:
        data = read_uploaded(file, "checkpoint")
    except RagvizError as err:
        notify(state, "error", f"'{file.name}' was not opened: {err} The current project is unchanged.")
    else:
        accept_upload(state, state.uploads, file.name, data, max_bytes=real_limit("checkpoint"))
    release_upload(state, UPLOAD_WIDGET, file)  # read: what is kept is the session's bounded list of uploads


def upload_box(state: AppState) -> None:
    key = uploader_key(state, UPLOAD_WIDGET)
    file_uploader(
        "Upload a checkpoint (.safetensors)", "checkpoint", type=["safetensors"], key=key, on_change=_on_upload,
        args=(state, key),
        help="Checked completely before anything changes; pickle files (.pt, .pth) are refused, never unpickled.",
    )


def save_for_session(state: AppState, name: str, data: bytes, folder: str | Path | None = None) -> tuple[Path, str]:
    """Save into the shared models folder without touching anyone else's file; returns the path and what to say.

    The message names the file only, never the server's folder. A name someone else holds
    gets the next free ``name-2``… and the message says so.
    """
    wanted = safe_file_name(name)
    replacing = wanted in state.saved
    try:
        path = save_to_folder(models_dir() if folder is None else folder, name, data, own=state.saved)
    except OSError as err:
        raise CheckpointError(f"the models folder cannot be written ({err.strerror or type(err).__name__}). "
                              "Download the model instead.") from None
    state.saved[path.name] = data
    if path.name != wanted:
        return path, (f"The models folder already has a checkpoint named `{wanted}` that this session did not save, "
                      f"so this one was saved as `{path.name}`. The Checkpoints page lists it.")
    mine = " (replacing this session's earlier save)" if replacing else ""
    return path, f"Saved as `{path.name}`{mine}. The Checkpoints page lists it."


# ----------------------------------------------------------------------------- cards
def format_created(created: str) -> str:
    try:
        when = _dt.datetime.fromisoformat(created)
    except ValueError:
        return created or "date unknown"
    return when.strftime("%Y-%m-%d %H:%M") + (" UTC" if when.utcoffset() == _dt.timedelta(0) else "")


def _fmt(value: float, metric: str) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.3g}"


def card_lines(summary: CheckpointSummary) -> list[str]:
    """The text of a card as markdown, one line each: contents, settings, metrics, provenance.

    Everything read from the file's header is escaped: a checkpoint can come from anyone.
    """
    means = summary.means
    name = "accuracy" if summary.metric == "accuracy" else "MSE"
    metric = f"Test {name}: seen **{_fmt(means['seen'], summary.metric)}**"
    if summary.zero_shot:
        metric += f" · zero-shot **{_fmt(means['zero_shot'], summary.metric)}**"
    steps = f" · {summary.steps:,} steps" if summary.steps is not None else ""
    return [
        f"Project: {md_escape(summary.project_name or '—')}",
        f"{summary.n_tasks} tasks ({len(summary.zero_shot)} zero-shot) · {summary.n_edges} edges · "
        f"{md_escape(summary.domain or '—')}",
        md_escape(summary.settings_line + steps),
        metric if summary.metrics else "No metrics recorded",
        f"{md_escape(format_created(summary.created))} · {md_escape(summary.device or 'device not recorded')} · "
        f"{summary.size / 1e6:.2f} MB",
    ]


def is_current(state: AppState, entry: Entry) -> bool:
    """Whether this card is the model the session has open now."""
    if not state.trained:
        return False
    if entry.sample_key is not None:
        return state.sample_key == entry.sample_key
    return state.trained.source == entry.source_label


def checkpoint_card(state: AppState, entry: Entry) -> None:
    s = entry.summary
    with st.container(border=True):
        title_col, badge_col = st.columns([3, 2], vertical_alignment="center")
        title_col.markdown(f"**{md_escape(entry.title)}**")
        with badge_col:
            label, color = SOURCE_BADGE[s.source]
            st.badge(label, color=color)
        if s.error:
            st.warning(md_escape(s.error))
            return
        figure = _thumbnail(json.dumps(s.graph, sort_keys=True)) if s.graph else None
        if figure is not None:
            st.plotly_chart(figure, key=f"thumb:{entry.key}", config={"staticPlot": True, "displayModeBar": False})
        lines = card_lines(s)
        if s.project_name in ("", entry.title):
            lines[0] = ""
        st.markdown("  \n".join([*(f":gray[{line}]" for line in lines[:3] if line), lines[3]]))
        st.caption(lines[4])
        is_open = is_current(state, entry)
        open_col, down_col = st.columns(2)
        open_col.button("Open ✓" if is_open else "Open", key=f"open:{entry.key}", on_click=open_entry,
                        args=(state, entry), type="secondary" if is_open else "primary", width="stretch",
                        help="Load this model: every page then shows it.")
        down_col.download_button("Download", data=entry.read, file_name=Path(s.name).name, key=f"down:{entry.key}",
                                 mime="application/octet-stream", on_click="ignore", width="stretch",
                                 icon=":material/download:")


def _page_of(entries: list[Entry], key: str) -> list[Entry]:
    """Long lists get a filter and pages, so a big folder draws only a few cards."""
    if len(entries) <= PAGE_SIZE:
        return entries
    query = st.text_input("Filter by name", key=f"filter:{key}", placeholder="part of a name or project")
    if query:
        q = query.lower()
        entries = [e for e in entries if q in e.title.lower() or q in e.summary.project_name.lower()]
    pages = max(1, math.ceil(len(entries) / PAGE_SIZE))
    page = st.selectbox(f"Page (of {pages}; {len(entries)} checkpoints)", range(1, pages + 1),
                        key=f"page:{key}") if pages > 1 else 1
    return entries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]


def card_grid(state: AppState, entries: list[Entry], key: str) -> None:
    shown = _page_of(entries, key)
    for start in range(0, len(shown), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, entry in zip(cols, shown[start:start + PER_ROW], strict=False):
            with col:
                checkpoint_card(state, entry)


# --------------------------------------------------------------------------- compare
def metric_sets(state: AppState, entries: list[Entry]) -> dict[str, MetricSet]:
    """Every model with per-task metrics, by a display name: the current model first."""
    sets: dict[str, MetricSet] = {}
    if state.trained and state.history is not None and state.history.steps:
        sets[f"{CURRENT} ({state.trained.source})"] = MetricSet.from_history(CURRENT, state.history)
    for entry in entries:
        s = entry.summary
        if s.error is None and s.metrics:
            name = f"{entry.title} · {SOURCE_NAME[s.source]}"
            sets[name] = replace(s.metric_set, label=entry.title)
    return sets


def comparable_partner(sets: dict[str, MetricSet], a: str) -> str | None:
    """The first other model that can be compared with ``a`` task by task (same metric, shared tasks)."""
    return next((b for b in sets if b != a and comparable(sets[a], sets[b]) is None), None)


def comparable_pair(sets: dict[str, MetricSet]) -> tuple[str, str]:
    """The first two models (in order) that can be compared; the first two when no pair can."""
    names = list(sets)
    for a in names:
        b = comparable_partner(sets, a)
        if b is not None:
            return a, b
    return names[0], names[1]


def compare_panel(state: AppState, entries: list[Entry]) -> None:
    """Two checkpoints' per-task test metrics side by side: a table with means and grouped bars."""
    sets = metric_sets(state, entries)
    if len(sets) < 2:
        st.info("Comparing needs two models with metrics: train one, open a sample, save or upload another, "
                "then come back here.", icon=":material/info:")
        return
    names = list(sets)
    first, second = comparable_pair(sets)
    a_col, b_col = st.columns(2)
    a = a_col.selectbox("Model A", names, index=names.index(first), key="compare_a")
    # B starts at a model comparable with A, and moves to one when a new A is chosen.
    partner = comparable_partner(sets, a) or next(n for n in names if n != a)
    if state.compared_a != a or widget_value("compare_b") not in names:
        set_widget_value("compare_b", partner)
    state.compared_a = a
    b = b_col.selectbox("Model B", names, key="compare_b")
    if a == b:
        st.info("Pick two different models to compare.")
        return
    problem = comparable(sets[a], sets[b])
    if problem:
        st.warning(md_escape(problem))
        return
    table = comparison_table(sets[a], sets[b])
    st.caption(f"Final {metric_label(sets[a].metric)} per task; Δ = B − A. Blank cells: a task the model does not "
               f"have. {ZERO_SHOT_MEANING}.")
    table_col, bars_col = figure_columns([5, 4])
    with table_col:
        comparison_dataframe(table)
    # Kept for the two sets' content (their repr: labels, metric, every value), not rebuilt on every rerun.
    bars = cached_figure("compare_bars", (), (repr(sets[a]), repr(sets[b])),
                         lambda: comparison_figure([sets[a], sets[b]]))
    bars_col.plotly_chart(for_screen(bars), key="compare_bars")


# ---------------------------------------------------------------------------- layout
@dataclass
class Section:
    title: str
    key: str
    entries: list[Entry]
    empty: str


def gallery_sections(state: AppState) -> list[Section]:
    """Samples, this session's saves, the models folder and uploads, each with what to do when empty."""
    folder = models_dir()
    return [
        Section("Samples", "samples", sample_entries(),
                "The samples are not built yet: run `python -m ragviz samples`." if _samples()
                else "No sample models are shipped in sample_models/ yet."),
        Section("Saved in this session", "session", session_entries(state),
                "Nothing saved in this session yet: train a model, then press **Save to models folder** on the "
                "Train page."),
        Section("Models folder", "folder", folder_entries(state, folder),
                "No checkpoints in the server's models folder yet (its administrator sets it with "
                "RAGVIZ_MODELS_DIR)."),
        Section("Uploaded", "uploads", upload_entries(state.uploads), "Nothing uploaded yet: use the box above."),
    ]


def gallery(state: AppState, sections: list[Section]) -> None:
    for section in sections:
        st.subheader(f"{md_escape(section.title)} ({len(section.entries)})")
        if section.entries:
            card_grid(state, section.entries, section.key)
        else:
            st.caption(section.empty)
