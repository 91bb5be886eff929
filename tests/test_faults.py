"""Faults while training and writing leave nothing broken and nothing running.

* a non-finite (or exploding) loss stops the run and keeps the weights that last gave a finite loss;
* Stop in the middle gives the same model a shorter run would have, usable everywhere;
* CUDA running out of memory restarts on the CPU from the initial weights, with a message
  (simulated on CPU-only machines; a real CUDA out-of-memory test runs where there is a GPU);
* a session that ends stops its run (``weakref.finalize`` on the AppState), and so does one
  that stops polling (the heartbeat, configurable through ``RAGVIZ_HEARTBEAT_S``);
* checkpoints are written only into the models folder, under sanitised names, atomically.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import pytest
import torch

import ragviz.training.train as train_module
from ragviz.data.domains import domain_spec
from ragviz.graph.editing import EditHistory
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.rag import RAGModel, build_model
from ragviz.model.tensors import make_vocab
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.storage.models_folder import atomic_write, safe_file_name, save_to_folder
from ragviz.training.project import Project
from ragviz.training.runner import TrainingRun
from ragviz.training.train import train
from ragviz.ui.state import AppState, adopt_run, current_checkpoint_bytes, start_run
from tests.helpers import small_ring

MODEL = ModelConfig(embed_dim=8, hidden=16)


def _graph():
    return small_ring(4, zero_shot=(1,), train_size=20)


def _same_weights(a: RAGModel, b: RAGModel) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _finite(model: RAGModel) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _usable(project: Project, model: RAGModel, history) -> None:
    """A model is usable when every page's trace works and it survives a checkpoint round trip."""
    trace = compute_trace(model, project.graph)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in trace.outputs_test.values())
    ckpt = load_checkpoint(checkpoint_bytes(project, model, history))
    assert _same_weights(ckpt.model, model)


# ------------------------------------------------------------------------------------------ losses
def test_learning_rate_1000_stops_with_a_message_and_keeps_the_last_finite_weights() -> None:
    graph, cfg = _graph(), TrainConfig(steps=200, lr=1000.0, eval_every=10, seed=3)
    result = train(graph, MODEL, cfg)
    assert result.status == "diverged"
    assert "learning rate 1000" in result.message and "kept the last finite weights" in result.message
    assert 1 <= result.steps_done < 200 and result.history.steps[-1] == result.steps_done
    assert _finite(result.model)
    # The weights that gave the last finite loss: those the run had at the start of its last good step.
    if result.steps_done == 1:
        expected = build_model(MODEL, domain_spec(graph), make_vocab(graph), seed=cfg.seed)
    else:
        expected = train(graph, MODEL, TrainConfig(steps=result.steps_done - 1, lr=1000.0, eval_every=10,
                                                   seed=3)).model
    assert _same_weights(result.model, expected)
    _usable(Project(graph, MODEL, cfg), result.model, result.history)


