"""Speech tasks in the app: each speaker's clip beside its spectrogram, the clips a task gets wrong,
and "say it yourself".

The preview's clips are the shipped synthetic ones; a recording (or a WAV file) goes through the
work budget's size and length limits and a safe decoder before every task hears it. Names shown
are speaker ids and task names, through markdown escaping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ragviz.data.speech import CLIP_WORD, VOICE_NAMES, WORDS, speaker_clip, speaker_label, speaker_of
from ragviz.data.speech import speech_class_names as class_names
from ragviz.data.speech_features import clip_features, decode_recording, log_mel, voiced, wav_bytes
from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.speech_mistakes import Mistake, comparison_panels, playable, speech_mistakes
from ragviz.inspection.trace import Trace
from ragviz.plots.speech import features_panels_figure, spectrogram_figure
from ragviz.plots.text import sentence_bars_figure
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.projector import for_screen
from ragviz.ui.state import AppState, graph_key
from ragviz.ui.upload_widgets import file_uploader

SYNTHETIC_NOTE = ("These voices are synthetic (espeak-ng, scaled to five vocal-tract sizes, with noise added): "
                  "a model trained on them has never heard a person.")


def speech_preview(state: AppState, names: list[str]) -> None:
    """Data preview of speech tasks: per task, its speaker's clip of one word, playable, with its spectrogram."""
    graph = state.project.graph
    st.caption(f"Each task hears one speaker variant: which of the ten words {WORDS[0]}…{WORDS[-1]} it said "
               f"(speech_words), or whether it is that speaker at all (speech_speaker). Below: each speaker "
               f"saying “{CLIP_WORD}”. {SYNTHETIC_NOTE}")
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
        _spectrogram(right, audio, sr, f"tg_speech_{name}")


def _spectrogram(where: Any, audio: np.ndarray, sr: int, key: str) -> None:
    spec = voiced(log_mel(audio, sr))
    where.plotly_chart(for_screen(spectrogram_figure(spec, clip_features(audio, sr))), key=key,
                       config={"displayModeBar": False})


#: On the confusion matrices a speaker task's classes are short: the panel's title names the speaker, and
#: "another speaker" beside fifteen small panels ran into the neighbouring ones (seen in a screenshot).
SHORT_SPEAKER_CLASSES = ["other", "this"]


def speech_class_names(graph: TaskGraph, trace: Trace, tasks: list[str], short: bool = False
                       ) -> dict[str, list[str]]:
    """Speech tasks' class names (empty for other domains); ``short``: a speaker task's as "other"/"this"."""
    if trace.spec.name != "speech":
        return {}
    out = {}
    for name in tasks:
        try:
            task = graph.task(name)
            out[name] = SHORT_SPEAKER_CLASSES if short and task.family == "speech_speaker" else class_names(task)
        except (RagvizError, KeyError):
            continue  # a task the page cannot read keeps class numbers; the page says why elsewhere
    return out


