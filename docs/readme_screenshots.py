"""The README's four screenshots, of a trained sample, in headless Chromium.

Run ``python docs/readme_screenshots.py`` (after ``python -m ragviz samples``) to write
``docs/screenshots/{task_graph,task_outputs,message_passing,train}.png``: the app is started
with ``streamlit run``, the sample ``zero_shot_ring`` is opened from Home, and each page is shot
once its figures are drawn, at 1400×1000. Look at them before committing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright import sync_api as playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from streamlit_server import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402
from test_browser import settle  # noqa: E402

from ragviz.lessons.samples import SAMPLES  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SAMPLE = "zero_shot_ring"
#: page path → (file name, how many figures to wait for)
SHOTS = {"task_graph": ("task_graph.png", 1), "task_outputs": ("task_outputs.png", 1),
         "message_passing": ("message_passing.png", 1), "train": ("train.png", 1)}




def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with streamlit_server(timeout=120) as (url, _proc), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url)
        settle(page)
        opens = page.locator('[data-testid="stMain"]').get_by_role("button", name=re.compile(r"^Open"))
        opens.nth([s.key for s in SAMPLES].index(SAMPLE)).click()
        settle(page)
        for path, (name, figures) in SHOTS.items():
            page.locator('[data-testid="stSidebarNav"]').locator(f'a[href$="/{path}"]').first.click()
            settle(page)
            page.wait_for_function("n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                                   arg=figures, timeout=60_000)
            page.mouse.move(1390, 990)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / name))
            print("wrote", OUT / name)
        browser.close()


if __name__ == "__main__":
    main()
