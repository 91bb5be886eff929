"""The view link: what a user is looking at, packed into one URL-safe text and read back.

A reload of the browser ends the Streamlit session, and a teacher wants to hand a class the
exact view they prepared; both need the view outside the server. So the view (the sample or
graph, the settings, the focus task, the message-passing layer, the what-if edits, whether the
lesson was closed) travels as
compact JSON, compressed with zlib and written in base64url, in the URL's query string.

A link is untrusted input: :func:`read_link` bounds its length and its decompressed size
before anything else is allocated, and :func:`build_view` builds the graph through the same
checks an imported file passes (names, schema, work budget). No trained model can live in a
link: a shipped sample's model is named by the sample's key and reloaded from the server.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from ragviz.graph.node_link import graph_from_node_link, is_node_link
from ragviz.graph.schema import reading
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import NAME_MAX, PROJECT_NAME_MAX, check_name
from ragviz.model.config import MAX_LAYERS, ModelConfig, TrainConfig
from ragviz.safety.checks import flag, whole
from ragviz.safety.errors import RagvizError
from ragviz.safety.limits import MB, check_graph_budget, get_limits, size_text

VERSION = 1
#: Characters a link's view may take: long enough for a graph of about 150 tasks, short enough
#: for every browser and for proxies in front of the app (nginx refuses request lines over 8 kB).
LINK_BUDGET = 6000
#: The longest view text read at all (a link from a server with a larger budget still opens).
MAX_LINK_CHARS = 16_000
#: The most bytes a link's JSON may decompress to (a zip bomb stops here); the graph file limit applies too.
MAX_JSON_BYTES = 2 * MB
MAX_WHATIF_EDITS = 50
MAX_EDIT_LABEL = 300
SAMPLE_KEY_MAX = 100
_LINK_CHARS = re.compile(r"[A-Za-z0-9_-]+")


class ViewLinkError(RagvizError):
    """A view link is damaged, too big, hostile or from a newer ragviz; the message says which."""


SCREEN_MAX = 20  # characters of a projector screen's label in a link (the app knows which exist)


@dataclass
class View:
    """One user's view, as far as a link can hold it.

    ``graph`` is None when the link names an unedited sample (its graph comes with the
    sample) or when the graph was too big for the link (``graph_omitted``).
    """

    name: str = "untitled"
    sample: str | None = None
    graph: TaskGraph | None = None
    graph_omitted: bool = False
    model_config: ModelConfig | None = None
    train_config: TrainConfig | None = None
    whatif: TaskGraph | None = None
    whatif_edits: list[str] = field(default_factory=list)
    layer: int | None = None
    focus: str | None = None
    projector: bool | None = None
    screen: str | None = None  # projector mode's screen size ("1920×1080"), kept while the mode is on
    #: The sample's lesson was closed (after New graph or Generate, or by its close button): it stays closed.
    lesson_closed: bool = False
    #: The lesson's contrast trained in the tab (its name): a link cannot carry it, a reload says how to get it back.
    contrast: str | None = None


@dataclass(frozen=True)
class EncodedView:
    """A view's link text, and whether all of it fitted (a graph over the budget is left out)."""

    token: str
    fits: bool
    full_chars: int  # how long the link would be with everything in it


# ------------------------------------------------------------------------------ graphs as compact dicts
def compact_graph(graph: TaskGraph) -> dict[str, Any]:
    """:meth:`TaskGraph.to_dict` without networkx's fixed header (directed, multigraph): a link is short.

    Positions keep every digit (rounding them saves about 3 %), so a graph comes back equal.
    """
    data = graph.to_dict()
    return {"relations": data["relations"], "graph": {"nodes": data["graph"]["nodes"], "edges": data["graph"]["edges"]}}


def _edge_id(edge: dict[str, Any]) -> tuple[Any, Any, Any]:
    return edge.get("source"), edge.get("target"), edge.get("key", edge.get("relation"))


