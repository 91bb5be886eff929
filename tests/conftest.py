"""Shared fixtures: small graphs and one trained model reused across the suite.

Plain helpers live in modules a test imports by their full name (``from tests.helpers import
small_ring``, ``from tests.app.helpers import open_page``); conftest only holds fixtures.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)  # small models train fastest single-threaded, and runs stay reproducible
# In this process (AppTest, the library) runs train in threads, so a test can patch the trainer and
# stop a run at a known step; servers the tests start get the shipped default, a warm pool of
# training children (tests/streamlit_server.py's served_env drops this setting).
os.environ["RAGVIZ_WARM_CHILDREN"] = "0"

from ragviz.graph.task_graph import TaskGraph  # noqa: E402
from ragviz.model.config import ModelConfig, TrainConfig  # noqa: E402
from ragviz.training.project import Project  # noqa: E402
from ragviz.training.train import TrainResult, train  # noqa: E402
from tests.helpers import small_ring  # noqa: E402


@pytest.fixture
def ring_graph() -> TaskGraph:
    return small_ring()


@pytest.fixture(scope="session")
def trained_ring() -> tuple[Project, TrainResult]:
    """A quickly trained project shared by tests that only read it."""
    project = Project(small_ring(), ModelConfig(layers=2), TrainConfig(steps=60, eval_every=20), name="Test ring")
    result = train(project.graph, project.model_config, project.train_config)
    return project, result


# --------------------------------------------------------------------------- browser tests
@pytest.fixture(scope="module")
def server():
    """``streamlit run app.py`` on a free localhost port, for one test module."""
    from streamlit_server import streamlit_server

    with streamlit_server(timeout=90) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (the system's: ``playwright install`` cannot fetch one here), for one test module."""
    from playwright import sync_api as playwright
    from streamlit_server import CHROMIUM, CHROMIUM_ARGS

    from tests.helpers import missing_tool

    if not Path(CHROMIUM).exists():
        missing_tool(f"Chromium is not installed at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A browser test that timed out anywhere gets what each of its open tabs showed in its report."""
    outcome = yield
    report = outcome.get_result()
    browser = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if call.when != "call" or call.excinfo is None or browser is None:
        return
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not call.excinfo.errisinstance(PlaywrightTimeout):
        return
    from tab_waits import tab_text

    for i, context in enumerate(browser.contexts):
        for j, page in enumerate(context.pages):
            report.sections.append((f"what tab {i}.{j} showed ({page.url[:120]})", tab_text(page)))
