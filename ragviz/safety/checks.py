"""Checks of a single value a user or a file supplied: a number, a whole number, a flag.

Settings, task parameters, graph files, generator inputs and checkpoints all read values that
may be anything (text, ``True``, ``nan``, ``1e400``), so the rules live here once. Each check
returns the clean value or raises the caller's error class (``ConfigError``, ``GraphError`` …)
with a message that starts with ``what`` (say, ``"Task 'moons 0': train size"``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ragviz.safety.errors import RagvizError

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def real(value: Any, what: str, error: type[RagvizError], low: float = -math.inf, high: float = math.inf,
         low_open: bool = False) -> float:
    """A finite number (text that spells one counts; ``True`` does not) within [low, high]."""
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise error(f"{what} must be a finite number, got {value!r}.")
    if number < low or number > high or (low_open and number == low):
        bound = f"above {low}" if low_open else f"at least {low}"
        if math.isinf(high):
            raise error(f"{what} must be {bound}, got {number}.")
        raise error(f"{what} must be {bound} and at most {high}, got {number}.")
    return number


def whole(value: Any, what: str, error: type[RagvizError], low: int, high: int) -> int:
    """A whole number (``3.0`` counts, ``2.5`` and ``True`` do not) from ``low`` to ``high``."""
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        number = float(value.strip() if isinstance(value, str) else value)
        if not math.isfinite(number) or number != int(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise error(f"{what} must be a whole number, got {value!r}.") from None
    if not low <= int(number) <= high:
        raise error(f"{what} must be between {low} and {high}, got {int(number)}.")
    return int(number)


def flag(value: Any, what: str, error: type[RagvizError], empty: bool | None = None) -> bool:
    """True or false, also spelled 1/0, yes/no or true/false; ``empty`` is what blank text means
    (None: blank text is refused)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return text in TRUE_WORDS
        if not text and empty is not None:
            return empty
    raise error(f"{what} must be true or false, got {value!r}.")


def numbers(values: Any, what: str, error: type[RagvizError], length: int | None = None,
            whole_only: bool = False) -> list[float]:
    """A list of numbers as stored in a file (no text, no ``True``), of ``length`` items if given."""
    kinds = int if whole_only else (int, float)
    ok = isinstance(values, list) and (length is None or len(values) == length) and all(
        isinstance(v, kinds) and not isinstance(v, bool) for v in values)
    if not ok:
        size = "" if length is None else f" of {length}"
        raise error(f"{what} must be a list{size} of {'whole numbers' if whole_only else 'numbers'}.")
    return values
