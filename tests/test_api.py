"""The public API: every name docs/API.md lists is importable from ``ragviz``, the page and ``ragviz.PUBLIC``
agree, and every example on the page runs."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys

import pytest

import ragviz
from tests.helpers import ROOT

API_MD = ROOT / "docs" / "API.md"
#: Each entry is a level-3 heading naming one public name in backticks.
ENTRY = re.compile(r"^### `([A-Za-z_][A-Za-z0-9_]*)`\s*$", re.M)
CODE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def entries(text: str) -> dict[str, str]:
    """Name → its section of the page (heading to the next heading)."""
    heads = list(ENTRY.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {h.group(1): text[h.end():end].split("\n## ")[0] for h, end in zip(heads, ends, strict=True)}


def examples(text: str) -> list[tuple[str, str]]:
    """(name, code) for every python block of every entry, in page order."""
    return [(name, block) for name, section in entries(text).items() for block in CODE.findall(section)]


RUNNER = r"""
import json, sys, traceback
failures = []
for name, code in json.load(sys.stdin):
    try:
        exec(compile(code, f"<docs/API.md: {name}>", "exec"), {"__name__": "__main__"})
    except BaseException:
        failures.append([name, traceback.format_exc(limit=-3)])
print("FAILURES=" + json.dumps(failures))
"""


def test_every_public_name_is_importable_from_ragviz() -> None:
    missing = {}
    for name, module in ragviz.PUBLIC.items():
        if getattr(importlib.import_module(module), name, None) is None:
            missing[name] = f"not defined in {module}"
        elif getattr(ragviz, name) is not getattr(importlib.import_module(module), name):
            missing[name] = "ragviz gives another object"
    assert missing == {}
    assert set(ragviz.__all__) >= set(ragviz.PUBLIC)


def test_import_ragviz_stays_light() -> None:
    """Names load on first use: ``import ragviz`` loads no torch, and no public name loads Streamlit."""
    code = ("import sys, ragviz; light = 'torch' not in sys.modules; "
            "[getattr(ragviz, n) for n in ragviz.PUBLIC]; print(light, 'streamlit' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=_env())
    assert done.stdout.split() == ["True", "False"], done.stderr[-2000:]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        ragviz.no_such_name  # noqa: B018


def test_the_page_lists_exactly_the_public_names() -> None:
    listed = list(entries(API_MD.read_text(encoding="utf-8")))
    assert sorted(set(listed)) == sorted(ragviz.PUBLIC)
    assert len(listed) == len(set(listed)), "a name is listed twice"


def test_every_entry_has_a_description_and_an_example() -> None:
    text = API_MD.read_text(encoding="utf-8")
    bare = [name for name, section in entries(text).items()
            if not CODE.search(section) or not section.strip().split("\n")[0].strip()]
    assert bare == []


def test_the_page_parser_sees_entries_and_code() -> None:
    text = "### `a`\nOne line.\n\n```python\nx = 1\n```\n\n## Part\n\n### `b`\nTwo.\n\n```python\ny = 2\n```\n"
    assert examples(text) == [("a", "x = 1\n"), ("b", "y = 2\n")]


@pytest.mark.slow
def test_every_example_runs() -> None:
    """All examples in one fresh interpreter (torch loads once), each in its own namespace."""
    blocks = examples(API_MD.read_text(encoding="utf-8"))
    assert len(blocks) >= len(ragviz.PUBLIC)
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks), capture_output=True, text=True,
                          cwd=ROOT, timeout=420, env=_env())
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("FAILURES=")), None)
    assert line is not None, done.stderr[-3000:]
    failures = json.loads(line.removeprefix("FAILURES="))
    assert failures == [], "\n".join(f"{name}:\n{tb}" for name, tb in failures)


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_the_runner_reports_a_failing_example() -> None:
    blocks = [("good", "x = 1\n"), ("bad", "raise ValueError('boom')\n")]
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks), capture_output=True, text=True,
                          timeout=60)
    failures = json.loads(done.stdout.split("FAILURES=", 1)[1])
    assert [name for name, _ in failures] == ["bad"] and "boom" in failures[0][1]


