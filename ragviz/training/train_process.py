"""Training in a child process, so a big run never shares the server's GIL with the pages (docs/DESIGN.md §3.2).

A run in a thread of the Streamlit server competes with every page script for the one
interpreter lock: while a 1,000-task graph trained, page switches took seconds. Here the
server's worker thread starts ``python -m ragviz.training.train_process`` and only relays: it sends
the job (a module-level function and its arguments, pickled) down the child's stdin, then
reads framed pickles back from it (progress, the live history as additions, and finally the
job's result or exception). Stop is a line sent down stdin; a closed stdin (the server died)
stops the child too. The numbers are the ones a thread would get: same code, same seed, same
torch thread count.

A plain subprocess, not :mod:`multiprocessing`: its ``spawn`` re-runs ``sys.modules["__main__"]``
in the child, and inside Streamlit that is the page script.

A warm pool (``RAGVIZ_WARM_CHILDREN`` = N; default one per core, at most 4; 0 turns it off) keeps N
children started, with torch and the trainer imported, waiting for a job; a run takes one at once and
a new one is started behind it. With the pool on, ``auto`` sends every run to a child, small ones too,
so training never shares the pages' interpreter and a class's runs use every core (each waiting child
holds about the memory of one torch import). ``benchmarks/class_tabs.py`` measures the difference.
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
from ragviz.training.history import History

PROCESS_ENV = "RAGVIZ_TRAIN_PROCESS"  # "auto" (default), "always" or "never"
PROCESS_FROM_TASKS = 100  # "auto": graphs this big train in a child process; smaller ones finish before one starts
SEND_EVERY_S = 0.1  # the child batches step reports; evaluations go at once
POLL_S = 0.25  # how often the relay checks the stop flag (and so the heartbeat) while the child is quiet
NICE_ENV = "RAGVIZ_TRAIN_NICE"  # how much lower the child's CPU priority is than the server's
DEFAULT_NICE = 10  # on a busy machine the pages (and nginx) get the cores first; idle cores still train
STOP_GRACE_S = 10.0  # after the child's result or a stop, how long it may take to exit before it is killed
WARM_ENV = "RAGVIZ_WARM_CHILDREN"  # children kept started and waiting for a job (0: off, runs train in threads)
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
    """The pool's size when ``RAGVIZ_WARM_CHILDREN`` is unset: one waiting child per core, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))


def warm_size() -> int:
    """How many children the pool keeps waiting (``RAGVIZ_WARM_CHILDREN``; unset: :func:`default_warm_size`;
    0 turns the pool off; a bad value is 0)."""
    raw = os.environ.get(WARM_ENV)
    if raw is None or not raw.strip():
        return default_warm_size()
    try:
        return max(0, min(int(raw), 32))
    except ValueError:
        return 0


def _start_child() -> subprocess.Popen:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # this ragviz, whatever the child's working folder
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen([sys.executable, "-m", "ragviz.training.train_process"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)


class WarmPool:
    """Children started ahead of need; :meth:`take` hands one out and starts its replacement.

    A child waits in ``read_frame`` for its job; closing its stdin (:meth:`close`, or the server
    dying) makes it exit, so a pool never leaves orphans.
    """

    def __init__(self, size: Callable[[], int] = warm_size, start: Callable[[], subprocess.Popen] = _start_child
                 ) -> None:
        self.size = size
        self.start = start
        self._idle: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> subprocess.Popen:
        """A waiting child when one is ready, else a new one; the pool is topped up behind it."""
        with self._lock:
            while self._idle:
                child = self._idle.pop(0)
                if child.poll() is None:
                    break
                _finish(child)
            else:
                child = None
        if self.size() > 0 and not self._closed:
            threading.Thread(target=self.fill, name="ragviz-warm-pool", daemon=True).start()
        return child if child is not None else self.start()

    def fill(self) -> None:
        """Start children until ``size()`` wait."""
        while True:
            with self._lock:
                self._idle = [c for c in self._idle if c.poll() is None]
                if self._closed or len(self._idle) >= self.size():
                    return
                self._idle.append(self.start())

    def idle(self) -> int:
        with self._lock:
            return sum(c.poll() is None for c in self._idle)

    def close(self) -> None:
        """Let every waiting child go (each exits when its stdin closes)."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for child in idle:
            _finish(child)


#: The server's pool (empty unless ``RAGVIZ_WARM_CHILDREN`` is set).
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
    The child's exceptions are raised here; a child that dies is a :class:`TrainingError`.
    """
    child = POOL.take()
    inbox: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_all, args=(child.stdout, inbox), name="ragviz-train-relay", daemon=True)
    reader.start()
    mirrors: dict[str, HistoryMirror] = {}
    told_to_stop = False
    try:
        send_frame(child.stdin, job)
        while True:
            if not told_to_stop and stop.is_set():
                told_to_stop = _tell(child, b"stop\n")
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
            elif kind == "done":
                return message[1]
            else:  # "raised"
                raise _exception(message[1], message[2])
    except (BrokenPipeError, OSError) as err:
        raise TrainingError(f"Could not talk to the training process: {err}") from err
    finally:
        _finish(child)


def _read_all(stream: BinaryIO, inbox: queue.Queue) -> None:
    try:
        while (message := read_frame(stream)) is not None:
            inbox.put(message)
    except Exception as err:  # noqa: BLE001 - reported as the child's end
        print(f"ragviz: lost the training process's output: {err!r}", file=sys.stderr)
    inbox.put(None)


def _tell(child: subprocess.Popen, line: bytes) -> bool:
    try:
        child.stdin.write(line)
        child.stdin.flush()
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


def _watch_stdin(stop: threading.Event) -> None:
    """Set ``stop`` on a "stop" line or at the end of stdin (the server closed it, or died)."""
    for line in sys.stdin.buffer:
        if line.strip() == b"stop":
            break
    stop.set()


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


def main() -> None:
    """The child: read one job, run it, send back its result or its exception, exit."""
    import torch

    # The trainers (torch, the model) imported while waiting, so a job starts at once; the thin modules that
    # name a job's function (runner, ensemble_run) come with the job, which keeps this module below them.
    import ragviz.training.ensemble  # noqa: F401

    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to the server's log, not the frames
    job = read_frame(sys.stdin.buffer)
    if job is None:  # the server closed the pipe before sending a whole job (it could not pickle it)
        os._exit(0)
    _lower_priority()
    torch.set_num_threads(job.threads)
    stop = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stop,), name="ragviz-stop", daemon=True).start()
    sender = _Sender(out)
    try:
        result = job.fn(*job.args, report=sender.report, stop=stop)
    except BaseException as err:  # noqa: BLE001 - every end goes back to the server
        try:
            pickled = pickle.dumps(err)
        except Exception:  # noqa: BLE001
            pickled = None
        send_frame(out, ("raised", pickled, f"{type(err).__name__}: {err}"))
    else:
        send_frame(out, ("done", result))
    out.close()
    sys.stderr.flush()
    os._exit(0)  # not a normal shutdown: the stdin watcher may be blocked in a read the runtime cannot finish


if __name__ == "__main__":
    main()
