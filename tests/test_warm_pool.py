"""The warm pool of training children: runs take a waiting child, a child that ended cleanly takes the next
run (with the numbers a fresh child gives), one that was stopped, died or grew is replaced, nothing is left behind."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import torch

import ragviz.training.train_process as tp
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun, train_with_baseline
from ragviz.training.train import train
from tests.helpers import small_ring, training_children


def _waiter() -> subprocess.Popen:
    """A stand-in child that, like the real one, waits on stdin and exits when it closes."""
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.buffer.read()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _wait_idle(pool: tp.WarmPool, n: int) -> None:
    deadline = time.monotonic() + 30
    while pool.idle() < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle() == n


def test_a_pool_hands_out_waiting_children_takes_clean_ones_back_and_replaces_the_rest() -> None:
    pool = tp.WarmPool(size=lambda: 2, start=_waiter)
    pool.fill()
    assert pool.idle() == 2
    first_idle = list(pool._idle)
    taken = pool.take()
    assert taken is first_idle[0] and taken.poll() is None  # a child that was already waiting
    assert pool.idle() == 1  # two children in all, one of them busy: nothing new is started
    pool.give_back(taken, reusable=True)
    assert pool._idle == [taken, first_idle[1]]  # back, and first in line: it is warm for sure
    again = pool.take()
    assert again is taken
    pool.give_back(again, reusable=False)  # stopped, killed or grown: let go and replaced
    assert again.wait(timeout=10) is not None
    _wait_idle(pool, 2)
    assert again not in pool._idle
    waiting = list(pool._idle)
    waiting[0].kill()  # a waiting child that died is never handed out
    waiting[0].wait()
    second = pool.take()
    assert second is waiting[1]
    second.kill()
    second.wait()
    pool.give_back(second, reusable=True)  # it died during its run: not kept, however it ended
    _wait_idle(pool, 2)
    assert second not in pool._idle
    left = list(pool._idle)
    pool.close()
    extra = pool.take()  # closed: a run still gets a child of its own, and nothing waits behind it
    assert extra.poll() is None and pool.idle() == 0
    pool.give_back(extra, reusable=True)
    assert extra.wait(timeout=10) is not None and pool.idle() == 0
    for child in left:
        assert child.wait(timeout=10) is not None  # every waiting child exited once its stdin closed


def test_with_no_pool_each_run_starts_its_own_child() -> None:
    started = []
    pool = tp.WarmPool(size=lambda: 0, start=lambda: started.append(_waiter()) or started[-1])
    child = pool.take()
    assert started == [child] and pool.idle() == 0
    pool.give_back(child, reusable=True)  # no pool: nothing is kept
    assert child.wait(timeout=10) is not None and pool.idle() == 0


def test_the_pool_size_comes_from_the_environment(monkeypatch) -> None:
    for raw, size in (("3", 3), ("0", 0), ("x", 0), ("-2", 0), ("999", 32)):
        monkeypatch.setenv(tp.WARM_ENV, raw)
        assert tp.warm_size() == size
    for raw, jobs in (("1", 1), ("7", 7), ("0", 1), ("x", tp.DEFAULT_JOBS)):
        monkeypatch.setenv(tp.JOBS_ENV, raw)
        assert tp.jobs_per_child() == jobs
    for raw, mb in (("300", 300.0), ("x", tp.DEFAULT_MAX_RSS_MB)):
        monkeypatch.setenv(tp.MAX_RSS_ENV, raw)
        assert tp.max_rss_mb() == mb
    monkeypatch.setenv(tp.WARM_ENV, "1")
    monkeypatch.setenv(tp.PROCESS_ENV, "auto")
    assert tp.use_process(4)  # with a pool, small graphs train in a child too
    monkeypatch.setenv(tp.WARM_ENV, "0")
    assert not tp.use_process(4)


def test_the_pool_is_on_by_default_one_child_per_run_the_server_trains_at_once(monkeypatch) -> None:
    monkeypatch.delenv(tp.WARM_ENV, raising=False)
    monkeypatch.setenv(tp.PROCESS_ENV, "auto")
    monkeypatch.delenv("RAGVIZ_MAX_RUNS", raising=False)
    assert tp.warm_size() == 4  # RAGVIZ_MAX_RUNS's default
    for runs, size in (("1", 1), ("2", 2), ("16", 16), ("500", 32)):
        monkeypatch.setenv("RAGVIZ_MAX_RUNS", runs)
        assert tp.warm_size() == size
    assert tp.use_process(4)  # every run, small ones too, trains outside the server's interpreter


def test_a_small_run_trains_in_a_warm_child_with_the_numbers_of_a_thread(monkeypatch) -> None:
    monkeypatch.setenv(tp.WARM_ENV, "1")
    monkeypatch.setenv(tp.PROCESS_ENV, "auto")
    pool = tp.WarmPool()
    monkeypatch.setattr(tp, "POOL", pool)
    pool.fill()
    warm = pool._idle[0]
    project = Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                      TrainConfig(steps=30, eval_every=10, seed=3), name="warm")
    run = TrainingRun(project, slots=RunSlots(1)).start()
    deadline = time.monotonic() + 120
    seen_in_child = False
    while run.alive and time.monotonic() < deadline:
        seen_in_child |= warm.pid in training_children(tp.os.getpid())
        time.sleep(0.02)
    run.join(timeout=60)
    assert run.snapshot().status == "finished" and warm.poll() is None  # it ran the job and waits for the next
    assert seen_in_child or run.result is not None
    before = torch.get_num_threads()
    here = train(project.graph, project.model_config, project.train_config)
    torch.set_num_threads(before)
    assert run.result.history.test_metric == here.history.test_metric
    for a, b in zip(run.result.model.state_dict().values(), here.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _wait_idle(pool, 1)  # the next run's child is already waiting: the same one
    assert pool._idle == [warm]
    pool.close()
    assert warm.wait(timeout=10) is not None


def _first_frame(monkeypatch, pool: tp.WarmPool, project: Project) -> float:
    """Seconds from a run taking its child to the first progress frame coming back."""
    monkeypatch.setattr(tp, "POOL", pool)
    marks: dict[str, float] = {}
    take = pool.take
    monkeypatch.setattr(pool, "take", lambda: marks.setdefault("take", time.monotonic()) and take())

    def report(phase: str):
        return lambda progress: marks.setdefault("first", time.monotonic())

    tp.run_in_child(tp.Job(train_with_baseline, (project, None, None), 1), report, threading.Event())
    return marks["first"] - marks["take"]


def test_a_warm_child_starts_a_run_sooner_than_a_cold_one(monkeypatch) -> None:
    """The point of the pool: the first step report comes without waiting for a child to import torch,
    from a child started ahead of need and from one that ran a job before."""
    project = Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                      TrainConfig(steps=5, eval_every=5), name="timing")
    cold = _first_frame(monkeypatch, tp.WarmPool(size=lambda: 0), project)
    pool = tp.WarmPool(size=lambda: 1)
    pool.fill()
    _until_quiet(pool._idle[0].pid)  # it has imported everything and waits on its stdin
    warm = _first_frame(monkeypatch, pool, project)
    reused = _first_frame(monkeypatch, pool, project)
    pool.close()
    print(f"take to first progress frame: cold child {cold:.3f} s, warm child {warm:.3f} s, "
          f"reused child {reused:.3f} s")
    assert warm < cold and reused < cold


# ---------------------------------------------------------------------------------------- reuse
def _project(seed: int, n: int = 4, steps: int = 30) -> Project:
    return Project(small_ring(n, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=10, seed=seed), name=f"reuse {seed}")


def _real_pool(monkeypatch, size: int = 1) -> tuple[tp.WarmPool, list[subprocess.Popen]]:
    """A pool of real children as the server's, and the list of the children its runs took, in order."""
    monkeypatch.setenv(tp.PROCESS_ENV, "always")
    pool = tp.WarmPool(size=lambda: size)
    monkeypatch.setattr(tp, "POOL", pool)
    handed: list[subprocess.Popen] = []
    take = pool.take
    monkeypatch.setattr(pool, "take", lambda: handed.append(take()) or handed[-1])
    return pool, handed


