"""Regenerate the bad-input corpus: ``python tests/bad_inputs/make_corpus.py``.

The corpus is committed so every test run reads the same real files a stranger could
upload; this script documents how each one was made (the binary ones cannot be written
by hand). Every file is small: the whole folder stays well under 1 MB.

Folders: ``graphs/`` (task-graph files for ``import_graph``), ``tables/`` (data tables
for ``load_table``), ``checkpoints/`` (for ``load_checkpoint``), ``links/`` (view links' text,
for ``read_link`` and ``build_view``), ``control/`` (good files
of each kind, so a test can show that the corruption, not the base file, is refused).
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The environment variable the pickle payloads would set if anything ever unpickled them.
PWNED_VAR = "RAGVIZ_CORPUS_PICKLE_RAN"
CREATED = "2025-01-01T00:00:00+00:00"


def write(rel: str, data: bytes | str) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


# ------------------------------------------------------------------------------ graphs
def good_graph() -> dict[str, Any]:
    """Three rotated-moons tasks in a ring: the base every bad graph file mutates."""
    nodes = [{"id": f"moons {a}", "family": "moons", "params": {"rotate": float(a), "noise": 0.1},
              "train_size": 20, "test_size": 20, "seed": i, "pos": [float(i), 0.0]}
             for i, a in enumerate((0, 120, 240))]
    edges = [{"source": "moons 0", "target": "moons 120", "key": "near", "weight": 1.0},
             {"source": "moons 120", "target": "moons 240", "key": "near", "weight": 1.0}]
    return {"schema": "ragviz.taskgraph", "version": 1,
            "relations": [{"name": "near", "directed": False, "color": "#1f77b4"}],
            "graph": {"directed": True, "multigraph": True, "graph": {}, "nodes": nodes, "edges": edges}}


def mutated(change: Callable[[dict[str, Any]], None],
            base: Callable[[], dict[str, Any]] = good_graph) -> str:
    doc = copy.deepcopy(base())
    change(doc)
    return json.dumps(doc, indent=1)


def _nodes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["graph"]["nodes"]


def _edges(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["graph"]["edges"]


def make_graphs() -> None:
    write("control/good_graph.json", mutated(lambda d: None))
    write("graphs/not_json.json", "{this is not json")
    write("graphs/truncated.json", mutated(lambda d: None)[:150])
    write("graphs/top_level_array.json", "[1, 2, 3]")
    write("graphs/not_utf8.json", '{"relations": [], "name": "caf\xe9"}'.encode("latin-1"))
    write("graphs/deep_nesting.json", "[" * 20_000 + "]" * 20_000)
    write("graphs/huge_integer.json", mutated(lambda d: None).replace('"train_size": 20', '"train_size": ' + "9" * 5000,
                                                                       1))
    write("graphs/wrong_schema.json", mutated(lambda d: d.update(schema="someone.else")))
    write("graphs/future_schema_version.json", mutated(lambda d: d.update(version=7)))
    write("graphs/no_schema.json", mutated(lambda d: d.pop("schema")))
    write("graphs/unknown_family.json", mutated(lambda d: _nodes(d)[0].update(family="lasagna")))
    write("graphs/family_is_a_list.json", mutated(lambda d: _nodes(d)[0].update(family=["moons"])))
    write("graphs/unknown_relation.json", mutated(lambda d: _edges(d)[0].update(key="cousin")))
    write("graphs/relation_is_an_object.json", mutated(lambda d: _edges(d)[0].update(key={"name": "near"})))
    write("graphs/duplicate_task.json", mutated(lambda d: _nodes(d).append(dict(_nodes(d)[0]))))
    write("graphs/duplicate_edge.json", mutated(lambda d: _edges(d).append(dict(_edges(d)[0]))))
    write("graphs/reversed_undirected_edge.json", mutated(lambda d: _edges(d).append(
        {"source": "moons 120", "target": "moons 0", "key": "near"})))
    write("graphs/self_loop.json", mutated(lambda d: _edges(d).append(
        {"source": "moons 0", "target": "moons 0", "key": "near"})))
    write("graphs/edge_to_missing_task.json", mutated(lambda d: _edges(d).append(
        {"source": "moons 0", "target": "ghost", "key": "near"})))
    write("graphs/nan_train_size.json", mutated(lambda d: _nodes(d)[0].update(train_size=float("nan"))))
    write("graphs/negative_test_size.json", mutated(lambda d: _nodes(d)[1].update(test_size=-5)))
    write("graphs/text_seed.json", mutated(lambda d: _nodes(d)[1].update(seed="lucky")))
    write("graphs/infinite_weight.json", mutated(lambda d: _edges(d)[0].update(weight=float("inf"))))
    write("graphs/mixed_domains.json", mutated(lambda d: _nodes(d)[2].update(family="sine", params={})))
    write("graphs/bad_colour.json", mutated(lambda d: d["relations"][0].update(color="javascript:alert(1)")))
    write("graphs/duplicate_relation.json", mutated(lambda d: d["relations"].append(dict(d["relations"][0]))))
    write("graphs/control_characters_in_name.json", mutated(lambda d: _nodes(d)[0].update(id="evil\x1b[2Jname")))
    write("graphs/name_too_long.json", mutated(lambda d: _nodes(d)[0].update(id="x" * 500)))
    write("graphs/node_without_id.json", mutated(lambda d: _nodes(d)[0].pop("id")))
    write("graphs/params_not_an_object.json", mutated(lambda d: _nodes(d)[0].update(params=[1, 2])))
    write("graphs/nested_param.json", mutated(lambda d: _nodes(d)[0]["params"].update(noise={"a": 1})))
    # Accepted as a graph, refused when its data is made: blobs allow 2 to 6 classes.
    write("graphs/too_many_classes.json", mutated(lambda d: [n.update(family="blobs", params={"n_classes": 7})
                                                             for n in _nodes(d)]))
    write("graphs/every_task_zero_shot.json", mutated(lambda d: [n.update(train_size=0) for n in _nodes(d)]))


def make_node_link() -> None:
    """networkx's own saves (``json.dumps(nx.node_link_data(G))``) that are not task graphs, and
    files that would import as an empty graph."""
    import networkx as nx

    plain = nx.path_graph(4)  # no families, no relations: the most common networkx file
    write("graphs/networkx_plain_edges.json", json.dumps(nx.node_link_data(plain, edges="edges")))
    write("graphs/networkx_plain_links.json", json.dumps(nx.node_link_data(plain, edges="links")))
    families = nx.path_graph(3)
    nx.set_node_attributes(families, "moons", "family")
    write("graphs/networkx_edges_without_relation.json", json.dumps(nx.node_link_data(families, edges="edges")))
    write("graphs/networkx_no_nodes.json", json.dumps(nx.node_link_data(nx.Graph(), edges="edges")))
    write("graphs/graph_without_nodes.json", json.dumps({"relations": [], "graph": {}}))
    write("graphs/empty_task_graph.json", mutated(lambda d: d["graph"].update(nodes=[], edges=[])))


# ------------------------------------------------------------------------------ graphml
GRAPHML_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE graphml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="family" for="node" attr.name="family" attr.type="string"/>
  <graph edgedefault="directed">
    <node id="&lol9;"><data key="family">moons</data></node>
  </graph>
</graphml>
"""

XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE graphml [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="family" for="node" attr.name="family" attr.type="string"/>
  <graph edgedefault="directed">
    <node id="&secret;"><data key="family">moons</data></node>
  </graph>
</graphml>
"""

XXE_PARAMETER = """<?xml version="1.0"?>
<!DOCTYPE graphml [
  <!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">
  %remote;
]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <graph edgedefault="directed"/>
</graphml>
"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE graphml SYSTEM "http://127.0.0.1:9/graphml.dtd">
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <graph edgedefault="directed"/>
</graphml>
"""

QUADRATIC_BLOWUP = ('<?xml version="1.0"?>\n<!DOCTYPE graphml [<!ENTITY a "' + "x" * 5000 + '">]>\n'
                    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">'
                    '<node id="n"><data key="d0">' + "&a;" * 2000 + "</data></node></graph></graphml>\n")


def _changed(text: str, old: str, new: str) -> str:
    """``text`` with the first ``old`` replaced; fails loudly if the base file no longer has it."""
    if old not in text:
        raise ValueError(f"{old!r} not found: update make_corpus.py for the new export format")
    return text.replace(old, new, 1)


def make_graphml() -> None:
    from ragviz.graph.io import export_graph
    from ragviz.graph.task_graph import TaskGraph

    good = export_graph(TaskGraph.from_dict(good_graph()), "graphml").decode()
    write("control/good_graph.graphml", good)
    write("graphs/graphml_unknown_family.graphml", _changed(good, ">moons<", ">lasagna<"))
    write("graphs/graphml_params_not_json.graphml", _changed(good, '{"rotate": 0.0', "{rotate: 0.0"))
    write("graphs/graphml_no_schema.graphml", _changed(good, "ragviz.taskgraph", "other.schema"))
    write("graphs/billion_laughs.graphml", BILLION_LAUGHS)
    write("graphs/xxe_local_file.graphml", XXE_FILE)
    write("graphs/xxe_parameter_entity.graphml", XXE_PARAMETER)
    write("graphs/external_dtd.graphml", EXTERNAL_DTD)
    write("graphs/quadratic_blowup.graphml", QUADRATIC_BLOWUP)
    write("graphs/malformed.graphml", GRAPHML_HEAD + '  <graph edgedefault="directed">\n    <node id="a">\n')
    write("graphs/not_graphml.graphml", '<?xml version="1.0"?>\n<html><body>hello</body></html>\n')
    write("graphs/binary_as_graphml.graphml", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))


# ------------------------------------------------------------------------------ zips
def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


NODES_CSV = ("name,family,train_size,test_size,seed,x,y,param:rotate\n"
             "moons 0,moons,20,20,0,0.0,0.0,0.0\nmoons 120,moons,20,20,1,1.0,0.0,120.0\n")
EDGES_CSV = "source,target,relation,weight,directed,color\nmoons 0,moons 120,near,1.0,false,#1f77b4\n"


def make_zips() -> None:
    write("control/good_graph.zip", _zip({"nodes.csv": NODES_CSV.encode(), "edges.csv": EDGES_CSV.encode()}))
    # 32 MB of blank lines after a valid table: about 30 kB packed, over the default 5 MB graph limit unpacked.
    write("graphs/zip_bomb.zip", _zip({"nodes.csv": NODES_CSV.encode() + b"\n" * 32_000_000}))
    # Members are read in memory by their base name, never extracted: a '../' path cannot escape.
    write("graphs/zip_path_traversal.zip", _zip({"../../../../tmp/ragviz_escape/nodes.csv": NODES_CSV.encode()}))
    write("graphs/zip_nothing_inside.zip", _zip({"readme.txt": b"no graph here"}))
    write("graphs/not_a_zip.zip", b"PK\x03\x04 this is not really a zip archive")
    write("graphs/zip_of_bad_csv.zip", _zip({"nodes.csv": b"name,family\nmoons 0,moons\n"}))
    bad_edges = EDGES_CSV + "moons 0,ghost,near,1.0,,\n"
    write("graphs/zip_edge_to_missing_task.zip",
          _zip({"nodes.csv": NODES_CSV.encode(), "edges.csv": bad_edges.encode()}))


def make_graph_csv() -> None:
    write("control/good_nodes.csv", NODES_CSV)
    write("graphs/nodes_missing_columns.csv", "name,family\nmoons 0,moons\n")
    write("graphs/nodes_unknown_column.csv", _changed(NODES_CSV, "param:rotate", "rotate"))
    write("graphs/nodes_ragged_row.csv", NODES_CSV + "moons 240,moons,20,20\n")
    write("graphs/nodes_duplicate_column.csv", _changed(NODES_CSV, ",y,", ",x,"))
    write("graphs/nodes_text_train_size.csv", _changed(NODES_CSV, "moons,20,20,1", "moons,twenty,20,1"))
    write("graphs/nodes_only_x.csv", _changed(NODES_CSV, ",x,y,", ",x,param:y,"))
    write("graphs/nodes_duplicate_task.csv", NODES_CSV + "moons 0,moons,20,20,2,2.0,0.0,240.0\n")
    write("graphs/nodes_unknown_family.csv", _changed(NODES_CSV, "moons 120,moons", "moons 120,lasagna"))
    write("graphs/nodes_header_only.csv", "")


# ------------------------------------------------------------------------------ tables
TABLES: dict[str, str] = {
    "control/good_table.csv": "task,target,x1,x2\na,0,0.1,1.0\na,1,0.9,0.2\nb,0,0.3,0.8\nb,1,0.7,0.1\n",
    "tables/nan_in_feature.csv": "task,target,x1,x2\na,0,0.1,1.0\na,1,NaN,0.2\nb,0,0.3,0.8\nb,1,0.7,0.1\n",
    "tables/empty_cell_in_feature.csv": "task,target,x1,x2\na,0,0.1,1.0\na,1,,0.2\nb,0,0.3,0.8\nb,1,0.7,0.1\n",
    "tables/inf_in_target.csv": "task,target,x1\na,0,0.1\na,inf,0.9\nb,0,0.3\nb,1,0.7\n",
    "tables/minus_inf_in_feature.csv": "task,target,x1\na,0,0.1\na,1,-inf\nb,0,0.3\nb,1,0.7\n",
    "tables/text_in_feature.csv": "task,target,x1\na,0,0.1\na,1,zero point nine\nb,0,0.3\nb,1,0.7\n",
    "tables/text_in_target.csv": "task,target,x1\na,cat,0.1\na,dog,0.9\nb,cat,0.3\nb,dog,0.7\n",
    "tables/number_too_large.csv": "task,target,x1\na,0," + "9" * 400 + "\na,1,0.9\nb,0,0.3\nb,1,0.7\n",
    "tables/missing_target_column.csv": "task,label,x1\na,0,0.1\na,1,0.9\n",
    "tables/missing_task_column.csv": "name,target,x1\na,0,0.1\na,1,0.9\n",
    "tables/no_feature_columns.csv": "task,target\na,0\na,1\n",
    "tables/task_with_one_row.csv": "task,target,x1\na,0,0.1\na,1,0.9\nlonely,1,0.5\n",
    "tables/blank_task_name.csv": "task,target,x1\na,0,0.1\n,1,0.9\na,1,0.5\n",
    "tables/header_only.csv": "task,target,x1\n",
    "tables/empty.csv": "",
    "tables/only_whitespace.csv": "   \n\n  \n",
    "tables/ragged_rows.csv": "task,target,x1\na,0,0.1\na,1,0.9,7,8\nb,0,0.3\n",
    "tables/unclosed_quote.csv": 'task,target,x1\n"a,0,0.1\na,1,0.9\n',
    "tables/duplicate_column.csv": "task,target,x1, x1\na,0,0.1,1\na,1,0.9,2\n",
    "tables/task_column_twice.csv": "task,target,x1\na,0,0.1\na,1,0.9\n",  # used with target_column="task"
    # Handled in a documented way rather than refused (see test_bad_inputs.py):
    "tables/one_class_task.csv": "task,target,x1\na,1,0.1\na,1,0.9\na,1,0.4\nb,0,0.3\nb,1,0.7\nb,0,0.2\n",
    "tables/too_many_classes.csv": "task,target,x1\n" + "".join(f"t,{k},{k / 10}\n" for k in range(60)),
    "tables/two_features.csv": "task,target,x1,x2\na,0,0.1,1.0\na,1,0.9,0.2\n",
    "tables/three_features.csv": "task,target,x1,x2,x3\nb,0,0.1,1.0,3\nb,1,0.9,0.2,4\n",
}


def make_tables() -> None:
    for rel, text in TABLES.items():
        write(rel, text)
    write("tables/not_utf8.csv", "task,target,x1\ncaf\xe9,0,0.1\ncaf\xe9,1,0.9\n".encode("latin-1"))
    write("tables/binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


# ------------------------------------------------------------------------------ checkpoints
def pickle_payload() -> bytes:
    """A protocol-4 pickle that would call ``os.environ.setdefault(PWNED_VAR, "1")`` if loaded.

    Harmless, but observable: a test asserts the variable is still unset after the
    loader refused the file, proving it was never unpickled.
    """
    def text(s: str) -> bytes:
        raw = s.encode()
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw

    body = (text("os") + text("environ.setdefault") + pickle.STACK_GLOBAL + text(PWNED_VAR) + text("1")
            + pickle.TUPLE2 + pickle.REDUCE + pickle.STOP)
    return pickle.PROTO + b"\x04" + body


def _header(data: bytes) -> tuple[dict[str, Any], bytes]:
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + size]), data[8 + size:]


def _with_header(header: dict[str, Any], body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def make_checkpoints() -> None:
    import safetensors.torch
    import torch

    from ragviz.graph.task_graph import TaskGraph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.storage.checkpoint import checkpoint_bytes
    from ragviz.training.project import Project
    from ragviz.training.train import train

    torch.set_num_threads(1)
    project = Project(TaskGraph.from_dict(good_graph()), ModelConfig(embed_dim=4, hidden=8, layers=1),
                      TrainConfig(steps=2, eval_every=1, device="cpu"), name="corpus base")
    result = train(project.graph, project.model_config, project.train_config)
    good = checkpoint_bytes(project, result.model, result.history, {"created": CREATED})
    write("control/good.safetensors", good)

    def rewrite(change: Callable[[dict[str, torch.Tensor], dict[str, str]], None]) -> bytes:
        tensors = dict(safetensors.torch.load(good))
        meta = dict(_header(good)[0]["__metadata__"])
        change(tensors, meta)
        return safetensors.torch.save(tensors, metadata=meta)

    def meta_json(key: str, change: Callable[[Any], Any]) -> bytes:
        def edit(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
            meta[key] = json.dumps(change(json.loads(meta[key])))
        return rewrite(edit)

    def raw_header(change: Callable[[dict[str, Any]], None]) -> bytes:
        header, body = _header(good)
        change(header)
        return _with_header(header, body)

    payload = pickle_payload()
    zipped = _zip({"archive/data.pkl": payload, "archive/version": b"3\n"}, zipfile.ZIP_STORED)
    write("checkpoints/pickle.pt", payload)
    write("checkpoints/pickle.pth", payload)
    write("checkpoints/pickle_renamed.safetensors", payload)
    write("checkpoints/torch_zip_renamed.safetensors", zipped)
    write("checkpoints/protocol0_pickle.safetensors", b"cos\nenviron\n(S'" + PWNED_VAR.encode() + b"'\nS'1'\ntR.")
    write("checkpoints/empty.safetensors", b"")
    write("checkpoints/truncated_header.safetensors", good[:40])
    write("checkpoints/truncated_tensors.safetensors", good[: len(good) - 100])
    write("checkpoints/huge_header_length.safetensors", struct.pack("<Q", 2**62) + b"{}")
    write("checkpoints/header_not_json.safetensors", struct.pack("<Q", 12) + b"{not json!!}")
    write("checkpoints/header_deeply_nested.safetensors", _with_header_raw(b"[" * 10_000 + b"]" * 10_000))
    write("checkpoints/header_not_an_object.safetensors", _with_header_raw(b"[1, 2, 3]"))
    write("checkpoints/plain_safetensors.safetensors", safetensors.torch.save({"w": torch.zeros(2)}))
    write("checkpoints/future_version.safetensors", rewrite(lambda t, m: m.update(format_version="99")))
    write("checkpoints/version_is_a_list.safetensors",
          raw_header(lambda h: h["__metadata__"].update(format_version=[1])))
    write("checkpoints/missing_tensor.safetensors", rewrite(lambda t, m: t.pop("model.unknown_task")))
    write("checkpoints/extra_tensor.safetensors", rewrite(lambda t, m: t.update({"model.backdoor": torch.ones(3)})))
    write("checkpoints/wrong_shape.safetensors",
          rewrite(lambda t, m: t.update({"model.unknown_task": torch.zeros(7)})))
    write("checkpoints/wrong_dtype.safetensors",
          rewrite(lambda t, m: t.update({"model.unknown_task": t["model.unknown_task"].double()})))
    write("checkpoints/nan_weights.safetensors", rewrite(
        lambda t, m: t.update({"model.unknown_task": torch.full_like(t["model.unknown_task"], float("nan"))})))
    write("checkpoints/inf_weights.safetensors", rewrite(
        lambda t, m: t.update({"model.task_embedding": torch.full_like(t["model.task_embedding"], float("inf"))})))
    write("checkpoints/overlapping_offsets.safetensors", raw_header(_overlap))
    write("checkpoints/offsets_past_end.safetensors", raw_header(_past_end))
    write("checkpoints/project_not_json.safetensors", rewrite(lambda t, m: m.update(project="{oops")))
    write("checkpoints/project_missing.safetensors", rewrite(lambda t, m: m.pop("project")))
    write("checkpoints/layers_out_of_range.safetensors", meta_json(
        "project", lambda p: {**p, "model_config": {**p["model_config"], "layers": 12}}))
    write("checkpoints/steps_too_large_for_float.safetensors", meta_json(
        "project", lambda p: {**p, "train_config": {**p["train_config"], "steps": 10**400}}))
    write("checkpoints/spec_does_not_match_graph.safetensors", meta_json(
        "spec", lambda s: {**s, "input_dim": 50_000, "n_outputs": 900}))
    write("checkpoints/spec_infinite.safetensors", rewrite(
        lambda t, m: m.update(spec=m["spec"].replace('"input_dim": 2', '"input_dim": 1e999'))))
    write("checkpoints/vocab_renamed_tasks.safetensors", meta_json(
        "vocab", lambda v: {**v, "tasks": [f"impostor {i}" for i in range(len(v["tasks"]))]}))
    write("checkpoints/history_length_mismatch.safetensors", meta_json(
        "history", lambda h: {**h, "test_metric": h["test_metric"][:-1]}))
    write("checkpoints/history_steps_not_a_list.safetensors", meta_json("history", lambda h: {**h, "steps": 5}))
    write("checkpoints/history_metric_text.safetensors", meta_json(
        "history", lambda h: {**h, "test_metric": [["high"] * len(r) for r in h["test_metric"]]}))
    write("checkpoints/snapshots_wrong_shape.safetensors",
          rewrite(lambda t, m: t.update(snapshots=torch.zeros(len(result.history.snapshots), 5))))
    write("checkpoints/snapshots_nan.safetensors",
          rewrite(lambda t, m: t.update(snapshots=torch.full_like(t["snapshots"], float("nan")))))
    table_meta = json.dumps({"data": {"columns": ["target", "x"], "tasks": ["a", "a"]}})
    write("checkpoints/table_with_nan.safetensors", rewrite(lambda t, m: (
        t.update({"table.data": torch.tensor([[0.0, float("nan")], [1.0, 2.0]], dtype=torch.float64)}),
        m.update(tables=table_meta))))
    write("checkpoints/table_missing_tensor.safetensors", rewrite(lambda t, m: m.update(tables=table_meta)))


def _with_header_raw(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def _overlap(header: dict[str, Any]) -> None:
    """Point a second tensor at the first one's bytes (safetensors forbids overlaps)."""
    names = sorted(k for k in header if k != "__metadata__")
    header[names[1]]["data_offsets"] = list(header[names[0]]["data_offsets"])


def _past_end(header: dict[str, Any]) -> None:
    name = next(k for k in header if k != "__metadata__")
    start, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [start, end + 10**9]


def make_budget() -> None:
    """Small files that declare far more work than a server's budget allows (ragviz.safety.limits)."""
    import safetensors.torch

    huge = [{"id": f"t{k}", "family": "moons", "train_size": 100_000, "test_size": 100_000} for k in range(50)]
    write("graphs/declares_too_many_points.json", mutated(lambda d: d["graph"].update(nodes=huge, edges=[])))
    good = (HERE / "control" / "good.safetensors").read_bytes()
    tensors = dict(safetensors.torch.load(good))
    meta = dict(_header(good)[0]["__metadata__"])
    project = json.loads(meta["project"])
    project["task_graph"]["graph"]["nodes"] = [
        {"id": f"z{k}", "family": "moons", "train_size": 0, "test_size": 100_000} for k in range(60)]
    project["task_graph"]["graph"]["edges"] = []
    meta["project"] = json.dumps(project)
    write("checkpoints/declares_too_many_points.safetensors", safetensors.torch.save(tensors, metadata=meta))


def make_bad_names() -> None:
    """Names that look like another or cannot be shown: each is refused, naming the character."""
    write("graphs/zero_width_twin.json", mutated(lambda d: _nodes(d).append(
        {**_nodes(d)[0], "id": "moons 0\u200b", "pos": [0.0, 1.0]})))
    write("graphs/bidi_override_in_name.json", mutated(lambda d: _nodes(d)[2].update(id="moons \u202e042")))
    write("graphs/bidi_isolate_in_relation.json", mutated(lambda d: (
        d["relations"].append({"name": "\u2066near\u2069", "directed": False}))))
    write("graphs/lone_surrogate_in_name.json", mutated(lambda d: _nodes(d)[0].update(id="moons \ud800")))
    write("graphs/byte_order_mark_in_name.json", mutated(lambda d: _nodes(d)[1].update(id="\ufeffmoons 120")))
    write("graphs/control_character_in_parameter_name.json",
          mutated(lambda d: _nodes(d)[0].update(params={"noise\x07": 0.1})))
    write("graphs/relation_name_of_20000_characters.json",
          mutated(lambda d: d["relations"].append({"name": "n" * 20_000})))


def make_bad_name_checkpoints(good: bytes) -> None:
    """Checkpoints whose project or task names are refused (the names come from a stranger's file)."""
    def project_meta(change: Callable[[dict[str, Any]], None]) -> bytes:
        header, body = _header(good)
        project = json.loads(header["__metadata__"]["project"])
        change(project)
        header["__metadata__"]["project"] = json.dumps(project)
        return _with_header(header, body)

    write("checkpoints/project_name_too_long.safetensors", project_meta(lambda p: p.update(name="p" * 5000)))
    write("checkpoints/project_name_right_to_left_override.safetensors",
          project_meta(lambda p: p.update(name="report\u202egpj.exe")))
    write("checkpoints/task_name_zero_width.safetensors", project_meta(
        lambda p: p["task_graph"]["graph"]["nodes"][0].update(id="moons 0\u200b")))


def make_issue_23() -> None:
    """The red team's budget attacks (issue 23), in files small enough for the corpus."""
    import safetensors.torch

    # 1,500 declared relation types: refused at the 1,001st row, before any task or relation is built
    # (the red team's file declared 100,000 and took a replica from 0.8 to 3.5 GB on Train).
    relations = "".join(f",,r{k},,false,#1f77b4\n" for k in range(1_500))
    write("graphs/zip_declares_1500_relations.zip", _zip({"nodes.csv": NODES_CSV.encode(),
                                                         "edges.csv": (EDGES_CSV + relations).encode()}))
    # A wide header with one name twice: the duplicate check is linear (it was quadratic: 0.55 MB, 72 s).
    columns = ",".join(f"param:p{k}" for k in range(3_000))
    write("graphs/nodes_wide_header_duplicate.csv", f"name,family,train_size,test_size,seed,{columns},param:p7\n")
    # A checkpoint whose stored project declares 1,001 relation types: refused from its metadata.
    good = (HERE / "control" / "good.safetensors").read_bytes()
    tensors = dict(safetensors.torch.load(good))
    meta = dict(_header(good)[0]["__metadata__"])
    project = json.loads(meta["project"])
    project["task_graph"]["relations"] += [{"name": f"r{k}"} for k in range(1_001)]
    meta["project"] = json.dumps(project, separators=(",", ":"))
    write("checkpoints/declares_too_many_relations.safetensors", safetensors.torch.save(tensors, metadata=meta))
    # A lone surrogate in a parameter's text cannot be sent to a browser: refused at the loader.
    write("graphs/lone_surrogate_in_parameter_value.json",
          mutated(lambda d: _nodes(d)[0]["params"].update(note="x\ud800")))
    project = json.loads(dict(_header(good)[0]["__metadata__"])["project"])
    project["task_graph"]["graph"]["nodes"][0].setdefault("params", {})["note"] = "x\ud800"
    meta["project"] = json.dumps(project)
    write("checkpoints/lone_surrogate_in_parameter_value.safetensors",
          safetensors.torch.save(tensors, metadata=meta))


# ------------------------------------------------------------------------------ drawing and speech (issue 22)
def drawing_graph() -> dict[str, Any]:
    """The ring as drawing tasks ("draw digit d rotated by θ", family ``digits_drawn``), θ = 0, 120, 240."""
    return _renamed(good_graph(), [{"id": f"draw {a}", "family": "digits_drawn", "params": {"rotate": float(a)}}
                                   for a in (0, 120, 240)])


def speech_graph() -> dict[str, Any]:
    """The ring as speech tasks: recognise the word each of three speaker variants says."""
    return _renamed(good_graph(), [{"id": f"words {v}", "family": "speech_words", "params": {"speaker": v}}
                                   for v in ("us-mid", "gb-mid", "sc-mid")])


def _renamed(doc: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """``doc`` with each node updated by its change, the edges following the new names."""
    names = {}
    for node, change in zip(_nodes(doc), changes, strict=True):
        names[node["id"]] = change["id"]
        node.update(change)
    for edge in _edges(doc):
        edge.update(source=names[edge["source"]], target=names[edge["target"]])
    return doc


def _pack_link(payload: dict[str, Any]) -> str:
    """A view link's text as the app writes it (zlib JSON in base64url), whatever the payload holds."""
    import base64
    import zlib

    raw = json.dumps({"v": 1, **payload}, separators=(",", ":")).encode()  # NaN written as a hostile link may
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def make_drawing_and_speech() -> None:
    """Graph files, node tables, view links and checkpoints of the drawing and speech domains with
    parameters of the wrong type or out of range, and a drawing checkpoint whose output size is wrong."""
    import safetensors.torch
    import torch

    from ragviz.graph.task_graph import TaskGraph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.storage.checkpoint import checkpoint_bytes
    from ragviz.training.project import Project
    from ragviz.training.train import train

    def drawn(change: Callable[[dict[str, Any]], None]) -> str:
        return mutated(change, drawing_graph)

    def spoken(change: Callable[[dict[str, Any]], None]) -> str:
        return mutated(change, speech_graph)

    write("graphs/drawing_rotate_is_text.json", drawn(lambda d: _nodes(d)[1]["params"].update(rotate="ninety")))
    write("graphs/drawing_rotate_is_true.json", drawn(lambda d: _nodes(d)[0]["params"].update(rotate=True)))
    write("graphs/drawing_rotate_infinite.json", drawn(lambda d: None).replace('"rotate": 240.0', '"rotate": 1e999'))
    write("graphs/drawing_huge_sizes.json", drawn(lambda d: _nodes(d)[2].update(train_size=10**9)))
    write("graphs/drawing_mixed_with_digits.json", drawn(lambda d: _nodes(d)[2].update(family="digits_rotated")))
    write("graphs/speech_unknown_speaker.json", spoken(lambda d: _nodes(d)[1]["params"].update(speaker="martian")))
    write("graphs/speech_speaker_is_a_number.json", spoken(lambda d: _nodes(d)[0]["params"].update(speaker=3)))
    write("graphs/speech_huge_sizes.json", spoken(lambda d: _nodes(d)[0].update(test_size=5_000_000)))
    write("graphs/drawing_nodes_rotate_text.csv",
          "name,family,train_size,test_size,seed,x,y,param:rotate\n"
          "draw 0,digits_drawn,20,20,0,0.0,0.0,0\ndraw 90,digits_drawn,20,20,1,1.0,0.0,quarter turn\n")
    write("graphs/speech_nodes_unknown_speaker.csv",
          "name,family,train_size,test_size,seed,x,y,param:speaker\n"
          "us,speech_words,20,20,0,0.0,0.0,us-mid\nalien,speech_words,20,20,1,1.0,0.0,zz-huge\n")
    links = {
        "drawing_rotate_is_text": drawn(lambda d: _nodes(d)[0]["params"].update(rotate="left")),
        "drawing_rotate_nan": drawn(lambda d: _nodes(d)[0]["params"].update(rotate=float("nan"))),
        "drawing_huge_sizes": drawn(lambda d: _nodes(d)[0].update(train_size=1_000_000)),
        "speech_unknown_speaker": spoken(lambda d: _nodes(d)[2]["params"].update(speaker="robot")),
        "speech_speaker_is_a_list": spoken(lambda d: _nodes(d)[2]["params"].update(speaker=["us-mid"])),
    }
    for name, text in links.items():
        write(f"links/{name}.txt", _pack_link({"n": name, "g": json.loads(text)}))
    write("control/good_drawing_link.txt", _pack_link({"n": "drawing", "g": drawing_graph()}))

    torch.set_num_threads(1)

    def trained(doc: dict[str, Any], name: str) -> bytes:
        project = Project(TaskGraph.from_dict(doc), ModelConfig(embed_dim=4, hidden=8, layers=1),
                          TrainConfig(steps=2, eval_every=1, device="cpu"), name=name)
        result = train(project.graph, project.model_config, project.train_config)
        return checkpoint_bytes(project, result.model, result.history, {"created": CREATED})

    drawing = trained(drawing_graph(), "corpus drawing")
    write("control/good_drawing.safetensors", drawing)
    speech = trained(speech_graph(), "corpus speech")

    def rewrite(good: bytes, change: Callable[[dict[str, torch.Tensor], dict[str, str]], None]) -> bytes:
        tensors = dict(safetensors.torch.load(good))
        meta = dict(_header(good)[0]["__metadata__"])
        change(tensors, meta)
        return safetensors.torch.save(tensors, metadata=meta)

    def ten_outputs(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
        """The generator's output cut to 10 numbers, as if it were a digit classifier's, not 64 pixels."""
        tensors["model.gen_weight"] = tensors["model.gen_weight"][:, :10].contiguous()
        for key in ("model.gen_base.weight", "model.gen_base.bias", "model.gen_bias.weight"):
            tensors[key] = tensors[key][:10].contiguous()

    def project_node(key: str, value: Any) -> Callable[[dict[str, torch.Tensor], dict[str, str]], None]:
        def change(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
            project = json.loads(meta["project"])
            project["task_graph"]["graph"]["nodes"][1]["params"][key] = value
            meta["project"] = json.dumps(project)
        return change

    write("checkpoints/drawing_output_dims_wrong.safetensors", rewrite(drawing, lambda t, m: (
        ten_outputs(t, m), m.update(spec=json.dumps({**json.loads(m["spec"]), "n_outputs": 10})))))
    write("checkpoints/drawing_generator_wrong_shape.safetensors", rewrite(drawing, ten_outputs))
    write("checkpoints/drawing_rotate_is_text.safetensors", rewrite(drawing, project_node("rotate", "sideways")))
    write("checkpoints/drawing_as_classification.safetensors", rewrite(drawing, lambda t, m: m.update(
        spec=json.dumps({**json.loads(m["spec"]), "kind": "classification"}))))
    write("checkpoints/speech_unknown_speaker.safetensors", rewrite(speech, project_node("speaker", "martian")))
    write("checkpoints/speech_speaker_is_a_number.safetensors", rewrite(speech, project_node("speaker", 7)))


def main() -> None:
    make_graphs()
    make_node_link()
    make_bad_names()
    make_graphml()
    make_zips()
    make_graph_csv()
    make_tables()
    make_checkpoints()
    make_budget()
    make_issue_23()
    make_bad_name_checkpoints((HERE / "control" / "good.safetensors").read_bytes())
    make_drawing_and_speech()
    files = [p for p in HERE.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {total / 1000:.0f} kB")


if __name__ == "__main__":
    main()
