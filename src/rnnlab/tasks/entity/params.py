"""The typed `entity:` section of params.yaml. Imports only rnnlab.config and the stdlib."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig


@dataclass(frozen=True)
class BuiltinConfig:
    """Sizes of the seeded built-in corpus (unseen species in dev and test)."""

    n_train: int = 3000
    n_dev: int = 500
    n_test: int = 1000
    seed: int | None = None  # the generator's seed; null: params.yaml's top-level seed


@dataclass(frozen=True)
class FilesConfig:
    """conll: the file of each split, inside `path`."""

    train: str = "train.tsv"
    dev: str = "devel.tsv"
    test: str = "test.tsv"


@dataclass(frozen=True)
class DataConfig:
    source: Literal["builtin", "conll"] = "builtin"
    builtin: BuiltinConfig = field(default_factory=BuiltinConfig)
    path: str = "data/raw/entity"  # conll: a folder holding `files`
    files: FilesConfig = field(default_factory=FilesConfig)
    encoding: str = "utf-8"  # conll: the files' encoding; undecodable bytes stop prepare
    tags: tuple[str, ...] = ("O", "B-Species", "I-Species")  # the tags validation allows


@dataclass(frozen=True)
class ValidationConfig:
    min_tokens: int = 1
    max_tokens: int = 400
    duplicate_min_tokens: int = 1  # shorter dev/test sentences may repeat training ones
    max_duplicate_fraction: float = 0.0  # tolerated share of dev/test repeating training


@dataclass(frozen=True)
class EntityModelConfig(ModelConfig):
    # also input "word is in a name seen in training" (helps on real corpora)
    dictionary_feature: bool = False
    # character-level word features concatenated with x<t>: none | rnn (a BiRNN over each
    # word's characters, the cell of `cell`) | cnn (a character CNN, cheaper)
    chars: Literal["none", "rnn", "cnn"] = "none"
    char_dim: int = 16  # character embedding width
    char_hidden: int = 16  # rnn: units per direction; cnn: 2 * char_hidden filters
    # the output layer: softmax (one tag per word, independently) | crf (a linear-chain CRF
    # over the tags, Viterbi decoding)
    decoder: Literal["softmax", "crf"] = "softmax"


@dataclass(frozen=True)
class EntityTrainConfig(TrainConfig):
    word_dropout: float = 0.1  # share of training words shown as unknown, so <unk> is learnt
    # softmax decoder: > 1 weighs the rare entity tags (every tag but O) more in the loss;
    # the CRF's sentence likelihood takes no weight (it must stay 1.0 there)
    positive_weight: float = 1.0
    bucket: bool = True  # batch similar lengths together (less padding)


@dataclass(frozen=True)
class DenseConfig:
    """The lecture's standard (dense) network, trained with the train and trainer sections
    (its own max_epochs and hidden size)."""

    enabled: bool = True
    hidden_size: int = 128
    max_epochs: int = 10
    # kept cheap, it is a baseline: at most this many (seeded sample of) training sentences,
    # and T_max capped at max_len positions (later words are "O"); 0 = no cap. 3000 sampled
    # of LINNAEUS' 11,935 left it all-O (F1 0.000); all of them: 0.181 in 69 s of evaluate
    max_train_sentences: int = 20000
    max_len: int = 100


@dataclass(frozen=True)
class BaselinesConfig:
    dense: DenseConfig = field(default_factory=DenseConfig)


@dataclass(frozen=True)
class DecodeConfig:
    """After the tagger (evaluate and serving; train does not read it; a request may override
    each): the training dictionary, then label consistency across neighbouring sentences
    (rnnlab.tasks.entity.consistency)."""

    dictionary: bool = False  # also tag every training name the tagger left O
    # a name tagged in one of the `consistency_window` sentences before or after (0: off) is
    # tagged where it recurs; a served request's texts are its neighbourhood
    consistency_window: int = 0
    # ... if the tagger tagged at least this share of its occurrences there (a vote)
    consistency_share: float = 0.34
    abbreviations: bool = True  # a tagged "Lutzomyia whitmani" also finds "L . whitmani"


@dataclass(frozen=True)
class EntityConfig(TaskConfig):

    data: DataConfig = field(default_factory=DataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    model: EntityModelConfig = field(default_factory=EntityModelConfig)
    train: EntityTrainConfig = field(default_factory=EntityTrainConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


CONFIG = EntityConfig

# merged into params.yaml's entity section: the whole pipeline in seconds on built-in data
TINY: dict = {
    "data": {"builtin": {"n_train": 160, "n_dev": 40, "n_test": 40}},
    "model": {"hidden_size": 16, "embedding_dim": 16},
    "train": {"max_epochs": 2, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"dense": {"enabled": True, "hidden_size": 16, "max_epochs": 1}},
}
