"""Text a file carries that no browser can take is replaced at the loader (issue 23).

A lone surrogate (half a UTF-16 pair) in a checkpoint's stored texts, class names or table
values cannot be encoded for the browser: once, one in the shared models folder crashed Task
graph and Task outputs for everyone who opened it. The loader now replaces each with U+FFFD.
"""

from __future__ import annotations

from ragviz.safety.safe_text import REPLACEMENT, without_lone_surrogates
from ragviz.storage.checkpoint import load_checkpoint
from tests.test_text import FakeEncoder, _text_table_checkpoint, fake  # noqa: F401 - the fixture

LONE = "\ud800"


def _encodable(value: object) -> bool:
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_lone_surrogates_are_replaced_and_pairs_kept() -> None:
    assert without_lone_surrogates(f"a{LONE}b\udfff") == f"a{REPLACEMENT}b{REPLACEMENT}"
    assert without_lone_surrogates("emoji 🏨 ok") == "emoji 🏨 ok"


def test_a_checkpoint_with_lone_surrogates_in_texts_and_class_names_opens_cleanly(fake: FakeEncoder) -> None:  # noqa: F811
    project, _ = _text_table_checkpoint([("good", "a", "p"), ("bad", "a", "n"), ("ok", "b", "p"), ("no", "b", "n")])
    from ragviz.model.config import TrainConfig
    from ragviz.storage.checkpoint import checkpoint_bytes
    from ragviz.training.train import train

    table = project.tables["texts"]
    table.attrs["texts"] = [f"bad {LONE} text", "fine", f"{LONE}", "ok"]
    table.attrs["classes"] = [f"n{LONE}", "p\udfff"]
    result = train(project.graph, project.model_config, TrainConfig(steps=2, device="cpu"), project.tables)
    loaded = load_checkpoint(checkpoint_bytes(project, result.model, result.history)).project.tables["texts"]
    assert loaded.attrs["texts"] == [f"bad {REPLACEMENT} text", "fine", REPLACEMENT, "ok"]
    assert loaded.attrs["classes"] == [f"n{REPLACEMENT}", f"p{REPLACEMENT}"]
    assert all(_encodable(v) for v in [*loaded.attrs["texts"], *loaded.attrs["classes"], *loaded["task"]])
