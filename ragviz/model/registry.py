"""A registry of classes named by ``"module:Class"`` strings, imported on first use.

The decoders and the unseen-task strategies are each one such registry, read without importing
torch, so the settings can validate names cheaply.
"""

from __future__ import annotations

import importlib
from typing import Any


def resolve(registry: dict[str, Any], name: str) -> Any:
    """The class registered under ``name`` (KeyError when none is), importing its module if needed."""
    entry = registry[name]
    if isinstance(entry, str):
        module, _, cls = entry.partition(":")
        entry = registry[name] = getattr(importlib.import_module(module), cls)
    return entry
