"""Reading a user's table for ``csv`` tasks: one long-format CSV (or a DataFrame), checked cell by cell.

The graph importers live in :mod:`ragviz.graph.io`; this is their counterpart for data. Every
problem raises :class:`~ragviz.safety.errors.DataError` naming the column and row to fix, and the
bytes come through the one upload reader (:func:`ragviz.safety.uploads.read_upload`).
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ragviz.safety.errors import DataError
from ragviz.safety.limits import max_upload_bytes
from ragviz.safety.uploads import read_upload

#: A csv target is a class label when it is whole-numbered with at most this many values.
MAX_CSV_CLASSES = 50


def read_table_bytes(source: Any, max_bytes: int) -> bytes:
    """A table's bytes through the one upload reader (its limit, its wording)."""
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(os.fspath(source)):
        raise DataError(f"There is no file at {os.fspath(source)!r}.")
    return read_upload(source, "table", max_bytes=max_bytes)


def parse_csv(data: bytes) -> pd.DataFrame:
    """A CSV file's bytes as a table (separated by commas, semicolons, tabs or bars); an empty, non-UTF-8 or
    malformed file, or a repeated column name, is a DataError that says so."""
    if not data.strip():
        raise DataError("The file is empty.")
    try:
        text_head = data[:4096].decode("utf-8-sig", errors="replace").splitlines()[0]
    except IndexError:  # pragma: no cover - data.strip() was non-empty
        text_head = ""
    sep = ","
    if "," not in text_head:
        sep = next((s for s in (";", "\t", "|") if s in text_head), ",")
    # pandas renames a repeated header ('x', 'x' becomes 'x', 'x.1'): refuse it instead of guessing.
    names = [n.strip() for n in next(csv.reader([text_head], delimiter=sep), []) if n.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"The table has more than one column named {', '.join(repr(n) for n in repeated)}.")
    try:
        return pd.read_csv(io.BytesIO(data), sep=sep, encoding="utf-8-sig", skipinitialspace=True)
    except UnicodeDecodeError:
        raise DataError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    except pd.errors.EmptyDataError:
        raise DataError("The file has no columns.") from None
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"The file could not be read as CSV: {first}") from None


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if not str(value).lstrip().startswith("-") else -math.inf
    except (TypeError, ValueError):
        return math.nan


