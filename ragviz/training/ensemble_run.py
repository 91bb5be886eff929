"""Training an ensemble in a worker thread that never calls Streamlit: a :class:`ragviz.training.runner.TrainingRun`
whose training step trains K models at once.

It is one run in the server's queue like any other (``RAGVIZ_MAX_RUNS``), checks the work budget
when it starts, and stops itself when its tab is gone (:mod:`ragviz.training.liveness`).
"""

from __future__ import annotations

from typing import Any

from ragviz.training.ensemble import DEFAULT_K, Ensemble, train_ensemble
from ragviz.training.liveness import Probe
from ragviz.training.prepared import Checked
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, RunStatus, TrainingRun


class EnsembleRun(TrainingRun):
    """``train_ensemble`` on a copy of a project (its graph, configs, seed and tables)."""

    def __init__(self, project: Project, k: int = DEFAULT_K, heartbeat_timeout: float | None = None,
                 slots: RunSlots | None = None, probe: Probe | None = None) -> None:
        super().__init__(project, None, heartbeat_timeout, slots, probe)
        self.k = k
        self.ensemble: Ensemble | None = None

    def models_trained(self) -> int:
        """K: the work budget weighs every member (:func:`~ragviz.safety.limits.check_budget`)."""
        return self.k

    def _train(self) -> None:
        ensemble = self._execute(train_ensemble_job, self.project, self.k, self.checked)
        self.ensemble = ensemble
        self._set(status=RunStatus(ensemble.status), message=self.explain(ensemble.message))


def train_ensemble_job(project: Project, k: int, checked: Checked | None = None, *, report: Any,
                       stop: Any) -> Ensemble:
    """``train_ensemble`` on ``project`` (``checked`` when the run started), its disagreement computed here
    (off the page's thread) when it finished; module-level so a child process can run it too."""
    p = project
    ensemble = train_ensemble(p.graph if checked is None else checked, p.model_config, p.train_config, k=k,
                              seed=p.train_config.seed, progress=report("model"), stop=stop, tables=p.tables)
    if ensemble.status == "finished":  # only a finished ensemble is shown: a Stop waits for no evaluation
        ensemble.disagreement()
    return ensemble
