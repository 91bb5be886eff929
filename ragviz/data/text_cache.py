"""Sentence vectors computed once: a content-addressed cache on disk, bounded in size.

Key: sha256 of the encoder's id and the text, so a changed encoder never reuses vectors.
Value: the 384 float32 numbers, one small file per sentence under the cache folder
(``RAGVIZ_TEXT_CACHE``, default ``~/.cache/ragviz/text``). Files are written to a temporary
name and renamed, so a reader never sees half a file; a file that is unreadable, the wrong
size or not finite is treated as missing and recomputed. When the folder grows past its
budget (``RAGVIZ_TEXT_CACHE_MB``, default 64 MB, about 40,000 sentences) the oldest files go.

A process-wide in-memory map sits in front of the disk, so a page rerun costs dictionary
look-ups only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragviz.data import text_encoder
from ragviz.data.text_encoder import EMBED_DIM, ENCODER_ID, Progress

_VECTOR_BYTES = EMBED_DIM * 4
_MEMORY_ITEMS = 50_000
DEFAULT_BUDGET_MB = 64.0


def cache_folder() -> Path:
    """Where vectors live: ``RAGVIZ_TEXT_CACHE`` or ``~/.cache/ragviz/text``."""
    configured = os.environ.get("RAGVIZ_TEXT_CACHE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "ragviz" / "text"


def budget_bytes() -> int:
    """The disk budget (``RAGVIZ_TEXT_CACHE_MB``); a malformed value falls back to the default."""
    try:
        mb = float(os.environ.get("RAGVIZ_TEXT_CACHE_MB", DEFAULT_BUDGET_MB))
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    return int(max(mb, 0.01) * 2**20) if np.isfinite(mb) else int(DEFAULT_BUDGET_MB * 2**20)


def text_key(text: str, encoder_id: str = ENCODER_ID) -> str:
    """The content hash of one sentence under one encoder."""
    return hashlib.sha256(f"{encoder_id}\n{text}".encode("utf-8", errors="surrogatepass")).hexdigest()


class _Memory:
    """A thread-safe LRU of vectors by key."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
            return hit

    def put(self, key: str, vector: np.ndarray) -> None:
        with self.lock:
            self.items[key] = vector
            self.items.move_to_end(key)
            while len(self.items) > self.limit:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_MEMORY = _Memory(_MEMORY_ITEMS)
_WRITE_LOCK = threading.Lock()
_written_since_trim = 0


def clear_memory() -> None:
    """Forget the in-memory vectors (tests); the disk cache stays."""
    _MEMORY.clear()


def _path(folder: Path, key: str) -> Path:
    return folder / key[:2] / f"{key}.f32"


def _read(path: Path) -> np.ndarray | None:
    """A cached vector, or None when the file is missing or damaged (it is then rewritten)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) != _VECTOR_BYTES:
        return None
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        return None
    vector.flags.writeable = False
    return vector


def _write(folder: Path, key: str, vector: np.ndarray) -> None:
    """Write one vector atomically; a cache that cannot be written only costs recomputation."""
    path = _path(folder, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".f32")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(np.ascontiguousarray(vector, dtype="<f4").tobytes())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


def trim(folder: Path | None = None, budget: int | None = None) -> int:
    """Delete the oldest vector files until the folder fits its budget; returns how many went."""
    folder = cache_folder() if folder is None else Path(folder)
    budget = budget_bytes() if budget is None else budget
    try:
        files = [(p.stat().st_mtime, p) for p in folder.glob("*/*.f32")]
    except OSError:
        return 0
    total = len(files) * _VECTOR_BYTES
    removed = 0
    for _, path in sorted(files, key=lambda item: item[0]):
        if total <= budget:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= _VECTOR_BYTES
        removed += 1
    return removed


def lookup(texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """Vectors of the texts already cached (memory or disk) and the indices still missing."""
    folder = cache_folder()
    out = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    missing: list[int] = []
    for i, text in enumerate(texts):
        key = text_key(text)
        vector = _MEMORY.get(key)
        if vector is None:
            vector = _read(_path(folder, key))
            if vector is not None:
                _MEMORY.put(key, vector)
        if vector is None:
            missing.append(i)
        else:
            out[i] = vector
    return out, missing


def store(texts: Sequence[str], vectors: np.ndarray) -> None:
    """Remember vectors for texts (memory and disk), then keep the disk within budget."""
    global _written_since_trim
    folder = cache_folder()
    for text, vector in zip(texts, vectors, strict=True):
        key = text_key(text)
        frozen = np.array(vector, dtype=np.float32)
        frozen.flags.writeable = False
        _MEMORY.put(key, frozen)
        _write(folder, key, frozen)
    with _WRITE_LOCK:
        _written_since_trim += len(texts)
        due = _written_since_trim * _VECTOR_BYTES >= budget_bytes() // 20 or _written_since_trim >= 1000
        if due:
            _written_since_trim = 0
    if due:
        trim(folder)


def encode(texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """Sentence vectors for ``texts``: cached ones read back, only new ones run the transformer.

    Repeated texts are encoded once. ``progress(done, total)`` counts the new texts only.
    """
    texts = [str(t) for t in texts]
    out, missing = lookup(texts)
    if missing:
        unique = list(dict.fromkeys(texts[i] for i in missing))
        fresh = text_encoder.encode_uncached(unique, progress)
        store(unique, fresh)
        by_text = dict(zip(unique, fresh, strict=True))
        for i in missing:
            out[i] = by_text[texts[i]]
    return out