def _numeric_column(series: pd.Series, name: str, role: str) -> np.ndarray:
    """A column as float64, or a DataError naming the column and the first bad row (1 = first data row)."""
    if pd.api.types.is_complex_dtype(series):
        raise DataError(f"The {role} column '{name}' holds complex numbers; {role} columns must hold real numbers.")
    if pd.api.types.is_bool_dtype(series):
        values = series.astype(np.float64).to_numpy()
    elif pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
        try:
            coerced = pd.to_numeric(text, errors="coerce")
        except OverflowError:  # a whole number too long for a float: treat it as infinite, reported below
            coerced = text.map(_float_or_nan)
        bad = np.flatnonzero(coerced.isna().to_numpy() & text.notna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(f"The {role} column '{name}' has non-numeric text {str(series.iloc[row])!r} in row "
                            f"{row + 1}; {role} columns must hold numbers.")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.flatnonzero(np.isnan(values))
    if len(nan):
        raise DataError(f"The {role} column '{name}' has a missing value in row {int(nan[0]) + 1}.")
    inf = np.flatnonzero(~np.isfinite(values))
    if len(inf):
        raise DataError(f"The {role} column '{name}' has an infinite value in row {int(inf[0]) + 1}.")
    return values


def load_table(
    source: str | bytes | io.IOBase | pd.DataFrame,
    task_column: str = "task",
    target_column: str = "target",
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Read and validate a long-format user table for ``csv`` tasks.

    Accepts a path, raw bytes, a (binary or text) file object or a DataFrame. Returns a
    clean frame with columns ``["task", "target", *features]``: task as text, target and
    features as float64. Rows are numbered from 1 (the first data row) in messages.
    Every problem raises :class:`DataError` naming the column and row to fix. ``max_bytes``
    defaults to the configured table limit (:mod:`ragviz.safety.limits`, ``RAGVIZ_MAX_TABLE_MB``).
    """
    if max_bytes is None:
        max_bytes = max_upload_bytes("table")
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
    else:
        raw = parse_csv(read_table_bytes(source, max_bytes))
    columns = [str(c).strip() for c in raw.columns]
    raw.columns = columns
    # Trailing separators in exported files give unnamed, entirely empty columns: drop them.
    empty = [c for c in columns if c.startswith("Unnamed:") and raw[c].isna().all()]
    raw = raw.drop(columns=empty)
    columns = list(raw.columns)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(f"The table has more than one column named {', '.join(repr(c) for c in duplicated)}.")
    task_column, target_column = str(task_column).strip(), str(target_column).strip()
    if task_column == target_column:
        raise DataError(f"The task column and the target column are both '{task_column}'; choose two columns.")
    listed = ", ".join(f"'{c}'" for c in columns) or "none"
    for role, column in (("task", task_column), ("target", target_column)):
        if column not in columns:
            raise DataError(f"The table has no {role} column '{column}' (columns present: {listed}).")
    for reserved, chosen in (("task", task_column), ("target", target_column)):
        if reserved in columns and reserved not in (task_column, target_column):
            raise DataError(f"The table has a column named '{reserved}' besides the chosen {reserved} column "
                            f"'{chosen}'; rename one of them.")
    if len(raw) == 0:
        raise DataError("The table has no rows.")

    task_values = raw[task_column]
    missing = np.flatnonzero(task_values.isna().to_numpy())
    if len(missing):
        raise DataError(f"The task column '{task_column}' is empty in row {int(missing[0]) + 1}.")
    tasks = task_values.map(str).str.strip()
    blank = np.flatnonzero((tasks == "").to_numpy())
    if len(blank):
        raise DataError(f"The task column '{task_column}' is empty in row {int(blank[0]) + 1}.")

    features = [c for c in columns if c not in (task_column, target_column)]
    if not features:
        raise DataError(f"The table has no feature columns: besides '{task_column}' and '{target_column}' it needs "
                        "at least one numeric column.")
    target = _numeric_column(raw[target_column], target_column, "target")
    feature_values = {c: _numeric_column(raw[c], c, "feature") for c in features}

    counts = tasks.value_counts()
    small = counts[counts < 2]
    if len(small):
        name = str(small.index[0])
        raise DataError(f"Task '{name}' has only {int(small.iloc[0])} row; each task needs at least 2 rows "
                        "(something to train on and something to test on).")

    out = pd.DataFrame({"task": tasks.to_numpy(dtype=object), "target": target, **feature_values})
    out["task"] = out["task"].astype(str)
    return out.reset_index(drop=True)


@dataclass
class TableInfo:
    """What every ``csv`` task of one table shares: features, kind and the class index."""

    features: list[str]
    x: np.ndarray  # float64, all rows
    tasks: np.ndarray  # str per row
    target: np.ndarray  # float64 per row
    classes: np.ndarray | None  # sorted distinct targets for classification, None for regression
    y: np.ndarray  # class index (int64) or target (float32) per row


def table_info(name: str, tables: dict[str, pd.DataFrame] | None, task_name: str) -> TableInfo:
    if not tables or name not in tables:
        known = ", ".join(f"'{t}'" for t in (tables or {})) or "none uploaded"
        raise DataError(f"Task '{task_name}': there is no table named '{name}' (tables: {known}).")
    table = tables[name]
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"Table '{name}' is not a table (got {type(table).__name__}).")
    for column in ("task", "target"):
        if column not in table.columns:
            raise DataError(f"Table '{name}' has no '{column}' column (columns: {', '.join(map(str, table.columns))}).")
    features = [c for c in table.columns if c not in ("task", "target")
                and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))]
    if not features:
        raise DataError(f"Table '{name}' has no numeric feature columns.")
    try:
        x = table[features].to_numpy(dtype=np.float64)
        target = pd.to_numeric(table["target"]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"Table '{name}' has non-numeric values in its target or feature columns.") from None
    if not (np.isfinite(x).all() and np.isfinite(target).all()):
        raise DataError(f"Table '{name}' has missing or infinite values; load it with load_table to find them.")
    distinct = np.unique(target)
    is_class = bool(np.all(distinct == np.round(distinct))) and len(distinct) <= MAX_CSV_CLASSES
    classes = distinct if is_class else None
    y = np.searchsorted(distinct, target).astype(np.int64) if is_class else target.astype(np.float32)
    return TableInfo([str(f) for f in features], x, table["task"].astype(str).str.strip().to_numpy(), target,
                      classes, y)
