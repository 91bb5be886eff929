"""Screenshots of the task graph figure in headless Chromium, to check that layouts stay readable.

Run ``python docs/graph_screenshots.py`` to write ``docs/screenshots/graph_*.png``: a chain of 61
tasks (as generated, and laid out with Kamada-Kawai), the ring of moons, a random graph of 40
tasks, and a graph of 1,000 tasks, each at the size the Task graph page draws it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright import sync_api as playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ragviz.graph.generators import generate_graph, layout_positions, ring_of_moons  # noqa: E402
from ragviz.graph.task_graph import TaskGraph  # noqa: E402
from ragviz.plots.graph import graph_figure  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 960, 640


def laid_out(graph: TaskGraph, layout: str) -> TaskGraph:
    graph = graph.copy()
    graph.set_positions(layout_positions(graph, layout, seed=0))
    return graph


def graphs() -> dict[str, TaskGraph]:
    chain = generate_graph("chain", 61, "moons", zero_shot=[10, 30, 50])
    random40 = generate_graph("random", 40, "moons", p=0.2, zero_shot=[5, 25])
    return {
        "chain61": chain,
        "chain61_kamada_kawai": laid_out(chain, "kamada_kawai"),
        "chain30": generate_graph("chain", 30, "moons", zero_shot=[7, 21]),
        "ring": ring_of_moons(),
        "random40": random40,
        "random40_spring": laid_out(random40, "spring"),
        "tasks1000": generate_graph("random", 1000, "moons", p=0.003, zero_shot=list(range(0, 1000, 50))),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH + 20, "height": HEIGHT + 20})
        for name, graph in graphs().items():
            fig = graph_figure(graph, selected=graph.task_names()[:1])
            fig.update_layout(width=WIDTH, height=HEIGHT)
            html = Path(tmp) / f"{name}.html"
            fig.write_html(html, include_plotlyjs=True, full_html=True)
            page.goto(html.as_uri())
            page.wait_for_selector(".js-plotly-plot")
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / f"graph_{name}.png"))
            print(f"wrote graph_{name}.png ({graph.number_of_tasks()} tasks, {graph.number_of_edges()} edges)")
        browser.close()


if __name__ == "__main__":
    main()
