"""The music section of params.yaml, typed. Imports nothing but rnnlab.config (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig


@dataclass(frozen=True)
class SplitShares:
    """Share of each genre's tune groups that goes to dev and to test."""

    dev: float = 0.1
    test: float = 0.1


@dataclass(frozen=True)
class MusicData:
    # corpus: a music21 collection (shipped, no download) | folder: <genre>/<file> of the user's
    source: Literal["corpus", "folder"] = "corpus"
    collection: str = "ryansMammoth"
    # where a tune's genre is: filename (corpus: "AcrobatsHornpipe.abc") | folder (corpus: the
    # parent folder; a folder source always uses its <genre>/ sub-folders) | rhythm (either
    # source: each ABC tune's R: field, multi-tune files split into tunes)
    genre_from: Literal["filename", "folder", "rhythm"] = "filename"
    path: str = "data/raw/music/tunes"  # folder: <genre>/<file>.{abc,mid,xml,mxl,...}
    # a found genre -> the genre it counts as (e.g. {Doublejig: Jig}); null: as found
    genre_map: dict[str, str] | None = None
    # null: the max_genres largest with >= min_files files; or the genres, in id order
    genres: tuple[str, ...] | None = None
    max_genres: int = 4
    min_files: int = 20  # files (genre_from rhythm: tunes) a genre needs to be selected
    limit: int = 0  # at most this many files per genre (0 = all; quick runs)
    transpose: bool = False  # every key signature moved to C / Am
    bar_tokens: bool = True  # "|" between bars, so the metre of generated tunes is measurable
    split: SplitShares = field(default_factory=SplitShares)
    split_seed: int | None = None  # null: the top-level seed
    workers: int = 2  # music21 parsing processes in prepare
    encoding: str = "utf-8"  # ABC files' encoding; undecodable bytes stop prepare


@dataclass(frozen=True)
class MusicValidation:
    min_notes: int = 16
    max_failed_fraction: float = 0.02  # music21 may fail on this share of files
    min_train_per_genre: int = 10
    min_genres: int = 2  # genres with min_train_per_genre training tunes (the classifier needs 2)


@dataclass(frozen=True)
class MusicVocab(VocabConfig):
    max_size: int = 2000
    min_freq: int = 2  # rarer training tokens become <unk>, so the models learn <unk>
    unk_signatures: bool = False


@dataclass(frozen=True)
class MusicModel(ModelConfig):
    hidden_size: int = 128
    bidirectional: bool = False  # a generator reads left to right only
    genre_dim: int = 16
    # genre -> a<0> (state) | x<1> (input) | a<0> and appended to every x<t> (every)
    condition: Literal["state", "input", "every"] = "every"
    clock: bool = True  # also input the time since the last bar line (needs bar tokens)
    clock_dim: int = 16


@dataclass(frozen=True)
class MusicTrain(TrainConfig):
    lr: float = 0.006
    bucket: bool = True  # batches of similar-length tunes


@dataclass(frozen=True)
class BigramBaseline:
    k: float | tuple[float, ...] = (0.01, 0.05, 0.2)  # add-k smoothing; k chosen on dev NLL


@dataclass(frozen=True)
class ClassifierBaseline:
    C: float | tuple[float, ...] = (1.0, 10.0, 100.0)  # logistic regression; C chosen on dev


@dataclass(frozen=True)
class MusicBaselines:
    bigram: BigramBaseline = field(default_factory=BigramBaseline)
    classifier: ClassifierBaseline = field(default_factory=ClassifierBaseline)


@dataclass(frozen=True)
class MusicDecode:
    """Sampling, read by evaluate and serving (never by train: changing it re-runs evaluate)."""

    temperature: float = 0.8  # softmax(logits / temperature) ...
    top_k: int = 0  # ... over the k most likely tokens (0 = all)
    max_len: int = 600  # tokens per generated tune at most (the longest real: ~500)


@dataclass(frozen=True)
class MusicEvaluation:
    """How much evaluate generates (serving takes a count per request instead)."""

    samples_per_genre: int = 40  # K generated tunes per genre in evaluate
    midi_per_genre: int = 4  # of which this many are written as MIDI files


@dataclass(frozen=True)
class MusicConfig(TaskConfig):
    data: MusicData = field(default_factory=MusicData)
    validation: MusicValidation = field(default_factory=MusicValidation)
    vocab: MusicVocab = field(default_factory=MusicVocab)
    model: MusicModel = field(default_factory=MusicModel)
    train: MusicTrain = field(default_factory=MusicTrain)
    baselines: MusicBaselines = field(default_factory=MusicBaselines)
    decode: MusicDecode = field(default_factory=MusicDecode)
    evaluation: MusicEvaluation = field(default_factory=MusicEvaluation)


CONFIG = MusicConfig

# 8 corpus files per genre (~3 s of parsing, music21 ships them), a tiny GRU, a few samples
TINY: dict = {
    "data": {"limit": 8, "workers": 1},
    "validation": {"min_train_per_genre": 2},
    "model": {"hidden_size": 16, "embedding_dim": 8, "genre_dim": 4, "clock_dim": 4},
    "decode": {"max_len": 120},
    "evaluation": {"samples_per_genre": 3, "midi_per_genre": 1},
    "train": {"max_epochs": 1, "batch_size": 16, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"bigram": {"k": 0.05}, "classifier": {"C": 1.0}},
}
