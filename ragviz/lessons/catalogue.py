"""The lessons behind the shipped samples: each a graph, a model, a contrast and a claim.

A lesson says something true about RAG and measures it: the lesson's model and its
contrast (the same data with one thing changed: fewer layers, relation-blind messages,
shuffled or no edges, independent heads for seen tasks) are trained side by side, and the
claim holds only when, on every seed, the model beats that seed's contrast by the lesson's
margin. ``quick=True`` gives a
smaller version of each lesson that trains in seconds, for the test suite.

The settings below were tuned on seeds 0–5. Claims are measured on other seeds
(:data:`LESSON_SEEDS`), each of which sets both the data (every task's seed) and the model
(initialisation and training draws). For zero-shot claims the contrast is the same model with no
edges (or with one thing about the edges changed), never independent heads, whose zero-shot
output is a constant class. The lesson texts (:data:`LESSON_TEXTS`, at the end) explain each setting;
the graphs and measures are in :mod:`ragviz.lessons.graphs`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ragviz.graph.generators import ring_of_moons
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.lessons.graphs import (
    few_shot_spirals,
    group_zero_shot_mean,
    hop_chain,
    hop_mean,
    neighbour_average_metric,
    rotated_digits,
    rotated_drawings,
    seen_mean,
    three_hop_mean,
    typed_relations,
    unseen_speakers,
    works_and_fails,
    zero_shot_mean,
    zero_shot_recognised,
)
from ragviz.lessons.lesson import LESSON_SEEDS, Lesson
from ragviz.lessons.text_lesson import KEY as TEXT_KEY
from ragviz.lessons.text_lesson import LESSON_TEXT as TEXT_LESSON_TEXT
from ragviz.lessons.text_lesson import TEXT_LESSON
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.train import TrainResult, train

DRAWING_KEY = "drawing_rotations"
SPEECH_KEY = "unseen_speakers"

LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in (
        Lesson(
            key="message_passing_hops",
            graph=hop_chain,
            # Unseen tasks start from one learned vector here, not from the default propagation (which
            # reaches any number of hops before the first layer): the lesson is about what layers reach.
            model=ModelConfig(layers=3, aggregation="sum", task_dropout=0.4, unseen_state="learned"),
            train=TrainConfig(steps=1500, lr=0.005, eval_every=50),
            contrast="layers=1",
            model_label="3 layers",
            contrast_label="1 layer",
            metric="test MSE of the two zero-shot tasks 3 hops from data",
            measure=three_hop_mean,
            lower_is_better=True,
            also={"1-hop zero-shot MSE": hop_mean(1), "2-hop zero-shot MSE": hop_mean(2)},
            quick_graph_kwargs={"test_size": 20},
            quick_steps=1200,
        ),
        Lesson(
            key="zero_shot_ring",
            graph=ring_of_moons,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            quick_steps=300,
        ),
        Lesson(
            key="relation_types",
            graph=typed_relations,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="relation-blind",
            model_label="relation-aware (mult)",
            contrast_label="relation-blind (none)",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            quick_graph_kwargs={"rotations": (0, 90)},
            quick_steps=500,
        ),
        Lesson(
            key="wrong_relations",
            graph=ring_of_moons,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="shuffled edges",
            model_label="right edges",
            contrast_label="shuffled edges",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            graph_kwargs={"n": 24, "zero_shot": (2, 7, 12, 17, 22)},
            quick_steps=150,
        ),
        Lesson(
            key="real_digits",
            graph=rotated_digits,
            model=ModelConfig(hidden=64, layers=1, task_dropout=0.2),
            train=TrainConfig(steps=1000, lr=0.005, eval_every=50),
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot accuracy (10 classes)",
            measure=zero_shot_mean,
            # Relations add little on rotated pixels (0.02 to 0.10 on tuning seeds 0–5, about nothing on some
            # report seeds): the claim is that held-out angles are far above chance, with no edges shown beside it.
            chance=0.1,
            quick_graph_kwargs={"test_size": 100},
            quick_steps=300,
        ),
        Lesson(
            key="few_shot",
            graph=few_shot_spirals,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="independent",
            model_label="RAG",
            contrast_label="independent heads",
            metric="test accuracy of tasks with 5 training points",
            measure=seen_mean,
            quick_steps=200,
        ),
        Lesson(
            key="when_zero_shot_fails",
            graph=works_and_fails,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="same model",
            # Judged as the 30° ring's task against the 90° ring's, one model: with the default model the
            # 90° task is below chance on average but not on every report seed (0.01–0.46), so the claim is
            # the gap, which holds on every seed.
            model_label="30° ring's zero-shot task",
            contrast_label="90° ring's zero-shot task",
            metric="zero-shot accuracy of each ring's zero-shot task (same model)",
            measure=group_zero_shot_mean("works"),
            contrast_measure=group_zero_shot_mean("fails"),
            quick_steps=300,
        ),
        Lesson(
            key=DRAWING_KEY,
            graph=rotated_drawings,
            # FiLM-generated heads (decoder "generated"): with the default linear decoder a head is affine in
            # its state, so a zero-shot drawing is at best a blend of its neighbours' (tuning seed 0, 600 steps:
            # zero-shot MSE 0.076 against their average's 0.064); modulating the shared features lets a state
            # between two angles draw on its own (0.061 against 0.063).
            model=ModelConfig(hidden=64, layers=1, decoder="generated"),
            train=TrainConfig(steps=600, lr=0.005, eval_every=50),
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot pixel error (MSE per pixel) of the drawings",
            measure=zero_shot_mean,
            lower_is_better=True,
            mse_ratio=1.2,
            also_trained={"neighbour average, zero-shot MSE": neighbour_average_metric,
                          "zero-shot drawings recognised": zero_shot_recognised},
            quick_graph_kwargs={"train_size": 100, "test_size": 50},
            quick_steps=300,
        ),
        TEXT_LESSON,  # the lesson on text: its graph and settings live in ragviz.lessons.text_lesson
        Lesson(
            key=SPEECH_KEY,
            graph=unseen_speakers,
            # "Is it this speaker?", not "which word": word recognition transfers to an unseen speaker through
            # the shared encoder whatever the relations (no edges scores as well, tuning seeds 0–2), so only a
            # speaker's own identity needs its relations. Three unseen speakers, one per voice, spread over the
            # sizes; tuning seeds 0–5: RAG beats no edges by 0.27–0.41 (80 training utterances per speaker; 40:
            # 0.22–0.35). 800 steps, hidden 64 or one layer did no better.
            model=ModelConfig(),
            train=TrainConfig(steps=400),
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot accuracy of the three unseen speakers' tasks (is it this speaker?)",
            measure=zero_shot_mean,
            also_trained={"neighbour average, zero-shot accuracy": neighbour_average_metric},
            quick_steps=200,
        ),
    )
}


@dataclass
class LessonRun:
    """One seed of one lesson: both trained models and the measured metric of each."""

    key: str
    seed: int
    graph: TaskGraph
    model: TrainResult
    contrast: TrainResult
    model_value: float
    contrast_value: float
    contrast_model_config: ModelConfig
    contrast_edges: Edges | None
    seconds: float
    also: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: (model, contrast)


def run_lesson(key: str, seed: int = LESSON_SEEDS[0], quick: bool = False,
               graph: TaskGraph | None = None) -> LessonRun:
    """Train a lesson's model and its contrast on the same data; ``seed`` sets the data and the model."""
    lesson = LESSONS[key]
    start = time.perf_counter()
    graph = lesson.build_graph(quick, seed) if graph is None else graph
    model_config, train_config = lesson.configs(seed, quick)
    model = train(graph, model_config, train_config)
    contrast_config, edges = lesson.contrast_setup(model_config, graph, seed)
    contrast = model if lesson.contrast == "same model" else train(graph, contrast_config, train_config, edges=edges)
    contrast_measure = lesson.contrast_measure or lesson.measure
    also = {name: (measure(graph, model.history), measure(graph, contrast.history))
            for name, measure in lesson.also.items()}
    also |= {name: (measure(graph, model, None), measure(graph, contrast, edges))
             for name, measure in lesson.also_trained.items()}
    return LessonRun(key, seed, graph, model, contrast, lesson.measure(graph, model.history),
                     contrast_measure(graph, contrast.history), contrast_config, edges,
                     time.perf_counter() - start, also)


