"""The typed `review:` section of params.yaml. Imports only rnnlab.config and the stdlib.

Review has no inference-only knobs (serving cuts and classifies a report exactly as training
did, from net.json), hence no decode section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rnnlab.config import EmbeddingConfig, ModelConfig, TaskConfig, TrainConfig, VocabConfig

CLASSES: tuple[str, ...] = ("accept", "minor", "major", "reject")
Truncation = Literal["head", "tail", "head+tail"]
TRUNCATIONS: tuple[str, ...] = ("head", "tail", "head+tail")


@dataclass(frozen=True)
class BuiltinConfig:
    """Sizes (and class shares) of the seeded built-in corpus."""

    n_train: int = 4000
    n_dev: int = 500
    n_test: int = 1000
    # class shares in CLASSES order (accept, minor, major, reject): mildly imbalanced
    priors: tuple[float, ...] = (0.2, 0.3, 0.3, 0.2)
    seed: int | None = None  # the generator's seed; null: params.yaml's top-level seed


@dataclass(frozen=True)
class ResplitConfig:
    """split: grouped. Shares are rounded to folds (see readers.grouped_split)."""

    dev: float = 0.15
    test: float = 0.2


@dataclass(frozen=True)
class DataConfig:
    source: Literal["builtin", "csv", "jsonl", "peerread"] = "builtin"
    tags: tuple[str, ...] = CLASSES  # the declared label set, c = len(tags) (softmax order)
    builtin: BuiltinConfig = field(default_factory=BuiltinConfig)
    path: str = "data/raw/review/peerread/reviews.jsonl"  # csv | jsonl | peerread: the file
    text_column: str = "text"  # csv | jsonl (peerread: comments)
    label_column: str = "label"  # csv | jsonl (peerread: recommendation)
    group_column: str | None = None  # e.g. paper_id: all reports of a paper stay in one split
    split_column: str | None = None  # a column assigning rows to splits, for split: original
    # its values -> train | dev | test (others dropped); null: the values are train/dev/test.
    # No dev value: resplit.dev of train is held out as dev (grouped, stratified, seeded)
    split_map: dict[str, str] | None = None
    # raw label -> decision; null or {}: the labels are decisions already (peerread: null
    # means its default map). `-S review.data.label_map={}` is merged by DVC: use null.
    label_map: dict[int | str, str] | None = field(default_factory=lambda: {
        5: "accept", 4: "minor", 3: "major", 2: "reject", 1: "reject"})
    encoding: str = "utf-8"  # csv | jsonl: the file's text encoding (e.g. cp1252, latin-1)
    # a control character (NUL, ESC, U+001F ...) in a text: reject (fail naming the lines) |
    # remove (delete them from the texts, counted; PeerRead has one U+001F from a PDF)
    control_characters: Literal["reject", "remove"] = "reject"
    # a text in two splits fails validation; true: drop it from train (and dev) instead
    drop_cross_split_duplicates: bool = False
    split: Literal["grouped", "original"] = "grouped"
    resplit: ResplitConfig = field(default_factory=ResplitConfig)
    split_seed: int | None = None  # split: grouped; null: params.yaml's top-level seed
    max_len: int = 200  # tokens the RNN reads (0: no limit); longer reports are cut
    truncation: Truncation = "head+tail"
    cv_folds: int = 5  # python -m rnnlab.tasks.review.cv: grouped k-fold measurement


@dataclass(frozen=True)
class ValidationConfig:
    min_tokens: int = 5
    max_tokens: int = 5000
    min_per_class: int = 5  # each class needs this many training reports


@dataclass(frozen=True)
class ReviewVocabConfig(VocabConfig):
    max_size: int = 20000
    lowercase: bool = True


@dataclass(frozen=True)
class ReviewModelConfig(ModelConfig):
    cell: Literal["simple", "rnn", "lstm", "gru"] = "lstm"
    hidden_size: int = 32
    embedding_dim: int = 32
    # last (final state) | mean | max (masked, over the real steps only) | max+mean (both,
    # concatenated) | attention (learnt weights over the real steps)
    pooling: Literal["last", "mean", "max", "max+mean", "attention"] = "mean"
    embedding_dropout: float = 0.0  # share of words whose whole vector is zeroed in training


@dataclass(frozen=True)
class ReviewTrainConfig(TrainConfig):
    max_epochs: int = 16
    batch_size: int = 64
    lr: float = 0.01
    word_dropout: float = 0.0  # share of training words shown as their unknown-word class
    # none | weights (loss weights n/(c*count)) | sampler (balanced batches)
    imbalance: Literal["none", "weights", "sampler"] = "none"
    bucket: bool = True  # batch similar lengths together (less padding)


@dataclass(frozen=True)
class TfidfLRConfig:
    """TF-IDF n-grams + logistic regression on the full (untruncated) text."""

    enabled: bool = True
    ngram_max: int = 2
    min_df: int = 1
    # one C, or several: the best on dev macro-F1 is used
    C: tuple[float, ...] | float = (0.1, 1.0, 10.0)
    class_weight: Literal["balanced"] | None = "balanced"


@dataclass(frozen=True)
class BaselinesConfig:
    tfidf_lr: TfidfLRConfig = field(default_factory=TfidfLRConfig)


@dataclass(frozen=True)
class ReviewConfig(TaskConfig):
    data: DataConfig = field(default_factory=DataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    vocab: ReviewVocabConfig = field(default_factory=ReviewVocabConfig)
    model: ReviewModelConfig = field(default_factory=ReviewModelConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    train: ReviewTrainConfig = field(default_factory=ReviewTrainConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)


CONFIG = ReviewConfig

# Overrides of the params.yaml section that make the whole pipeline run in seconds on the
# built-in data (160 training reports, a tiny LSTM, one epoch, one C).
TINY: dict[str, Any] = {
    "data": {"builtin": {"n_train": 160, "n_dev": 40, "n_test": 40}, "max_len": 80},
    "model": {"hidden_size": 8, "embedding_dim": 8},
    "train": {"max_epochs": 1, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"tfidf_lr": {"C": 1.0}},
}
