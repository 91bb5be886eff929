"""Model and training settings (docs/DESIGN.md §2 and §3), validated in one place.

Both configs round-trip through plain dicts so a checkpoint can store them as JSON and
a form in the app can edit them field by field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ragviz.model.decoders import DECODERS as DECODER_REGISTRY
from ragviz.model.unseen import UNSEEN_STATES
from ragviz.safety import checks
from ragviz.safety.errors import ConfigError

COMPOSITIONS = ("mult", "sub", "rgcn", "none")
AGGREGATIONS = ("mean", "sum", "max", "attention")
#: The built-in decoders and unseen-state strategies (their registries may gain more at run time).
DECODERS = tuple(DECODER_REGISTRY)
UNSEEN = tuple(UNSEEN_STATES)
WEIGHTINGS = ("equal", "uncertainty")
DEVICES = ("auto", "cpu", "cuda")
MAX_LAYERS = 6


def _whole(value: Any, name: str, low: int, high: int) -> int:
    return checks.whole(value, name, ConfigError, low, high)


def _real(value: Any, name: str, low: float, high: float, low_open: bool = False) -> float:
    return checks.real(value, name, ConfigError, low, high, low_open)


def _choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}.")
    return str(value)


class _DictMixin:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} must be an object of settings.")
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"Unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}.")
        return cls(**data).validated()  # type: ignore[attr-defined]


@dataclass
class ModelConfig(_DictMixin):
    """The RAG architecture: embedding size d, encoder width H, L message-passing layers…"""

    embed_dim: int = 16
    hidden: int = 32
    layers: int = 2
    composition: str = "mult"
    aggregation: str = "mean"
    decoder: str = "linear"
    unseen_state: str = "propagated"
    task_dropout: float = 0.3
    n_bases: int = 4
    use_descriptors: bool = False

    def validated(self) -> ModelConfig:
        return ModelConfig(
            embed_dim=_whole(self.embed_dim, "Embedding size", 2, 512),
            hidden=_whole(self.hidden, "Encoder width", 2, 1024),
            layers=_whole(self.layers, "Number of layers", 0, MAX_LAYERS),
            composition=_choice(self.composition, "Composition", COMPOSITIONS),
            aggregation=_choice(self.aggregation, "Aggregation", AGGREGATIONS),
            decoder=_choice(self.decoder, "Decoder", tuple(DECODER_REGISTRY)),
            unseen_state=_choice(self.unseen_state, "Unseen tasks start", tuple(UNSEEN_STATES)),
            task_dropout=_real(self.task_dropout, "Task dropout", 0.0, 0.95),
            n_bases=_whole(self.n_bases, "Number of bases", 1, 64),
            use_descriptors=bool(self.use_descriptors),
        )

    @classmethod
    def from_stored(cls, data: Any) -> ModelConfig:
        """Settings read back from a file written before ``unseen_state`` existed keep that model's
        behaviour: every unseen task started from the one learned vector u."""
        if isinstance(data, dict) and "unseen_state" not in data:
            data = {**data, "unseen_state": "learned"}
        return cls.from_dict(data)


@dataclass
class TrainConfig(_DictMixin):
    """How to train: AdamW, steps, batches, evaluation cadence, loss weighting, device, seed."""

    steps: int = 500
    lr: float = 0.01
    weight_decay: float = 1e-4
    batch_size: int = 0
    eval_every: int = 25
    loss_weighting: str = "equal"
    device: str = "auto"
    seed: int = 0

    def validated(self) -> TrainConfig:
        return TrainConfig(
            steps=_whole(self.steps, "Steps", 1, 1_000_000),
            lr=_real(self.lr, "Learning rate", 0.0, 1e6, low_open=True),
            weight_decay=_real(self.weight_decay, "Weight decay", 0.0, 10.0),
            batch_size=_whole(self.batch_size, "Batch size", 0, 100_000_000),
            eval_every=_whole(self.eval_every, "Evaluate every", 1, 1_000_000),
            loss_weighting=_choice(self.loss_weighting, "Loss weighting", WEIGHTINGS),
            device=_choice(self.device, "Device", DEVICES),
            seed=_whole(self.seed, "Seed", 0, 2**31 - 1),
        )
