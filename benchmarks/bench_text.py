"""Text tasks: sentence encoding, opening the text sample, and training speed against the ring.

- sentences per second through the frozen transformer on the CPU: the first call (loading the
  model included), then new sentences with the model loaded ("cold": not in the cache), then
  the same sentences again from the disk cache and from memory ("cached");
- time to open the text sample in a fresh process (load the checkpoint, its corpus and
  vectors, compute the trace) beside the ring sample, and whether that loaded the
  transformer (it must not);
- training steps per second on the text sample's graph against the ring sample's graph with
  the same model and training settings; target: text at least 50% of the ring.

Prints markdown tables.

    python benchmarks/bench_text.py
    python benchmarks/bench_text.py --sentences 200 --steps 100 --threads 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

from common import ROOT, add_quick, describe, median, quick, setup, table, verdict

OPEN_SCRIPT = """
import time, json
start = time.perf_counter()
from ragviz.lessons.samples import load_sample
from ragviz.inspection.trace import compute_trace
from ragviz.data import text_encoder
import sys
ckpt = load_sample(sys.argv[1])
loaded = time.perf_counter()
trace = compute_trace(ckpt.model, ckpt.project.graph, ckpt.project.tables)
done = time.perf_counter()
print(json.dumps({"load": loaded - start, "trace": done - loaded, "total": done - start,
                  "transformer": text_encoder.is_loaded()}))
"""


def sentences(n: int) -> list[str]:
    """Review-like sentences that are not in the corpus (so nothing is cached yet)."""
    from ragviz.data.text import load_corpus

    texts = load_corpus("reviews").table["text"].tolist()
    return [f"{texts[i % len(texts)]} (benchmark {i})" for i in range(n)]


def bench_encoding(n: int) -> list[list]:
    from ragviz.data import text_cache, text_encoder

    texts = sentences(n + 8)
    first, rest = texts[:8], texts[8:]
    start = time.perf_counter()
    text_cache.encode(first)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    text_cache.encode(rest)
    cold = time.perf_counter() - start
    text_cache.clear_memory()
    start = time.perf_counter()
    text_cache.encode(rest)
    disk = time.perf_counter() - start
    start = time.perf_counter()
    text_cache.encode(rest)
    memory = time.perf_counter() - start
    assert text_encoder.is_loaded()
    return [
        ["first call (loads the transformer, 8 sentences)", f"{load_s:.2f} s", "—"],
        [f"cold: {n} new sentences, model loaded", f"{cold:.2f} s", f"{n / cold:,.0f}"],
        [f"cached on disk: the same {n}", f"{disk * 1000:.0f} ms", f"{n / disk:,.0f}"],
        [f"cached in memory: the same {n}", f"{memory * 1000:.1f} ms", f"{n / memory:,.0f}"],
    ]


def bench_open(repeats: int) -> list[list]:
    """Open the text sample and the ring sample, alternating, each in a fresh process."""
    import json

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    runs: dict[str, list[dict]] = {"zero_shot_ring": [], "text_tasks": []}
    for _ in range(repeats):
        for key in runs:
            out = subprocess.run([sys.executable, "-c", OPEN_SCRIPT, key], cwd=ROOT, env=env, capture_output=True,
                                 text=True, check=True)
            runs[key].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return [[key, f"{median([r['total'] for r in rs]):.2f} s", f"{median([r['load'] for r in rs]):.2f} s",
             f"{median([r['trace'] for r in rs]):.2f} s", "**yes**" if any(r["transformer"] for r in rs) else "no"]
            for key, rs in runs.items()]


def bench_training(steps: int, repeats: int) -> tuple[list[list], float]:
    """The lessons' own graphs and settings (not the shipped checkpoints, which may predate a change)."""
    from ragviz.lessons.catalogue import LESSONS
    from ragviz.lessons.lesson import LESSON_SEEDS
    from ragviz.lessons.text_lesson import KEY
    from ragviz.training.train import train

    lesson = LESSONS[KEY]
    model_config, train_config = lesson.configs(LESSON_SEEDS[0])
    config = replace(train_config, steps=steps, eval_every=max(steps, 1), device="cpu")
    runs = {"ring sample graph": LESSONS["zero_shot_ring"].build_graph(), "text sample graph": lesson.build_graph()}
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so drift in the machine's load hits all
        for name, graph in runs.items():
            train(graph, model_config, replace(config, steps=5))  # warm caches
            start, start_cpu = time.perf_counter(), time.process_time()
            train(graph, model_config, config)
            rates[name].append(steps / (time.perf_counter() - start))
            cpu[name].append(steps / (time.process_time() - start_cpu))
    ring_rate, ring_cpu = median(rates["ring sample graph"]), median(cpu["ring sample graph"])
    rows = []
    for name, graph in runs.items():
        points = sum(t.train_size for t in graph.tasks())
        per_step = min(points, config.batch_size) if config.batch_size else points
        rows.append([name, graph.number_of_tasks(), per_step, f"{median(rates[name]):.1f}",
                     f"{median(rates[name]) / ring_rate:.0%}", f"{median(cpu[name]) / ring_cpu:.0%}"])
    return rows, median(rates["text sample graph"]) / ring_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["encode", "open", "train"])
    add_quick(parser)
    args = quick(parser.parse_args(), sentences=8, steps=5, repeats=1)
    device = setup(args.threads)
    print(f"# Text tasks\n\n{describe(device)}\n")
    if "encode" not in args.skip:
        with tempfile.TemporaryDirectory() as cache:
            os.environ["RAGVIZ_TEXT_CACHE"] = cache
            print("## Encoding sentences (all-MiniLM-L6-v2, CPU)\n")
            print(table(["what", "time", "sentences/s"], bench_encoding(args.sentences)), "\n")
    if "open" not in args.skip:
        print("## Opening the text sample (fresh process)\n")
        print(table(["sample", "total (imports included)", "checkpoint (+ corpus vectors)", "trace",
                     "transformer loaded"],
                    bench_open(args.repeats)), "\n")
    if "train" not in args.skip:
        rows, ratio = bench_training(args.steps, args.repeats)
        print(f"## Training steps per second ({args.steps} steps, the text lesson's model on both graphs)\n")
        print(table(["graph", "tasks", "points per step", "steps/s (median, wall clock)", "of the ring",
                     "of the ring (CPU time)"], rows))
        print(f"\ntext sample (its own settings) / ring, wall clock = {ratio:.0%} (target ≥ 50%): "
              f"{verdict(ratio >= 0.5)}\n")


if __name__ == "__main__":
    main()
