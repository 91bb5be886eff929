"""Does the trained model still fit the graph on screen, and what the banner says when it does not."""

from __future__ import annotations

from ragviz.graph.generators import generate_graph
from ragviz.graph.tasks import Task
from ragviz.inspection.model_fit import Fit, fit_message, model_fit
from tests.helpers import small_ring


def test_the_trained_graph_moved_around_still_matches() -> None:
    trained = small_ring()
    moved = trained.copy()
    moved.set_positions({name: (10.0 + i, -3.0) for i, name in enumerate(moved.task_names())})
    fit = model_fit(moved, trained)
    assert fit.fit == Fit.MATCH and fit.matches and fit.can_look_inside
    assert fit_message(fit) is None


def test_no_model_says_so_and_suggests_training() -> None:
    fit = model_fit(small_ring(), None)
    assert fit.fit == Fit.NO_MODEL and not fit.can_look_inside
    assert "No trained model" in fit_message(fit) and "Train on this graph" in fit_message(fit)


def test_an_added_task_with_data_is_counted_as_untrained_and_zero_shot_for_the_model() -> None:
    trained = small_ring()
    edited = trained.copy()
    edited.add_task(Task("moons new", "moons", {"rotate": 10.0}, 30, 50, 9))
    edited.add_edge("moons new", trained.task_names()[0], "near")
    fit = model_fit(edited, trained)
    assert fit.fit == Fit.EDITED and fit.can_look_inside
    assert fit.added == ("moons new",) and fit.untrained == ("moons new",) and fit.edges_changed == 1
    message = fit_message(fit)
    assert "1 task added" in message and "1 edge or relation changed" in message
    assert "1 task it never trained on is zero-shot ★ for it" in message


def test_removed_tasks_changed_data_and_edges_are_each_reported() -> None:
    trained = small_ring()
    names = trained.task_names()
    edited = trained.copy()
    edited.remove_task(names[0])
    edited.update_task(names[1], train_size=5)
    fit = model_fit(edited, trained)
    assert fit.removed == (names[0],) and fit.changed == (names[1],)
    assert fit.edges_changed == 2  # the two ring edges of the removed task
    message = fit_message(fit)
    assert "1 task removed" in message and "1 task with changed data" in message and "2 edges or relations" in message


def test_a_generated_graph_the_model_knows_nothing_of_is_a_new_graph_and_not_shown() -> None:
    trained = small_ring()
    new = generate_graph("chain", 5, "moons", vary="rotate", start=0, stop=90, relation="near")
    new = new.copy()
    for old in new.task_names():
        new.rename_task(old, f"other {old}")
    fit = model_fit(new, trained)
    assert fit.fit == Fit.NEW_GRAPH and not fit.can_look_inside
    assert "knows none of its tasks" in fit_message(fit)
    assert "chance level" in fit_message(fit)


def test_another_domain_cannot_run() -> None:
    trained = small_ring()
    sines = generate_graph("chain", 4, "sine", vary="phase", start=0, stop=3, relation="near")
    fit = model_fit(sines, trained)
    assert fit.fit == Fit.OTHER_DOMAIN and not fit.can_look_inside
    message = fit_message(fit)
    assert "sine" in message and "toy2d" in message


def test_the_models_own_vocabulary_decides_which_tasks_it_knows() -> None:
    trained = small_ring()
    fit = model_fit(trained.copy(), trained, known_tasks=[])
    assert fit.fit == Fit.MATCH  # nothing changed: known tasks only matter once something did
    edited = trained.copy()
    edited.add_edge(trained.task_names()[0], trained.task_names()[3], "near")
    assert model_fit(edited, trained, known_tasks=[]).fit == Fit.NEW_GRAPH
    assert model_fit(edited, trained, known_tasks=[trained.task_names()[0]]).fit == Fit.EDITED


def test_while_a_run_trains_this_graph_the_advice_is_to_wait() -> None:
    trained = small_ring()
    edited = trained.copy()
    edited.remove_task(trained.task_names()[0])
    message = fit_message(model_fit(edited, trained), training=True)
    assert "training on this graph now" in message and "Train on this graph" not in message
