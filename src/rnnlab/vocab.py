"""Vocabulary: the slide's alphabetically sorted word list, built from the training split only.

Index 0 is <pad>, 1 is <unk>. With `unk_signatures`, an unknown word falls back to its shape
class (<unk:Xx> for "Loxodonta", <unk:x> for "africana", <unk:d> for "1990"), so a never-seen
species name still tells the network "capitalised word, then lower-case word".
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
PAD, UNK = "<pad>", "<unk>"
SPECIALS = (PAD, UNK)


def shape(word: str) -> str:
    """Word shape: X upper, x lower, d digit, other characters kept; repeats collapsed."""
    out = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)[:6]


def signature(word: str) -> str:
    return f"<unk:{shape(word)}>"


@dataclass
class Vocabulary:
    itos: list[str]
    lowercase: bool = False
    unk_signatures: bool = True
    stoi: dict[str, int] = field(init=False, repr=False)
    # set by build (not saved): word types frequent enough that `max_size` left out
    cut: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.itos[:2]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {self.itos[:2]}")
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        max_size: int = 10000,
        min_freq: int = 1,
        lowercase: bool = False,
        unk_signatures: bool = True,
        name: str | None = None,
    ) -> Vocabulary:
        """Keep the `max_size` most frequent words seen at least `min_freq` times, sorted A-Z.
        With `name`, a cap that leaves words out is reported (logged as a warning)."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(w.lower() if lowercase else w for w in sentence)
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w)
        )
        frequent = ranked[:max_size]
        signatures = sorted({signature(w) for w in counts}) if unk_signatures else []
        vocab = cls(list(SPECIALS) + signatures + sorted(frequent), lowercase, unk_signatures)
        vocab.cut = len(ranked) - len(frequent)
        if vocab.cut and name:
            lost = sum(counts[w] for w in ranked[max_size:])
            log.warning("%s vocabulary: max_size=%d cut %d of %d types seen >= %d times "
                        "(%d occurrences, %.2f%% of the training words, become unknown)",
                        name, max_size, vocab.cut, len(ranked), min_freq, lost,
                        100 * lost / max(sum(counts.values()), 1))
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_index(self) -> int:
        return 0

    @property
    def unk_index(self) -> int:
        return 1

    def normalise(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def unknown_index(self, word: str) -> int:
        """Index an out-of-vocabulary word maps to: its shape class if known, else <unk>."""
        if self.unk_signatures:
            return self.stoi.get(signature(word), self.unk_index)
        return self.unk_index

    def index(self, word: str) -> int:
        w = self.normalise(word)
        return self.stoi[w] if w in self.stoi else self.unknown_index(word)

    def encode(self, sentence: Sequence[str]) -> list[int]:
        return [self.index(w) for w in sentence]

    def decode(self, indices: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in indices]

    def is_word(self, index: int) -> bool:
        """True for real words, False for <pad>, <unk> and shape classes."""
        return not self.itos[index].startswith("<")

    def fallback_indices(self) -> list[int]:
        """For every index, the index it would get if it were unknown (for word dropout)."""
        return [self.unknown_index(w) if self.is_word(i) else i for i, w in enumerate(self.itos)]

    def oov_rate(self, sentences: Iterable[Sequence[str]]) -> float:
        total = oov = 0
        for sentence in sentences:
            for w in sentence:
                total += 1
                oov += self.normalise(w) not in self.stoi
        return oov / total if total else 0.0

    def to_dict(self) -> dict:
        return {"lowercase": self.lowercase, "unk_signatures": self.unk_signatures,
                "itos": self.itos}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(data["itos"], data["lowercase"], data["unk_signatures"])

    def save(self, path: str | Path) -> None:
        from rnnlab.io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text()))


_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")


def oov_rates(vocab: Vocabulary, frames: dict, column: str = "tokens",
              splits: Sequence[str] = ("dev", "test")) -> dict[str, float]:
    """{"<split>/oov_rate": share of the split's words the training vocabulary lacks}."""
    return {f"{split}/oov_rate": vocab.oov_rate(list(t) for t in frames[split][column])
            for split in splits}


def token_spans(text: str, pattern: re.Pattern[str] = _TOKEN) -> list[tuple[str, int, int]]:
    """`tokenize`'s tokens with their character offsets: (token, start, end), text[start:end]
    == token."""
    return [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]


def tokenize(text: str) -> list[str]:
    """Split raw text into words and punctuation, the way CoNLL corpora are tokenised."""
    return _TOKEN.findall(text)