def test_a_nan_loss_mid_run_stops_and_keeps_the_weights_from_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN appears at the 6th training step (evaluation passes are not counted)."""
    graph, cfg = _graph(), TrainConfig(steps=50, eval_every=10, seed=1)
    real = RAGModel.point_loss
    calls = {"train": 0}

    def poisoned(self: RAGModel, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = real(self, out, y)
        if self.training:
            calls["train"] += 1
            if calls["train"] == 6:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(RAGModel, "point_loss", poisoned)
    result = train(graph, MODEL, cfg)
    monkeypatch.setattr(RAGModel, "point_loss", real)
    assert result.status == "diverged" and "non-finite at step 6" in result.message
    assert result.steps_done == 5 and result.history.steps[-1] == 5
    assert _same_weights(result.model, train(graph, MODEL, TrainConfig(steps=4, eval_every=10, seed=1)).model)
    assert _finite(result.model)


# ------------------------------------------------------------------------------------------ stop
def test_stop_in_the_middle_gives_the_model_a_shorter_run_would_have() -> None:
    graph, cfg = _graph(), TrainConfig(steps=1000, eval_every=50, seed=2)
    stop = threading.Event()

    def callback(progress) -> None:
        if progress.step >= 7:
            stop.set()

    result = train(graph, MODEL, cfg, callback=callback, stop=stop)
    assert result.status == "stopped" and result.steps_done == 7 and result.history.steps == [0, 7]
    assert _same_weights(result.model, train(graph, MODEL, TrainConfig(steps=7, eval_every=50, seed=2)).model)
    _usable(Project(graph, MODEL, cfg), result.model, result.history)


def test_stop_in_the_app_leaves_a_consistent_session_model() -> None:
    """Stop pressed on the Train page: the session adopts the partial model and can save and reopen it."""
    project = Project(_graph(), MODEL, TrainConfig(steps=100_000, eval_every=25), name="stop me")
    state = _state(project)
    run = start_run(state, None)
    deadline = time.monotonic() + 60
    while run.snapshot().step < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    run.stop()
    run.join(timeout=60)
    assert not run.alive and run.snapshot().status == "stopped"
    adopt_run(state, run)
    assert state.model is run.result.model and state.history.steps[-1] == run.result.steps_done
    ckpt = load_checkpoint(current_checkpoint_bytes(state))
    assert _same_weights(ckpt.model, state.model) and ckpt.project.graph == project.graph
    compute_trace(ckpt.model, ckpt.project.graph)


# ------------------------------------------------------------------------------------------ CUDA
def _fake_cuda(monkeypatch: pytest.MonkeyPatch, fail_at_step: int) -> list[tuple[str, int]]:
    """Make train() believe it runs on CUDA, and make that attempt run out of memory at a step.

    The "CUDA" attempt really runs (on the CPU) and updates the weights in place before the
    error, as a real one would; every progress report is logged as (device, step).
    """
    real_on = train_module.TrainingAttempt.on
    log: list[tuple[str, int]] = []

    def fake_on(attempt, device):
        kind, callback = device.type, attempt.callback

        def watch(progress) -> None:
            log.append((kind, progress.step))
            if kind == "cuda" and progress.step >= fail_at_step:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            if callback is not None:
                callback(progress)

        attempt.callback = watch
        try:
            return real_on(attempt, torch.device("cpu"))
        finally:
            attempt.callback = callback

    monkeypatch.setattr(train_module, "choose_device", lambda name="auto": torch.device("cuda"))
    monkeypatch.setattr(train_module.TrainingAttempt, "on", fake_on)
    return log


@pytest.mark.parametrize("fail_at_step", [0, 4])
def test_cuda_out_of_memory_restarts_on_the_cpu_with_a_message(monkeypatch: pytest.MonkeyPatch,
                                                              fail_at_step: int) -> None:
    graph, cfg = _graph(), TrainConfig(steps=12, eval_every=4, seed=5)
    clean = train(graph, MODEL, cfg)  # before the fake: a plain CPU run
    log = _fake_cuda(monkeypatch, fail_at_step)
    result = train(graph, MODEL, cfg)
    assert result.message.startswith("CUDA ran out of memory, so training restarted on the CPU.")
    assert result.status == "finished" and result.device == "CPU" and result.steps_done == 12
    assert ("cuda", fail_at_step) in log and log[-1] == ("cpu", 12)
    # The retry starts from the initial weights, not from the half-trained CUDA ones: same as a CPU run.
    assert _same_weights(result.model, clean.model)
    assert result.history.test_metric == clean.history.test_metric


def test_cuda_out_of_memory_reaches_the_train_page_as_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, 2)
    run = TrainingRun(Project(_graph(), MODEL, TrainConfig(steps=6, eval_every=2))).start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert snap.status == "finished" and "CUDA ran out of memory" in snap.message
    assert run.result.device == "CPU"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_real_cuda_out_of_memory_falls_back_to_the_cpu() -> None:
    """Cap this process's CUDA memory so the data cannot fit: a genuine OutOfMemoryError."""
    graph = small_ring(6, zero_shot=(), train_size=50)
    for task in graph.tasks():
        graph.update_task(task.name, test_size=100_000)  # 6 x 100k x 2 floats: about 5 MB of test inputs
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(1_000_000 / total)  # 1 MB
    try:
        result = train(graph, MODEL, TrainConfig(steps=2, eval_every=2, device="cuda"))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    assert result.message.startswith("CUDA ran out of memory") and result.device == "CPU"
    assert result.status == "finished" and _finite(result.model)


# ------------------------------------------------------------------------------------------ sessions
def _state(project: Project) -> AppState:
    return AppState(project=project.copy(), edits=EditHistory(project.graph))  # stops its run when dropped


def test_a_session_that_ends_stops_its_run() -> None:
    """Streamlit drops a closed session's state; the AppState's finalizer then stops its run."""
    state = _state(Project(_graph(), MODEL, TrainConfig(steps=1_000_000, eval_every=1000)))
    run = start_run(state, None)
    deadline = time.monotonic() + 60
    while run.snapshot().step < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.alive
    del state
    gc.collect()
    run.join(timeout=60)
    assert not run.alive and run.result.status == "stopped"
    assert run.result.steps_done < 1_000_000


