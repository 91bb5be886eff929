"""Adding a decoder or an unseen-task strategy is one class and one registry entry (docs/DESIGN.md §7)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ragviz.graph.generators import ring_of_moons
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.decoders import DECODERS, decoder_class, register_decoder
from ragviz.model.decoders.base import Decoder, Heads
from ragviz.model.unseen import UNSEEN_STATES, register_unseen_state, unseen_state_class
from ragviz.model.unseen.base import UnseenState
from ragviz.safety.errors import ConfigError
from ragviz.training.train import train


class ScaledSharedHead(Decoder):
    """A toy decoder: one shared head, scaled per task by a number generated from t_v."""

    name = "toy-scaled"
    summary = "one shared head times a generated scale"

    def __init__(self, model, d: int, hidden: int, c: int, n_seen: int, n_slots: int) -> None:
        model.toy_head = nn.Linear(hidden, c)
        model.toy_scale = nn.Linear(d, 1)

    def heads(self, model, t, g, drop, mask) -> Heads:
        scale = 1 + model.toy_scale(t)  # (N, 1)
        weight = model.toy_head.weight.t().unsqueeze(0) * scale.unsqueeze(-1)
        return Heads(weight=weight, bias=model.toy_head.bias.expand(t.shape[0], -1) * scale, mask=mask)


class NeighbourFreeState(UnseenState):
    """A toy strategy: an unseen task starts at zero."""

    name = "toy-zero"

    def initial(self, model, g, own, unseen, shared):
        return torch.where(unseen.unsqueeze(-1), torch.zeros_like(own), own)


@pytest.fixture()
def registered():
    register_decoder(ScaledSharedHead)
    register_unseen_state(NeighbourFreeState)
    try:
        yield
    finally:
        DECODERS.pop(ScaledSharedHead.name)
        UNSEEN_STATES.pop(NeighbourFreeState.name)


def test_a_registered_decoder_and_strategy_train_like_the_built_in_ones(registered) -> None:
    config = ModelConfig(decoder="toy-scaled", unseen_state="toy-zero").validated()
    result = train(ring_of_moons(), config, TrainConfig(steps=40, eval_every=20, seed=0, device="cpu"))
    assert isinstance(result.model.decoder, ScaledSharedHead)
    assert isinstance(result.model.unseen, NeighbourFreeState)
    assert {"toy_head.weight", "toy_scale.weight"} <= set(result.model.state_dict())
    losses = result.history.train_loss
    seen = [i for i, name in enumerate(result.history.tasks) if name not in result.history.zero_shot]
    assert sum(losses[-1][i] for i in seen) < sum(losses[0][i] for i in seen)  # it learned


def test_unknown_names_are_refused_with_the_registered_choices() -> None:
    with pytest.raises(ConfigError, match="linear"):
        ModelConfig(decoder="nope").validated()
    with pytest.raises(ConfigError, match="propagated"):
        ModelConfig(unseen_state="nope").validated()


def test_every_built_in_entry_resolves_to_a_class_of_its_name() -> None:
    for name in DECODERS:
        assert decoder_class(name).name == name
    for name in UNSEEN_STATES:
        assert unseen_state_class(name).name == name
