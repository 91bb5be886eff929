"""Where an unseen task's message passing starts: h⁰_v for a task without data of its own.

A zero-shot task (and, while training, a task dropped this step) has no embedding of its own. Each
strategy is a :class:`~ragviz.model.unseen.base.UnseenState` subclass in its own module, named in
:data:`UNSEEN_STATES` (one line each; the first is the default), read without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragviz.model.registry import resolve

if TYPE_CHECKING:
    from ragviz.model.unseen.base import UnseenState

#: Strategy name → "module:Class" (or the class itself, once registered at run time).
UNSEEN_STATES: dict[str, Any] = {
    "propagated": "ragviz.model.unseen.propagated:PropagatedState",
    "learned": "ragviz.model.unseen.base:LearnedState",
}


def unseen_state_class(name: str) -> type[UnseenState]:
    """The class registered under ``name`` (KeyError when none is)."""
    return resolve(UNSEEN_STATES, name)


def register_unseen_state(cls: type[UnseenState]) -> type[UnseenState]:
    """Add ``cls`` under ``cls.name`` (usable as a class decorator)."""
    UNSEEN_STATES[cls.name] = cls
    return cls
