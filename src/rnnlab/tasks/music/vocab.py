"""vocab and encode: the token vocabulary (plus <eot>), the genre list with each genre's
metres, and teacher-forcing pairs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.tasks import SPLITS
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicVocab
from rnnlab.vocab import Vocabulary, oov_rates

EOT = "<eot>"


@dataclass
class Genres:
    """The genre list (id order) and, per genre, the training tunes' time signatures and the
    bar lengths that count as "in the genre's metre" (those of >= 5% of its tunes)."""

    names: list[str]
    metres: dict[str, dict[str, float]] = field(default_factory=dict)  # genre -> {ts: share}

    def __len__(self) -> int:
        return len(self.names)

    def bar_lengths(self, genre: str, min_share: float = 0.05) -> list[float]:
        out = {music.bar_length(m) for m, s in self.metres.get(genre, {}).items()
               if s >= min_share}
        return sorted(x for x in out if x)

    def main_metre(self, genre: str) -> str:
        shares = self.metres.get(genre) or {"4/4": 1.0}
        return max(shares, key=lambda m: (shares[m], m))

    def save(self, path: str | Path) -> None:
        from rnnlab.io import write_json

        write_json(path, {"names": self.names, "metres": self.metres})

    @classmethod
    def load(cls, path: str | Path) -> Genres:
        data = json.loads(Path(path).read_text())
        return cls(list(data["names"]), dict(data["metres"]))


def load_vocab(path: str | Path) -> Genres | Vocabulary:
    return Genres.load(path) if Path(path).stem == "genres" else Vocabulary.load(path)


def build_vocabs(train: pd.DataFrame, vocab_cfg: MusicVocab) -> dict[str, Any]:
    tokens = Vocabulary.build(([*list(t), EOT] for t in train["tokens"]), vocab_cfg.max_size,
                              vocab_cfg.min_freq, False, vocab_cfg.unk_signatures)
    order = train.drop_duplicates("genre_id").sort_values("genre_id")
    names = [str(g) for g in order["genre"]]
    metres = {g: {str(m): round(float(s), 4) for m, s in
                  train.loc[train["genre"] == g, "metre"].value_counts(normalize=True).items()}
              for g in names}
    return {"tokens": tokens, "genres": Genres(names, metres)}


def vocab_metrics(frames: dict[str, pd.DataFrame], vocabs: dict[str, Any]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def encode_split(frame: pd.DataFrame, vocabs: dict[str, Any]) -> dict[str, Any]:
    """Teacher forcing pairs: targets y<1..T> = tokens + <eot>, inputs x<1..T> = [0, y<1..T-1>]
    (id 0 = the zero vector x<1>), lengths, mask, and the genre id per tune: genres [N]."""
    import torch

    from rnnlab.nn.encoding import pad

    vocab = vocabs["tokens"]
    targets = [vocab.encode([*list(t), EOT]) for t in frame["tokens"]]
    out = pad([[0, *y[:-1]] for y in targets])
    out["targets"] = pad(targets)["ids"]
    out["genres"] = torch.tensor(frame["genre_id"].to_numpy(dtype=np.int64))
    return out


def encode(frames: dict[str, pd.DataFrame], vocabs: dict[str, Any]) -> dict[str, Any]:
    """Every split (the side frames, failures and files, are not encoded)."""
    return {s: encode_split(frames[s], vocabs) for s in SPLITS}
