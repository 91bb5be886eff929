"""In real headless Chromium against ``streamlit run``: a run that trains in a child process.

The server is started with ``RAGVIZ_TRAIN_PROCESS=always`` so the sample's small graph takes the
path a 1,000-task graph takes: the progress bar moves while a child process of the server
trains, Stop works, and the finished run shows the numbers ``train()`` gives in this process.
"""

from __future__ import annotations

import re

import pytest
import torch
from streamlit_server import streamlit_server
from tab_waits import poll_until
from test_browser import assert_no_exception, go_to, settle

from tests.helpers import training_children

pytestmark = pytest.mark.browser

STEPS, SEED = 120, 7


@pytest.fixture(scope="module")
def process_server():
    # A child started for the run (no warm pool): then every training child of the server is this run's, and
    # Stop must end it. The warm pool's path is what the load and replica tests' servers run.
    env = {"RAGVIZ_TRAIN_PROCESS": "always", "RAGVIZ_WARM_CHILDREN": "0"}
    with streamlit_server(timeout=90, env=env) as (url, proc):
        yield url, proc.pid


def expected_seen_accuracy(steps: int, seed: int) -> str:
    """What the Train page must show: the session's default sample trained here, formatted alike."""
    from ragviz.model.config import TrainConfig
    from ragviz.training.train import train
    from ragviz.ui.state import _default_project

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app does
    try:
        project = _default_project()[0]
        config = TrainConfig(**{**project.train_config.to_dict(), "steps": steps, "seed": seed})
        result = train(project.graph, project.model_config, config, project.tables)
    finally:
        torch.set_num_threads(before)
    return f"{result.history.summary()['seen']:.1%}"


def _set_number(page, label: str, value: int) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")
    settle(page)


def test_a_run_in_a_child_process_moves_the_bar_stops_and_gives_the_numbers_of_a_thread(
        process_server, browser) -> None:
    url, server_pid = process_server
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url)
    settle(page)
    go_to(page, "Train")
    main = page.locator('[data-testid="stMain"]')

    # A long run: the bar moves while a child of the server trains; Stop ends it and the child.
    _set_number(page, "Steps", 1_000_000)
    main.get_by_role("button", name="Start training").click()
    progress = main.locator('[data-testid="stProgress"]').filter(has_text="Training RAG")
    progress.wait_for(timeout=120_000)
    children = training_children(server_pid)
    assert children, "no child process is training"
    steps: list[int] = []

    def three_steps_seen() -> bool:
        found = re.search(r"step ([\d,]+) of", progress.first.inner_text())
        if found:
            steps.append(int(found.group(1).replace(",", "")))
        return len(set(steps)) >= 3

    poll_until(three_steps_seen, "the bar should move through three steps", 60, page, every_s=0.2)
    assert steps == sorted(steps), steps
    main.get_by_role("button", name="Stop", exact=True).click()
    main.get_by_text("trained so far is kept", exact=False).first.wait_for(timeout=60_000)
    poll_until(lambda: not set(children) & set(training_children(server_pid)), "the stopped run's process lives on",
               30, page, every_s=0.2)
    settle(page)

    # A short run to the end: the same accuracy as train() here, and every inside page draws it.
    _set_number(page, "Steps", STEPS)
    _set_number(page, "Seed", SEED)
    main.get_by_role("button", name="Start training").click()
    done = main.locator('[data-testid="stAlert"]').filter(has_text="Training finished")
    done.wait_for(timeout=180_000)
    assert f"Trained {STEPS} steps" in done.inner_text()
    settle(page)
    metric = main.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy, seen") \
        .locator('[data-testid="stMetricValue"]')
    assert metric.inner_text().strip() == expected_seen_accuracy(STEPS, SEED)
    assert_no_exception(page, "Train")
    for title in ("Message passing", "Embeddings", "Task outputs"):
        go_to(page, title)
        settle(page)
        assert_no_exception(page, title)
    page.context.close()
