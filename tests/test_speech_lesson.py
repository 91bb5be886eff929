"""The speech lesson, "An unseen speaker from its relations": its graph, its links, its quick build, and what
opening its sample loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ragviz.data.speech import SIZES, VOICES
from ragviz.lessons.catalogue import LESSON_TEXTS, LESSONS, SPEECH_KEY
from ragviz.lessons.graphs import UNSEEN_SPEAKERS, unseen_speakers
from ragviz.lessons.samples import build_samples, get_sample
from ragviz.lessons.view import EMBEDDINGS, MESSAGE_PASSING, TASK_OUTPUTS, claim_tasks, go_there_targets
from ragviz.storage.checkpoint import load_checkpoint
from tests.helpers import ROOT

torch.set_num_threads(1)  # small models train several times faster on one thread

#: Modules no sample needs: the text lesson's sentence transformer and what would bring it, scikit-learn
#: (the digits loader), scipy. Opening the speech sample must load none of them.
HEAVY = ("sentence_transformers", "transformers", "sklearn", "scipy", "ragviz.data.text_encoder",
         "ragviz.data.text")

#: Run in a fresh interpreter: open a sample from a folder as the app does (checkpoint, its data, its trace)
#: and print every module that opening it imported.
OPEN_SAMPLE = """
import json, sys
from pathlib import Path
start = set(sys.modules)
from ragviz.data.domains import make_graph_data
from ragviz.inspection.trace import compute_trace
from ragviz.lessons import samples
samples.SAMPLE_DIR = Path(sys.argv[1])
ckpt = samples.load_sample(sys.argv[2])
make_graph_data(ckpt.project.graph, ckpt.project.tables)
compute_trace(ckpt.model, ckpt.project.graph, ckpt.project.tables, grid_resolution=10)
print(json.dumps(sorted(set(sys.modules) - start)))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The speech sample and the default ring sample, quick versions built on seed 0 into a scratch folder."""
    folder = tmp_path_factory.mktemp("samples")
    results = build_samples(folder, seeds=(0,), quick=True, progress=None, keys=[SPEECH_KEY, "zero_shot_ring"],
                            jobs=1)
    assert [r.key for r in results] == [SPEECH_KEY, "zero_shot_ring"]
    return folder


def _opened(folder: Path, key: str) -> set[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", OPEN_SAMPLE, str(folder), key], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_each_unseen_speaker_has_a_voice_of_its_own_and_both_kinds_of_neighbour() -> None:
    graph = unseen_speakers(seed=11)
    zero = [t.name for t in graph.tasks() if t.zero_shot]
    assert sorted(zero) == sorted(UNSEEN_SPEAKERS)
    assert sorted(name.split("-")[0] for name in zero) == sorted(VOICES)  # one per voice
    assert len({name.split("-")[1] for name in zero}) == len(zero)  # each at another size
    assert {t.family for t in graph.tasks()} == {"speech_speaker"}
    for name in zero:
        relations = {e.relation for e in graph.edges() if name in (e.source, e.target)}
        assert relations == {"next size", "same size"}, name
        neighbours = {e.source if e.target == name else e.target for e in graph.edges() if name in (e.source, e.target)}
        assert not any(graph.task(n).zero_shot for n in neighbours), name  # every neighbour has data
    assert all(t.train_size > 0 for t in graph.tasks() if not t.zero_shot)


def test_the_lesson_is_judged_against_no_edges_with_the_neighbour_average_beside_it() -> None:
    lesson = LESSONS[SPEECH_KEY]
    assert lesson.contrast == "no edges" and not lesson.lower_is_better and lesson.chance is None
    assert set(lesson.also_trained) == {"neighbour average, zero-shot accuracy"}
    assert lesson.holds([0.70] * 5, [0.55] * 5)
    assert not lesson.holds([0.70] * 5, [0.55] * 4 + [0.56])


def test_the_go_there_links_open_an_unseen_speaker_the_text_names() -> None:
    lesson = LESSONS[SPEECH_KEY]
    graph = lesson.build_graph()
    targets = go_there_targets(SPEECH_KEY, graph, lesson.model.layers)
    assert [t.page for t in targets] == [TASK_OUTPUTS, MESSAGE_PASSING, EMBEDDINGS]
    text = get_sample(SPEECH_KEY).lesson
    assert text == LESSON_TEXTS[SPEECH_KEY] and "espeak-ng" in text and "synthetic" in text
    for target in targets:
        assert target.task in graph.task_names() and graph.task(target.task).zero_shot
        assert target.task in text
        assert target.layer is None or target.layer == lesson.model.layers
    assert claim_tasks(SPEECH_KEY, graph) == [t.name for t in graph.tasks() if t.zero_shot]
    for speaker in UNSEEN_SPEAKERS:  # the text names every unseen speaker and every size
        assert speaker in text
    assert all(size in text for size in SIZES)


def test_the_quick_sample_builds_with_its_lesson_and_neighbour_average(built: Path) -> None:
    ckpt = load_checkpoint(built / f"{SPEECH_KEY}.safetensors")
    info = ckpt.info["sample"]
    assert info["key"] == SPEECH_KEY and info["holds"] is True
    assert ckpt.project.lesson == LESSON_TEXTS[SPEECH_KEY]
    assert set(info["also"]) == {"neighbour average, zero-shot accuracy"}
    assert 0.0 <= info["also"]["neighbour average, zero-shot accuracy"]["model"][0] <= 1.0
    assert ckpt.info["contrast"]["edges"] == []  # the contrast is the same model with no edges


def test_opening_the_speech_sample_loads_nothing_heavy_the_other_samples_do_not(built: Path) -> None:
    speech, ring = _opened(built, SPEECH_KEY), _opened(built, "zero_shot_ring")
    heavy = sorted(m for m in speech if m in HEAVY or m.split(".")[0] in HEAVY)
    assert heavy == []
    extra = {m.split(".")[0] for m in speech - ring}
    assert extra <= set(sys.stdlib_module_names) | {"ragviz"}, sorted(extra)


def test_the_cli_trains_and_describes_the_speech_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ragviz.cli import main

    out = tmp_path / "speakers.safetensors"
    assert main(["train", "--sample", SPEECH_KEY, "--steps", "2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "speech" in text and f"15 ({len(UNSEEN_SPEAKERS)} zero-shot" in text
