"""Which lesson is open, and the tasks its claim is about (marked in every figure).

A lesson opens with its sample and stays open while the session keeps that project, even after
its model is retrained (training the lesson's contrast retrains it beside the model) and while
its graph is edited. Opening another project, or replacing the graph with a generated, imported
or new one, closes it. Pages read only :func:`open_lesson` and :func:`marked_tasks`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ragviz.lessons.view import claim_tasks
from ragviz.safety.errors import RagvizError
from ragviz.ui.state import AppState


def open_lesson(state: AppState) -> str | None:
    """The open lesson's key: the open sample's, or one kept open through a retrain; None when closed."""
    if state.lesson_closed is state.project:
        return None
    if state.sample_key:
        return state.sample_key
    kept = state.lesson_kept
    if kept is not None and kept[1] is state.project:
        return kept[0]
    return None


def keep_lesson_open(state: AppState, key: str) -> None:
    """Keep ``key`` open while this project stays (a retrain clears the sample, not the lesson)."""
    state.lesson_kept = (key, state.project)
    state.lesson_closed = None


def close_lesson(state: AppState) -> None:
    state.lesson_closed = state.project
    state.lesson_kept = None


def marked_tasks(state: AppState) -> set[str]:
    """The tasks the open lesson's claim is about, on the current graph (empty when none is open)."""
    return set(claim_tasks(open_lesson(state), state.project.graph))


def lesson_sample(key: str | None) -> Any | None:
    """The shipped sample of lesson ``key`` (title, claim, text), or None if there is none."""
    if not key:
        return None
    try:
        from ragviz.lessons.samples import get_sample

        return get_sample(key)
    except (ImportError, RagvizError, AttributeError, KeyError):
        return None


@functools.lru_cache(maxsize=2)
def _recorded(path: str, version: int) -> dict[str, Any]:
    """RESULTS.json's claims, read once per version of the file (every sidebar draw asks for them)."""
    from ragviz.lessons.samples import recorded_results

    return recorded_results(Path(path).parent)


def lesson_record(key: str | None) -> tuple[Any, Any] | None:
    """(the recorded claim from RESULTS.json, the Lesson) for ``key``, or None if not recorded."""
    if not key:
        return None
    try:
        from ragviz.lessons.catalogue import LESSONS
        from ragviz.lessons.samples import RESULTS_JSON, SAMPLE_DIR

        path = Path(SAMPLE_DIR) / RESULTS_JSON
        record = _recorded(str(path), path.stat().st_mtime_ns).get(key)
    except (ImportError, AttributeError, OSError):
        return None
    return (record, LESSONS.get(key)) if record is not None else None
