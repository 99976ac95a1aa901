"""translate's representation: a source and a target vocabulary (fitted on train), and the
padded id tensors of every split (the decoder's input <bos> y and output y <eos>).

`vocab.units: word` builds word vocabularies (rnnlab.vocab.Vocabulary) from prepare's tokens;
`vocab.units: subword` fits sentencepiece models on the raw training sentences
(`SubwordVocabulary`: one per side, or one shared by both with `vocab.shared`). Either way the
ids are laid out alike (<pad> 0, <unk> 1; the target adds <bos>, <eos>), so the network and the
loss do not care which units they read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from rnnlab.nn.encoding import pad
from rnnlab.tasks.translate.data import normalise
from rnnlab.tasks.translate.subword import KIND, SubwordVocabulary
from rnnlab.vocab import SPECIALS, Vocabulary

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateVocabConfig

BOS, EOS = "<bos>", "<eos>"
SIDES = ("source", "target")
AnyVocab = Vocabulary | SubwordVocabulary


def build_vocabs(train: pd.DataFrame, vocab_cfg: TranslateVocabConfig) -> dict[str, AnyVocab]:
    """word: source Vocabulary.build (lowercase / shape classes as configured); target the
    same word list rule, case kept, specials <pad> <unk> <bos> <eos>. subword: sentencepiece
    (`subword_type`, `subword_size` pieces per side, or in all when `shared`) on the raw
    training sentences; `lowercase` lower-cases the source side only."""
    if vocab_cfg.units == "subword":
        src_text = [normalise(t) for t in train["source"]]
        tgt_text = [normalise(t) for t in train["target"]]
        kind, size = vocab_cfg.subword_type, vocab_cfg.subword_size
        if vocab_cfg.shared:
            if vocab_cfg.lowercase:
                raise ValueError("vocab.shared needs vocab.lowercase: false (one model reads "
                                 "both sides, and the target keeps case)")
            both = SubwordVocabulary.fit([*src_text, *tgt_text], size, kind)
            return {"source": both, "target": both}
        return {"source": SubwordVocabulary.fit(src_text, size, kind, vocab_cfg.lowercase),
                "target": SubwordVocabulary.fit(tgt_text, size, kind)}
    source = Vocabulary.build((list(t) for t in train["source_tokens"]), vocab_cfg.max_size,
                              vocab_cfg.min_freq, vocab_cfg.lowercase, vocab_cfg.unk_signatures)
    words = Vocabulary.build((list(t) for t in train["target_tokens"]), vocab_cfg.max_size,
                             vocab_cfg.min_freq, False, False).itos[len(SPECIALS):]
    target = Vocabulary([*SPECIALS, BOS, EOS, *words], lowercase=False, unk_signatures=False)
    return {"source": source, "target": target}


def load_vocab(path: Any) -> AnyVocab:
    """A saved vocabulary of either kind (`<name>.json`; a subword one has `<name>.model`)."""
    import json
    from pathlib import Path

    data = json.loads(Path(path).read_text())
    return SubwordVocabulary.load(path) if data.get("kind") == KIND else Vocabulary.from_dict(data)


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, AnyVocab]) -> dict[str, float]:
    """Per dev/test split and side, measured on prepare's word tokens for both unit kinds:
    `oov_rate` the share of words the vocabulary cannot write without <unk>; `unseen_rate`
    the share of words never seen in the training split (the same for both kinds); and
    `units_per_word`, how many ids a word costs (1 for words, more for subwords)."""
    out: dict[str, float] = {}
    seen = {side: {w for t in frames["train"][f"{side}_tokens"] for w in t} for side in SIDES}
    for split in ("dev", "test"):
        for side in SIDES:
            words = [list(t) for t in frames[split][f"{side}_tokens"]]
            n = sum(map(len, words)) or 1
            out[f"{split}/{side}_oov_rate"] = vocabs[side].oov_rate(words)
            out[f"{split}/{side}_unseen_rate"] = sum(w not in seen[side] for t in words
                                                     for w in t) / n
            units = sum(len(ids) for ids in sentence_ids(vocabs[side], frames[split], side))
            out[f"{split}/{side}_units_per_word"] = units / n
    return out


def sentence_ids(vocab: AnyVocab, frame: pd.DataFrame, side: str) -> list[list[int]]:
    """Ids of every sentence of one side: word tokens through a Vocabulary, the raw
    (normalised) text through a SubwordVocabulary."""
    if isinstance(vocab, SubwordVocabulary):
        return [vocab.encode_text(normalise(t)) for t in frame[side]]
    return [vocab.encode(list(t)) for t in frame[f"{side}_tokens"]]


def text_ids(vocab: AnyVocab, texts: Sequence[str], tokens: Sequence[Sequence[str]]
             ) -> list[list[int]]:
    """Serving's version of `sentence_ids`: raw texts and their word tokens."""
    if isinstance(vocab, SubwordVocabulary):
        return [vocab.encode_text(normalise(t)) for t in texts]
    return [vocab.encode(list(t)) for t in tokens]


def encode_split(frame: pd.DataFrame, vocabs: dict[str, AnyVocab]) -> dict[str, torch.Tensor]:
    """Source ids [N, Tx] / lengths / mask; target_in = <bos> y<1..Ty> and
    target_out = y<1..Ty> <eos>, both [N, Ty+1], with target_lengths = Ty + 1."""
    tgt = vocabs["target"]
    out = pad(sentence_ids(vocabs["source"], frame, "source"))
    ys = sentence_ids(tgt, frame, "target")
    bos, eos = tgt.stoi[BOS], tgt.stoi[EOS]
    out["target_in"] = pad([[bos, *y] for y in ys])["ids"]
    target = pad([[*y, eos] for y in ys])
    out["target_out"], out["target_lengths"] = target["ids"], target["lengths"]
    return out


def encode(frames: dict[str, pd.DataFrame], vocabs: dict[str, AnyVocab]
           ) -> dict[str, dict[str, torch.Tensor]]:
    """Every split, each on its own (padded to its own longest sentence)."""
    return {split: encode_split(frame, vocabs) for split, frame in frames.items()
            if split != "sources"}  # prepare's side frame: the files read