def graph_patch(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What turns ``base`` into ``new`` (both :func:`compact_graph`): a what-if is a few edits, so
    its link carries them, not a second copy of the graph."""
    old_nodes = {n["id"]: n for n in base["graph"]["nodes"]}
    new_nodes = {n["id"]: n for n in new["graph"]["nodes"]}
    old_edges = {_edge_id(e): e for e in base["graph"]["edges"]}
    new_edges = {_edge_id(e): e for e in new["graph"]["edges"]}
    patch: dict[str, Any] = {
        "n-": [i for i in old_nodes if i not in new_nodes],
        "n+": [n for i, n in new_nodes.items() if old_nodes.get(i) != n],
        "e-": [list(k) for k in old_edges if k not in new_edges],
        "e+": [e for k, e in new_edges.items() if old_edges.get(k) != e],
    }
    if base["relations"] != new["relations"]:
        patch["r"] = new["relations"]
    return {k: v for k, v in patch.items() if v}


def _list(patch: dict[str, Any], key: str) -> list[Any]:
    value = patch.get(key, [])
    if not isinstance(value, list):
        raise ViewLinkError(f"The link's what-if is damaged: its '{key}' is not a list.")
    return value


def apply_patch(base: dict[str, Any], patch: Any) -> dict[str, Any]:
    """``base`` with a :func:`graph_patch` applied (a dict for :meth:`TaskGraph.from_dict`, which checks it)."""
    if not isinstance(patch, dict):
        raise ViewLinkError("The link's what-if is damaged: it is not an object.")
    removed_nodes, added_nodes = _list(patch, "n-"), _list(patch, "n+")
    removed_edges, added_edges = _list(patch, "e-"), _list(patch, "e+")
    if not all(isinstance(n, dict) and isinstance(n.get("id"), str) for n in added_nodes):
        raise ViewLinkError("The link's what-if is damaged: a task in it has no name.")
    if not all(isinstance(i, str) for i in removed_nodes):
        raise ViewLinkError("The link's what-if is damaged: a removed task's name is not text.")
    if not all(isinstance(e, list) and len(e) == 3 and all(isinstance(x, str) for x in e) for e in removed_edges):
        raise ViewLinkError("The link's what-if is damaged: a removed edge is not [source, target, relation].")
    replaced = {n["id"]: n for n in added_nodes}
    gone = set(removed_nodes)
    nodes = [replaced.pop(n["id"], n) for n in base["graph"]["nodes"] if n["id"] not in gone]
    nodes += list(replaced.values())
    if not all(isinstance(e, dict) for e in added_edges):
        raise ViewLinkError("The link's what-if is damaged: an edge in it is not an object.")
    if not all(all(isinstance(x, str) for x in _edge_id(e)) for e in added_edges):  # ids are looked up: text only
        raise ViewLinkError("The link's what-if is damaged: an edge in it does not name its source, target and "
                            "relation as text.")
    cut = {tuple(e) for e in removed_edges}
    changed = {_edge_id(e): e for e in added_edges}
    edges = [changed.pop(_edge_id(e), e) for e in base["graph"]["edges"] if _edge_id(e) not in cut]
    edges += list(changed.values())
    relations = patch.get("r", base["relations"])
    return {"relations": relations, "graph": {"nodes": nodes, "edges": edges}}


# ------------------------------------------------------------------------------ text <-> payload
def pack(payload: dict[str, Any]) -> str:
    """Compact JSON → zlib → base64url without padding."""
    try:
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except ValueError as err:  # a number that is not finite: JSON has no spelling for it
        raise ViewLinkError(f"This view cannot be written as a link: {err}.") from None
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode("ascii")


def read_link(token: Any, max_json_bytes: int | None = None) -> dict[str, Any]:
    """The payload of a link's view text; every size is bounded before it is allocated.

    Raises :class:`ViewLinkError` for text that is too long, not base64url, not zlib, decompresses
    past ``max_json_bytes`` (default: the smaller of :data:`MAX_JSON_BYTES` and the graph file
    limit), is not JSON, or is not a view of a version this ragviz reads.
    """
    limit = min(MAX_JSON_BYTES, get_limits().graph_bytes) if max_json_bytes is None else int(max_json_bytes)
    if not isinstance(token, str) or not token:
        raise ViewLinkError("The link's view is empty.")
    if len(token) > MAX_LINK_CHARS:
        raise ViewLinkError(f"The link's view is {len(token):,} characters long; a view link holds at most "
                            f"{MAX_LINK_CHARS:,}. It may have been pasted twice or run into other text.")
    if not _LINK_CHARS.fullmatch(token):
        raise ViewLinkError("The link is damaged: its view holds characters a view link never has "
                            "(perhaps it was cut short or edited). Copy the whole link again.")
    try:
        compressed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise ViewLinkError("The link is damaged: its view is not complete (it was probably cut short). "
                            "Copy the whole link again.") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, limit + 1)
    except zlib.error:
        raise ViewLinkError("The link is damaged: its view cannot be unpacked (it was probably cut short or "
                            "changed). Copy the whole link again.") from None
    if len(raw) > limit or inflater.unconsumed_tail:
        raise ViewLinkError(f"The link's view unpacks to more than {size_text(limit)}, the most a view may "
                            "hold; it was not made by ragviz.")
    if not inflater.eof:
        raise ViewLinkError("The link is damaged: its view ends too early (it was probably cut short). "
                            "Copy the whole link again.")
    with reading("link's view"):
        payload = json.loads(raw.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ViewLinkError("The link's view is not a ragviz view.")
    version = payload.get("v")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ViewLinkError("The link's view is not a ragviz view (it has no valid version).")
    if version > VERSION:
        raise ViewLinkError(f"The link was made by a newer ragviz (view version {version}; this server reads "
                            f"{VERSION}). Open it on a server with the newer version.")
    return payload


# ------------------------------------------------------------------------------ view <-> payload
def view_payload(view: View, base: TaskGraph | None = None) -> dict[str, Any]:
    """The JSON of a view. ``base`` is the graph a what-if was made from when ``view.graph`` is None
    (an unedited sample's graph)."""
    payload: dict[str, Any] = {"v": VERSION, "n": view.name}
    if view.sample is not None:
        payload["s"] = view.sample
    graph = view.graph if view.graph is not None else base
    graph_dict = compact_graph(graph) if graph is not None else None
    if view.graph is not None:
        payload["g"] = graph_dict
    if view.graph_omitted:
        payload["x"] = 1
    if view.model_config is not None:
        payload["m"] = view.model_config.to_dict()
    if view.train_config is not None:
        payload["t"] = view.train_config.to_dict()
    if view.whatif is not None and graph_dict is not None:
        payload["w"] = {"p": graph_patch(graph_dict, compact_graph(view.whatif)), "e": list(view.whatif_edits)}
    for key, value in (("l", view.layer), ("f", view.focus), ("p", view.projector), ("r", view.screen),
                       ("b", view.contrast)):
        if value is not None:
            payload[key] = value
    if view.lesson_closed:
        payload["c"] = 1
    return payload


def encode_view(view: View, base: TaskGraph | None = None, budget: int = LINK_BUDGET) -> EncodedView:
    """The view's link text; over ``budget`` characters the graph and what-if are left out
    (the link then keeps the sample, settings, layer and focus, and says the graph was too big)."""
    token = pack(view_payload(view, base))
    if len(token) <= budget:
        return EncodedView(token, True, len(token))
    small = View(name=view.name, sample=view.sample, graph_omitted=view.graph is not None,
                 model_config=view.model_config, train_config=view.train_config,
                 layer=view.layer, focus=view.focus, projector=view.projector, screen=view.screen,
                 lesson_closed=view.lesson_closed, contrast=view.contrast)
    return EncodedView(pack(view_payload(small)), False, len(token))


def _graph(data: Any, what: str) -> TaskGraph:
    """A graph from a link, through the checks every imported graph passes."""
    if not isinstance(data, dict):
        raise ViewLinkError(f"The link's {what} is not a task graph.")
    with reading(f"link's {what}"):
        graph = graph_from_node_link(data) if is_node_link(data) else TaskGraph.from_dict(data)
        graph.validate(need_tasks=False)
    return graph


def payload_sample(payload: dict[str, Any]) -> str | None:
    """The sample a payload names (checked to be a short text; whether it exists is the server's to say)."""
    key = payload.get("s")
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= SAMPLE_KEY_MAX or not key.isprintable():
        raise ViewLinkError("The link's sample name is damaged.")
    return key


def build_view(payload: dict[str, Any], sample_graph: TaskGraph | None = None) -> View:
    """A checked :class:`View` from :func:`read_link`'s payload.

    ``sample_graph`` is the graph of the sample the payload names (None when it names none or the
    server lacks it); a what-if on an unedited sample is rebuilt from it.
    """
    view = View(sample=payload_sample(payload))
    view.name = check_name(payload.get("n", "untitled"), "project", PROJECT_NAME_MAX)
    view.graph_omitted = bool(flag(payload.get("x", False), "The link's graph flag", ViewLinkError))
    if "m" in payload:
        view.model_config = ModelConfig.from_dict(payload["m"])
    if "t" in payload:
        view.train_config = TrainConfig.from_dict(payload["t"])
    if "g" in payload:
        view.graph = _graph(payload["g"], "task graph")
        check_graph_budget(*view.graph.work_counts(), view.model_config, relations=len(view.graph.relations))
    if "l" in payload:
        view.layer = whole(payload["l"], "The link's layer", ViewLinkError, 0, MAX_LAYERS)
    if "f" in payload:
        view.focus = check_name(payload["f"], "focus task", NAME_MAX)
    if "p" in payload:
        view.projector = flag(payload["p"], "The link's projector mode", ViewLinkError)
    if "r" in payload:
        view.screen = check_name(payload["r"], "projector screen", SCREEN_MAX)
    view.lesson_closed = bool(flag(payload.get("c", False), "The link's closed-lesson flag", ViewLinkError))
    if "b" in payload:
        view.contrast = check_name(payload["b"], "lesson contrast", NAME_MAX)
    if "w" in payload:
        _whatif(view, payload["w"], view.graph if view.graph is not None else sample_graph)
    return view


def _whatif(view: View, data: Any, base: TaskGraph | None) -> None:
    if not isinstance(data, dict):
        raise ViewLinkError("The link's what-if is damaged: it is not an object.")
    edits = data.get("e", [])
    if not isinstance(edits, list) or len(edits) > MAX_WHATIF_EDITS or not all(
            isinstance(e, str) and len(e) <= MAX_EDIT_LABEL for e in edits):
        raise ViewLinkError(f"The link's what-if is damaged: its edits must be at most {MAX_WHATIF_EDITS} "
                            f"short texts.")
    if base is None:
        return  # no graph to apply it to (the sample is missing here): the caller says what was lost
    view.whatif = _graph(apply_patch(compact_graph(base), data.get("p", {})), "what-if graph")
    check_graph_budget(*view.whatif.work_counts(), view.model_config, relations=len(view.whatif.relations))
    view.whatif_edits = list(edits)
