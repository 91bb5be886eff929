"""The warm pool of training children: runs take a waiting child, the pool refills, nothing is left behind."""

from __future__ import annotations

import subprocess
import sys
import time

import torch

import ragviz.training.train_process as tp
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun
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


def test_a_pool_hands_out_waiting_children_refills_and_lets_them_go() -> None:
    pool = tp.WarmPool(size=lambda: 2, start=_waiter)
    pool.fill()
    assert pool.idle() == 2
    first_idle = list(pool._idle)
    taken = pool.take()
    assert taken is first_idle[0] and taken.poll() is None  # a child that was already waiting
    _wait_idle(pool, 2)  # topped up behind it
    tp._finish(taken)
    waiting = list(pool._idle)
    waiting[0].kill()  # a waiting child that died is never handed out
    waiting[0].wait()
    second = pool.take()
    assert second is waiting[1]
    tp._finish(second)
    _wait_idle(pool, 2)
    left = list(pool._idle)
    pool.close()
    extra = pool.take()  # closed: a run still gets a child of its own, and nothing waits behind it
    assert extra.poll() is None and pool.idle() == 0
    tp._finish(extra)
    for child in left:
        assert child.wait(timeout=10) is not None  # every waiting child exited once its stdin closed


def test_with_no_pool_each_run_starts_its_own_child() -> None:
    started = []
    pool = tp.WarmPool(size=lambda: 0, start=lambda: started.append(_waiter()) or started[-1])
    child = pool.take()
    assert started == [child] and pool.idle() == 0
    tp._finish(child)


def test_the_pool_size_comes_from_the_environment(monkeypatch) -> None:
    for raw, size in (("3", 3), ("0", 0), ("x", 0), ("-2", 0), ("999", 32)):
        monkeypatch.setenv(tp.WARM_ENV, raw)
        assert tp.warm_size() == size
    monkeypatch.setenv(tp.WARM_ENV, "1")
    monkeypatch.setenv(tp.PROCESS_ENV, "auto")
    assert tp.use_process(4)  # with a pool, small graphs train in a child too
    monkeypatch.setenv(tp.WARM_ENV, "0")
    assert not tp.use_process(4)


def test_the_pool_is_on_by_default_one_child_per_core_at_most_four(monkeypatch) -> None:
    monkeypatch.delenv(tp.WARM_ENV, raising=False)
    monkeypatch.setenv(tp.PROCESS_ENV, "auto")
    for cores, size in ((1, 1), (2, 2), (16, 4), (None, 1)):
        monkeypatch.setattr(tp.os, "cpu_count", lambda cores=cores: cores)
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
    assert run.snapshot().status == "finished" and warm.poll() is not None  # it ran the job, then exited
    assert seen_in_child or run.result is not None
    before = torch.get_num_threads()
    here = train(project.graph, project.model_config, project.train_config)
    torch.set_num_threads(before)
    assert run.result.history.test_metric == here.history.test_metric
    for a, b in zip(run.result.model.state_dict().values(), here.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _wait_idle(pool, 1)  # the next run's child is already waiting
    pool.close()


def test_a_warm_child_starts_a_run_sooner_than_a_cold_one(monkeypatch) -> None:
    """The point of the pool: the first step report comes without waiting for a child to import torch."""
    monkeypatch.setenv(tp.PROCESS_ENV, "always")
    project = Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                      TrainConfig(steps=5, eval_every=5), name="timing")

    def first_report(pool: tp.WarmPool) -> float:
        monkeypatch.setattr(tp, "POOL", pool)
        run = TrainingRun(project, slots=RunSlots(1))
        started = time.monotonic()
        run.start()
        while run.snapshot().step == 0 and run.alive:
            time.sleep(0.005)
        took = time.monotonic() - started
        run.join(timeout=60)
        assert run.snapshot().status == "finished"
        return took

    cold = first_report(tp.WarmPool(size=lambda: 0))
    pool = tp.WarmPool(size=lambda: 1)
    pool.fill()
    _until_quiet(pool._idle[0].pid)  # it has imported everything and waits on its stdin
    hot = first_report(pool)
    pool.close()
    print(f"first step report: cold child {cold:.2f} s, warm child {hot:.2f} s")
    assert hot < cold


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
