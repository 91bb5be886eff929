"""Zero-shot beyond the lessons, on the tuning seeds: where each decoder loses, and to what.

Settings none of the lessons tune for (larger steps between neighbours, other toy families,
more classes, adjacent zero-shot tasks, the end of a chain, half the edges rewired, sine).
For each decoder: RAG, the same model with no edges, and a non-learned baseline that averages
the nearest seen tasks' predicted probabilities (that model's own seen heads, weighted by edge
weight). Seeds vary data and model; use only 0-5 here (other seeds are kept for reporting).

    python benchmarks/zero_shot_tuning.py --seeds 0 1 2 3 4 5 --decoders generated mix blended --jobs 2
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import common  # puts the repository on sys.path
import numpy as np
import torch

from ragviz.graph.generators import generate_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.rag import RAGModel
from ragviz.training.prepared import prepare
from ragviz.training.train import train

Edges = list[tuple[str, str, str, float]]


def _graph(family: str, n: int, step: float, zero: list[int], seed: int, kind: str = "ring",
           vary: str = "rotate", start: float = 0.0, base: dict | None = None) -> TaskGraph:
    stop = start + step * (n if kind == "ring" else n - 1)
    return generate_graph(kind, n, family, base_params=base or {}, vary=vary, start=start, stop=stop,
                          zero_shot=zero, seed=seed, train_size=40, test_size=100)


def _rewired(graph: TaskGraph, share: float, seed: int) -> Edges:
    """The graph's edges with ``share`` of them pointed at a random other task."""
    rng = random.Random(seed)
    edges = [(e.source, e.target, e.relation, e.weight) for e in graph.edges()]
    names = graph.task_names()
    for i in rng.sample(range(len(edges)), int(share * len(edges))):
        s, t, r, w = edges[i]
        edges[i] = (s, rng.choice([n for n in names if n not in (s, t)]), r, w)
    return edges


SETTINGS: dict[str, tuple[str, Callable[[int], tuple[TaskGraph, bool]]]] = {
    "moons ring 30° (lesson-like)": ("0.50", lambda s: (_graph("moons", 12, 30, [3, 8], s), False)),
    "moons ring 45°": ("0.50", lambda s: (_graph("moons", 8, 45, [2, 6], s), False)),
    "moons ring 30°, adjacent zero-shot": ("0.50", lambda s: (_graph("moons", 12, 30, [3, 4], s), False)),
    "moons chain end (1 and 2 hops out)": ("0.50", lambda s: (_graph("moons", 10, 20, [8, 9], s, "chain"), False)),
    "moons ring, half the edges rewired": ("0.50", lambda s: (_graph("moons", 12, 30, [3, 8], s), True)),
    "spiral 3 classes ring 30°": ("0.33", lambda s: (_graph("spiral", 12, 30, [3, 8], s, base={"n_classes": 3}),
                                                    False)),
    "blobs 5 classes ring 30°": ("0.20", lambda s: (_graph("blobs", 12, 30, [3, 8], s, base={"n_classes": 5}),
                                                   False)),
    "xor ring 20°": ("0.50", lambda s: (_graph("xor", 12, 20, [3, 8], s), False)),
    "circles shifted, chain": ("0.50", lambda s: (_graph("circles", 10, 0.3, [4, 7], s, "chain", "shift_x", -1.5),
                                                  False)),
    "linear ring 30°": ("0.50", lambda s: (_graph("linear", 12, 30, [3, 8], s), False)),
    "sine phase ring (MSE)": ("0.50", lambda s: (_graph("sine", 12, 0.5236, [3, 8], s, vary="phase"), False)),
}


def neighbour_average(model: RAGModel, graph: TaskGraph, edges: Edges) -> float:
    """Mean zero-shot metric when each zero-shot task averages its nearest seen tasks' predictions."""
    prep = prepare(graph, model, edges=edges)
    g = prep.g
    index = {name: i for i, name in enumerate(g.names)}
    seen = (g.embed_index >= 0).numpy()
    links: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for s, t, _, w in edges:
        links[index[t]].append((index[s], w))
        links[index[s]].append((index[t], w))
    model.eval()
    with torch.no_grad():
        heads = model.task_heads(model.embed_tasks(g)[0][-1], g)
        scores = []
        for v in np.flatnonzero(~seen):
            pick = prep.test.tid == v
            x, y = prep.test.x[pick], prep.test.y[pick]
            frontier, visited, found = {int(v): 1.0}, {int(v)}, {}
            while frontier and not found:  # breadth first to the nearest seen tasks
                reached: dict[int, float] = defaultdict(float)
                for u, weight in frontier.items():
                    for k, w in links[u]:
                        if k not in visited:
                            reached[k] += weight * w
                visited |= set(reached)
                found = {k: w for k, w in reached.items() if seen[k]}
                frontier = reached
            if not found:
                continue
            total = sum(found.values())
            mean = 0.0
            for k, w in found.items():
                out = model.decode_all(heads.rows(k, k + 1), x, torch.zeros(len(x), dtype=torch.long))
                mean = mean + w / total * (out if model.regression else torch.softmax(out, -1))
            scores.append(float(((mean - y) ** 2).mean()) if model.regression
                          else float((mean.argmax(-1) == y).float().mean()))
    return float(np.mean(scores)) if scores else float("nan")


def run(setting: str, seed: int, decoder: str, steps: int) -> dict[str, float]:
    torch.set_num_threads(1)
    graph, rewire = SETTINGS[setting][1](seed)
    edges = _rewired(graph, 0.5, seed) if rewire else [(e.source, e.target, e.relation, e.weight)
                                                       for e in graph.edges()]
    config, schedule = ModelConfig(decoder=decoder), TrainConfig(steps=steps, eval_every=steps, seed=seed)
    result = train(graph, config, schedule, edges=edges)
    return {"RAG": result.history.summary()["zero_shot"],
            "no edges": train(graph, config, schedule, edges=[]).history.summary()["zero_shot"],
            "neighbour average": neighbour_average(result.model, graph, edges)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--decoders", nargs="*", default=["generated", "mix"])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--settings", nargs="*", default=None, help="substrings of setting names (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes (one torch thread each)")
    common.add_quick(parser)
    args = parser.parse_args()
    args = common.quick(args, seeds=args.seeds[:1], decoders=args.decoders[:1], steps=10,
                        settings=[next(iter(SETTINGS))])
    torch.set_num_threads(1)
    settings = [s for s in SETTINGS if args.settings is None or any(k in s for k in args.settings)]
    cases = list(itertools.product(settings, args.decoders, args.seeds))
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        settings_, decoders_, seeds_ = zip(*cases, strict=True)
        done = pool.map(run, settings_, seeds_, decoders_, itertools.repeat(args.steps))
        results = dict(zip(cases, done, strict=True))
    methods = ["RAG", "no edges", "neighbour average"]
    print(f"Zero-shot accuracy (MSE for sine), mean ± std (worst seed) over seeds {args.seeds}, {args.steps} steps.\n")
    header = ["setting", "chance"] + [f"{m} ({d})" for d in args.decoders for m in methods]
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for setting in settings:
        chance = SETTINGS[setting][0]
        lower = "MSE" in setting
        cells = [setting, chance]
        for decoder in args.decoders:
            rows = [results[setting, decoder, seed] for seed in args.seeds]
            for m in methods:
                values = np.array([r[m] for r in rows])
                worst = values.max() if lower else values.min()
                cells.append(f"{values.mean():.3f} ± {values.std():.3f} ({worst:.2f})")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