def single_threaded() -> Any:
    """Context manager: small models train several times faster on one thread (and reproducibly)."""

    class _Threads:
        def __enter__(self) -> None:
            self.before = torch.get_num_threads()
            torch.set_num_threads(1)

        def __exit__(self, *exc: object) -> None:
            torch.set_num_threads(self.before)

    return _Threads()


#: Each lesson's text, shown beside its sample: what to look at, what to try, what you should see.
LESSON_TEXTS: dict[str, str] = {
    "message_passing_hops": """\
**The graph.** 61 sine tasks on a chain; the phase turns once round the circle along it.
Only every third task has data, and two of those were held out — so the tasks at the
held-out positions (φ ≈ 1.85 and φ ≈ 4.33) are **three hops** from the nearest data, with two
data-less tasks on each side.

**What to look at.**
- *Task outputs*: the curves of the two three-hop tasks match their dashed truth.
- *Message passing*: select a three-hop task and step through the layers. Its receptive field
  grows one hop per layer; only at layer 3 does it reach a task that has data.
- The 1-layer contrast, trained on the same data, predicts a near-flat curve there: its MSE on
  the three-hop tasks is several times the 3-layer model's (the claims table has the figures).
- The claim is about those two tasks only. The other zero-shot tasks, one and two hops from data,
  are reported beside it in the claims table for both models; look at them in *Task outputs* too:
  the 3-layer model does not fit every one of them equally well.

**What to try.** Retrain with *layers = 2*: the three-hop tasks stay unsolved. After two layers
they have heard only from data-less tasks, so both get the same prediction, however the model
is trained. Then go back to 3.

**Why these settings.** This lesson's model starts every data-less task from one shared learned
vector (*unseen tasks start: learned*), so only the layers carry information. The default model
does not wait for layers: a data-less task starts, and ends, where its relations put it (the fixed
point of its neighbours' states), which reaches any number of hops before the first layer: retrain
with *unseen tasks start: propagated* to compare. Aggregation is *sum* and the chain's edges weigh
3: a data-less task starts from the same shared vector as every other one, and a *mean* over its
mostly data-less neighbours dilutes the one message that carries information until it is too
faint to learn from. Task dropout 0.4 gives many training examples of "infer me from three hops away".
""",
    "zero_shot_ring": """\
**The graph.** Twelve two-moons tasks, each rotated 30° more than the last, linked in a ring by
a *near* relation. Two of them (90° and 240°) have **no training data** at all.

**What to look at.**
- *Task outputs*: the zero-shot tasks' decision boundaries are rotated correctly, half-way between
  their neighbours', although the model never saw a point of them.
- *Embeddings*: the seen tasks' embeddings lie in rotation order round a loop; each generates its
  task's head. A zero-shot task (★) starts, and ends, at the fixed point of its neighbours' states:
  at the last layer it sits between its two neighbours, and the head its own state generates is
  its predictor.
- *Message passing*: at layer 0 a ★ task already sits between its neighbours; the layers refine
  every state; at the last layer the arrows into a ★ task are the weighted neighbour states that
  make its final state.
- The *no edges* contrast (the same model and data, no relations) has nothing that tells a
  zero-shot task from any other: it keeps the head its untrained state generates, the same guess
  for both, and scores at or below chance on them (the claims table has the figures).

**What to try.** In *Task graph*, delete one edge of a zero-shot task, or add a new task with
train size 0 between two others, and look at *Task outputs* again: the prediction changes
without retraining. Retrain with *no edges* as a baseline on the *Train* page.
""",
    "relation_types": """\
**The graph.** Three groups of rotated moons (0°, 60°, 120°). In each group a task has a copy
linked by **same** (green) and a twin with its labels flipped, linked by **labels flipped** (red).
Each group also has two **zero-shot** tasks linked to the same task: one by *same*, one by
*labels flipped*.

**What to look at.**
- *Task outputs*: "new … (same)" and "new … (flipped)" get opposite decision regions — same
  neighbour, different relation.
- *Message passing*: the two zero-shot tasks of a group receive a message from the same
  neighbour; the message vectors differ because each is composed with its relation's embedding
  (h ⊙ z_r). At the last layer each takes its neighbour's final state moved by its relation's
  transform: *labels flipped* has learned to negate the half of the state that generates the part
  of a head which reversing the labels negates, *same* keeps it.
- The relation-blind contrast (composition *none*) gives both zero-shot tasks of a group the
  same predictor, so where it is right on one it is wrong on the other: about half right on average.

**What to try.** Retrain with *composition = none*. Then, on the trained model, change a zero-shot
task's edge from *same* to *labels flipped* in *Task graph*: its prediction flips without retraining.
""",
    "wrong_relations": """\
**The graph.** 24 two-moons tasks rotated in 15° steps round a ring, five of them zero-shot.

**What to look at.**
- *Task outputs*: with the right edges every zero-shot task is classified almost perfectly.
- The *shuffled edges* contrast keeps the same number of *near* edges but joins random tasks:
  the seen tasks are still learned (they have data), but a zero-shot task now hears from tasks
  rotated by anything.
- The *shuffled edges* contrast's zero-shot accuracy depends on where the random edges fell and
  varies a lot from seed to seed; with the right edges it is high on every seed (the claims table
  has the figures).

**What to try.** On the *Train* page, train the *shuffled edges* baseline beside the model and
compare the zero-shot rows. In *Task graph*, remove both edges of a zero-shot task and link it to
a task on the far side of the ring instead: without retraining, its accuracy collapses — the
model believes the edges it is given.
""",
    "real_digits": """\
**The graph.** scikit-learn's bundled 8×8 handwritten digits, rotated in 30° steps round a ring
of twelve ten-class tasks. The 90° and 240° tasks are **held out** (zero-shot).

**What to look at.**
- *Task outputs*: the confusion matrices of the zero-shot angles are mostly diagonal, though
  well below the angles with data. Chance is 0.1 (ten classes).
- The *no edges* contrast (the same model and data, no relations) gets many of the held-out
  digits right too: many digits look alike after a turn, and the shared encoder has learned from
  every other angle. On the report seeds the relations add 0.12 to 0.25, not the 0.15 on every
  seed the other lessons ask — so this lesson's claim is judged against chance, and the no-edges
  figures are shown beside it (the claims table has both).

**Be honest about it.**
- Rotation is hard to interpolate from pixels; on this real data the graph helps little.
- Every task draws its images from the same pool of 1,797 digits, so most of a held-out angle's
  test digits appear, at other angles, in other tasks' training data. That helps both models
  alike, but it means the zero-shot accuracy is not accuracy on new handwriting.
- Independent heads are no contrast here: a zero-shot task has no head of its own, so they
  always answer class 0.

**What to try.** Train the *no edges* baseline on the *Train* page and compare the zero-shot rows.
Hold out another angle (set its train size to 0) and retrain.
""",
    "few_shot": """\
**The graph.** 24 three-armed spirals rotated in 15° steps round a ring. Every task has **five**
training points — fewer than two per class.

**What to look at.**
- *Task outputs*: RAG draws whole spiral arms from five points, because a task's predictor is
  generated from an embedding shaped by its neighbours, not fitted from its own points alone.
- The *independent heads* contrast (one linear head per task on the same shared encoder) fits
  its five points and little else.

**What to try.** Train the *independent heads* baseline beside the model on the *Train* page and
compare the per-task rows. Then set every train size to 40 and retrain both: the gap narrows,
because each task then has enough data of its own.
""",
    "when_zero_shot_fails": """\
**The graph.** Two rings of rotated two-moons tasks, trained together as one model. The *works*
ring has twelve tasks 30° apart; the *fails* ring has four tasks 90° apart (0°, 90°, 180°, 270°).
In both rings the 90° task has **no training data**.

**What to look at.**
- *Task outputs*: "fails 90°" gets a sharp boundary that is wrong: in this sample its accuracy is
  far below chance, because its labels come out swapped. "works 90°" is classified well.
- Why: in the fails ring the 90° task's neighbours are 0° and 180°, and so are the neighbours of
  the seen 270° task. The relations say the same thing about both, so the model gives the
  zero-shot task the 270° task's predictor, which is the 90° task's with its labels swapped. No
  model that reads only these relations can tell the two apart, and averaging the neighbours'
  predictions does no better: 0° and 180° disagree almost everywhere.
- *Task outputs → How sure is the model?*: train 5 models and look at "fails 90°". Where the five
  models infer it from its neighbours differently it is flagged. That is a warning, not an answer:
  a graph that describes the wrong task can fool every model the same way, and then nothing flags it.
- The claims table gives both rings' zero-shot accuracy, from the same trained model on each
  seed: the 30° ring's task far above the 90° ring's on every seed. The 90° task is below chance on
  average but not on every seed (the table gives the range): which wrong answer a model settles on
  is not pinned down either.

**Be honest about it.** A zero-shot prediction is an inference from the relations. When they do
not pin the task down (too few neighbours, neighbours too far apart, symmetric places, wrong
edges) it can be confidently wrong, and the seen tasks' good accuracy says nothing about it.
`benchmarks/GENERALISATION.md` lists more such cases, measured on graphs nobody tuned for.

**What to try.** In *Task graph*, add a task at 45° with training data to the fails ring, link it
to "fails 0°" and "fails 90°", and retrain: the 90° task's relations now tell it apart from the
270° task. Compare its row in *Task outputs* before and after.
""",
    DRAWING_KEY: """\
**The graph.** Twelve *generation* tasks round a ring, "draw digit d rotated by θ" in 30° steps,
linked by *near*. A task's input names what to draw (a one-hot of the digit and a small style
code: a few numbers that describe one person's upright handwriting of it); its output is an 8×8
image, 64 pixels, learned with a pixel loss (MSE). So the head the GNN generates for a task does
not classify: it **draws**. The 90° and 240° tasks have **no training data**: their drawings come
from their relations alone.

**What to look at.**
- *Task outputs*: each task's true images (top) above its drawings (bottom). The ★ tasks draw
  digits turned by an angle they never saw. Each panel gives the pixel error and how many of its
  drawings a frozen classifier recognises (the nearest of the ten mean digits turned by the task's
  angle: no training, chance 10%).
- The *no edges* contrast (the same model and data, no relations) has nothing that says which
  angle a ★ task is: it draws the same blur of every angle for both.
- The neighbour average (each ★ task's drawing = the mean of its two neighbours' drawings) is
  reported beside the claim: the relations, used with no GNN at all.

**Be honest about it.**
- On the report seeds the ★ tasks' pixel error is 1.26 to 1.76 times lower than without edges
  (0.058–0.070 against 0.088–0.105), and the classifier recognises 54–64% of their drawings
  against 15–19% without edges. That is the claim, judged on every seed at 1.2×: weaker than the
  3× the sine lesson asks, because most of a drawing's error is handwriting no angle explains.
- The GNN does **not** beat the plain neighbour average here: from −4% to +13% pixel error
  against it, worse on one seed of five. On a ring of angles, the relations say "between these
  two", and averaging two drawings already says that.
- Every task draws from the same pool of 1,797 digits, so a ★ task's test digits appear, at other
  angles, in other tasks' training data: the style code is not new handwriting.

**What to try.** Hold out a third angle (train size 0) and retrain; or remove one edge of "draw 90°"
on *Task outputs → What if…?* and watch its drawings turn towards its one remaining neighbour.
""",
    TEXT_KEY: TEXT_LESSON_TEXT,
    SPEECH_KEY: """\
**The graph.** Fifteen speakers on a grid: three voices down (American, British, Scottish) and five
vocal-tract sizes across (deep, low, mid, high, small: every frequency of the voice scaled by 0.8 to
1.25). The voices are **synthetic**: espeak-ng spoke the digits zero to nine, with jittered pitch,
speed and noise. Each speaker's task asks **"is it this speaker?"**: about half its test clips are its
own, the rest the other speakers'. *next size* links a voice's neighbouring sizes; *same size* links
neighbouring voices at one size. Three speakers have **no training data**: us-high, gb-deep and
sc-small, one per voice, spread over the sizes. Each is placed by the speakers who share its size
and those who share its voice.

**What to look at.**
- *Task graph → data preview*: play an unseen speaker's clip beside its neighbours': the same voice
  one size either way, and the neighbouring voice at the same size.
- *Task outputs*: the unseen speakers' confusion matrices ("another speaker" against the speaker's
  own name). In this sample (seed 11) sc-small and gb-deep are right about three times in four
  (0.75, 0.72); us-high is little better than a coin (0.53).
- *Message passing*: at the last layer, the arrows into an unseen speaker come from those neighbours
  on the grid; its state, built from theirs, generates its head.
- The *no edges* contrast (the same model and data, no relations) has one guess for every unseen
  speaker, and it is worse than a coin. An unseen speaker's clips did appear in training, but only as
  "another speaker" in the other speakers' tasks. So without edges the model says "this speaker" to
  fewer of that speaker's own clips than to the others'.

**Be honest about it.**
- On the report seeds the three unseen speakers score 0.66–0.77 (mean accuracy; chance 0.5), against
  0.35–0.40 for the same model without edges: 0.31 to 0.37 higher on every seed. That is the claim,
  judged at 0.15. One speaker alone ranges from 0.53 to 0.83.
- The task is hard even with data: the speakers that have training clips score only 0.75–0.78.
- The GNN does **not** beat the plain neighbour average (each unseen speaker's answer = the mean of
  its neighbours' heads' answers): from 0.003 below it to 0.036 above, below on one seed of five.
  The relations carry the information, and averaging the neighbours already uses most of it.
- *Which word* tasks (speech_words) would make a poor lesson: the shared encoder recognises a word
  from an unseen speaker just as well without edges.
- Synthetic voices are far more alike than people, and the model heard no human voice: what *Say it
  yourself* (on *Task outputs*) makes of yours means little.

**What to try.** In *Task graph*, remove the *same size* edge of "sc-small" and link it to "us-deep"
instead, then look at *Task outputs* again: without retraining, its accuracy in this sample falls from
0.75 to about 0.3. The model believes the edges it is given. Train the *no edges* baseline on the
*Train* page and compare the unseen speakers' rows.
""",
}
