"""A user's text table inside a checkpoint: its texts and class names beside its vectors.

A text table (:func:`ragviz.data.text.load_text_table`) is numbers (task, class index,
sentence vector) plus, in ``DataFrame.attrs``, the texts and the class names. The numbers
travel as a table tensor like any numeric table; this module keeps the rest, so a reopened
checkpoint still shows test texts, "neg"/"pos" rather than "class 0"/"class 1", and the
sentence vectors' hover texts. The texts are stored as one UTF-8 byte tensor plus each
text's end offset (no pickle, nothing in the header that grows with the data); they are
bounded by the table upload limit they came in under.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ragviz.safety.errors import CheckpointError
from ragviz.safety.safe_text import without_lone_surrogates

TEXTS_KEY = "table_texts.{}"
ENDS_KEY = "table_text_ends.{}"
MAX_CLASSES = 1000


def stored_texts(table: pd.DataFrame) -> list[str] | None:
    """The table's texts (one per row), or None when it carries none."""
    texts = table.attrs.get("texts")
    if isinstance(texts, list) and len(texts) == len(table) and all(isinstance(t, str) for t in texts):
        return texts
    return None


def table_text_tensors(name: str, table: pd.DataFrame) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata that keep a text table's texts and class names (empty for other tables)."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    texts = stored_texts(table)
    if texts is not None:
        encoded = [t.encode("utf-8", errors="surrogatepass") for t in texts]
        ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        tensors[TEXTS_KEY.format(name)] = torch.from_numpy(np.frombuffer(b"".join(encoded), dtype=np.uint8).copy())
        tensors[ENDS_KEY.format(name)] = torch.from_numpy(ends)
        meta["texts"] = True
    classes = table.attrs.get("classes")
    if isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes):
        meta["classes"] = list(classes)
    return tensors, meta


def restore_table_texts(name: str, frame: pd.DataFrame, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    """Put a stored table's texts and class names back into ``frame.attrs``; a malformed entry is a
    CheckpointError naming the table. Lone surrogates (a file may carry them: JSON escapes, or UTF-8
    written with ``surrogatepass``) become U+FFFD, so no page that shows them can crash."""
    if info.get("texts"):
        raw, ends = tensors.get(TEXTS_KEY.format(name)), tensors.get(ENDS_KEY.format(name))
        if raw is None or ends is None:
            raise CheckpointError(f"The checkpoint says table '{name}' keeps its texts but has no text tensors.")
        data, stops = raw.numpy(), ends.numpy()
        if raw.dtype != torch.uint8 or data.ndim != 1 or stops.ndim != 1 or len(stops) != len(frame) \
                or (len(stops) and (stops[-1] != len(data) or (np.diff(stops, prepend=0) < 0).any())):
            raise CheckpointError(f"The texts of table '{name}' do not match its rows.")
        blob = data.tobytes()
        try:
            starts = np.concatenate([[0], stops[:-1]]) if len(stops) else stops
            frame.attrs["texts"] = [without_lone_surrogates(blob[a:b].decode("utf-8", errors="surrogatepass"))
                                    for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
        except UnicodeDecodeError:
            raise CheckpointError(f"The texts of table '{name}' are not valid UTF-8.") from None
    classes = info.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or not 0 < len(classes) <= MAX_CLASSES \
                or not all(isinstance(c, str) for c in classes):
            raise CheckpointError(f"The class names of table '{name}' must be a list of text.")
        frame.attrs["classes"] = [without_lone_surrogates(c) for c in classes]


def missing_texts_note(task: Any, tables: dict[str, pd.DataFrame] | None) -> str:
    """What a text-table task lacks when its table came without texts (a checkpoint saved before
    texts were kept), in words for the page; '' when nothing is missing."""
    if getattr(task, "family", None) != "text_table":
        return ""
    name = str(task.full_params().get("table", ""))
    table = (tables or {}).get(name)
    if not isinstance(table, pd.DataFrame) or stored_texts(table) is not None:
        return ""
    lacks = "texts" if isinstance(table.attrs.get("classes"), list) else "texts and class names"
    return (f"The table '{name}' came without its {lacks} (it was saved by an older version): predictions, "
            "confusion matrices and embeddings work on its stored sentence vectors, but texts show as "
            "\"(text not stored)\". Import the CSV again to see them.")
