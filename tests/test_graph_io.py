"""Import/export: every format round-trips losing nothing; every bad file is a clear GraphError."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragviz.graph.io import (
    SCHEMA_VERSION,
    export_graph,
    graph_from_csv,
    graph_from_graphml,
    graph_from_json,
    graph_to_csv,
    graph_to_graphml,
    graph_to_json,
    import_graph,
)
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, make_task
from ragviz.safety.errors import GraphError, RagvizError


def rich_graph() -> TaskGraph:
    """Two used relations (one directed), one unused; params of every type; no-position and zero-shot tasks."""
    g = TaskGraph([Relation("near"), Relation("teaches", directed=True, color="#D62728"),
                   Relation("unused", color="#000000")])
    g.add_task(make_task("moons 0°", "moons", {"rotate": 0.0, "noise": 0.25, "flip": True, "n": 3,
                                               "label": 'a, "quoted"\nline', "looks_bool": "true", "empty": ""},
                         40, 100, 7, (0.1, -2.5)))
    g.add_task(make_task("zero shot é", "circles", {}, 0, 50, 1, None))
    g.add_task(make_task("third", "xor", {"noise": 1e-300, "flip": False}, 3, 5, 4294967295, (1e10, 1 / 3)))
    g.add_task(make_task("fourth", "moons", {"rotate": -45.5}, 0, 10, 2, (0, 0)))
    g.add_edge("moons 0°", "zero shot é", "near", 0.5)
    g.add_edge("third", "moons 0°", "teaches", 2)
    g.add_edge("moons 0°", "third", "teaches")
    g.add_edge("fourth", "third", "near", 1e-3)
    return g


ROUND_TRIPS = {
    "json": lambda g: graph_from_json(graph_to_json(g)),
    "graphml": lambda g: graph_from_graphml(graph_to_graphml(g)),
    "csv": lambda g: graph_from_csv(*graph_to_csv(g)),
}


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIPS))
def test_round_trip_loses_nothing(fmt):
    g = rich_graph()
    h = ROUND_TRIPS[fmt](g)
    assert h == g
    assert h.task_names() == g.task_names()
    assert list(h.relations) == ["near", "teaches", "unused"]
    assert h.relations["teaches"].directed and h.relations["teaches"].color == "#D62728"
    params = h.task("moons 0°").params
    assert params == g.task("moons 0°").params
    assert [type(params[k]) for k in ("rotate", "flip", "n", "label", "looks_bool")] == [float, bool, int, str, str]
    assert h.task("zero shot é").pos is None and h.task("zero shot é").zero_shot
    assert h.task("third").seed == 4294967295 and h.task("third").pos == (1e10, 1 / 3)
    assert [(e.source, e.target, e.relation, e.weight) for e in h.edges()] == \
        [(e.source, e.target, e.relation, e.weight) for e in g.edges()]


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIPS))
def test_round_trip_of_empty_graph(fmt):
    assert ROUND_TRIPS[fmt](TaskGraph()) == TaskGraph()


@pytest.mark.parametrize(("fmt", "filename"), [("json", "g.json"), ("graphml", "g.graphml"), ("graphml", "G.XML"),
                                               ("csv", "g.zip")])
def test_export_import_bytes(fmt, filename):
    g = rich_graph()
    data = export_graph(g, fmt)
    assert isinstance(data, bytes)
    assert import_graph(data, filename) == g
    assert export_graph(g, fmt) == data  # deterministic bytes, zip included


def test_csv_zip_holds_both_tables_and_json_has_header():
    with zipfile.ZipFile(io.BytesIO(export_graph(rich_graph(), "csv"))) as archive:
        assert sorted(archive.namelist()) == ["edges.csv", "nodes.csv"]
    doc = json.loads(graph_to_json(rich_graph()))
    assert doc["schema"] == "ragviz.taskgraph" and doc["version"] == SCHEMA_VERSION


def test_csv_nodes_alone_and_bare_dict_json():
    g = rich_graph()
    nodes, _ = graph_to_csv(g)
    alone = graph_from_csv(nodes, None)
    assert alone.task_names() == g.task_names() and alone.number_of_edges() == 0
    assert import_graph(nodes.encode(), "tasks.csv") == alone
    assert graph_from_json(json.dumps(g.to_dict())) == g  # a bare to_dict, as checkpoints hold it


def test_hand_written_csv_is_accepted():
    nodes = "name,family,train_size,test_size,seed,param:rotate,param:tag\na,moons,10,20,0,30,hello\nb,moons,0,20,1,,\n"
    edges = "source,target,relation\na,b,near\n"
    g = graph_from_csv(nodes, edges)
    assert g.task("a").params == {"rotate": 30, "tag": "hello"} and g.task("b").params == {}
    assert g.edges()[0].weight == 1.0 and not g.relations["near"].directed


NODES = "name,family,train_size,test_size,seed,x,y\na,moons,10,20,0,0,0\nb,moons,10,20,1,,\n"
GOOD_JSON = graph_to_json(rich_graph())


def _json(change) -> str:
    doc = json.loads(GOOD_JSON)
    change(doc)
    return json.dumps(doc)


BAD = [
    ("json", "{not json", "not valid JSON"),
    ("json", "[1, 2]", "JSON object"),
    ("json", _json(lambda d: d.update(schema="something.else")), "schema"),
    ("json", _json(lambda d: d.update(version=SCHEMA_VERSION + 1)), "newer"),
    ("json", _json(lambda d: d["graph"]["edges"][0].update(key="cousin")), "Unknown relation 'cousin'"),
    ("json", _json(lambda d: d["graph"]["edges"][0].update(target="ghost")), "no task named 'ghost'"),
    ("json", _json(lambda d: d["graph"]["nodes"].append(dict(d["graph"]["nodes"][0]))), "already exists"),
    ("json", _json(lambda d: d["graph"]["nodes"][1].update(family="sine")), "domain"),
    ("json", _json(lambda d: d["graph"]["nodes"][0].update(train_size="lots")), "train size"),
    ("json", _json(lambda d: d.pop("graph")), "graph"),
    ("json", b"\xff\xfe{ \x00", "UTF-8"),
    ("json", "[" * 50_000 + "]" * 50_000, "JSON"),
    ("csv", "name,family\na,moons\n", "missing the column"),
    ("csv", NODES.replace(",10,20,1", ",ten,20,1"), "train size"),
    ("csv", NODES + "a,moons,1,1,1,,\n", "line 4.*already exists"),
    ("csv", NODES + "s,sine,1,1,1,,\n", "domain"),
    ("csv", NODES.replace("seed,x,y", "seed,x,y,colour"), "unknown column.*param:"),
    ("csv", NODES + "c,moons,1,1\n", "cells"),
    ("csv", NODES + "c,moons,1,1,1,5,\n", "both x and y"),
    ("csv", "", "empty"),
    ("csv", b"\x00\x01\x02\xff\xfe", "UTF-8"),
    ("edges", "source,target,relation\na,ghost,near\n", "line 2.*no task named 'ghost'"),
    ("edges", "source,target\na,b\n", "missing the column.*relation"),
    ("edges", "source,target,relation,directed\na,b,r,true\nb,a,r,false\n", "directed and undirected"),
    ("edges", "source,target,relation,directed\na,b,r,maybe\n", "directed"),
    ("edges", "source,target,relation,weight\na,b,r,-1\n", "weight"),
    ("edges", "source,target,relation\na,,r\n", "source and a target"),
    ("edges", "source,target,relation\na,a,r\n", "itself"),
    ("graphml", "<graphml><graph>", "XML"),
    ("graphml", '<?xml version="1.0"?><html><body>hi</body></html>', "GraphML"),
    ("graphml", graph_to_graphml(rich_graph()).replace("ragviz.taskgraph", "other"), "schema"),
    ("graphml", graph_to_graphml(rich_graph()).replace('"rotate": 0.0', '"rotate": [0]'), "parameter 'rotate'"),
    ("graphml", graph_to_graphml(rich_graph()).replace('<data key="d4">{}</data>', '<data key="d4">{oops</data>'),
     "params.*not valid JSON"),
]


@pytest.mark.parametrize(("kind", "text", "match"), BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)])
def test_malformed_input_is_a_clear_graph_error(kind, text, match):
    with pytest.raises(GraphError, match=match):
        if kind == "json":
            graph_from_json(text)
        elif kind == "csv":
            graph_from_csv(text)
        elif kind == "edges":
            graph_from_csv(NODES, text)
        else:
            graph_from_graphml(text)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">
<node id="&lol4;"/></graph></graphml>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE graphml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">
<node id="&xxe;"/></graph></graphml>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_unsafe_graphml_is_refused(text):
    with pytest.raises(GraphError, match="DTD / entities are not allowed"):
        graph_from_graphml(text)
    with pytest.raises(GraphError, match="not allowed"):
        import_graph(text.encode(), "evil.graphml")


def test_import_refuses_oversize_and_unknown_types():
    data = export_graph(rich_graph(), "json")
    with pytest.raises(GraphError, match=r"limit"):
        import_graph(data, "g.json", max_bytes=100)
    with pytest.raises(GraphError, match="file type"):
        import_graph(data, "g.exe")
    with pytest.raises(GraphError, match="zip"):
        import_graph(b"PK\x03\x04 not a zip", "g.zip")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_variants():
    g = rich_graph()
    assert import_graph(_zip({"folder/graph.json": graph_to_json(g).encode()}), "g.zip") == g
    assert import_graph(_zip({"g.graphml": graph_to_graphml(g).encode()}), "g.zip") == g
    with pytest.raises(GraphError, match="no graph"):
        import_graph(_zip({"readme.txt": b"hi"}), "g.zip")
    with pytest.raises(GraphError, match="more than one graph"):
        import_graph(_zip({"a.json": b"{}", "b.json": b"{}"}), "g.zip")
    with pytest.raises(GraphError, match="unsafe path"):
        import_graph(_zip({"../evil.json": graph_to_json(g).encode()}), "g.zip")
    with pytest.raises(GraphError, match="too many files"):
        import_graph(_zip({f"f{i}.txt": b"" for i in range(60)}), "g.zip")
    bomb = _zip({"graph.json": b" " * 3_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(GraphError, match="limit"):
        import_graph(bomb, "g.zip", max_bytes=1_000_000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=300),
                      st.sampled_from([export_graph(rich_graph(), f) for f in ("json", "graphml", "csv")]).flatmap(
                          lambda b: st.integers(0, len(b)).map(lambda i: b[:i]))),
       name=st.sampled_from(["g.json", "g.graphml", "g.xml", "g.csv", "g.zip", "g", "g.txt"]))
def test_import_of_arbitrary_bytes_raises_only_ragviz_errors(data, name):
    try:
        graph = import_graph(data, name)
    except RagvizError:
        return
    assert isinstance(graph, TaskGraph)


# ------------------------------------------------------------------ plain networkx node-link data
def _networkx_ring(n: int = 4, directed: bool = False):
    import networkx as nx

    g = nx.cycle_graph(n, create_using=nx.DiGraph if directed else nx.Graph)
    for k in g:
        g.nodes[k].update(family="moons", rotate=90.0 * k, train_size=10 + k, seed=k, pos=(float(k), 0.0))
    nx.set_edge_attributes(g, "near", "relation")
    return g


@pytest.mark.parametrize("key", ["edges", "links"])  # networkx 3.4+ writes "edges", earlier versions "links"
def test_networkx_node_link_data_imports_as_tasks(key):
    import networkx as nx

    source = _networkx_ring(4)
    graph = import_graph(json.dumps(nx.node_link_data(source, edges=key)).encode(), "ring.json")
    assert graph.task_names() == ["0", "1", "2", "3"]
    assert [graph.task(str(k)).params for k in range(4)] == [{"rotate": 90.0 * k} for k in range(4)]
    tasks = [graph.task(str(k)) for k in range(4)]
    assert [(t.train_size, t.seed) for t in tasks] == [(10 + k, k) for k in range(4)]
    assert graph.task("2").pos == (2.0, 0.0)
    assert list(graph.relations) == ["near"] and not graph.relations["near"].directed
    assert sorted((e.source, e.target) for e in graph.edges()) == sorted((str(u), str(v)) for u, v in source.edges)


def test_directed_and_keyed_networkx_graphs_keep_direction_and_relation_names():
    import networkx as nx

    m = nx.MultiDiGraph()
    m.add_node("a", family="xor", params={"noise": 0.2})
    m.add_node("b", family="xor")
    m.add_edge("a", "b", key="teaches", weight=2.0)
    m.add_edge("b", "a", key="teaches")
    graph = graph_from_json(json.dumps(nx.node_link_data(m, edges="edges")))
    assert graph.relations["teaches"].directed and graph.task("a").params == {"noise": 0.2}
    assert [(e.source, e.target, e.relation, e.weight) for e in graph.edges()] == \
        [("a", "b", "teaches", 2.0), ("b", "a", "teaches", 1.0)]


def test_ragviz_exports_read_back_in_networkx():
    """The other way: the 'graph' part of a ragviz export is node-link data networkx itself reads."""
    import networkx as nx

    g = rich_graph()
    back = nx.node_link_graph(json.loads(graph_to_json(g))["graph"], edges="edges")
    assert sorted(back.nodes) == sorted(g.task_names())
    assert back.nodes["third"]["family"] == "xor" and back.number_of_edges() == g.number_of_edges()


def test_node_link_data_lacking_families_lists_the_nodes_and_what_they_need():
    import networkx as nx

    g = _networkx_ring(8)
    for k in (1, 2, 3, 4, 5, 6, 7):
        del g.nodes[k]["family"]
    with pytest.raises(GraphError) as err:
        import_graph(json.dumps(nx.node_link_data(g, edges="edges")).encode(), "ring.json")
    text = str(err.value)
    assert "7 of its 8 nodes have no 'family' attribute ('1', '2', '3', '4', '5' and 2 more)" in text
    assert "one of moons, circles" in text and "'params', 'train_size', 'test_size', 'seed' and 'pos'" in text


def test_node_link_edges_without_a_relation_are_refused_with_the_edges_named():
    import networkx as nx

    g = _networkx_ring(3)
    del g.edges[0, 1]["relation"]
    with pytest.raises(GraphError, match=r"1 of its 3 edges have no 'relation' attribute \('0 → 1'\)"):
        import_graph(json.dumps(nx.node_link_data(g, edges="edges")).encode(), "ring.json")


@pytest.mark.parametrize(("data", "name", "message"), [
    (b'{"directed": false, "graph": {}, "nodes": [], "edges": []}', "nx.json", "has no nodes"),
    (b'{"relations": [], "graph": {}}', "g.json", "'graph' has no 'nodes' list"),
    (graph_to_json(TaskGraph()).encode(), "g.json", "holds no tasks"),
    (graph_to_graphml(TaskGraph()).encode(), "g.graphml", "holds no tasks"),
])
def test_an_empty_graph_never_comes_from_an_import(data, name, message):
    with pytest.raises(GraphError, match=message):
        import_graph(data, name)


def test_csv_export_writes_formula_like_names_as_text_and_reads_them_back() -> None:
    """CSV injection: a name a spreadsheet would run (=, +, -, @ first) is exported with a leading quote."""
    names = ['=HYPERLINK("http://127.0.0.1:9/x","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "'quoted",
             "plain"]
    graph = TaskGraph([Relation("=rel", False, "#1f77b4"), Relation("@ok", True, "#d62728")])
    for k, name in enumerate(names):
        graph.add_task(make_task(name, "moons", {"rotate": 10.0 * k}, 10, 10, k, (-1.5 * k, 2.0)))
    graph.add_edge(names[0], names[1], "=rel")
    graph.add_edge(names[2], names[3], "@ok")
    nodes, edges = graph_to_csv(graph)
    cells = [c for table in (nodes, edges) for row in csv.reader(io.StringIO(table)) for c in row]
    risky = [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and not _is_number(c))]
    assert risky == [], risky
    assert "'=HYPERLINK(\"http://127.0.0.1:9/x\",\"click\")" in cells and "''quoted" in cells and "plain" in cells
    assert graph_from_csv(nodes, edges) == graph


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
