"""Prepare (built-in generator or CoNLL files), the gazetteer, the vocabularies and the
encoding (padded word ids, 1/0 labels, dictionary hits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rnnlab.config import VocabConfig
from rnnlab.nn.encoding import pad
from rnnlab.tasks import SPLITS
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary, oov_rates


def prepare(cfg: EntityConfig, seed: int) -> dict[str, pd.DataFrame]:
    data = cfg.data
    if data.source == "builtin":
        from rnnlab.tasks.entity.generator import generate

        b = data.builtin
        sents = generate(b.n_train, b.n_dev, b.n_test, seed=seed if b.seed is None else b.seed)
        return {split: pd.DataFrame({"sentence_id": range(len(rows)),
                                     "tokens": [list(t) for t, _ in rows],
                                     "tags": [list(g) for _, g in rows]})
                for split, rows in sents.items()}
    from rnnlab.tasks.entity.conll import read_conll

    root = Path(data.path)
    files = {"train": data.files.train, "dev": data.files.dev, "test": data.files.test}
    return {split: read_conll(root / files[split]) for split in SPLITS}


def raw_inputs(cfg: EntityConfig) -> list[str]:
    """The files prepare reads: none for the generator, the three CoNLL files otherwise."""
    if cfg.data.source == "builtin":
        return []
    f = cfg.data.files
    return [(Path(cfg.data.path) / name).as_posix() for name in (f.train, f.dev, f.test)]


# ---------------------------------------------------------------- the gazetteer


class Gazetteer:
    """Dictionary baseline: every entity string seen in training, matched longest-first."""

    def __init__(self, names: set[tuple[str, ...]]) -> None:
        self.names = names
        self.longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def from_frame(cls, train: pd.DataFrame) -> Gazetteer:
        names: set[tuple[str, ...]] = set()
        for tokens, tags in zip(train["tokens"], train["tags"], strict=True):
            start = None
            for i, t in enumerate([*list(tags), "O"]):
                if start is not None and not str(t).startswith("I-"):
                    names.add(tuple(tokens[start:i]))
                    start = None
                if str(t).startswith("B-"):
                    start = i
        return cls(names)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> Gazetteer:
        return cls({tuple(name.split(" ")) for name in vocab.itos[2:]})

    def tag(self, tokens: list[str]) -> list[int]:
        out, i = [0] * len(tokens), 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                if tuple(tokens[i:i + n]) in self.names:
                    out[i:i + n] = [1] * n
                    i += n
                    break
            else:
                i += 1
        return out


# ---------------------------------------------------------------- representation


def build_vocabs(train: pd.DataFrame, vocab_cfg: VocabConfig) -> dict[str, Vocabulary]:
    """The word vocabulary, and the dictionary of entity names seen in training (one entry per
    name, its words joined by spaces) for the gazetteer and the optional dictionary feature."""
    names = Gazetteer.from_frame(train).names
    return {"tokens": Vocabulary.build(
        (list(t) for t in train["tokens"]), vocab_cfg.max_size, vocab_cfg.min_freq,
        vocab_cfg.lowercase, vocab_cfg.unk_signatures),
        "entities": Vocabulary.build([[" ".join(n) for n in names]], max_size=len(names),
                                     unk_signatures=False)}


def load_vocab(path: Path) -> Vocabulary:
    return Vocabulary.load(path)


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def binary(tags: Any) -> list[int]:
    """The slide's 1/0 view: inside any entity (B-* or I-*) -> 1, O -> 0."""
    return [0 if t == "O" else 1 for t in tags]


def encode_split(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """ids, lengths, mask [N, T]; labels (1/0 per word); features (1: in a training name)."""
    vocab, names = vocabs["tokens"], Gazetteer.from_vocab(vocabs["entities"])
    out = pad([vocab.encode(list(t)) for t in frame["tokens"]])
    out["labels"] = pad([binary(t) for t in frame["tags"]])["ids"]
    out["features"] = pad([names.tag(list(t)) for t in frame["tokens"]])["ids"].to(torch.uint8)
    return out


def encode(frames: dict[str, pd.DataFrame],
           vocabs: dict[str, Vocabulary]) -> dict[str, dict[str, torch.Tensor]]:
    return {split: encode_split(frame, vocabs) for split, frame in frames.items()}
