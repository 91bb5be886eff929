"""Speech tasks in the app: each speaker's clip to play beside its spectrogram and the features the model reads.

The clips are the shipped synthetic ones (no microphone needed); names shown are speaker ids and
task names, through markdown escaping.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ragviz.data.speech import CLIP_WORD, WORDS, speaker_clip, speaker_label, speaker_of
from ragviz.data.speech_features import SAMPLE_RATE, clip_features, log_mel, voiced, wav_bytes
from ragviz.plots.speech import spectrogram_figure
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.projector import for_screen
from ragviz.ui.state import AppState

SYNTHETIC_NOTE = ("These voices are synthetic (espeak-ng, scaled to five vocal-tract sizes, with noise added): "
                  "a model trained on them has never heard a person.")


def speech_preview(state: AppState, names: list[str]) -> None:
    """Data preview of speech tasks: per task, its speaker's clip of one word, playable, with its spectrogram."""
    graph = state.project.graph
    st.caption(f"Each task recognises the ten words {WORDS[0]}…{WORDS[-1]} spoken by one speaker variant. "
               f"Below: each speaker saying “{CLIP_WORD}”. {SYNTHETIC_NOTE}")
    for name in names:
        task = graph.task(name)
        try:
            speaker = speaker_of(task)
            audio, sr = speaker_clip(speaker)
        except RagvizError as err:
            st.error(f"Task '{md_escape(name)}': {md_escape(err)}", icon=":material/error:")
            continue
        star = " ★ (zero-shot)" if task.zero_shot else ""
        st.markdown(f"**{md_escape(name)}**{star} · {md_escape(speaker_label(speaker))} · "
                    f"train {task.train_size} · test {task.test_size}")
        left, right = st.columns([1, 3])
        left.audio(wav_bytes(audio, sr), format="audio/wav")
        spec = voiced(log_mel(audio, sr))
        features = np.asarray(clip_features(audio, sr))
        right.plotly_chart(for_screen(spectrogram_figure(spec, features)), key=f"tg_speech_{name}",
                           config={"displayModeBar": False})


__all__ = ["SAMPLE_RATE", "SYNTHETIC_NOTE", "speech_preview"]
