"""Training in a child process, so a big run never shares the server's GIL with the pages (docs/DESIGN.md §3.2).

A run in a thread of the Streamlit server competes with every page script for the one
interpreter lock: while a 1,000-task graph trained, page switches took seconds. Here the
server's worker thread starts ``python -m ragviz.training.train_process`` and only relays: it sends
the job (a module-level function and its arguments, pickled) down the child's stdin, then
reads framed pickles back from it (progress, the live history as additions, and finally the
job's result or exception). Stop is a frame sent down stdin; a closed stdin (the server died)
stops the child too. The numbers are the ones a thread would get: same code, same seed, same
torch thread count.

A plain subprocess, not :mod:`multiprocessing`: its ``spawn`` re-runs ``sys.modules["__main__"]``
in the child, and inside Streamlit that is the page script.

A warm pool (``RAGVIZ_WARM_CHILDREN`` = N; default ``RAGVIZ_MAX_RUNS``, the most runs that train at once;
0 turns it off) keeps N children, each with torch and the trainer imported, training or waiting for a job.
With the pool on, ``auto`` sends every run to a child, small ones too, so training never shares the pages'
interpreter and a class's runs use every core. A child is reused: after a run that ended cleanly (its
result, or an ordinary exception, sent back) it waits for the next job, so torch is imported once per
child, not once per run (about 2 s of CPU each, which on a class's 2 cores was a large share). It is let go,
and a fresh one started, after a Stop (a stop that crossed the result must not reach the next job), when
it died or could not be read, after ``RAGVIZ_CHILD_JOBS`` jobs (50; 1 = a fresh child per run) or when it is
past ``RAGVIZ_CHILD_MAX_MB`` resident (768) after its job. Nothing of one run reaches the next: each job sets
its own seeds (``train``, the ensemble) and torch threads, and the module-level caches a job fills are keyed
by content (generated task data, sentence vectors, digit images), as in the server's own process. Each
waiting child holds about 230 MB, 400-450 MB once it has trained. ``benchmarks/class_tabs.py`` measures it.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ragviz.safety.errors import RagvizError, TrainingError
from ragviz.safety.limits import get_limits
from ragviz.training.history import History

PROCESS_ENV = "RAGVIZ_TRAIN_PROCESS"  # "auto" (default), "always" or "never"
PROCESS_FROM_TASKS = 100  # "auto": graphs this big train in a child process; smaller ones finish before one starts
SEND_EVERY_S = 0.1  # the child batches step reports; evaluations go at once
POLL_S = 0.25  # how often the relay checks the stop flag (and so the heartbeat) while the child is quiet
NICE_ENV = "RAGVIZ_TRAIN_NICE"  # how much lower the child's CPU priority is than the server's
DEFAULT_NICE = 10  # on a busy machine the pages (and nginx) get the cores first; idle cores still train
STOP_GRACE_S = 10.0  # after the child's result or a stop, how long it may take to exit before it is killed
WARM_ENV = "RAGVIZ_WARM_CHILDREN"  # children the pool keeps, training or waiting (0: off, runs train in threads)
JOBS_ENV = "RAGVIZ_CHILD_JOBS"  # jobs one child runs before it is replaced (1: a fresh child for every run)
DEFAULT_JOBS = 50  # a leak the RSS bound misses (a cache, a file handle) lasts at most this many runs
MAX_RSS_ENV = "RAGVIZ_CHILD_MAX_MB"  # a child whose resident memory is past this after a job is replaced
DEFAULT_MAX_RSS_MB = 768  # runs leave a child at 400-450 MB (a fresh one: 230); past this a big run's memory stays
STOP = "stop"  # the frame that stops the job running (a closed stdin stops it too)
_HEADER = struct.Struct("!Q")

Report = Callable[[str], Callable[[Any], None]]  # phase -> callback taking a ragviz.training.train.Progress


def use_process(n_tasks: int, setting: str | None = None) -> bool:
    """Whether a run on ``n_tasks`` tasks trains in a child process (``RAGVIZ_TRAIN_PROCESS``)."""
    setting = (os.environ.get(PROCESS_ENV, "auto") if setting is None else setting).strip().lower()
    if setting == "always":
        return True
    if setting == "never":
        return False
    if setting != "auto":
        raise RagvizError(f"{PROCESS_ENV} must be auto, always or never, not {setting!r}.")
    return n_tasks >= PROCESS_FROM_TASKS or warm_size() > 0


def default_warm_size() -> int:
    """The pool's size when ``RAGVIZ_WARM_CHILDREN`` is unset: ``RAGVIZ_MAX_RUNS``, the most runs that train
    at once. A run takes a child only once it holds a slot, so that many children, reused, means no run
    ever waits for a torch import, and the pool never holds more children than a full server trains in."""
    return min(get_limits().max_runs, 32)


def warm_size() -> int:
    """How many children the pool keeps, training or waiting (``RAGVIZ_WARM_CHILDREN``; unset:
    :func:`default_warm_size`; 0 turns the pool off; a bad value is 0)."""
    raw = os.environ.get(WARM_ENV)
    if raw is None or not raw.strip():
        return default_warm_size()
    try:
        return max(0, min(int(raw), 32))
    except ValueError:
        return 0


def jobs_per_child() -> int:
    """How many jobs a child runs before it exits (``RAGVIZ_CHILD_JOBS``, default :data:`DEFAULT_JOBS`;
    1 gives every run a fresh child, as before children were reused; a bad value is the default)."""
    try:
        return max(1, int(os.environ.get(JOBS_ENV, DEFAULT_JOBS)))
    except ValueError:
        return DEFAULT_JOBS


def max_rss_mb() -> float:
    """A child past this many MB resident after a job exits (``RAGVIZ_CHILD_MAX_MB``, default
    :data:`DEFAULT_MAX_RSS_MB`): what a big run left behind (data, allocator arenas) is not held while it waits."""
    try:
        return float(os.environ.get(MAX_RSS_ENV, DEFAULT_MAX_RSS_MB))
    except ValueError:
        return DEFAULT_MAX_RSS_MB


def _start_child() -> subprocess.Popen:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # this ragviz, whatever the child's working folder
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen([sys.executable, "-m", "ragviz.training.train_process"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)


class WarmPool:
    """``size()`` children, training or waiting: :meth:`take` hands a waiting one out, :meth:`give_back`
    takes it back for the next run when it ended cleanly, and a child that is not given back is replaced.

    A child waits in ``read_frame`` for its job; closing its stdin (:meth:`close`, or the server
    dying) makes it exit, so a pool never leaves orphans.
    """

    def __init__(self, size: Callable[[], int] = warm_size, start: Callable[[], subprocess.Popen] = _start_child
                 ) -> None:
        self.size = size
        self.start = start
        self._idle: list[subprocess.Popen] = []  # given-back children first (warm for sure), then new ones
        self._busy: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> subprocess.Popen:
        """A waiting child when one is alive, else a new one; the pool is topped up behind it."""
        child = None
        with self._lock:
            while self._idle and child is None:
                candidate = self._idle.pop(0)
                if candidate.poll() is None:
                    child = candidate
                else:
                    _finish(candidate)  # it died waiting: never handed out
        if child is None:
            child = self.start()
        with self._lock:
            self._busy.add(child)
        self._top_up()
        return child

    def give_back(self, child: subprocess.Popen, reusable: bool) -> None:
        """The run on ``child`` ended: keep it waiting for the next job when ``reusable`` and there is room,
        else let it go (its stdin closes, so it exits) and start its replacement."""
        with self._lock:
            self._busy.discard(child)
            keep = (reusable and not self._closed and child.poll() is None
                    and len(self._idle) + len(self._busy) < self.size())
            if keep:
                self._idle.insert(0, child)  # the next run takes it before a child still importing torch
        if not keep:
            _finish(child)
            self._top_up()

    def _top_up(self) -> None:
        with self._lock:
            short = not self._closed and len(self._idle) + len(self._busy) < self.size()
        if short:
            threading.Thread(target=self.fill, name="ragviz-warm-pool", daemon=True).start()

    def fill(self) -> None:
        """Start children until ``size()`` are training or waiting."""
        while True:
            with self._lock:
                self._idle = [c for c in self._idle if c.poll() is None]
                if self._closed or len(self._idle) + len(self._busy) >= self.size():
                    return
                self._idle.append(self.start())

    def idle(self) -> int:
        with self._lock:
            return sum(c.poll() is None for c in self._idle)

    def close(self) -> None:
        """Let every waiting child go (each exits when its stdin closes); busy ones go when given back."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for child in idle:
            _finish(child)


