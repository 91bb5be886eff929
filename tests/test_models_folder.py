"""The shared models folder: names keep their meaning, and no session ever replaces another's file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from ragviz.storage.models_folder import safe_file_name, save_to_folder


@pytest.mark.parametrize(("name", "expected"), [
    ("模型", "模型"),
    ("Модель 2", "Модель 2"),
    ("ＲＩＮＧ①", "RING1"),  # NFKC: full-width letters and circled digits become plain ones
    ("moons\u200b", "moons"),  # zero-width space: not a different name
    ("a\u202eb", "a_b"),  # bidi override
    ("\ud800x", "x"),  # lone surrogate
    ("runs/ring", "runs_ring"),
    ("..\\..\\win", "win"),
    (".hidden", "hidden"),
    ("ring.safetensors", "ring"),
    ("", "checkpoint"), ("..", "checkpoint"), ("!!!", "checkpoint"), ("\x00\n", "checkpoint"),
])
def test_names_keep_their_letters_and_lose_everything_unsafe(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected + ".safetensors"


def test_long_names_fit_every_file_system() -> None:
    name = safe_file_name("模" * 500)
    assert len(name.encode("utf-8")) <= 255 - len("-1000") and name.endswith(".safetensors")
    assert len(safe_file_name("x" * 500)) == 80 + len(".safetensors")


def test_two_sessions_saving_one_name_each_keep_their_own_file(tmp_path: Path) -> None:
    alice: dict[str, bytes] = {}
    bob: dict[str, bytes] = {}

    def save(own: dict[str, bytes], data: bytes) -> str:
        path = save_to_folder(tmp_path, "ring", data, own=own)
        own[path.name] = data
        return path.name

    assert save(alice, b"alice 1") == "ring.safetensors"
    assert save(bob, b"bob 1") == "ring-2.safetensors"  # Alice's file is not Bob's to replace
    assert save(alice, b"alice 2") == "ring.safetensors"  # Alice replaces her own save
    assert save(bob, b"bob 2") == "ring-2.safetensors"
    assert (tmp_path / "ring.safetensors").read_bytes() == b"alice 2"
    assert (tmp_path / "ring-2.safetensors").read_bytes() == b"bob 2"
    # Someone else replaced Alice's file meanwhile: it is theirs now, and she gets a new name.
    (tmp_path / "ring.safetensors").write_bytes(b"carol")
    assert save(alice, b"alice 3") == "ring-3.safetensors"
    assert (tmp_path / "ring.safetensors").read_bytes() == b"carol"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ring-2.safetensors", "ring-3.safetensors",
                                                          "ring.safetensors"]


def test_names_that_say_nothing_each_get_a_file(tmp_path: Path) -> None:
    names = [save_to_folder(tmp_path, name, name.encode() or b"-").name for name in ("", "..", "!!!", "/")]
    assert names == ["checkpoint.safetensors", "checkpoint-2.safetensors", "checkpoint-3.safetensors",
                     "checkpoint-4.safetensors"]


@pytest.mark.parametrize("links", [True, False])
def test_threads_saving_one_name_at_once_never_share_a_file(tmp_path: Path, links: bool,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With hard links, and on a file system without them (the exclusive-create fallback)."""
    if not links:
        def no_links(*args, **kwargs):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_links)
    count = 12
    barrier = threading.Barrier(count)
    saved: dict[int, str] = {}

    def save(k: int) -> None:
        barrier.wait(timeout=30)
        saved[k] = save_to_folder(tmp_path, "模型", f"session {k}".encode() * 1000).name

    threads = [threading.Thread(target=save, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(saved) == count and len(set(saved.values())) == count
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(saved.values())  # no temporaries left
    for k, name in saved.items():
        assert (tmp_path / name).read_bytes() == f"session {k}".encode() * 1000


# ----------------------------------------------------------------------------- the quota
def test_the_folder_refuses_saves_past_its_file_quota(tmp_path: Path, monkeypatch) -> None:
    """The red team saved 300 checkpoints in 0.4 s: the count is capped, with a message naming the limit."""
    import time

    from ragviz.safety.errors import CheckpointError

    monkeypatch.setenv("RAGVIZ_MAX_MODELS_FILES", "5")
    own: dict[str, bytes] = {}
    for k in range(5):
        path = save_to_folder(tmp_path, f"m{k}", b"x" * 10)
        own[path.name] = b"x" * 10
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"holds 5 checkpoints, its limit is 5.*RAGVIZ_MAX_MODELS_FILES"):
        save_to_folder(tmp_path, "one more", b"y")
    assert time.perf_counter() - start < 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(own)  # nothing written, no temporary left
    assert save_to_folder(tmp_path, "m0", b"z" * 10, own=own).name == "m0.safetensors"  # replacing one's own: fine


def test_the_folder_refuses_saves_past_its_byte_quota(tmp_path: Path, monkeypatch) -> None:
    from ragviz.safety.errors import CheckpointError

    monkeypatch.setenv("RAGVIZ_MAX_MODELS_MB", "0.001")  # 1,000 bytes
    first = save_to_folder(tmp_path, "a", b"x" * 600)
    with pytest.raises(CheckpointError, match=r"would hold 1\.1 kB, its limit is 1\.0 kB.*RAGVIZ_MAX_MODELS_MB"):
        save_to_folder(tmp_path, "b", b"x" * 500)
    with pytest.raises(CheckpointError, match="RAGVIZ_MAX_MODELS_MB"):  # a bigger replacement counts the growth
        save_to_folder(tmp_path, "a", b"x" * 1_200, own={first.name: b"x" * 600})
    assert save_to_folder(tmp_path, "a", b"x" * 900, own={first.name: b"x" * 600}) == first
