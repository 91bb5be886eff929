"""The text domain: labelled sentences as tasks, their inputs the frozen transformer's vectors.

What a model reads is :func:`text_features`: each vector's coordinates on the corpus's 64
main directions (a fixed map, :mod:`ragviz.data.text_features`); the vectors themselves are what
is cached, shipped and stored in user tables.

Two families feed it. ``text`` tasks read a corpus shipped with the app (its labels in
columns, a task picks one label column, optionally one ``domain`` of the corpus, and may
flip a two-class label); the corpus ships its sentence vectors beside it, so these tasks
never run the transformer. ``text_table`` tasks read a user's table made by
:func:`load_text_table`: a long table of (task, text, label) whose texts were encoded once
on upload and are stored as numbers (``target`` and ``vec0``…``vec383``), so the table
travels inside a checkpoint like any numeric table and reopening it needs no transformer.

Splits follow the numeric domains: a seeded permutation of a task's rows, train first.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ragviz.data.task_data import TaskData, csv_params, split_sizes, task_sizes
from ragviz.data.text_encoder import EMBED_DIM, ENCODER_ID, Progress
from ragviz.data.text_features import Projection, fit_projection
from ragviz.safety import checks
from ragviz.safety.errors import DataError
from ragviz.safety.limits import get_limits

if TYPE_CHECKING:
    from ragviz.graph.task_graph import TaskGraph
    from ragviz.graph.tasks import Task

CORPUS_DIR = Path(__file__).resolve().parent / "corpora"
#: Shipped corpora: name -> CSV file (a ``<name>.vectors.safetensors`` beside it holds the vectors).
CORPORA: dict[str, Path] = {"reviews": CORPUS_DIR / "reviews.csv"}
TEXT_COLUMN = "text"
#: Corpus columns that are not labels a task can predict.
FILTER_COLUMN = "domain"
VECTOR_COLUMNS = [f"vec{i}" for i in range(EMBED_DIM)]
MAX_TEXT_CLASSES = 20
MAX_TEXT_CHARS = 5000
#: The corpus whose vectors fix the feature projection (:func:`feature_projection`).
FEATURE_CORPUS = "reviews"


@dataclass(frozen=True)
class Corpus:
    """A shipped corpus: its table and one unit vector per row."""

    name: str
    table: pd.DataFrame
    vectors: np.ndarray  # (rows, 384) float32, read-only

    def label_columns(self) -> list[str]:
        return [c for c in self.table.columns if c not in (TEXT_COLUMN, FILTER_COLUMN)]

    def classes(self, label: str) -> list[str]:
        return sorted(self.table[label].astype(str).unique().tolist())


def texts_digest(texts: list[str]) -> str:
    """What the shipped vectors were computed from: the encoder and every text, in order."""
    h = hashlib.sha256(ENCODER_ID.encode())
    for t in texts:
        h.update(b"\x00" + t.encode("utf-8", errors="surrogatepass"))
    return h.hexdigest()


def vectors_path(name: str) -> Path:
    return CORPORA[name].with_suffix(".vectors.safetensors")


def save_corpus_vectors(name: str, vectors: np.ndarray) -> Path:
    """Ship a corpus's vectors (float16: half the size, far below the encoder's own noise)."""
    from safetensors.numpy import save_file

    table = _read_corpus_table(name)
    path = vectors_path(name)
    save_file({"vectors": np.asarray(vectors, dtype=np.float16)}, str(path),
              metadata={"encoder": ENCODER_ID, "texts": texts_digest(table[TEXT_COLUMN].tolist())})
    return path


def _read_corpus_table(name: str) -> pd.DataFrame:
    if name not in CORPORA:
        raise DataError(f"There is no text corpus named {name!r}; the corpora are {', '.join(CORPORA)}.")
    try:
        table = pd.read_csv(CORPORA[name], dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise DataError(f"The text corpus '{name}' could not be read ({type(err).__name__}); reinstall the app.") \
            from None
    return table


def _shipped_vectors(name: str, texts: list[str]) -> np.ndarray | None:
    """The shipped vectors, or None when they are missing or were made from other texts."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(vectors_path(name)), "np") as handle:
            meta = handle.metadata() or {}
            if meta.get("encoder") != ENCODER_ID or meta.get("texts") != texts_digest(texts):
                return None
            vectors = handle.get_tensor("vectors").astype(np.float32)
    except (OSError, SafetensorError, KeyError, ValueError):
        return None
    return vectors if vectors.shape == (len(texts), EMBED_DIM) and np.isfinite(vectors).all() else None


