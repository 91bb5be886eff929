"""Helpers shared by the benchmark scripts: environment header, threads, medians, markdown tables."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import torch  # noqa: E402


def setup(threads: int, device: str = "cpu") -> torch.device:
    """Fix torch's intra-op threads (and one inter-op thread) and check the device exists."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA device here.")
    return torch.device(device)


def describe(device: torch.device) -> str:
    """One line naming the machine, the software and the threads, for the top of every table."""
    where = (f"CUDA {torch.cuda.get_device_name(device)}" if device.type == "cuda"
             else f"CPU ({os.cpu_count()} logical cores: {platform.processor() or platform.machine()})")
    return (f"{where}; torch {torch.__version__}, Python {platform.python_version()}, "
            f"torch threads {torch.get_num_threads()}; {time.strftime('%Y-%m-%d %H:%M')}")


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work, so wall-clock times mean something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def accuracy_summary(metric: Sequence[float], seen: Sequence[bool]) -> dict[str, float]:
    """Mean final test metric over seen and over zero-shot tasks."""
    seen_values = [m for m, s in zip(metric, seen, strict=True) if s]
    zero_values = [m for m, s in zip(metric, seen, strict=True) if not s]
    return {
        "seen": sum(seen_values) / len(seen_values) if seen_values else float("nan"),
        "zero_shot": sum(zero_values) / len(zero_values) if zero_values else float("nan"),
    }


def lift_budget() -> None:
    """Raise the class server's work budget (``ragviz.safety.limits``) for runs that measure scale on purpose.

    Only for variables the caller has not set, so ``RAGVIZ_MAX_TASKS=…`` on the command line still wins.
    """
    for variable, value in (("RAGVIZ_MAX_TASKS", "10000000"), ("RAGVIZ_MAX_EDGES", "100000000"),
                            ("RAGVIZ_MAX_POINTS", "1000000000"), ("RAGVIZ_MAX_ACTIVATIONS_M", "1000000")):
        os.environ.setdefault(variable, value)


def add_quick(parser: argparse.ArgumentParser) -> None:
    """``--quick``: tiny sizes that run in seconds, so the test suite can check that the script still runs."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes that run in seconds: a smoke run for the tests, not a measurement")


def quick(args: argparse.Namespace, **tiny: Any) -> argparse.Namespace:
    """With ``--quick``, replace these arguments by their tiny values (an explicit size is overridden too)."""
    if getattr(args, "quick", False):
        for name, value in tiny.items():
            setattr(args, name, value)
    return args
