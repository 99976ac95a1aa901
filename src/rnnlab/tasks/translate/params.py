"""translate's params.yaml section, typed. Imports nothing but rnnlab.config (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig

# ---------------------------------------------------------------- data and validation


@dataclass(frozen=True)
class Direction:
    """Source and target language (ISO 639-1); en -> it swaps the built-in grammar's sides."""

    source: str = "it"
    target: str = "en"


@dataclass(frozen=True)
class BuiltinData:
    """The seeded grammar: pairs per split; its seed defaults to the top-level seed."""

    n_train: int = 8000
    n_dev: int = 1000
    n_test: int = 1000
    seed: int | None = None


@dataclass(frozen=True)
class SplitShares:
    """Shares of a parallel corpus file held out for dev and test (the rest trains)."""

    dev: float = 0.1
    test: float = 0.1


@dataclass(frozen=True)
class CorpusFiles:
    """A corpus shipped as separate files (tatoeba | anki format): dev is optional, carved
    from the train file (share `split.dev`, the same duplicate grouping) when null."""

    train: str
    test: str
    dev: str | None = None


@dataclass(frozen=True)
class TranslateDataConfig:
    # builtin: the seeded grammar | tatoeba: eng<TAB>ita<TAB>English<TAB>Italian |
    # anki: English<TAB>Italian[<TAB>attribution]
    source: Literal["builtin", "tatoeba", "anki"] = "builtin"
    direction: Direction = field(default_factory=Direction)
    builtin: BuiltinData = field(default_factory=BuiltinData)
    path: str = "data/raw/translate/tatoeba/pairs.tsv"  # tatoeba | anki: one file, split below
    anki_languages: tuple[str, ...] = ("en", "it")  # anki: the languages of its first columns
    encoding: str = "utf-8"  # tatoeba | anki: the files' encoding; undecodable bytes stop prepare
    split: SplitShares = field(default_factory=SplitShares)
    split_seed: int | None = None  # the hash split's seed; defaults to the top-level seed
    # tatoeba | anki: separate train / dev / test files instead of splitting `path`
    files: CorpusFiles | None = None


@dataclass(frozen=True)
class TranslateValidationConfig:
    min_tokens: int = 1
    max_tokens: int = 60           # per side
    max_length_ratio: float = 3.0  # (longer + 1) / (shorter + 1) tokens


# ---------------------------------------------------------------- vocab, model, train


@dataclass(frozen=True)
class TranslateVocabConfig(VocabConfig):
    """`lowercase` and `unk_signatures` apply to the source side only: the target vocabulary
    keeps case (BLEU is cased) and has one <unk>, plus <bos> and <eos>."""

    max_size: int = 20000
    unk_signatures: bool = False
    # word: prepare's tokens, one id per word (max_size, min_freq) | subword: sentencepiece
    # pieces fitted on the raw training sentences (subword_size pieces, a soft limit)
    units: Literal["word", "subword"] = "word"
    subword_type: Literal["unigram", "bpe"] = "unigram"
    subword_size: int = 4000   # per side, or for both together when shared
    shared: bool = False       # subword: one model (and id space) for source and target


@dataclass(frozen=True)
class TranslateModelConfig(ModelConfig):
    cell: Literal["simple", "rnn", "lstm", "gru"] = "gru"  # encoder and decoder
    hidden_size: int = 128
    embedding_dim: int = 64
    bidirectional: bool = False
    # none: the plain encoder–decoder (the final state is all the decoder sees) | luong
    attention: Literal["none", "luong"] = "none"
    # greedy decoding of dev after each training epoch (the early-stopping signal dev/bleu_greedy)
    # stops after this many words. Training reads it, so it stays here; evaluate and serving
    # use decode.max_len (changing that one re-runs evaluate only).
    max_len: int = 50
    # dropout on the source and target embeddings (null: `dropout`, as before)
    embedding_dropout: float | None = None
    # the decoder's input embedding and output layer share one [|V_tgt|, n] matrix
    # (needs embedding_dim == hidden_size, and the embedding encoding)
    tie_embeddings: bool = False


@dataclass(frozen=True)
class TranslateTrainConfig(TrainConfig):
    batch_size: int = 64
    # probability that a decoder step reads the gold previous word (else its own argmax)
    teacher_forcing: float = 1.0
    bucket: bool = True  # batch similar lengths together (source, then target: less padding)
    label_smoothing: float = 0.0  # training loss only; dev/loss stays the plain cross-entropy


# ---------------------------------------------------------------- baselines and decoding


@dataclass(frozen=True)
class CopyBaseline:
    enabled: bool = True


@dataclass(frozen=True)
class WordByWordBaseline:
    enabled: bool = True
    iterations: int = 5  # IBM Model 1 EM rounds


@dataclass(frozen=True)
class TranslateBaselines:
    copy: CopyBaseline = field(default_factory=CopyBaseline)
    word_by_word: WordByWordBaseline = field(default_factory=WordByWordBaseline)


@dataclass(frozen=True)
class DecodeConfig:
    """How evaluate and serving decode (train does not read it; a request may override each)."""

    beam_size: int = 5           # 1: greedy decoding
    length_penalty: float = 1.0  # beam hypotheses ranked by log p / length**length_penalty
    max_len: int = 50            # at most this many target units (words or subwords)


@dataclass(frozen=True)
class TranslateConfig(TaskConfig):
    data: TranslateDataConfig = field(default_factory=TranslateDataConfig)
    validation: TranslateValidationConfig = field(default_factory=TranslateValidationConfig)
    vocab: TranslateVocabConfig = field(default_factory=TranslateVocabConfig)
    model: TranslateModelConfig = field(default_factory=TranslateModelConfig)
    train: TranslateTrainConfig = field(default_factory=TranslateTrainConfig)
    baselines: TranslateBaselines = field(default_factory=TranslateBaselines)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


CONFIG = TranslateConfig

# overrides of the params.yaml section that run the whole pipeline in seconds on built-in data
TINY: dict[str, Any] = {
    "data": {"builtin": {"n_train": 300, "n_dev": 60, "n_test": 60}},
    "model": {"hidden_size": 16, "embedding_dim": 8, "max_len": 20},
    "train": {"max_epochs": 1, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"word_by_word": {"iterations": 2}},
    "decode": {"beam_size": 2, "max_len": 20},
}
