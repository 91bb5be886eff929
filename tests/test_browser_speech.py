"""Say it yourself in real headless Chromium: a fake microphone speaks a shipped clip into the recorder.

Chromium's ``--use-fake-device-for-media-stream`` with ``--use-file-for-fake-audio-capture`` plays a
WAV file as the microphone; the Task outputs page's recorder (``st.audio_input``) records it, and every
speech task's answer must appear, the zero-shot speaker's included.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from playwright import sync_api as playwright
from streamlit_server import CHROMIUM, CHROMIUM_ARGS
from test_browser import SHOTS, assert_no_exception, go_to, settle

from ragviz.data.speech import speaker_clip
from ragviz.data.speech_features import resample, wav_bytes
from ragviz.lessons.graphs import speaker_grid
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.storage.checkpoint import checkpoint_bytes
from ragviz.training.project import Project
from ragviz.training.train import train

#: Each task's most likely word in the "Every task's answer" chart: {task label: word}.
ANSWERS_JS = """
() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const title = gd.layout && gd.layout.title ? String(gd.layout.title.text || gd.layout.title) : "";
    if (!title.includes("Every task")) continue;
    const best = {};
    for (const tr of gd.data) {
      tr.y.forEach((label, i) => {
        if (!(label in best) || tr.x[i] > best[label][0]) best[label] = [tr.x[i], tr.customdata[i]];
      });
    }
    return Object.fromEntries(Object.entries(best).map(([k, v]) => [k, v[1]]));
  }
  return {};
}
"""


def speech_checkpoint(folder: Path) -> Path:
    project = Project(speaker_grid(train_size=20, test_size=20), ModelConfig(hidden=16),
                      TrainConfig(steps=20, eval_every=10), name="Speakers")
    result = train(project.graph, project.model_config, project.train_config)
    path = folder / "speakers.safetensors"
    path.write_bytes(checkpoint_bytes(project, result.model, result.history))
    return path


def microphone_file(folder: Path) -> Path:
    """A clip of "seven" between short silences, 16 kHz mono (what the fake microphone loops)."""
    audio, rate = speaker_clip("gb-high")
    x = resample(audio, rate)
    pause = np.zeros(8000)
    path = folder / "microphone.wav"
    path.write_bytes(wav_bytes(np.concatenate([pause, x, pause]), 16_000))
    return path


def test_a_fake_microphone_recording_gets_every_speech_tasks_answer(server, tmp_path: Path) -> None:
    checkpoint, microphone = speech_checkpoint(tmp_path), microphone_file(tmp_path)
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = chromium.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
            page = context.new_page()
            page.goto(server)
            settle(page)
            go_to(page, "Checkpoints")
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(checkpoint))
            settle(page)
            assert_no_exception(page, "Checkpoints after the upload")
            go_to(page, "Task outputs")
            record = page.locator('[data-testid="stAudioInputActionButton"]').first
            record.wait_for(timeout=60_000)
            record.click()
            page.wait_for_timeout(2500)
            page.locator('[data-testid="stAudioInputActionButton"]').first.click()
            page.get_by_text("Every task's answer", exact=False).first.wait_for(timeout=120_000)
            settle(page)
            assert_no_exception(page, "Task outputs after a recording")
            main = page.locator('[data-testid="stMain"]')
            assert main.get_by_text(re.compile("Nothing else changed")).count() == 0
            answers = page.evaluate(ANSWERS_JS)
            assert len(answers) == 15 and "gb-high ★" in answers, answers  # every task, the unseen speaker marked
            heard = sum(word == "seven" for word in answers.values())
            assert heard >= 12, answers  # the shipped "seven", through the browser's microphone, is heard as one
            page.screenshot(path=str(SHOTS / "speech_recording.png"), full_page=True)
        finally:
            chromium.close()
