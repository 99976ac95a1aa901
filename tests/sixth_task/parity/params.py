"""parity's params.yaml section, typed (imports no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig


@dataclass(frozen=True)
class ParityData:
    n_train: int = 400
    n_dev: int = 100
    n_test: int = 100
    max_bits: int = 8


@dataclass(frozen=True)
class ParityValidation:
    max_bits: int = 8


@dataclass(frozen=True)
class ParityConfig(TaskConfig):
    data: ParityData = field(default_factory=ParityData)
    validation: ParityValidation = field(default_factory=ParityValidation)
    vocab: VocabConfig = field(default_factory=lambda: VocabConfig(unk_signatures=False))
    model: ModelConfig = field(default_factory=lambda: ModelConfig(hidden_size=16,
                                                                   bidirectional=False))
    train: TrainConfig = field(default_factory=TrainConfig)


CONFIG = ParityConfig
TINY: dict = {"train": {"max_epochs": 2}}
