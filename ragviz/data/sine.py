"""The sine family: regression of ``amplitude * sin(frequency * x + phase)`` plus noise on one input.

The classic meta-learning curve family: related tasks differ in amplitude or phase, and a zero-shot
curve is read from its neighbours'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.family import DataFamily, DomainSpec, Tables, noise_level, number
from ragviz.data.task_data import TaskData, task_sizes

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task

SINE_RANGE = (-5.0, 5.0)


def sine_params(task: Task) -> tuple[float, float, float, float]:
    """A sine task's validated (amplitude, frequency, phase, noise)."""
    p = task.full_params()
    amp, freq, phase = (number(p, key, task) for key in ("amplitude", "frequency", "phase"))
    return amp, freq, phase, noise_level(p, task)


class Sine(DataFamily):
    """Sine curves: the one regression domain that ships."""

    domain = "sine"
    families = {"sine": {"amplitude": 1.0, "frequency": 1.0, "phase": 0.0, "noise": 0.0}}

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        sine_params(task)
        return 0

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        amp, freq, phase, noise = sine_params(task)
        train, test, seed = task_sizes(task)
        rng = np.random.default_rng(seed)

        def split(m: int) -> tuple[np.ndarray, np.ndarray]:
            x = rng.uniform(*SINE_RANGE, m)
            y = amp * np.sin(freq * x + phase) + noise * rng.standard_normal(m)
            return x.astype(np.float32)[:, None], y.astype(np.float32)

        x_tr, y_tr = split(train)
        x_te, y_te = split(test)
        return TaskData(x_tr, y_tr, x_te, y_te, 0)

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        for t in tasks:
            sine_params(t)
        return DomainSpec("sine", 1, 1, "regression", SINE_RANGE)

    def grid(self, axis: np.ndarray) -> np.ndarray | None:
        return axis.astype(np.float32)[:, None]
