"""One new input through every task at once: the "try your own sentence" and "say it yourself" boxes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ragviz.training.prepared import prepare


def input_probabilities(model: Any, graph: Any, tables: dict[str, pd.DataFrame] | None,
                        x: np.ndarray) -> dict[str, np.ndarray]:
    """Every task's class probabilities for one input as the model reads it (its ``input_dim`` numbers),
    zero-shot tasks included."""
    model = model.to("cpu").eval()
    with torch.no_grad():
        prep = prepare(graph, model, tables)
        g = prep.g
        states, _ = model.embed_tasks(g)
        heads = model.task_heads(states[-1], g)
        n = len(g.names)
        inputs = torch.tensor(np.asarray(x, dtype=np.float32).reshape(1, -1)).expand(n, -1).contiguous()
        out = model.decode_all(heads, inputs, torch.arange(n))
        probs = torch.softmax(out, dim=-1).numpy()
    counts = g.n_classes.numpy()
    return {name: probs[i, :max(int(counts[i]), 1)] for i, name in enumerate(g.names)}


def sentence_probabilities(model: Any, graph: Any, tables: dict[str, pd.DataFrame] | None,
                           vector: np.ndarray) -> dict[str, np.ndarray]:
    """Every task's class probabilities for one sentence vector (the transformer's 384 numbers),
    zero-shot tasks included: the vector goes through the same frozen feature map as the training data."""
    from ragviz.data.text import text_features

    return input_probabilities(model, graph, tables, text_features(np.array(vector, dtype=np.float32).reshape(1, -1)))


def recording_probabilities(model: Any, graph: Any, tables: dict[str, pd.DataFrame] | None,
                            audio: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """Every speech task's word probabilities for one recording (decoded mono audio), zero-shot tasks
    included: the clip gets the corpus's features and standardisation, as the training utterances did."""
    from ragviz.data.speech import load_speech_corpus
    from ragviz.data.speech_features import clip_features

    return input_probabilities(model, graph, tables, load_speech_corpus().standardise(clip_features(audio, rate)))
