"""Prepare (built-in generator or CoNLL files), IOB spans, the gazetteer, the vocabularies
(words, characters, tags) and the encoding (padded word ids, tag ids, dictionary hits,
character ids)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rnnlab.config import VocabConfig
from rnnlab.tasks import SPLITS
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import SPECIALS, Vocabulary, oov_rates

if TYPE_CHECKING:  # torch only where encode runs: prepare, validate and vocab never load it
    import torch


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
    from rnnlab.readers import TextFile, require_folder, sources_frame
    from rnnlab.tasks.entity.conll import read_conll

    root = require_folder(data.path, "entity.data.path")
    files = {"train": data.files.train, "dev": data.files.dev, "test": data.files.test}
    sources: list[TextFile] = []
    out = {split: read_conll(root / files[split], data.encoding, sources) for split in SPLITS}
    return {**out, "sources": sources_frame(sources)}


def raw_inputs(cfg: EntityConfig) -> list[str]:
    """The files prepare reads: none for the generator, the three CoNLL files otherwise."""
    if cfg.data.source == "builtin":
        return []
    f = cfg.data.files
    return [(Path(cfg.data.path) / name).as_posix() for name in (f.train, f.dev, f.test)]


# ---------------------------------------------------------------- tags and spans


def spans(tags: Any) -> list[tuple[str, int, int]]:
    """IOB tags -> entities (type, first word, last word + 1), the way seqeval reads them:
    B-X opens an entity, I-X continues one of the same type (an I-X after O or another type
    opens one), O closes."""
    out: list[tuple[str, int, int]] = []
    kind, start = None, 0
    for i, t in enumerate([*list(tags), "O"]):
        t = str(t)
        prefix, typ = (t[:1], t[2:]) if t != "O" else ("O", None)
        if kind is not None and (prefix != "I" or typ != kind):
            out.append((kind, start, i))
            kind = None
        if prefix in ("B", "I") and kind is None:
            kind, start = typ, i
    return out


def binary(tags: Any) -> list[int]:
    """The slide's 1/0 view of a tagging: inside any entity (B-* or I-*) -> 1, O -> 0."""
    return [0 if t == "O" else 1 for t in tags]


# ---------------------------------------------------------------- the gazetteer


