"""``python -m ragviz``: train, evaluate and inspect checkpoints, and rebuild the samples.

Every user mistake (a missing file, a bad checkpoint, a bad option) prints one clear line
to stderr and exits with status 2, never a traceback; set ``RAGVIZ_DEBUG=1`` to see one.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from ragviz.model.config import AGGREGATIONS, COMPOSITIONS, DECODERS, DEVICES, UNSEEN
from ragviz.safety.errors import RagvizError

EXIT_USAGE = 2
EXIT_CLAIM_FAILED = 1


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports an error as one line (not usage + error) and never exits by itself."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `python -m ragviz {self.prog.split()[-1]} --help`)"
                         if " " in self.prog else f"{message} (see `python -m ragviz --help`)")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.{digits}f}" if math.isfinite(number) else "n/a"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


# ------------------------------------------------------------------------------ loading
def _read_graph(path: str) -> Any:
    from ragviz.safety.errors import GraphError

    file = Path(path)
    if not file.is_file():
        raise GraphError(f"There is no graph file at '{path}'.")
    try:
        data = file.read_bytes()
    except OSError as err:
        raise GraphError(f"Cannot read '{path}': {err.strerror or err}.") from None
    try:
        from ragviz.graph.io import graph_from_json
    except ImportError:  # pragma: no cover - graph_io ships with ragviz
        import json

        from ragviz.graph.task_graph import TaskGraph

        try:
            return TaskGraph.from_dict(json.loads(data.decode("utf-8-sig")))
        except (UnicodeDecodeError, ValueError) as err:
            raise GraphError(f"'{path}' is not a JSON task graph: {err}.") from None
    return graph_from_json(data)


def _load_checkpoint(path: str) -> Any:
    from ragviz.safety.errors import CheckpointError
    from ragviz.storage.checkpoint import load_checkpoint

    if not Path(path).exists():
        raise CheckpointError(f"There is no checkpoint at '{path}'.")
    if Path(path).is_dir():
        raise CheckpointError(f"'{path}' is a folder, not a checkpoint file.")
    return load_checkpoint(path)


def _sample_project(key: str) -> Any:
    """A sample's project: from its checkpoint when built, else rebuilt from its lesson."""
    from ragviz.lessons.catalogue import LESSONS
    from ragviz.lessons.samples import get_sample, load_sample
    from ragviz.safety.errors import CheckpointError
    from ragviz.training.project import Project

    sample = get_sample(key)
    try:
        return load_sample(key).project
    except CheckpointError:
        if not sample.path.is_file():
            lesson = LESSONS[key]
            model_config, train_config = lesson.configs(seed=0)
            return Project(lesson.build_graph(), model_config, replace(train_config, device="auto"), name=sample.title,
                           lesson=sample.lesson)
        raise