#: The server's pool (``RAGVIZ_WARM_CHILDREN`` children, filled at the first run).
POOL = WarmPool()
atexit.register(POOL.close)


@dataclass
class Job:
    """What the child runs: ``fn(*args, report=..., stop=...)``, with the parent's torch threads."""

    fn: Callable[..., Any]
    args: tuple
    threads: int


# ------------------------------------------------------------------------------ framing
def send_frame(out: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def read_frame(stream: BinaryIO) -> Any:
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 - our own child, over a private pipe


# ---------------------------------------------------------------------- history relay
class HistorySender:
    """Turns the child's live history into additions: lists only grow, snapshots are thinned."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.snapshot_steps: set[int] = set()

    def delta(self, history: History) -> dict[str, Any]:
        out: dict[str, Any] = {"tasks": history.tasks, "zero_shot": history.zero_shot, "metric": history.metric}
        for name, value in history.__dict__.items():
            if not isinstance(value, list) or name in ("tasks", "zero_shot", "snapshots", "snapshot_steps"):
                continue
            start = self.sent.get(name, 0)
            start = start if start <= len(value) else 0  # shrank: send it whole
            out[name] = (start, value[start:])
            self.sent[name] = len(value)
        out["snapshot_steps"] = list(history.snapshot_steps)
        out["new_snapshots"] = {s: a for s, a in zip(history.snapshot_steps, history.snapshots, strict=True)
                                if s not in self.snapshot_steps}
        self.snapshot_steps = set(history.snapshot_steps)
        return out


class HistoryMirror:
    """The parent's copy of the child's live history, rebuilt from :class:`HistorySender` additions."""

    def __init__(self) -> None:
        self.history: History | None = None
        self.arrays: dict[int, Any] = {}

    def apply(self, delta: dict[str, Any]) -> History:
        if self.history is None:
            self.history = History(tasks=delta["tasks"], zero_shot=delta["zero_shot"], metric=delta["metric"])
        h = self.history
        for name, value in delta.items():
            if isinstance(value, tuple):
                start, items = value
                kept = getattr(h, name)[:start] if start else []
                setattr(h, name, kept + list(items))  # a new list: shared copies handed out stay as they were
        self.arrays.update(delta["new_snapshots"])
        steps = delta["snapshot_steps"]
        self.arrays = {s: self.arrays[s] for s in steps}
        h.snapshot_steps, h.snapshots = list(steps), [self.arrays[s] for s in steps]
        return h


# ------------------------------------------------------------------------------ parent
def run_in_child(job: Job, report: Report, stop: Any) -> Any:
    """Run ``job`` in a child process; relay its progress to ``report``; return its result.

    ``stop.is_set()`` is asked every :data:`POLL_S` at least (so heartbeat checks keep working);
    when it turns true the child is told to stop and the job ends as it would in a thread.
    The child's exceptions are raised here; a child that dies is a :class:`TrainingError`. The child goes
    back to the pool when the job ended cleanly, it was not told to stop and it said it takes another.
    """
    pool = POOL
    child = pool.take()
    inbox: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_all, args=(child.stdout, inbox), name="ragviz-train-relay", daemon=True)
    reader.start()
    mirrors: dict[str, HistoryMirror] = {}
    told_to_stop = reusable = False
    try:
        send_frame(child.stdin, job)
        while True:
            if not told_to_stop and stop.is_set():
                told_to_stop = _tell(child)
            try:
                message = inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if message is None:
                code = child.wait(STOP_GRACE_S)
                raise TrainingError(f"The training process ended unexpectedly (exit code {code}).")
            kind = message[0]
            if kind == "progress":
                _relay(message, report, mirrors.setdefault(message[1], HistoryMirror()))
                continue
            # The child's last word says whether it can take another job; a run told to stop never
            # hands its child on (a stop that crossed the result could still reach the next job).
            reusable = message[-1] is True and not told_to_stop
            if kind == "done":
                return message[1]
            raise _exception(message[1], message[2])  # "raised"
    except (BrokenPipeError, OSError) as err:
        raise TrainingError(f"Could not talk to the training process: {err}") from err
    finally:
        reader.join(STOP_GRACE_S if reusable else 0)  # it ends at the last frame: the next run's are its own
        pool.give_back(child, reusable and not reader.is_alive())


def _read_all(stream: BinaryIO, inbox: queue.Queue) -> None:
    """Relay one job's frames, up to its result or exception (or the child's end: None)."""
    try:
        while (message := read_frame(stream)) is not None:
            inbox.put(message)
            if message[0] != "progress":
                return
    except Exception as err:  # noqa: BLE001 - reported as the child's end
        print(f"ragviz: lost the training process's output: {err!r}", file=sys.stderr)
    inbox.put(None)


def _tell(child: subprocess.Popen) -> bool:
    try:
        send_frame(child.stdin, STOP)
    except OSError:
        pass  # it has ended already; its end is read from stdout
    return True


def _relay(message: tuple, report: Report, mirror: HistoryMirror) -> None:
    from ragviz.training.train import Progress

    _, phase, step, total, elapsed, losses, evaluated, delta = message
    callback = report(phase)
    for loss_step, loss in losses:
        callback(Progress(loss_step, total, elapsed, loss))
    history = mirror.apply(delta) if delta is not None else None
    callback(Progress(step, total, elapsed, None, evaluated, history))


def _exception(pickled: bytes | None, text: str) -> BaseException:
    """The child's exception as itself where it unpickles, else a TrainingError saying what it was."""
    if pickled is not None:
        try:
            err = pickle.loads(pickled)  # noqa: S301 - our own child
            if isinstance(err, BaseException):
                return err
        except Exception:  # noqa: BLE001, S110 - fall back to its text
            pass
    return TrainingError(text)


