"""The project's own exception types, so every user mistake surfaces as a clear message.

Library code raises these (never a bare traceback from deep inside torch or networkx);
the app shows ``str(err)`` to the user.
"""

from __future__ import annotations


class RagvizError(Exception):
    """Base class: anything a user can cause and the app can explain."""


class GraphError(RagvizError):
    """A task graph is malformed or an edit is invalid."""


class DataError(RagvizError):
    """Task data cannot be generated or a user table is unusable."""


class ConfigError(RagvizError):
    """A model or training setting is out of range."""


class CheckpointError(RagvizError):
    """A checkpoint file is malformed, unsafe or does not match its contents."""


class TrainingError(RagvizError):
    """Training could not start or continue."""


class Stopped(TrainingError):
    """A run was stopped (by the user, or its page went away) before it had trained anything."""