def _run(project: Project, **kwargs) -> TrainingRun:
    run = TrainingRun(project, slots=RunSlots(1), **kwargs).start()
    run.join(timeout=120)
    assert not run.alive
    return run


def _started(project: Project) -> TrainingRun:
    run = TrainingRun(project, slots=RunSlots(1)).start()
    deadline = time.monotonic() + 120
    while run.snapshot().step < 1:
        assert time.monotonic() < deadline and run.alive, run.snapshot().message
        time.sleep(0.02)
    return run


def _same_numbers(a: TrainingRun, b: TrainingRun) -> None:
    assert a.snapshot().status == b.snapshot().status == "finished"
    assert a.result.history.steps == b.result.history.steps
    for name in ("test_metric", "train_loss", "test_loss", "train_metric"):  # NaN (a zero-shot task) equals NaN
        np.testing.assert_array_equal(getattr(a.result.history, name), getattr(b.result.history, name))
    for mine, theirs in zip(a.result.model.state_dict().values(), b.result.model.state_dict().values(),
                            strict=True):
        assert torch.equal(mine, theirs)


def test_a_child_that_ran_a_job_runs_the_next_with_the_numbers_of_a_fresh_child(monkeypatch) -> None:
    pool, handed = _real_pool(monkeypatch)
    first, second = _project(3, n=6, steps=40), _project(8)  # another graph and seed: nothing may carry over
    reused = [_run(first), _run(second), _run(first)]
    assert handed[0] is handed[1] is handed[2] and handed[0].poll() is None  # one process ran all three
    pool.close()
    assert handed[0].wait(timeout=10) is not None
    monkeypatch.setattr(tp, "POOL", tp.WarmPool(size=lambda: 0))  # a fresh child for each run
    fresh = [_run(first), _run(second)]
    _same_numbers(reused[0], fresh[0])
    _same_numbers(reused[1], fresh[1])
    _same_numbers(reused[2], fresh[0])  # the same job again on the same child: the same numbers