def test_a_session_that_stops_polling_stops_its_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tab is gone but the state lingers (a disconnected session): the heartbeat ends the run."""
    monkeypatch.setenv("RAGVIZ_HEARTBEAT_S", "0.5")
    state = _state(Project(_graph(), MODEL, TrainConfig(steps=1_000_000, eval_every=1000)))
    run = start_run(state, None)
    assert run.heartbeat_timeout == 0.5
    run.join(timeout=60)  # nobody polls
    assert not run.alive and run.result.status == "stopped"
    assert state.run is run  # the session still has a consistent, usable (partial) model to adopt
    adopt_run(state, run)
    assert _finite(state.model)


def test_a_polled_run_outlives_the_heartbeat_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGVIZ_HEARTBEAT_S", "0.3")
    run = TrainingRun(Project(_graph(), MODEL, TrainConfig(steps=1_000_000, eval_every=1000))).start()
    until = time.monotonic() + 1.5  # five heartbeat timeouts
    while time.monotonic() < until:
        run.snapshot()  # the page's fragment polls every half second or faster
        time.sleep(0.05)
    assert run.alive and run.snapshot().status == "running"
    run.stop()
    run.join(timeout=60)
    assert run.result.status == "stopped" and "Stopped by the user" in run.result.message


# ------------------------------------------------------------------------------------------ writes
@pytest.fixture(scope="module")
def ckpt_bytes() -> bytes:
    return (Path(__file__).resolve().parent / "bad_inputs" / "control" / "good.safetensors").read_bytes()


HOSTILE_NAMES = ["../../etc/passwd", "/etc/cron.d/evil", "..\\..\\windows\\system32", "a/b/../../c", "..", ".",
                 "", "   ", ".hidden", "nul\x00byte", "new\nline", "ünïcødé ☃", "x" * 500, "CON", "model.pt",
                 "model.safetensors", "-rf", "~/.ssh/authorized_keys", "%2e%2e%2fescape", "C:\\boot.ini"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_saving_stays_in_the_models_folder_under_a_safe_name(tmp_path: Path, ckpt_bytes: bytes, name: str) -> None:
    folder = tmp_path / "models"
    path = save_to_folder(folder, name, ckpt_bytes)
    assert path.parent == folder.resolve() and path.name.endswith(".safetensors")
    assert path.name == safe_file_name(name) and not path.name.startswith(".")
    assert all(c.isalnum() or c in "._ -" for c in path.name) and len(path.name) <= 80 + len(".safetensors")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [path.name]  # nothing anywhere else
    assert path.read_bytes() == ckpt_bytes


def test_a_symlink_in_the_models_folder_cannot_redirect_a_save(tmp_path: Path, ckpt_bytes: bytes) -> None:
    folder, outside = tmp_path / "models", tmp_path / "outside.safetensors"
    folder.mkdir()
    outside.write_bytes(b"precious")
    (folder / "evil.safetensors").symlink_to(outside)
    path = save_to_folder(folder, "evil", ckpt_bytes)
    assert path == folder.resolve() / "evil-2.safetensors" and path.read_bytes() == ckpt_bytes
    assert outside.read_bytes() == b"precious" and (folder / "evil.safetensors").is_symlink()
    # Even a session that once wrote "evil" never writes through a link put in its place.
    path = save_to_folder(folder, "evil", ckpt_bytes, own={"evil.safetensors": b"precious"})
    assert path.name == "evil-3.safetensors" and outside.read_bytes() == b"precious"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, ckpt_bytes: bytes,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_to_folder(tmp_path, "ring", ckpt_bytes)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, b"half a checkpoint")
    monkeypatch.undo()
    assert path.read_bytes() == ckpt_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_concurrent_saves_to_one_name_leave_one_whole_file_per_session(tmp_path: Path, ckpt_bytes: bytes) -> None:
    """Many sessions saving 'ring' again and again at once: each gets its own file, always whole, and
    no session ever replaces a file another wrote."""
    project = load_checkpoint(ckpt_bytes)
    versions = [ckpt_bytes] + [checkpoint_bytes(project.project, project.model, project.history, {"created": f"v{k}"})
                               for k in range(1, 8)]
    barrier = threading.Barrier(len(versions))
    errors: list[BaseException] = []
    names: dict[int, set[str]] = {}

    def save(session: int, data: bytes) -> None:
        own: dict[str, bytes] = {}
        try:
            barrier.wait(timeout=30)
            for _ in range(5):
                path = save_to_folder(tmp_path, "ring", data, own=own)
                own[path.name] = data
            names[session] = set(own)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=save, args=(k, v)) for k, v in enumerate(versions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert all(len(own) == 1 for own in names.values())  # each session kept replacing its own file
    files = {name for own in names.values() for name in own}
    assert len(files) == len(versions)  # one file per session, none shared
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # no temporaries left
    for session, own in names.items():
        assert (tmp_path / next(iter(own))).read_bytes() == versions[session]
