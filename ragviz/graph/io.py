"""Import and export of task graphs as JSON, GraphML and CSV (:mod:`ragviz.graph.csv_files`), losing nothing on the way.

Files come from strangers, so every reader turns any malformed input into a
:class:`~ragviz.safety.errors.GraphError` that names the problem, and the GraphML reader refuses
DTDs and entities (billion laughs, XXE) before networkx sees the text.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
import networkx as nx
from defusedxml import DefusedXmlException

from ragviz.graph.csv_files import graph_from_csv, graph_to_csv
from ragviz.graph.node_link import graph_from_node_link, is_node_link
from ragviz.graph.schema import as_text, reading
from ragviz.graph.task_graph import TaskGraph
from ragviz.safety.errors import GraphError
from ragviz.safety.limits import check_budget, max_upload_bytes, too_big_message
from ragviz.safety.uploads import read_upload

SCHEMA_NAME = "ragviz.taskgraph"
SCHEMA_VERSION = 1
FORMATS: tuple[str, ...] = ("json", "graphml", "csv")
EXTENSIONS: tuple[str, ...] = (".json", ".graphml", ".xml", ".csv", ".zip")



def _check_header(data: dict[str, Any], what: str, required: bool = True) -> None:
    """Check the schema name and version; a bare ``to_dict`` (no header at all) passes when not required."""
    if not required and "schema" not in data and "version" not in data:
        return
    schema = data.get("schema")
    if schema != SCHEMA_NAME:
        raise GraphError(f"The {what} is not a ragviz task graph: its schema is {schema!r}, expected {SCHEMA_NAME!r}.")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise GraphError(f"The {what} has an invalid schema version {version!r}; expected a whole number ≥ 1.")
    if version > SCHEMA_VERSION:
        raise GraphError(f"The {what} has schema version {version}, newer than this ragviz supports "
                         f"({SCHEMA_VERSION}); update ragviz to open it.")


# ------------------------------------------------------------------------------------- JSON
def graph_to_json(graph: TaskGraph) -> str:
    """The graph as JSON: a schema header plus :meth:`TaskGraph.to_dict`."""
    return json.dumps({"schema": SCHEMA_NAME, "version": SCHEMA_VERSION, **graph.to_dict()}, indent=2)


def graph_from_json(text: str | bytes) -> TaskGraph:
    """Read :func:`graph_to_json` output, a bare :meth:`TaskGraph.to_dict`, or plain networkx
    node-link data (``json.dumps(nx.node_link_data(G))``); refuse other schemas and newer versions."""
    text = as_text(text, "JSON file")
    with reading("JSON file"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"The JSON file is not valid JSON: {exc.msg} (line {exc.lineno}, "
                             f"column {exc.colno}).") from None
        if not isinstance(data, dict):
            raise GraphError(f"The JSON file must hold a JSON object, not a {type(data).__name__}.")
        if is_node_link(data):
            return graph_from_node_link(data)
        _check_header(data, "JSON file", required=False)
        if "graph" not in data:
            raise GraphError("The JSON file has no 'graph' (networkx node-link data).")
        if not isinstance(data["graph"], dict) or "nodes" not in data["graph"]:
            raise GraphError("The JSON file's 'graph' has no 'nodes' list: it holds no task graph. Export one from "
                             "the Task graph page, or save a networkx graph with json.dumps(nx.node_link_data(G)).")
        return TaskGraph.from_dict(data)


# ---------------------------------------------------------------------------------- GraphML
def graph_to_graphml(graph: TaskGraph) -> str:
    """The graph as GraphML: scalar attributes only, so other tools (Gephi, yEd) can open it."""
    plain = nx.MultiDiGraph()
    plain.graph["ragviz_schema"] = SCHEMA_NAME
    plain.graph["ragviz_version"] = SCHEMA_VERSION
    plain.graph["relations"] = json.dumps([r.to_dict() for r in graph.relations.values()])
    for task in graph.tasks():
        attrs: dict[str, Any] = {
            "family": task.family,
            "params": json.dumps(task.params),
            "train_size": int(task.train_size),
            "test_size": int(task.test_size),
            "seed": int(task.seed),
        }
        if task.pos is not None:
            attrs["x"] = float(task.pos[0])
            attrs["y"] = float(task.pos[1])
        plain.add_node(task.name, **attrs)
    for edge in graph.edges():
        plain.add_edge(edge.source, edge.target, key=edge.relation, relation=edge.relation, weight=float(edge.weight))
    return "\n".join(nx.generate_graphml(plain, prettyprint=True)) + "\n"


def _safe_xml(text: str | bytes) -> Any:
    """Parse with defusedxml first: DTDs, entities and external references are refused; returns the root."""
    try:
        return defusedxml.ElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise GraphError(f"The GraphML file was refused: DTD / entities are not allowed ({type(exc).__name__}).") \
            from None
    except ParseError as exc:
        raise GraphError(f"The GraphML file is not well-formed XML: {exc}.") from None


def _json_attr(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        raise GraphError(f"The GraphML {what} attribute must be a JSON string.")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise GraphError(f"The GraphML {what} attribute is not valid JSON: {exc.msg}.") from None


def graph_from_graphml(text: str | bytes) -> TaskGraph:
    """Read :func:`graph_to_graphml` output, refusing unsafe XML before networkx parses it."""
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise GraphError(f"The GraphML file must be text or bytes, got {type(text).__name__}.")
    if not isinstance(text, str):
        text = bytes(text)
    with reading("GraphML file"):
        tags = Counter(element.tag.rsplit("}", 1)[-1] for element in _safe_xml(text).iter())
        check_budget(tasks=tags["node"], edges=tags["edge"])  # counted in the parsed XML, before networkx builds
        try:
            plain = nx.parse_graphml(text, node_type=str, edge_key_type=str, force_multigraph=True)
        except nx.NetworkXError as exc:
            raise GraphError(f"The GraphML file is malformed: {exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise GraphError(f"The GraphML file has a bad value or attribute: {exc}") from None
        _check_header(
            {"schema": plain.graph.get("ragviz_schema"), "version": plain.graph.get("ragviz_version")},
            "GraphML file",
        )
        if "relations" not in plain.graph:
            raise GraphError("The GraphML file declares no 'relations' graph attribute.")
        relations = _json_attr(plain.graph["relations"], "'relations'")
        check_budget(tasks=plain.number_of_nodes(), edges=plain.number_of_edges(),
                     relations=len(relations) if isinstance(relations, list) else 0)
        nodes = []
        for name, attrs in plain.nodes(data=True):
            if "family" not in attrs:
                raise GraphError(f"GraphML task '{name}' has no 'family' attribute.")
            params = _json_attr(attrs["params"], f"'params' of task '{name}'") if "params" in attrs else {}
            if ("x" in attrs) != ("y" in attrs):
                raise GraphError(f"GraphML task '{name}' has only one of the 'x' and 'y' coordinates.")
            node = {
                "id": name, "family": attrs["family"], "params": params,
                "train_size": attrs.get("train_size", 40), "test_size": attrs.get("test_size", 100),
                "seed": attrs.get("seed", 0), "pos": [attrs["x"], attrs["y"]] if "x" in attrs else None,
            }
            nodes.append(node)
        edges = []
        for u, v, key, attrs in plain.edges(keys=True, data=True):
            relation = attrs.get("relation", key)
            if relation is None:
                raise GraphError(f"GraphML edge {u} → {v} has no relation (edge id or 'relation' attribute).")
            edges.append({"source": u, "target": v, "key": relation, "weight": attrs.get("weight", 1.0)})
        return TaskGraph.from_dict({"relations": relations, "graph": {"nodes": nodes, "edges": edges}})


# ------------------------------------------------------------------------------ bytes, files
def _zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same graph, same bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def export_graph(graph: TaskGraph, fmt: str) -> bytes:
    """File contents for a download: JSON, GraphML, or a zip of nodes.csv and edges.csv."""
    if fmt == "json":
        return graph_to_json(graph).encode("utf-8")
    if fmt == "graphml":
        return graph_to_graphml(graph).encode("utf-8")
    if fmt == "csv":
        nodes, edges = graph_to_csv(graph)
        return _zip_bytes({"nodes.csv": nodes, "edges.csv": edges})
    raise GraphError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")


_NODE_TABLES = ("nodes.csv", "tasks.csv")
#: A graph zip needs two files; refuse archives that are clearly something else.
MAX_ZIP_MEMBERS = 50


def _zip_members(archive: zipfile.ZipFile, max_members: int) -> list[zipfile.ZipInfo]:
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > max_members:
        raise GraphError(f"The zip file holds {len(infos)} files; at most {max_members} are allowed (too many files).")
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise GraphError(f"The zip file has a member with an unsafe path name {info.filename!r}.")
    return [i for i in infos if not i.filename.startswith("__MACOSX/")
            and not i.filename.rsplit("/", 1)[-1].startswith(".")]


def _from_zip(data: bytes, max_bytes: int) -> TaskGraph:
    """Read one graph from a zip (a .json, a .graphml, or nodes.csv plus edges.csv), never extracting to disk.

    Each unpacked file is held to ``max_bytes`` too, so a zip bomb is cut off while reading.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise GraphError("The file is not a valid zip archive.") from None
    with archive:
        infos = _zip_members(archive, MAX_ZIP_MEMBERS)
        by_name: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            by_name.setdefault(info.filename.rsplit("/", 1)[-1].lower(), []).append(info)
        graphs = [i for i in infos if i.filename.lower().endswith((".json", ".graphml", ".xml"))]
        tables = [i for name in _NODE_TABLES for i in by_name.get(name, [])]
        if len(graphs) + min(len(tables), 1) == 0:
            raise GraphError("The zip file holds no graph: expected one .json, .graphml or nodes.csv "
                             "(with edges.csv) inside.")
        if len(graphs) + len(tables) > 1:
            found = ", ".join(i.filename for i in [*graphs, *tables])
            raise GraphError(f"The zip file holds more than one graph ({found}); put exactly one in it.")

        def read(info: zipfile.ZipInfo) -> bytes:
            what = f"file {info.filename} unpacked from the zip"
            if info.file_size > max_bytes:
                raise GraphError(too_big_message(what, info.file_size, max_bytes))
            with archive.open(info) as member:  # the header's size may lie: read no further than the limit
                return read_upload(member, "graph", max_bytes=max_bytes, what=what)

        if graphs:
            info = graphs[0]
            content = read(info)
            if info.filename.lower().endswith(".json"):
                return graph_from_json(content)
            return graph_from_graphml(content)
        nodes = read(tables[0])
        edges = by_name.get("edges.csv", [])
        if len(edges) > 1:
            raise GraphError("The zip file holds more than one edges.csv.")
        edges_csv = read(edges[0]) if edges else None
    return graph_from_csv(nodes, edges_csv)


