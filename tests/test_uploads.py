"""The one upload reader: every kind held to its own configurable limit, refused with one wording."""

from __future__ import annotations

import io

import pytest

from ragviz.safety.errors import CheckpointError, DataError, GraphError
from ragviz.safety.uploads import limit_help, read_upload, upload_limit, widget_size_mb

KINDS = [("graph", "RAGVIZ_MAX_GRAPH_MB", GraphError, "graph file"),
         ("table", "RAGVIZ_MAX_TABLE_MB", DataError, "table"),
         ("checkpoint", "RAGVIZ_MAX_CHECKPOINT_MB", CheckpointError, "checkpoint")]


class FakeUpload(io.BytesIO):
    """Like Streamlit's UploadedFile: a BytesIO that also says its size."""

    def __init__(self, data: bytes, size: int | None = None) -> None:
        super().__init__(data)
        self.size = len(data) if size is None else size


@pytest.mark.parametrize(("kind", "variable", "error", "what"), KINDS)
def test_every_kind_obeys_its_own_limit(kind, variable, error, what, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(variable, "0.001")  # 1 kB
    path = tmp_path / "file.bin"
    path.write_bytes(b"x" * 1500)
    expected = (f"The {what} is 1.5 kB; the limit is 1.0 kB. Use a smaller file, or ask the server's administrator "
                "to raise the limit.")
    for source in (b"x" * 1500, path, str(path), FakeUpload(b"x" * 1500)):
        with pytest.raises(error) as err:
            read_upload(source, kind)
        assert str(err.value) == expected
    for source in (b"y" * 1000, FakeUpload(b"y" * 1000)):
        assert read_upload(source, kind) == b"y" * 1000  # exactly at the limit is fine


def test_the_upload_ceiling_caps_every_kind(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_UPLOAD_MB", "0.002")
    monkeypatch.setenv("RAGVIZ_MAX_CHECKPOINT_MB", "500")
    with pytest.raises(CheckpointError, match="the limit is 2.0 kB"):
        read_upload(b"z" * 2001, "checkpoint")


def test_a_stream_is_read_no_further_than_the_limit() -> None:
    """A file whose declared size lies is cut off one byte past the limit, never read whole."""
    stream = FakeUpload(b"a" * 10_000, size=10)
    with pytest.raises(GraphError, match="is larger than 100 bytes; the limit is 100 bytes"):
        read_upload(stream, "graph", max_bytes=100)
    assert stream.tell() == 101


def test_a_declared_size_over_the_limit_is_refused_before_reading() -> None:
    stream = FakeUpload(b"", size=5_000_000)
    with pytest.raises(DataError, match="The table is 5 MB; the limit is 1 MB"):
        read_upload(stream, "table", max_bytes=1_000_000)
    assert stream.tell() == 0


def test_unreadable_sources_are_clear_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="Cannot open 'gone.safetensors'"):
        read_upload(tmp_path / "gone.safetensors", "checkpoint")
    with pytest.raises(GraphError, match="Cannot read a graph file from int"):
        read_upload(42, "graph")
    with pytest.raises(ValueError, match="Unknown upload kind"):
        read_upload(b"", "video")


def test_the_widget_states_the_real_limit(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_GRAPH_MB", "5")
    assert upload_limit("graph") == 5_000_000
    assert upload_limit("graph", server_limit_mb=2) == 2 * 2**20  # nothing larger reaches the app (Streamlit's MB)
    assert widget_size_mb(5 * 2**20) == 5 and widget_size_mb(1) == 1 and widget_size_mb(5 * 2**20 + 1) == 6
    assert limit_help("graph", 5_000_000) == "A graph file may be at most 5 MB."