def speech_mistakes_section(trace: Trace, graph: TaskGraph) -> None:
    """For one chosen speech task: the test utterances it gets wrong, surest first, each with its features
    beside the usual look of the word said and the word heard, and a clip only where one ships."""
    if trace.spec.name != "speech":
        return
    names = trace.task_names
    zero = [n for n in names if trace.zero_shot[trace.index(n)]]
    st.subheader("Clips it gets wrong")
    pick = st.columns([1, 2])[0].selectbox("Task", names, index=names.index(zero[0]) if zero else 0,
                                           key=f"to_speech_wrong_{graph_key(graph)[:10]}",
                                           format_func=lambda n: f"{n} ★ (zero-shot)" if n in zero else n)
    try:
        task = graph.task(pick)
        speaker, labels = speaker_of(task), class_names(task)
    except (RagvizError, KeyError) as err:
        st.error(f"Task '{md_escape(pick)}': {md_escape(err)}", icon=":material/error:")
        return
    mistakes, wrong, total = speech_mistakes(trace, pick)
    if not mistakes:
        st.caption(f"It gets all {total} of its test utterances right." if total else "It has no test utterances.")
        return
    shown = ("here they are, surest first" if len(mistakes) == wrong
             else f"here are the {len(mistakes)} it was surest about")
    st.caption(f"{wrong} of its {total} test utterances are wrong; {shown}. Only the pooled log-mel features of these "
               "utterances ship, not their audio: each is drawn beside the same speaker's average of what was said "
               "and of what was heard (mel bands low to high, the word in four parts; brighter is louder). A clip "
               f"plays only where a shipped one is the same word and speaker (each voice ships one clip, "
               f"“{CLIP_WORD}”).")
    for k, mistake in enumerate(mistakes):
        st.markdown(_mistake_line(mistake, task.family, speaker, labels))
        left, right = st.columns([1, 3], vertical_alignment="center")
        if playable(mistake):
            left.audio(wav_bytes(*speaker_clip(str(mistake.speaker))), format="audio/wav")
            left.caption("The same word and speaker, another take (this utterance's own audio does not ship).")
        else:
            voice = VOICE_NAMES.get(str(mistake.speaker).split("-")[0], "this")
            left.caption(f"No clip: only its features ship (the {voice} voice's one clip says “{CLIP_WORD}”).")
        right.plotly_chart(for_screen(features_panels_figure(comparison_panels(mistake, task.family, speaker,
                                                                                 labels))),
                           key=f"to_speech_wrong_fig_{k}", config={"displayModeBar": False})


def _mistake_line(mistake: Mistake, family: str, speaker: str, labels: list[str]) -> str:
    """One mistake in words: what was said (and by whom), what the task answered, how sure it was."""
    sure = f"{mistake.confidence:.0%} sure; {mistake.true_probability:.0%} on the right answer"
    who = md_escape(speaker_label(mistake.speaker)) if mistake.speaker else "speaker unknown"
    said = f"“{md_escape(mistake.word)}”" if mistake.word else f"“{md_escape(labels[mistake.true_class])}”"
    if family == "speech_words":
        return f"**said {said}**, heard as **“{md_escape(labels[mistake.predicted])}”** ({sure}) · {who}"
    answer = "this speaker" if mistake.predicted == 1 else "another speaker"
    by = f"by **{md_escape(mistake.speaker)}**" if mistake.speaker else ""
    return (f"{said} {by}, taken for **{answer}** ({sure}) · the task asks whether it is "
            f"**{md_escape(speaker)}**")


def say_it_yourself(state: AppState, trace: Trace, graph: TaskGraph | None = None) -> None:
    """Record one digit (or give a WAV file); every task's word probabilities at once, zero-shot tasks included."""
    from ragviz.inspection.text_predict import recording_probabilities

    if trace.spec.name != "speech" or state.model is None:
        return
    graph = graph if graph is not None else state.project.graph
    st.divider()
    st.subheader("Say it yourself")
    st.markdown("Record one digit, **zero** to **nine**: every task answers at once (★ = zero-shot): which word, "
                "or whether it is that task's speaker.")
    st.caption(f"{SYNTHETIC_NOTE} Your voice is not one of its speakers, so expect mistakes: that is the honest "
               "result of learning from fifteen synthetic voices.")
    recording = st.audio_input("Say a digit", key="to_say", sample_rate=16_000)
    upload = file_uploader("…or a WAV file", "audio", type=["wav"], key="to_say_file")
    source = recording if recording is not None else upload
    if source is None:
        st.caption("Record, or choose a WAV file, to hear what every task makes of it.")
        return
    try:
        audio, rate = decode_recording(source)
        probs = recording_probabilities(state.model, graph, state.project.tables, audio, rate)
    except RagvizError as err:
        st.error(f"{md_escape(err)} Nothing else changed.", icon=":material/error:")
        return
    zero = [n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z]
    st.plotly_chart(for_screen(sentence_bars_figure(probs, speech_class_names(graph, trace, list(probs)), zero)),
                    key="to_say_bars", config={"displayModeBar": False})
    _spectrogram(st, audio, rate, "to_say_spectrogram")