def import_graph(data: bytes, filename: str, max_bytes: int | None = None) -> TaskGraph:
    """Read an uploaded file, choosing the format by its extension.

    ``.json``, ``.graphml`` / ``.xml``, ``.csv`` (a nodes table alone: no edges) or
    ``.zip`` (nodes.csv and edges.csv as :func:`export_graph` writes them, or one .json or
    .graphml). Files over ``max_bytes`` (default: ``RAGVIZ_MAX_GRAPH_MB``, 5 MB) are
    refused before parsing, and so is each file unpacked from a zip.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GraphError(f"The file contents must be bytes, got {type(data).__name__}.")
    limit = max_upload_bytes("graph") if max_bytes is None else int(max_bytes)
    data = read_upload(data, "graph", max_bytes=limit)
    name = str(filename or "")
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    readers = {".json": graph_from_json, ".graphml": graph_from_graphml, ".xml": graph_from_graphml,
               ".csv": graph_from_csv, ".zip": lambda d: _from_zip(d, limit)}
    if extension not in readers:
        raise GraphError(f"Cannot open '{name}': the file type must be one of {', '.join(EXTENSIONS)}.")
    with reading(f"file '{name}'"):
        graph = readers[extension](data)
    if graph.number_of_tasks() == 0:  # importing replaces the user's graph: never with nothing
        raise GraphError(f"'{name}' holds no tasks, so importing it would leave an empty graph. A graph file needs "
                         "at least one task; nothing was imported.")
    return graph


__all__ = [
    "SCHEMA_VERSION", "graph_to_json", "graph_from_json", "graph_to_graphml", "graph_from_graphml",
    "graph_to_csv", "graph_from_csv", "graph_from_node_link", "export_graph", "import_graph",
]
