"""The per-session timeline (ragviz/ui/timeline.py): off by default, one JSON line per event when on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragviz.ui import timeline


def test_the_timeline_is_off_without_its_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(timeline.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    timeline.record("whole run", page="Train")
    assert timeline.timeline_path() is None
    assert list(tmp_path.rglob("*")) == []


def test_events_are_recorded_in_order_and_a_cut_line_is_skipped(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    folder = tmp_path / "timeline"
    monkeypatch.setenv(timeline.ENV, str(folder))
    timeline.record("run started", steps=200)
    timeline.record("taken in", outcome="adopted")
    with open(timeline.timeline_path(), "a", encoding="utf-8") as out:
        out.write('{"t": 1, "event": "cut sh')  # a process killed mid-write
    events = timeline.read_timeline(folder)
    assert [e["event"] for e in events] == ["run started", "taken in"]
    assert events[0]["steps"] == 200 and events[1]["outcome"] == "adopted"
    assert events[0]["session"] is None and events[0]["t"] <= events[1]["t"]  # no script context here
