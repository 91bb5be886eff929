"""The drawing domain in real headless Chromium: open the drawing sample from the Home page's gallery,
go to Task outputs, and see every task's drawings beside the true images, the zero-shot ones included.

The figure is read in the page (its heatmaps, panel titles and row names), so the test checks what
the browser drew, not what the server meant to send. A screenshot goes to ``RAGVIZ_SCREENSHOTS``
(or ``screenshots/``).
"""

from __future__ import annotations

import re

from tab_waits import figures_steady, showing
from test_browser import SHOTS, assert_no_exception, go_to, settle

from ragviz.lessons.samples import SAMPLES, get_sample, load_sample
from ragviz.plots.drawings import ROWS
from ragviz.plots.outputs import ZERO_SHOT_MARK

SAMPLE = "drawing_rotations"

#: The drawings figure as the browser holds it: heatmaps (one strip per task), panel titles, row names.
DRAWINGS_JS = """
() => {
  for (const gd of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
    if (!gd.data || !gd.layout) continue;
    const heatmaps = gd.data.filter(t => t.type === 'heatmap');
    if (!heatmaps.length) continue;
    const rows = Object.keys(gd.layout).filter(k => k.startsWith('yaxis'))
      .flatMap(k => (gd.layout[k].showticklabels && gd.layout[k].ticktext) || []);
    return {strips: heatmaps.length, rows: [...new Set(rows)],
            titles: (gd.layout.annotations || []).map(a => String(a.text || ''))};
  }
  return null;
}
"""


def test_the_drawing_sample_shows_true_and_drawn_digits_for_a_zero_shot_task(server, browser) -> None:
    sample = get_sample(SAMPLE)
    unseen = [t.name for t in load_sample(SAMPLE).project.graph.tasks() if t.zero_shot]
    assert unseen, "the drawing sample has a zero-shot task"
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(server)
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        opens = main.get_by_role("button", name=re.compile(r"^Open"))  # one per sample, in catalogue order
        with showing(page, "waiting for the gallery's Open buttons"):
            opens.nth(len(SAMPLES) - 1).wait_for(timeout=60_000)
        opens.nth([s.key for s in SAMPLES].index(SAMPLE)).click()
        settle(page)
        with showing(page, "waiting for the drawing sample's lesson in the sidebar"):
            page.locator('[data-testid="stSidebar"]').get_by_text(f"Lesson: {sample.title}", exact=False).first \
                .wait_for(timeout=60_000)
        assert_no_exception(page, "Home after opening the drawing sample")

        go_to(page, "Task outputs")
        with showing(page, "waiting for the drawings' caption on Task outputs"):
            main.get_by_text("Each task draws: top row, true test images", exact=False).first.wait_for(
                timeout=120_000)
        with showing(page, "waiting for the drawings figure"):
            page.wait_for_function(f"() => ({DRAWINGS_JS})() !== null", timeout=120_000)
        figures_steady(page, 1)
        assert_no_exception(page, "Task outputs of the drawing sample")
        drawn = page.evaluate(DRAWINGS_JS)

        assert drawn["strips"] == 12, drawn  # every task of the sample: one true-over-drawn strip each
        assert set(drawn["rows"]) == set(ROWS), drawn["rows"]  # the rows say which is true and which drawn
        zero_shot = [t for t in drawn["titles"] if ZERO_SHOT_MARK in t]
        for name in unseen:  # each rotation it never trained on, drawn from its relations alone
            assert any(name in title for title in zero_shot), (name, drawn["titles"])
        assert all(re.search(r"recognised \d+%", t) for t in zero_shot), zero_shot  # with its classifier verdict
        page.mouse.move(1390, 990)  # no tooltip in the screenshot
        page.screenshot(path=str(SHOTS / "drawing_task_outputs.png"), full_page=True)
    finally:
        context.close()