# ------------------------------------------------------------------------------ commands
def _cmd_train(args: argparse.Namespace) -> int:
    import threading

    from tqdm import tqdm

    from ragviz.storage.checkpoint import save_checkpoint
    from ragviz.training.project import Project
    from ragviz.training.train import Progress, train

    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        raise UsageError(f"--out must name a .safetensors file, got '{args.out}'.")
    if out.exists() and out.is_dir():
        raise UsageError(f"--out '{args.out}' is a folder; name a .safetensors file.")
    if args.sample:
        project = _sample_project(args.sample)
    else:
        project = Project(_read_graph(args.graph), name=Path(args.graph).stem)
    model_changes = {k: getattr(args, k) for k in ("layers", "composition", "aggregation", "decoder", "unseen_state")
                     if getattr(args, k) is not None}
    train_changes = {k: getattr(args, k) for k in ("steps", "lr", "seed", "device") if getattr(args, k) is not None}
    model_config = replace(project.model_config, **model_changes).validated()
    train_config = replace(project.train_config, **train_changes).validated()
    project.graph.validate()

    bar = tqdm(total=train_config.steps, file=sys.stderr, unit="step", desc="training", disable=None,
               dynamic_ncols=True)

    def report(progress: Progress) -> None:
        bar.update(progress.step - bar.n)
        if progress.loss is not None:
            bar.set_postfix(loss=f"{progress.loss:.4f}", refresh=False)

    stop = threading.Event()
    try:
        result = train(project.graph, model_config, train_config, project.tables, callback=report, stop=stop,
                       report_every=max(1, train_config.steps // 200))
    finally:
        bar.close()
    history = result.history
    summary = history.summary()
    metric = "accuracy" if history.metric == "accuracy" else "MSE"
    print(f"{result.message} Device: {result.device}.")
    print(f"seen tasks: mean test {metric} {_fmt(summary['seen'])}")
    if history.zero_shot:
        print(f"zero-shot tasks: mean test {metric} {_fmt(summary['zero_shot'])}")
    project = Project(project.graph, model_config, train_config, project.tables, project.name, project.lesson)
    path = save_checkpoint(out, project, result.model, history, {"device": result.device, "source": "cli"})
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from ragviz.inspection.trace import compute_trace

    ckpt = _load_checkpoint(args.checkpoint)
    graph = _read_graph(args.graph) if args.graph else ckpt.project.graph
    trace = compute_trace(ckpt.model, graph, ckpt.project.tables, grid_resolution=2)
    sizes = {t.name: t for t in graph.tasks()}
    metric = "accuracy" if trace.metric == "accuracy" else "MSE"
    rows = []
    for i, name in enumerate(trace.task_names):
        task = sizes[name]
        rows.append([name, "yes" if trace.zero_shot[i] else "", str(task.train_size), str(task.test_size),
                     _fmt(trace.test_metric[i])])
    print(f"{ckpt.project.name}: test {metric} per task" + (f" on {args.graph} (inference only)" if args.graph else ""))
    print(_table(rows, ["task", "zero-shot", "train", "test", metric]))
    seen = [v for v, z in zip(trace.test_metric, trace.zero_shot, strict=True) if not z and math.isfinite(v)]
    zero = [v for v, z in zip(trace.test_metric, trace.zero_shot, strict=True) if z and math.isfinite(v)]
    print(f"mean over seen tasks: {_fmt(sum(seen) / len(seen)) if seen else 'n/a'}"
          + (f"; over zero-shot tasks: {_fmt(sum(zero) / len(zero))}" if zero else ""))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    ckpt = _load_checkpoint(args.checkpoint)
    project, history, info = ckpt.project, ckpt.history, ckpt.info
    graph = project.graph
    tasks = graph.tasks()
    zero = [t.name for t in tasks if t.zero_shot]
    print(f"project:   {project.name}")
    print(f"domain:    {graph.domain}")
    print(f"tasks:     {len(tasks)} ({len(zero)} zero-shot{': ' + ', '.join(zero) if zero else ''})")
    relations = ", ".join(f"{r.name} ({'directed' if r.directed else 'undirected'}, "
                          f"{sum(1 for e in graph.edges() if e.relation == r.name)} edges)"
                          for r in graph.relations.values())
    print(f"relations: {relations or 'none'}")
    print("model:     " + ", ".join(f"{k}={v}" for k, v in project.model_config.to_dict().items()))
    print("training:  " + ", ".join(f"{k}={v}" for k, v in project.train_config.to_dict().items()))
    print(f"created:   {info.get('created') or 'unknown'}" + (f" on {info['device']}" if info.get("device") else ""))
    versions = info.get("versions") or {}
    print("versions:  " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"))
    if history is not None and history.steps:
        summary = history.summary()
        metric = "accuracy" if history.metric == "accuracy" else "MSE"
        line = f"metrics:   after {history.steps[-1]} steps, mean test {metric} {_fmt(summary['seen'])} on seen tasks"
        if history.zero_shot:
            line += f", {_fmt(summary['zero_shot'])} on zero-shot tasks"
        print(line)
    sample = info.get("sample")
    if isinstance(sample, dict) and sample.get("claim"):
        print(f"lesson:    {sample.get('title', '')}: {sample['claim']}")
        print(f"           {sample.get('metric', '')}: {sample.get('model_label', 'model')} "
              f"{_fmt(sample.get('model_value'))} vs {sample.get('contrast_label', 'contrast')} "
              f"{_fmt(sample.get('contrast_value'))}")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    import time

    from ragviz.lessons.samples import build_samples, results_table

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1.")
    from ragviz.lessons.lesson import LESSON_SEEDS

    seeds = LESSON_SEEDS if args.seeds is None else args.seeds
    if any(s < 0 for s in seeds):
        raise UsageError("--seeds must be whole numbers ≥ 0.")
    start = time.perf_counter()
    results = build_samples(Path(args.out), seeds=seeds, quick=args.quick,
                            progress=lambda msg: print(msg, file=sys.stderr, flush=True), jobs=args.jobs)
    seconds = time.perf_counter() - start
    print(results_table(results))
    size = sum(p.stat().st_size for p in Path(args.out).glob("*.safetensors"))
    print(f"\nbuilt {len(results)} samples in {args.out}/ ({size / 1e6:.1f} MB) in {seconds:.0f} s; "
          f"table written to {Path(args.out) / 'RESULTS.md'}")
    failed = [r.lesson for r in results if not r.holds]
    if failed:
        print(f"claim(s) that do not hold: {', '.join(failed)}", file=sys.stderr)
        return EXIT_CLAIM_FAILED
    return 0


# ------------------------------------------------------------------------------ parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ragviz", description="RAG, the Relation-Aware Generative model: train, inspect, samples.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a RAG on a graph or a sample and save a checkpoint")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--graph", metavar="FILE.json", help="a task graph exported as JSON")
    source.add_argument("--sample", metavar="KEY", help="a sample's graph and settings (see `samples`)")
    p.add_argument("--steps", type=_positive_int)
    p.add_argument("--layers", type=_positive_int)
    p.add_argument("--composition", choices=COMPOSITIONS)
    p.add_argument("--aggregation", choices=AGGREGATIONS)
    p.add_argument("--decoder", choices=DECODERS)
    p.add_argument("--unseen-state", dest="unseen_state", choices=UNSEEN,
                   help="where a task without data starts and ends (default: propagated)")
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=_positive_int)
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--out", required=True, metavar="FILE.safetensors")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="per-task test metrics of a checkpoint (optionally on an edited graph)")
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("--graph", metavar="FILE.json", help="evaluate on this graph instead (inference only)")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("info", help="what a checkpoint holds: project, configs, provenance, metrics")
    p.add_argument("checkpoint", metavar="CKPT")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("samples", help="rebuild sample_models/ and print the claims table")
    p.add_argument("--out", default=str(_default_sample_dir()), metavar="DIR")
    p.add_argument("--seeds", type=_positive_int, nargs="+", default=None,
                   help="seeds that set the data and the model (default: the lessons' report seeds, 11 to 15)")
    p.add_argument("--quick", action="store_true", help="small, fast versions of the lessons (a smoke test)")
    p.add_argument("--jobs", type=_positive_int, default=None, help="worker processes (default: up to 2)")
    p.set_defaults(func=_cmd_samples)
    return parser


def _default_sample_dir() -> Path:
    return Path("sample_models")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 ok, 1 a claim failed, 2 an error)."""
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        return int(args.func(args))
    except UsageError as err:
        print(f"ragviz: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except RagvizError as err:
        print(f"ragviz: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ragviz: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # --help and friends
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - the command line promises one line, never a traceback
        if os.environ.get("RAGVIZ_DEBUG"):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"ragviz: error: {type(err).__name__}{': ' + message if message else ''}", file=sys.stderr)
        return EXIT_USAGE
