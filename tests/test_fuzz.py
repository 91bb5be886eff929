"""Property tests (hypothesis): on arbitrary input the importers raise only ragviz's own errors.

A stranger's file may be anything. Whatever it is, ``TaskGraph.from_dict``, ``load_table``,
``load_checkpoint``, ``import_graph`` and the gallery's header summary either succeed or
raise a :class:`~ragviz.safety.errors.RagvizError` subclass with a message: never a bare
``KeyError``/``ValueError``/``RecursionError`` traceback. Inputs are random bytes and,
more usefully, near-valid files with one part broken. Example counts are bounded.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragviz.data.domains import domain_spec
from ragviz.data.table_io import load_table
from ragviz.graph.io import import_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DOMAIN
from ragviz.safety.errors import CheckpointError, DataError, GraphError, RagvizError
from ragviz.storage.checkpoint import load_checkpoint
from ragviz.storage.gallery import summarize_bytes

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
GOOD_CKPT = (CORPUS / "control" / "good.safetensors").read_bytes()
GOOD_GRAPH = json.loads((CORPUS / "control" / "good_graph.json").read_text())

#: 150 examples per property by default; RAGVIZ_FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(max_examples=int(os.environ.get("RAGVIZ_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------------------------------- strategies
BIG_NUMBERS = st.sampled_from([10**400, -(10**400), 2**63, -1, 0, 1, 10**6, 2**31])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), BIG_NUMBERS,
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=16)
NAMES = st.sampled_from(["a", "b", "c", "", " a ", "x" * 90, "tab\tname"])
RELATIONS = st.sampled_from(["near", "far", "", "NEAR"])
PARAM_KEYS = st.sampled_from(["noise", "rotate", "n_classes", "scale", "shift_x", "flip", "digit", "a", "b",
                              "amplitude", "frequency", "phase", "table", "task", "??"])


def _node() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "id": NAMES | SCALARS,
        "family": st.sampled_from(sorted(FAMILY_DOMAIN)) | JSON,
        "params": st.dictionaries(PARAM_KEYS, SCALARS, max_size=4) | JSON,
        "train_size": st.integers(-3, 300) | SCALARS,
        "test_size": st.integers(-3, 300) | SCALARS,
        "seed": st.integers(-1, 2**33) | SCALARS,
        "pos": st.lists(SCALARS, max_size=3) | SCALARS,
    })


def _edge() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={
        "source": NAMES | SCALARS, "target": NAMES | SCALARS, "key": RELATIONS | JSON,
        "relation": RELATIONS, "weight": SCALARS,
    })


def _relation() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional={
        "name": RELATIONS | SCALARS, "directed": SCALARS, "color": st.sampled_from(["#1f77b4", "red", ""]) | SCALARS,
    }) | JSON


NEAR_VALID_GRAPH = st.fixed_dictionaries({}, optional={
    "relations": st.lists(_relation(), max_size=3) | JSON,
    "graph": st.fixed_dictionaries({}, optional={
        "nodes": st.lists(_node(), max_size=4) | JSON,
        "edges": st.lists(_edge(), max_size=4) | JSON,
        "links": st.lists(_edge(), max_size=2),
    }) | JSON,
})
GRAPH_DICTS = st.one_of(NEAR_VALID_GRAPH, JSON)


@st.composite
def mutated_json(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` with one randomly chosen part replaced (or removed): a file that is almost right."""
    if depth > 6 or not isinstance(value, (dict, list)) or not value or draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    if isinstance(value, dict):
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        if draw(st.integers(0, 5)) == 0:
            del out[key]
        else:
            out[key] = draw(mutated_json(value[key], depth + 1))
        return out
    index = draw(st.integers(0, len(value) - 1))
    out = list(value)
    out[index] = draw(mutated_json(value[index], depth + 1))
    return out


CSV_CELLS = st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e999", "9" * 400, "abc", '"', "'", "1", "0",
                             "0.5", "-2", "True", "a", "b", "task", "target", " ", "1,5", "x;y", "\u00e9"])


@st.composite
def csv_tables(draw: st.DrawFn) -> bytes:
    """Small CSV texts with odd cells, odd headers, ragged rows and odd separators."""
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(["task", "target", "x1", "x2", "", "x1", "Unnamed: 3", "label"]),
                           min_size=0, max_size=5))
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=0, max_size=6), max_size=8))
    text = "\n".join(sep.join(r) for r in [header, *rows])
    data = text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), errors="replace")
    return data


def _header(data: bytes) -> tuple[dict[str, Any], bytes]:
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size]), data[8 + size:]


GOOD_HEADER, GOOD_BODY = _header(GOOD_CKPT)
GOOD_META = {k: json.loads(v) if k not in ("format", "format_version", "created") else v
             for k, v in GOOD_HEADER["__metadata__"].items()}