@functools.lru_cache(maxsize=4)
def load_corpus(name: str) -> Corpus:
    """A shipped corpus with its vectors: the shipped ones, else encoded once (and cached)."""
    table = _read_corpus_table(name)
    texts = table[TEXT_COLUMN].tolist()
    vectors = _shipped_vectors(name, texts)
    if vectors is None:
        from ragviz.data import text_cache

        vectors = text_cache.encode(texts)
    vectors.flags.writeable = False
    return Corpus(name, table, vectors)


@functools.lru_cache(maxsize=1)
def feature_projection() -> Projection:
    """The frozen map from sentence vectors to the model's inputs, fitted once per process on the
    shipped reviews corpus's vectors (texts only; see :mod:`ragviz.data.text_features`)."""
    return fit_projection(load_corpus(FEATURE_CORPUS).vectors)[0]


def text_features(vectors: np.ndarray) -> np.ndarray:
    """What the model reads for sentence vectors: their main-direction coordinates (64 numbers each)."""
    return feature_projection().apply(vectors)


@functools.lru_cache(maxsize=4)
def _corpus_features(name: str) -> np.ndarray:
    features = text_features(load_corpus(name).vectors)
    features.flags.writeable = False
    return features


# --------------------------------------------------------------------------- tasks
def _text_params(task: Task) -> tuple[str, str, str, bool]:
    p = task.full_params()
    corpus, label, domain = (p.get(k, "") for k in ("corpus", "label", "domain"))
    for key, value in (("corpus", corpus), ("label", label)):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"Task '{task.name}': parameter '{key}' must be text, got {value!r}.")
    if not isinstance(domain, str):
        raise DataError(f"Task '{task.name}': parameter 'domain' must be text (empty for every domain), "
                        f"got {domain!r}.")
    flip = checks.flag(p.get("flip", False), f"Task '{task.name}': parameter 'flip'", DataError, empty=False)
    return corpus.strip(), label.strip(), domain.strip(), flip


#: Class names of a flipped two-class label, in class-index order (index 1 = the original class 0).
FLIPPED_NAMES: dict[str, tuple[str, str]] = {"sentiment": ("no complaint", "complaint")}


def _corpus_rows(task: Task) -> tuple[Corpus, np.ndarray, np.ndarray, list[str]]:
    """The corpus, this task's row indices, its class index per row, and its class names."""
    name, label, domain, flip = _text_params(task)
    corpus = load_corpus(name)
    if label not in corpus.label_columns():
        raise DataError(f"Task '{task.name}': the corpus '{name}' has no label '{label}' "
                        f"(labels: {', '.join(corpus.label_columns())}).")
    table = corpus.table
    rows = np.arange(len(table))
    if domain:
        domains = sorted(table[FILTER_COLUMN].unique().tolist())
        if domain not in domains:
            raise DataError(f"Task '{task.name}': the corpus '{name}' has no domain '{domain}' "
                            f"(domains: {', '.join(domains)}; leave it empty for all).")
        rows = np.flatnonzero((table[FILTER_COLUMN] == domain).to_numpy())
    classes = corpus.classes(label)
    y = np.searchsorted(classes, table[label].astype(str).to_numpy()[rows]).astype(np.int64)
    if flip:
        if len(classes) != 2:
            raise DataError(f"Task '{task.name}': only a two-class label can be flipped; '{label}' has "
                            f"{len(classes)} classes.")
        y = 1 - y
        # A flipped label is another task, so its classes get names of their own (a complaint is a
        # negative review): never the original's names, which would answer "pos" for both tasks.
        classes = list(FLIPPED_NAMES.get(label, [f"not {classes[1]}", f"not {classes[0]}"]))
    return corpus, rows, y, list(classes)


def _split(task: Task, n: int) -> tuple[np.ndarray, np.ndarray]:
    train, test, seed = task_sizes(task)
    train, test = split_sizes(n, train, test)
    order = np.random.default_rng(seed).permutation(n)
    return order[:train], order[train:train + test]