def test_a_stopped_child_is_replaced_not_reused(monkeypatch) -> None:
    pool, handed = _real_pool(monkeypatch)
    run = _started(_project(1, steps=100_000))
    run.stop()
    run.join(60)
    assert run.snapshot().status == "stopped"
    assert handed[0].wait(timeout=10) is not None  # it exited
    _wait_idle(pool, 1)
    assert pool._idle[0] is not handed[0]
    assert _run(_project(2)).snapshot().status == "finished" and handed[1] is not handed[0]
    pool.close()


def test_a_child_killed_in_its_run_is_an_error_and_never_handed_out_again(monkeypatch) -> None:
    pool, handed = _real_pool(monkeypatch)
    run = _started(_project(1, steps=100_000))
    handed[0].kill()
    run.join(60)
    assert run.snapshot().status == "error" and "ended unexpectedly" in run.snapshot().message
    _wait_idle(pool, 1)
    assert handed[0] not in pool._idle
    assert _run(_project(2)).snapshot().status == "finished" and handed[1] is not handed[0]
    pool.close()


def test_a_job_that_raised_leaves_its_child_for_the_next_run(monkeypatch) -> None:
    pool, handed = _real_pool(monkeypatch)
    failed = _run(_project(1, steps=5), baseline="nonsense")
    assert failed.snapshot().status == "error" and "Unknown baseline" in failed.snapshot().message
    assert _run(_project(2)).snapshot().status == "finished"
    assert handed[0] is handed[1]
    pool.close()


def test_a_child_is_replaced_after_its_jobs_or_past_its_memory_bound(monkeypatch) -> None:
    monkeypatch.setenv(tp.JOBS_ENV, "2")  # read by the child when it starts
    pool, handed = _real_pool(monkeypatch)
    for seed in range(3):
        _run(_project(seed, steps=10))
    assert handed[0] is handed[1] and handed[2] is not handed[0]
    assert handed[0].wait(timeout=10) is not None
    pool.close()
    monkeypatch.setenv(tp.JOBS_ENV, "50")
    monkeypatch.setenv(tp.MAX_RSS_ENV, "1")  # every child is past 1 MB after its job
    pool, handed = _real_pool(monkeypatch)
    for seed in range(2):
        _run(_project(seed, steps=10))
    assert handed[1] is not handed[0] and handed[0].wait(timeout=10) is not None
    pool.close()


def test_closing_the_pool_leaves_no_training_process(monkeypatch) -> None:
    pool, _ = _real_pool(monkeypatch, size=2)
    _run(_project(1, steps=10))  # one child has run a job and waits again, the other never ran one
    _wait_idle(pool, 2)
    assert len(training_children(tp.os.getpid())) == 2
    pool.close()
    deadline = time.monotonic() + 15
    while training_children(tp.os.getpid()):
        assert time.monotonic() < deadline, "a training child outlived its pool"
        time.sleep(0.05)


def _until_quiet(pid: int, timeout: float = 120) -> None:
    """Wait until a process sleeps with its CPU time unchanged for half a second (done importing)."""
    def cpu() -> tuple[str, int]:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[11]) + int(fields[12])

    deadline = time.monotonic() + timeout
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now[0] == "S" and now[1] == last[1]:
            return
        last = now
    raise AssertionError(f"the warm child {pid} never settled")
