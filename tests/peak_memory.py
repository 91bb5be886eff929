"""A worker that measures the peak memory of training (and tracing) one graph, in a fresh fork per job.

Run as ``python -m tests.peak_memory``: it reads one JSON job per line on stdin (a task graph's
``to_dict``, a model config, a train config) and answers one JSON line per job:
``{"peak": bytes}`` (the high-water mark of resident memory above the fork's start) or
``{"error": text}``. The worker warms torch up once on one thread (so a fork is safe and the
one-off costs of the first step are not charged to each job), then forks a child per job; the
child resets its high-water mark (``/proc/self/clear_refs``, Linux) and reads ``VmHWM`` after.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        match = re.search(rf"^{field}:\s+(\d+) kB", handle.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _run(job: dict[str, Any]) -> None:
    from ragviz.graph.task_graph import TaskGraph
    from ragviz.inspection.trace import compute_trace
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train

    graph = TaskGraph.from_dict(job["graph"])
    result = train(graph, ModelConfig.from_dict(job["model"]), TrainConfig.from_dict(job["train"]))
    compute_trace(result.model, graph, grid_resolution=int(job.get("grid", 20)))


def _measure(job: dict[str, Any]) -> dict[str, Any]:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")  # the high-water mark starts again from the current resident size
    start = _status_kb("VmRSS")
    try:
        _run(job)
    except Exception as err:  # noqa: BLE001 - reported to the test, which decides
        return {"error": f"{type(err).__name__}: {err}"}
    return {"peak": (_status_kb("VmHWM") - start) * 1024}


def main() -> None:
    import torch

    torch.set_num_threads(1)  # no thread pool: forking is safe
    warm = {"graph": {"relations": [{"name": "r"}], "graph": {"nodes": [
        {"id": "a", "family": "moons"}, {"id": "b", "family": "moons"}], "edges": [
        {"source": "a", "target": "b", "key": "r"}]}},
        "model": {}, "train": {"steps": 2, "eval_every": 1}}
    _run(warm)
    for line in sys.stdin:
        job = json.loads(line)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: measure, answer through the pipe, leave without cleanup
            os.close(read)
            os.write(write, json.dumps(_measure(job)).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            text = answer.read().decode() or json.dumps({"error": "the child died"})
        os.waitpid(pid, 0)
        print(text, flush=True)


if __name__ == "__main__":
    main()