@st.composite
def broken_checkpoints(draw: st.DrawFn) -> bytes:
    """The control checkpoint with its bytes, its header or one metadata field broken."""
    how = draw(st.sampled_from(["bytes", "truncate", "header", "metadata", "metadata_text"]))
    if how == "bytes":
        data = bytearray(GOOD_CKPT)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "truncate":
        return GOOD_CKPT[: draw(st.integers(0, len(GOOD_CKPT) - 1))]
    header = dict(GOOD_HEADER)
    meta = dict(header["__metadata__"])
    if how == "header":
        header = draw(mutated_json(header))
        if isinstance(header, dict) and draw(st.booleans()):
            header = {**header, "__metadata__": meta}
    elif how == "metadata":
        key = draw(st.sampled_from(sorted(GOOD_META)))
        value = draw(mutated_json(GOOD_META[key])) if isinstance(GOOD_META[key], (dict, list)) else draw(JSON)
        meta[key] = json.dumps(value) if draw(st.integers(0, 5)) else value  # sometimes not even a string
        header["__metadata__"] = meta
    else:
        meta[draw(st.sampled_from(sorted(meta)))] = draw(st.text(max_size=30))
        header["__metadata__"] = meta
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + GOOD_BODY


# ------------------------------------------------------------------------------------------- properties
@FUZZ
@given(GRAPH_DICTS)
def test_graph_from_dict_raises_only_graph_errors(data: Any) -> None:
    try:
        graph = TaskGraph.from_dict(data)
    except GraphError:
        return
    try:  # what was accepted must also be explainable downstream
        domain_spec(graph)
    except RagvizError:
        pass


@FUZZ
@given(mutated_json(GOOD_GRAPH))
def test_graph_from_dict_on_near_valid_graphs(data: Any) -> None:
    try:
        graph = TaskGraph.from_dict(data)
    except GraphError:
        return
    try:
        domain_spec(graph)
    except RagvizError:
        pass


@FUZZ
@given(st.one_of(csv_tables(), st.binary(max_size=300)), st.sampled_from([None, 50]))
def test_load_table_raises_only_data_errors(data: bytes, max_bytes: int | None) -> None:
    try:
        table = load_table(data, max_bytes=max_bytes)
    except DataError:
        return
    assert list(table.columns[:2]) == ["task", "target"] and len(table) >= 2


@FUZZ
@given(st.one_of(broken_checkpoints(), st.binary(max_size=200)))
def test_load_checkpoint_raises_only_checkpoint_errors(data: bytes) -> None:
    try:
        ckpt = load_checkpoint(data)
    except CheckpointError:
        return
    assert ckpt.project.graph.number_of_tasks() > 0  # whatever loads is a whole, usable project


@FUZZ
@given(st.one_of(broken_checkpoints(), st.binary(max_size=200)))
def test_gallery_summary_never_raises(data: bytes) -> None:
    summary = summarize_bytes(data, "upload.safetensors", "upload")
    assert summary.error is None or isinstance(summary.error, str)


# ------------------------------------------------------------------------------------------- graph files
GRAPHML_PARTS = st.sampled_from([
    '<?xml version="1.0"?>', "<graphml>", '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    '<key id="d0" for="node" attr.name="family" attr.type="string"/>', '<graph edgedefault="directed">',
    '<graph edgedefault="undirected">', '<node id="a"/>', '<node id="b"><data key="d0">moons</data></node>',
    '<edge source="a" target="b"/>', '<edge source="a" target="zz"><data key="d1">near</data></edge>',
    "</graph>", "</graphml>", "<!DOCTYPE graphml>", '<!ENTITY x "y">', "&x;", "<data>", "]]>", "\x00",
])
ZIP_NAMES = st.sampled_from(["graph.json", "g.graphml", "tasks.csv", "edges.csv", "../evil.json", "a/b.json",
                             "readme.txt", ""])


@st.composite
def graph_files(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["json", "graphml", "csv", "zip", "bytes"]))
    if kind == "json":
        value = draw(st.one_of(mutated_json(GOOD_GRAPH), GRAPH_DICTS))
        return json.dumps(value).encode(), draw(st.sampled_from(["g.json", "G.JSON", "pasted.json"]))
    if kind == "graphml":
        return "".join(draw(st.lists(GRAPHML_PARTS, max_size=12))).encode(), "g.graphml"
    if kind == "csv":
        return draw(csv_tables()), "g.csv"
    if kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in draw(st.lists(ZIP_NAMES, max_size=3, unique=True)):
                if name:
                    archive.writestr(name, draw(st.binary(max_size=60)) if draw(st.booleans())
                                     else json.dumps(draw(mutated_json(GOOD_GRAPH))).encode())
        return buffer.getvalue(), "g.zip"
    return draw(st.binary(max_size=200)), draw(st.sampled_from(["g.json", "g.graphml", "g.csv", "g.zip", "g",
                                                                "g.exe", ""]))


@FUZZ
@given(graph_files())
def test_import_graph_raises_only_ragviz_errors(file: tuple[bytes, str]) -> None:
    data, name = file
    try:
        graph = import_graph(data, name)
    except RagvizError:
        return
    assert isinstance(graph, TaskGraph)