def _finish(child: subprocess.Popen) -> None:
    """Close the child's stdin (it stops if still going) and wait for it; kill it if it lingers."""
    try:
        child.stdin.close()
    except OSError:
        pass
    try:
        child.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    if child.stdout is not None:
        child.stdout.close()


# ------------------------------------------------------------------------------- child
class _Sender:
    """The child's side: batches step reports, sends evaluations (with history additions) at once."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.histories: dict[str, HistorySender] = {}  # one per phase: the baseline has a history of its own
        self.losses: list[tuple[int, float]] = []
        self.last = 0.0

    def report(self, phase: str) -> Callable[[Any], None]:
        history = self.histories.setdefault(phase, HistorySender())

        def callback(progress: Any) -> None:
            if progress.loss is not None:
                self.losses.append((progress.step, progress.loss))
            now = time.monotonic()
            if progress.history is None and now - self.last < SEND_EVERY_S:
                return
            delta = history.delta(progress.history) if progress.history is not None else None
            send_frame(self.out, ("progress", phase, progress.step, progress.total, progress.elapsed,
                                  self.losses, progress.evaluated, delta))
            self.losses, self.last = [], now
        return callback


class _Inbox:
    """The child's stdin, read by one thread: jobs queue up; a stop frame, or the end of stdin (the server
    closed it, or died), stops the job running, and the end also ends the wait for the next one."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.jobs: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.ended = False
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="ragviz-inbox", daemon=True).start()

    def _read(self) -> None:
        try:
            while (message := read_frame(self.stream)) is not None:
                if message == STOP:
                    self.stop.set()
                else:
                    self.jobs.put(message)
        except Exception as err:  # noqa: BLE001 - a job that does not unpickle: the server sees the child end
            print(f"ragviz: the training process could not read its job: {err!r}", file=sys.stderr)
        with self._lock:
            self.ended = True
            self.stop.set()
        self.jobs.put(None)

    def next_job(self) -> tuple[Job | None, threading.Event]:
        """The next job (None once stdin has ended) and a stop flag of its own."""
        job = self.jobs.get()
        with self._lock:
            self.stop = threading.Event()
            if self.ended:
                self.stop.set()
            return job, self.stop