class Gazetteer:
    """Dictionary baseline: every entity string seen in training (with its most frequent
    type), matched longest-first; each match is one entity (B-X I-X ...), so two adjacent
    names stay two entities."""

    def __init__(self, names: dict[tuple[str, ...], str]) -> None:
        self.names = names
        self.longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def from_frame(cls, train: pd.DataFrame) -> Gazetteer:
        counts: dict[tuple[str, ...], Counter[str]] = {}
        for tokens, tags in zip(train["tokens"], train["tags"], strict=True):
            for kind, i, j in spans(tags):
                counts.setdefault(tuple(tokens[i:j]), Counter())[kind] += 1
        return cls({name: c.most_common(1)[0][0] for name, c in counts.items()})

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> Gazetteer:
        """From the `entities` vocabulary: "<words joined by spaces>\t<type>" per name (a
        model saved before the types were kept has no tab: type ENT)."""
        entries = (entry.split("\t", 1) for entry in vocab.itos[2:])
        return cls({tuple(e[0].split(" ")): e[1] if len(e) > 1 else "ENT" for e in entries})

    def tag(self, tokens: list[str]) -> list[str]:
        out, i = ["O"] * len(tokens), 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                kind = self.names.get(tuple(tokens[i:i + n]))
                if kind is not None:
                    out[i:i + n] = [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
                    i += n
                    break
            else:
                i += 1
        return out


# ---------------------------------------------------------------- representation

MAX_WORD_CHARS = 20  # longer words keep their first and last 10 characters (prefix, suffix)
MAX_CHARS = 253  # the most frequent characters of training (+ <pad>, <unk>: ids fit uint8)


def tag_vocab(train: pd.DataFrame) -> Vocabulary:
    """The training split's tags, O first: label = index - 2 (after <pad> and <unk>)."""
    seen = {str(t) for tags in train["tags"] for t in tags if t is not None} - {"O"}
    return Vocabulary([*SPECIALS, "O", *sorted(seen)], unk_signatures=False)


def tag_names(vocabs: dict[str, Vocabulary]) -> list[str]:
    """Label id -> tag (id 0 is O)."""
    return vocabs["tags"].itos[2:]


def build_vocabs(train: pd.DataFrame, vocab_cfg: VocabConfig) -> dict[str, Vocabulary]:
    """The word vocabulary, the characters, the tag set, and the dictionary of entity names
    seen in training (one entry per name: its words joined by spaces, a tab, its type) for the
    dictionary feature and the served dictionary (decode.dictionary)."""
    names = Gazetteer.from_frame(train).names  # name -> its most frequent type
    return {"tokens": Vocabulary.build(
        (list(t) for t in train["tokens"]), vocab_cfg.max_size, vocab_cfg.min_freq,
        vocab_cfg.lowercase, vocab_cfg.unk_signatures, name="entity tokens"),
        "chars": Vocabulary.build((list(w) for t in train["tokens"] for w in t),
                                  max_size=MAX_CHARS, unk_signatures=False,
                                  name="entity chars"),
        "tags": tag_vocab(train),
        "entities": Vocabulary.build([[f"{' '.join(n)}\t{kind}" for n, kind in names.items()]],
                                     max_size=len(names), unk_signatures=False)}


def load_vocab(path: Path) -> Vocabulary:
    return Vocabulary.load(path)


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    out = oov_rates(vocabs["tokens"], frames)
    out["vocab/tokens_cut"] = vocabs["tokens"].cut  # word types max_size left out
    return out


def word_chars(word: str, chars: Vocabulary) -> list[int]:
    if len(word) > MAX_WORD_CHARS:
        half = MAX_WORD_CHARS // 2
        word = word[:half] + word[-half:]
    return [chars.stoi.get(c, chars.unk_index) for c in word]


def encode_chars(sentences: list[list[str]], chars: Vocabulary) -> torch.Tensor:
    """[N, T, MAX_WORD_CHARS] uint8 character ids (0: padding)."""
    import torch

    T = max((len(s) for s in sentences), default=0)
    out = torch.zeros(len(sentences), T, MAX_WORD_CHARS, dtype=torch.uint8)
    for i, sentence in enumerate(sentences):
        for j, word in enumerate(sentence):
            ids = word_chars(word, chars)
            out[i, j, :len(ids)] = torch.tensor(ids, dtype=torch.uint8)
    return out


def encode_tags(tags: Any, vocab: Vocabulary) -> list[int]:
    """Tag -> label id; a tag training never had counts as O (id 0)."""
    return [max(vocab.stoi.get(str(t), 2) - 2, 0) for t in tags]


def encode_split(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """ids, lengths, mask [N, T]; labels (tag id per word); features (1: in a training name);
    chars [N, T, MAX_WORD_CHARS]."""
    import torch

    from rnnlab.nn.encoding import pad

    vocab, names = vocabs["tokens"], Gazetteer.from_vocab(vocabs["entities"])
    sentences = [list(t) for t in frame["tokens"]]
    out = pad([vocab.encode(t) for t in sentences])
    out["labels"] = pad([encode_tags(t, vocabs["tags"]) for t in frame["tags"]])["ids"]
    out["features"] = pad([binary(names.tag(t)) for t in sentences])["ids"].to(torch.uint8)
    out["chars"] = encode_chars(sentences, vocabs["chars"])
    return out


def encode(frames: dict[str, pd.DataFrame],
           vocabs: dict[str, Vocabulary]) -> dict[str, dict[str, torch.Tensor]]:
    return {split: encode_split(frame, vocabs) for split, frame in frames.items()
            if split != "sources"}  # prepare's side frame: the files read