def text_n_classes(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> int:
    if task.family == "text":
        return len(_corpus_rows(task)[3])
    return len(_table_classes(_user_table(task, tables)[0]))


def text_task_data(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> Any:
    """One text task's split: sentence features (:func:`text_features`) in, class indices out."""
    if task.family == "text":
        corpus, rows, y, classes = _corpus_rows(task)
        tr, te = _split(task, len(rows))
        x = _corpus_features(corpus.name)[rows]
        return TaskData(x[tr], y[tr], x[te], y[te], len(classes))
    table, rows = _user_table(task, tables)
    tr, te = _split(task, len(rows))
    x = text_features(table[VECTOR_COLUMNS].to_numpy(dtype=np.float32)[rows])
    y = table["target"].to_numpy(dtype=np.float64)[rows].astype(np.int64)
    return TaskData(x[tr], y[tr], x[te], y[te], len(_table_classes(table)))


@dataclass
class TextExamples:
    """A task's texts and labels in split order, for previews and the outputs page."""

    train_texts: list[str]
    train_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    classes: list[str]


def text_examples(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> TextExamples:
    """The texts behind a task's vectors (in the same order as its data), with class names.

    A user table reopened from a checkpoint keeps its vectors but not its texts: the texts
    are then shown as "(text not stored)".
    """
    if task.family == "text":
        corpus, rows, y, classes = _corpus_rows(task)
        texts = corpus.table[TEXT_COLUMN].to_numpy()[rows]
    else:
        table, rows = _user_table(task, tables)
        classes = _table_classes(table)
        stored = table.attrs.get("texts")
        all_texts = stored if isinstance(stored, list) and len(stored) == len(table) else None
        texts = (np.asarray(all_texts, dtype=object)[rows] if all_texts is not None
                 else np.full(len(rows), "(text not stored)", dtype=object))
        y = table["target"].to_numpy(dtype=np.float64)[rows].astype(np.int64)
    tr, te = _split(task, len(rows))
    return TextExamples([str(t) for t in texts[tr]], y[tr], [str(t) for t in texts[te]], y[te], list(classes))


def class_names(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """A text task's class names in class-index order."""
    if task.family == "text":
        return _corpus_rows(task)[3]
    return _table_classes(_user_table(task, tables)[0])


def class_names_by_task(graph: TaskGraph, tables: dict[str, pd.DataFrame] | None = None,
                        names: list[str] | None = None) -> dict[str, list[str]]:
    """Class names of the graph's text tasks (those named, default all), for plots' axes.

    A task whose data cannot be read is left out: its plot falls back to class numbers, and
    the page that reads its data says what is wrong.
    """
    out: dict[str, list[str]] = {}
    present = set(graph.task_names())
    for name in graph.task_names() if names is None else names:
        task = graph.task(name) if name in present else None
        if task is None or task.family not in ("text", "text_table"):
            continue
        try:
            out[name] = class_names(task, tables)
        except DataError:
            continue
    return out


# --------------------------------------------------------------------------- user tables
def _table_classes(table: pd.DataFrame) -> list[str]:
    stored = table.attrs.get("classes")
    n = int(table["target"].max()) + 1 if len(table) else 0
    if isinstance(stored, list) and len(stored) >= n:
        return [str(c) for c in stored]
    return [f"class {i}" for i in range(max(n, 2))]


def _user_table(task: Task, tables: dict[str, pd.DataFrame] | None) -> tuple[pd.DataFrame, np.ndarray]:
    name, value = csv_params(task)
    if not tables or name not in tables:
        known = ", ".join(f"'{t}'" for t in (tables or {})) or "none uploaded"
        raise DataError(f"Task '{task.name}': there is no table named '{name}' (tables: {known}).")
    table = tables[name]
    missing = [c for c in ("task", "target", *VECTOR_COLUMNS) if c not in getattr(table, "columns", [])]
    if not isinstance(table, pd.DataFrame) or missing:
        raise DataError(f"Task '{task.name}': table '{name}' is not a text table (load it as text: it needs a "
                        "text, a task and a label column).")
    rows = np.flatnonzero(table["task"].astype(str).str.strip().to_numpy() == value)
    if len(rows) == 0:
        present = sorted(set(table["task"].astype(str).tolist()))
        shown = ", ".join(f"'{t}'" for t in present[:10]) + (" …" if len(present) > 10 else "")
        raise DataError(f"Task '{task.name}': table '{name}' has no rows for task '{value}' (tasks: {shown}).")
    return table, rows


def _refuse_over(count: int, limit: int, what: str, variable: str) -> None:
    """A text table over one of the server's limits is refused before any text is encoded (the costly part)."""
    if count > limit:
        raise DataError(f"The text table has {count:,} {what}; this server's limit is {limit:,}. Use a smaller table "
                        f"(nothing was encoded). (The server's administrator can raise the limit with {variable}.)")


def load_text_table(source: Any, text_column: str = "text", task_column: str = "task", label_column: str = "label",
                    max_bytes: int | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """Read a user's (text, task, label) CSV and encode its texts once (cached).

    Returns a numeric table (``task``, ``target`` = class index, ``vec0``…) whose ``attrs``
    keep the texts and class names for this session. Every problem raises DataError naming
    the column and row (1 = first data row), under the same size limit as numeric tables. Rows,
    total characters and tasks over the server's limits are refused before any text is encoded.
    """
    from ragviz.data.table_io import parse_csv, read_table_bytes
    from ragviz.safety.limits import max_upload_bytes

    if max_bytes is None:
        max_bytes = max_upload_bytes("table")
    raw = source.copy() if isinstance(source, pd.DataFrame) else parse_csv(read_table_bytes(source, max_bytes))
    raw.columns = [str(c).strip() for c in raw.columns]
    chosen = [str(c).strip() for c in (text_column, task_column, label_column)]
    if len(set(chosen)) < 3:
        raise DataError("The text, task and label columns must be three different columns.")
    listed = ", ".join(f"'{c}'" for c in raw.columns) or "none"
    for role, column in zip(("text", "task", "label"), chosen, strict=True):
        if column not in raw.columns:
            raise DataError(f"The table has no {role} column '{column}' (columns present: {listed}).")
    if len(raw) == 0:
        raise DataError("The table has no rows.")
    limits = get_limits()
    _refuse_over(len(raw), limits.max_text_rows, "rows", "RAGVIZ_MAX_TEXT_ROWS")
    text_c, task_c, label_c = chosen
    cleaned = {}
    for role, column in (("text", text_c), ("task", task_c), ("label", label_c)):
        values = raw[column]
        blank = np.flatnonzero(values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy())
        if len(blank):
            raise DataError(f"The {role} column '{column}' is empty in row {int(blank[0]) + 1}.")
        cleaned[role] = values.astype(str).str.strip()
    lengths = cleaned["text"].str.len()
    long = np.flatnonzero((lengths > MAX_TEXT_CHARS).to_numpy())
    if len(long):
        raise DataError(f"The text in row {int(long[0]) + 1} is longer than {MAX_TEXT_CHARS} characters; "
                        "text tasks are for sentences and short passages.")
    _refuse_over(int(lengths.sum()), limits.max_text_chars, "characters of text", "RAGVIZ_MAX_TEXT_CHARS")
    _refuse_over(int(cleaned["task"].nunique()), limits.max_tasks, "different tasks", "RAGVIZ_MAX_TASKS")
    classes = sorted(cleaned["label"].unique().tolist())
    if len(classes) < 2:
        raise DataError(f"The label column '{label_c}' has only one value ({classes[0]!r}); a task needs at least "
                        "two classes.")
    if len(classes) > MAX_TEXT_CLASSES:
        raise DataError(f"The label column '{label_c}' has {len(classes)} different values; text tasks allow at "
                        f"most {MAX_TEXT_CLASSES} classes.")
    counts = cleaned["task"].value_counts()
    small = counts[counts < 2]
    if len(small):
        raise DataError(f"Task '{small.index[0]}' has only 1 row; each task needs at least 2 rows "
                        "(something to train on and something to test on).")
    from ragviz.data import text_cache

    texts = cleaned["text"].tolist()
    vectors = text_cache.encode(texts, progress)
    out = pd.DataFrame(vectors.astype(np.float64), columns=VECTOR_COLUMNS)
    out.insert(0, "target", np.searchsorted(classes, cleaned["label"].to_numpy()).astype(np.float64))
    out.insert(0, "task", cleaned["task"].to_numpy(dtype=object))
    out.attrs["texts"] = texts
    out.attrs["classes"] = classes
    return out