def _rss_mb() -> float:
    """This process's resident memory now (Linux), else its peak: the figure the RSS bound compares."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lower_priority() -> None:
    """Step behind the server's pages for the CPU (a process of its own, so unlike a thread it
    holds no lock the pages wait on while descheduled)."""
    try:
        step = int(os.environ.get(NICE_ENV, DEFAULT_NICE))
    except ValueError:
        step = DEFAULT_NICE
    if step > 0 and hasattr(os, "nice"):
        try:
            os.nice(step)
        except OSError:
            pass  # not allowed here: train at the server's priority


def _run(job: Job, stop: threading.Event, out: BinaryIO) -> tuple[tuple, bool]:
    """Run one job: its last frame less the reuse flag, and whether it ended cleanly (a result, or an
    ordinary exception other than running out of memory)."""
    sender = _Sender(out)
    try:
        result = job.fn(*job.args, report=sender.report, stop=stop)
    except BaseException as err:  # noqa: BLE001 - every end goes back to the server
        try:
            pickled = pickle.dumps(err)
        except Exception:  # noqa: BLE001
            pickled = None
        clean = isinstance(err, Exception) and not isinstance(err, MemoryError)
        return ("raised", pickled, f"{type(err).__name__}: {err}"), clean
    return ("done", result), True


def main() -> None:
    """The child: run jobs one after another, each result or exception sent back with whether this child
    takes another job; exit at the end of stdin, after a stop, after ``RAGVIZ_CHILD_JOBS`` jobs, or past
    ``RAGVIZ_CHILD_MAX_MB`` resident."""
    import gc

    import torch

    # The trainers (torch, the model) imported while waiting, so a job starts at once; the thin modules that
    # name a job's function (runner, ensemble_run) come with the job, which keeps this module below them.
    import ragviz.training.ensemble  # noqa: F401

    gc.freeze()  # the imports' objects are never garbage: a collection between jobs then takes microseconds
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to the server's log, not the frames
    inbox, done, max_jobs, max_mb = _Inbox(sys.stdin.buffer), 0, jobs_per_child(), max_rss_mb()
    while True:
        job, stop = inbox.next_job()
        if job is None:  # the server closed the pipe (the pool let this child go, or it could not pickle a job)
            break
        if done == 0:
            _lower_priority()
        torch.set_num_threads(job.threads)  # every job's own: seeds are set by the job itself (train, ensemble)
        last, clean = _run(job, stop, out)
        done += 1
        again = clean and not stop.is_set() and done < max_jobs and _rss_mb() < max_mb
        try:
            send_frame(out, (*last, again))
        except (pickle.PicklingError, TypeError, AttributeError) as err:  # pickled before a byte is written
            send_frame(out, ("raised", None, f"Could not send the training result back to the server: {err}", False))
            break
        if not again:
            break
        del job, last
        gc.collect()  # the run's cycles go now, not in the middle of the next run
    out.close()
    sys.stderr.flush()
    os._exit(0)  # not a normal shutdown: the stdin reader may be blocked in a read the runtime cannot finish


if __name__ == "__main__":
    main()
