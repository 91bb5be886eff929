"""Decoders: how a task's final state t_v becomes that task's predictor on the shared encoder.

Each decoder is a :class:`~ragviz.model.decoders.base.Decoder` subclass in a module of its own,
named in :data:`DECODERS` (one line each), so adding one is one new file and one line here; a test or
a notebook can also add a class at run time with :func:`register_decoder`. The registry is read
without importing torch, so the settings (:mod:`ragviz.model.config`) can validate names cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragviz.model.registry import resolve

if TYPE_CHECKING:
    from ragviz.model.decoders.base import Decoder

#: Decoder name → "module:Class" (or the class itself, once registered at run time). The first is the default.
DECODERS: dict[str, Any] = {
    "linear": "ragviz.model.decoders.linear:LinearDecoder",
    "generated": "ragviz.model.decoders.generated:GeneratedDecoder",
    "film": "ragviz.model.decoders.film:FilmDecoder",
    "independent": "ragviz.model.decoders.independent:IndependentDecoder",
    "mix": "ragviz.model.decoders.blended:MixDecoder",
    "blended": "ragviz.model.decoders.blended:BlendedDecoder",
}


def decoder_class(name: str) -> type[Decoder]:
    """The class registered under ``name`` (KeyError when none is)."""
    return resolve(DECODERS, name)


def register_decoder(cls: type[Decoder]) -> type[Decoder]:
    """Add ``cls`` under ``cls.name`` (usable as a class decorator)."""
    DECODERS[cls.name] = cls
    return cls
