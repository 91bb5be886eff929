"""The one list of data families: adding a family is one new module and one line in :data:`FAMILIES`.

Everything else reads the registry: the graph checks family names and fills defaults from
:data:`FAMILY_DOMAIN` and :data:`FAMILY_DEFAULTS`, :mod:`ragviz.data.domains` dispatches a task
to its family, and the pages list the families. A family made outside the package (a notebook,
a test) joins with :func:`register` and leaves with :func:`unregister`.
"""

from __future__ import annotations

from typing import Any

from ragviz.data.csv_tasks import CsvTables
from ragviz.data.digits import Digits
from ragviz.data.drawing import Drawing
from ragviz.data.family import DataFamily
from ragviz.data.sine import Sine
from ragviz.data.speech import Speech
from ragviz.data.text_family import Text
from ragviz.data.toy2d import Toy2D
from ragviz.safety.errors import DataError

#: The registered families, in the order the pages list them.
FAMILIES: list[DataFamily] = [
    Toy2D(),
    Sine(),
    Digits(),
    CsvTables(),
    Text(),
    Speech(),
    Drawing(),
]

#: Domain → its family; family name → domain; family name → default parameters; the domains in order.
#: Filled from :data:`FAMILIES` and kept in step by :func:`register`, so every importer sees one registry.
BY_DOMAIN: dict[str, DataFamily] = {}
FAMILY_DOMAIN: dict[str, str] = {}
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {}
DOMAINS: list[str] = []


def _check(family: DataFamily) -> None:
    if not isinstance(family, DataFamily) or not isinstance(family.domain, str) or not family.domain:
        raise DataError(f"A data family must be a DataFamily with a domain name, got {family!r}.")
    if family.domain in BY_DOMAIN:
        raise DataError(f"The domain '{family.domain}' is already registered.")
    taken = sorted(set(family.families) & set(FAMILY_DOMAIN))
    if not family.families or taken:
        raise DataError(f"The domain '{family.domain}' must name new task families"
                        + (f" ({', '.join(taken)} already exist)." if taken else "."))


def _add(family: DataFamily) -> None:
    _check(family)
    BY_DOMAIN[family.domain] = family
    DOMAINS.append(family.domain)
    for name, defaults in family.families.items():
        FAMILY_DOMAIN[name] = family.domain
        FAMILY_DEFAULTS[name] = dict(defaults)


def register(family: DataFamily) -> DataFamily:
    """Add a family made outside the registry list (a notebook's or a test's); returns it."""
    _add(family)
    FAMILIES.append(family)
    return family


def unregister(domain: str) -> None:
    """Remove a family added with :func:`register` (a test cleaning up after itself)."""
    family = BY_DOMAIN.pop(domain, None)
    if family is None:
        return
    FAMILIES.remove(family)
    DOMAINS.remove(domain)
    for name in family.families:
        FAMILY_DOMAIN.pop(name, None)
        FAMILY_DEFAULTS.pop(name, None)


def param_choices(family: str) -> dict[str, list[str]]:
    """A task family's text parameters with a fixed list of values (empty for an unknown family)."""
    domain = FAMILY_DOMAIN.get(family)
    return {k: list(v) for k, v in BY_DOMAIN[domain].choices.items()} if domain in BY_DOMAIN else {}


def family_for(domain: str) -> DataFamily:
    """The family serving a domain, or a DataError listing the known ones."""
    if domain not in BY_DOMAIN:
        raise DataError(f"Unknown data domain {domain!r}; choose one of {', '.join(DOMAINS)}.")
    return BY_DOMAIN[domain]


for _family in FAMILIES:
    _add(_family)
