"""Built figures kept per session, so a page switch or a rerun redraws without rebuilding them.

On a 1,000-task graph building a page's main figure (message passing, the embedding map, the
training curves) takes a second or more of Python; switching back to a page, or a click that
changes nothing the figure shows, must not pay that again. A figure is kept under a key made
of what it shows: objects by identity (a trace, a history: never changed once made, and kept
alive by the entry so their ids cannot be reused) and plain values (layer, focus, options, a
graph's content hash).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from ragviz.ui.state import get_state

#: Figures kept per session: every page's current ones (the Train page shows four) and, for each
#: figure, the one before, so going back to the last layer or step is free too (a few MB in all).
MAX_FIGURES = 16
#: Entries kept under one name: the current figure and the one it came from.
MAX_PER_NAME = 2

T = TypeVar("T")


def figure_key(name: str, objects: Sequence[Any], values: Sequence[Hashable]) -> Hashable:
    """The key of one figure: its name, the ids of the objects it was built from, and plain values."""
    return (name, tuple(id(o) for o in objects), tuple(values))


def cached_figure(name: str, objects: Sequence[Any], values: Sequence[Hashable], build: Callable[[], T],
                  cache: OrderedDict[Any, Any] | None = None) -> T:
    """``build()``, or the figure built earlier from the same objects and values in this session.

    ``objects`` are compared by identity and held by the entry; ``values`` must be hashable and
    name everything else the figure depends on. The caller must not change the returned figure.
    ``cache`` is where the figures are kept (default: the session state's ``figures``).
    """
    cache = get_state().figures if cache is None else cache
    key = figure_key(name, objects, values)
    entry = cache.get(key)
    if entry is not None and all(a is b for a, b in zip(entry[0], objects, strict=True)):
        cache.move_to_end(key)
        return entry[1]
    figure = build()
    cache[key] = (tuple(objects), figure)
    same_name = [k for k in cache if k[0] == name]
    for old in same_name[:-MAX_PER_NAME]:
        del cache[old]
    while len(cache) > MAX_FIGURES:
        cache.popitem(last=False)
    return figure
