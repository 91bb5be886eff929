"""A project whose every user-settable string is an attack: the fixture of the "plain text" tests.

The names are valid (visible characters, short enough), so they are accepted; what must
never happen is that one of them becomes HTML, a link, an image or a script in a browser.
"""

from __future__ import annotations

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.storage.checkpoint import checkpoint_bytes
from ragviz.training.project import Project
from ragviz.training.train import train

#: Where a successful attack would send the browser (nothing listens there).
BEACON = "http://127.0.0.1:9/beacon"
TASKS = (
    "<img src=x onerror=alert(1)>",
    f"![b]({BEACON})",
    "[x](javascript:alert(2))",
    '<iframe srcdoc="<script>alert(3)</script>">',
)
RELATIONS = (
    "<b onmouseover=alert(4)>bold</b>",
    "![r](http://127.0.0.1:9/relation) :red[red] $x^2$",
)
PROJECT = f"![p]({BEACON}?project) <script>alert(5)</script> www.example.com"  # GFM would autolink the address
LESSON = f"# Heading\n\n![l]({BEACON}?lesson) [click](javascript:alert(6)) <iframe src='{BEACON}'>"
PARAM = "<img src=y onerror=alert(7)>"
#: Every hostile string, for "shown literally, never live" assertions.
ALL = (*TASKS, *RELATIONS, PROJECT)


def hostile_project() -> Project:
    """Four moons tasks (one zero-shot) named by :data:`TASKS`, linked by both :data:`RELATIONS`."""
    graph = TaskGraph([Relation(RELATIONS[0], True, "#1f77b4"), Relation(RELATIONS[1], False, "#d62728")])
    for k, name in enumerate(TASKS):
        params = {"rotate": 90.0 * k, PARAM: 1.0} if k == 0 else {"rotate": 90.0 * k}
        graph.add_task(Task(name, "moons", params, 0 if k == 3 else 20, 20, k, (float(k), float(k % 2))))
    for k in range(len(TASKS)):
        graph.add_edge(TASKS[k], TASKS[(k + 1) % len(TASKS)], RELATIONS[k % 2])
    return Project(graph, ModelConfig(embed_dim=8, hidden=16, layers=2),
                   TrainConfig(steps=20, eval_every=10, device="cpu"), name=PROJECT, lesson=LESSON)


def hostile_checkpoint() -> tuple[Project, bytes]:
    """The project trained for a few steps, saved as a checkpoint a stranger could upload."""
    project = hostile_project()
    result = train(project.graph, project.model_config, project.train_config)
    return project, checkpoint_bytes(project, result.model, result.history, {"device": "<b>cpu</b>"})
