"""examples/quickstart.ipynb runs top to bottom on a fresh kernel and draws its figures inline."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.mark.slow
def test_the_quickstart_notebook_runs_and_draws_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel inherits it: small models train faster on one thread
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert [out for out in outputs if out.output_type == "error"] == []
    figures = [out for out in outputs if PLOTLY in out.get("data", {})]
    assert len(figures) >= 9, "a figure did not draw inline"
    for figure in figures:
        assert figure["data"][PLOTLY]["data"], "an empty figure"


def test_the_notebook_is_committed_without_outputs() -> None:
    """Outputs are megabytes of Plotly JSON; the test above makes them fresh."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in notebook.cells if cell.cell_type == "code")
