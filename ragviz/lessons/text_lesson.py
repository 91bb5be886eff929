"""The eighth lesson: text tasks share one transformer.

Review sentences from five product domains, each a vector from the frozen all-MiniLM-L6-v2
transformer. Sentiment in four domains has data; sentiment of hotel reviews has none and is
linked to the others by *same task, other domain*. "Complaint" tasks (sentiment with the labels
flipped) are linked to their domain's sentiment task by *opposite labels*; the hotel
complaint and question tasks are zero-shot too. Question and register (formal vs casual) tasks on the same
texts share the encoder and have their own relations. The contrast is the same model with no
edges: a data-less task then gets the shared "unknown" predictor, which cannot know whether
it is a sentiment, a complaint, a question or a register task.

The claim is measured like every lesson's, over the report seeds that change the data split
and the model together; ``python -m ragviz samples`` rebuilds the sample and its row of the
claims table.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.lessons.graphs import zero_shot_mean
from ragviz.lessons.lesson import Lesson
from ragviz.model.config import ModelConfig, TrainConfig

KEY = "text_tasks"
SEEDS = (11, 12, 13, 14, 15)
DOMAINS = ("movies", "restaurants", "hotels", "electronics", "books")
HELD_OUT = "hotels"
SAME = "same task, other domain"
OPPOSITE = "opposite labels"


def _ring_edges(graph: TaskGraph, names: Sequence[str]) -> None:
    """Every pair of tasks of one kind: they are the same task in different domains."""
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            graph.add_edge(a, b, SAME)


def text_task_graph(seed: int = 11, train_size: int = 250, test_size: int = 150,
                    held_out: str = HELD_OUT) -> TaskGraph:
    """Sentiment, complaint, question and register tasks over the reviews corpus.

    ``seed`` picks every task's split, so two seeds train and test on different sentences.
    """
    graph = TaskGraph([Relation(SAME, False, "#2ca02c"), Relation(OPPOSITE, False, "#d62728")])
    seed = seed * 1000
    kinds = {
        "sentiment": ("sentiment", False, DOMAINS),
        "complaint": ("sentiment", True, DOMAINS),
        "question": ("is_question", False, ("movies", "restaurants", "books", held_out)),
        "register": ("register", False, ("restaurants", "electronics", "books")),
    }
    rows = {"sentiment": 0.0, "complaint": -2.0, "question": 2.0, "register": 4.0}
    by_kind: dict[str, list[str]] = {}
    for kind, (label, flip, domains) in kinds.items():
        for domain in domains:
            name = f"{kind} · {domain}"
            zero = domain == held_out
            graph.add_task(Task(name, "text", {"corpus": "reviews", "label": label, "domain": domain, "flip": flip},
                                0 if zero else train_size, test_size, seed,
                                (2.0 * DOMAINS.index(domain), rows[kind])))
            seed += 1
            by_kind.setdefault(kind, []).append(name)
        _ring_edges(graph, by_kind[kind])
    for name in by_kind["complaint"]:
        graph.add_edge(f"sentiment · {name.split(' · ')[1]}", name, OPPOSITE)
    return graph


TEXT_LESSON = Lesson(
    key=KEY,
    graph=text_task_graph,
    model=ModelConfig(embed_dim=16, hidden=64, layers=2, task_dropout=0.3),
    # Mini-batches of 512 of the 3,500 training points: a step costs about a sixth of a full-batch
    # step, and 1,600 of them hold the claim on every seed (benchmarks/RESULTS.md §9).
    train=TrainConfig(steps=1600, lr=0.01, batch_size=512, eval_every=50),
    contrast="no edges",
    model_label="RAG",
    contrast_label="no edges",
    metric="zero-shot accuracy (hotel sentiment, hotel complaints, hotel questions)",
    measure=zero_shot_mean,
    # With the default model no edges trails by 0.15 to 0.2 but not by 0.15 on every report seed: the
    # claim is judged against chance, with no edges shown beside it (as the digits lesson does).
    chance=0.5,
    quick_graph_kwargs={"train_size": 150, "test_size": 100},
    quick_steps=600,
)


#: What the app shows beside the text sample (kept with the lesson's settings, like catalogue.LESSON_TEXTS).
LESSON_TEXT = """\
**The graph.** 2,350 short English reviews (movies, restaurants, hotels, electronics, books),
each turned into a 384-number sentence vector by one frozen pretrained transformer
(all-MiniLM-L6-v2), kept as its coordinates on the corpus's 64 main directions. Every task
reads those numbers through one shared trainable encoder: *sentiment* and *complaint* (sentiment
with the labels flipped) in each domain, *question?* in four and *formal vs casual* in three.
Tasks of one kind are linked by **same task, other domain** (green); each complaint task is
linked to its domain's sentiment task by **opposite labels** (red). The hotel sentiment,
complaint and question tasks have **no training data**.

**What to look at.**
- *Task outputs*: in this sample the three hotel tasks differ. *question? · hotels* is right on
  about nine sentences in ten; *complaint · hotels* on about seven in ten; *sentiment · hotels*
  on only about half (0.56): its confusion matrix leans to one class. The claims table averages
  the three over five seeds. Type a sentence in **Try your own sentence** and watch every task
  answer at once: a complaint task answers "complaint" or "no complaint", and where the model is
  right, sentiment and complaint disagree, as their relation says.
- *Message passing*: a hotel task's final state is the fixed point of its neighbours' states: the
  same task in other domains along its "same task" edges, and along "opposite labels" a state whose
  label-reversing half is negated. Its head is generated from that state.
- The *no edges* contrast (same data, no relations) gives every hotel task the same "unknown"
  predictor: it cannot know which of four kinds of task it is, so it is near chance.

**Be honest about it.** A linear probe trained on the other four domains' sentiment gets about
0.7 on hotels; this sample's zero-shot hotel sentiment stays below that (0.56), so here the graph
tells the model *which* task it is better than the transformer's vectors tell it the answer. The
transformer, not the graph, knows that "mould around the bath" is bad; the graph's part is telling
the model *which* task a data-less task is. A bag-of-words classifier trained on the other domains
gets about 0.52 on hotel sentiment: domain words do not transfer, sentence vectors do.

**What to try.** In *Task graph*, change the edge between "sentiment · hotels" and
"complaint · hotels" to *same task, other domain*: without retraining, the complaint task's
answers change (its state no longer passes through the "opposite labels" transform). Retrain
with *no edges* as a baseline on the *Train* page.
"""
