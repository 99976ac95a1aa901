"""translate's representation: a source and a target vocabulary (fitted on train), and the
padded id tensors of every split (the decoder's input <bos> y and output y <eos>)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import torch

from rnnlab.nn.encoding import pad
from rnnlab.vocab import SPECIALS, Vocabulary

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateVocabConfig

BOS, EOS = "<bos>", "<eos>"


def build_vocabs(train: pd.DataFrame, vocab_cfg: TranslateVocabConfig
                 ) -> dict[str, Vocabulary]:
    """source: Vocabulary.build (lowercase / shape classes as configured); target: the same
    word list rule, case kept, specials <pad> <unk> <bos> <eos>."""
    source = Vocabulary.build((list(t) for t in train["source_tokens"]), vocab_cfg.max_size,
                              vocab_cfg.min_freq, vocab_cfg.lowercase, vocab_cfg.unk_signatures)
    words = Vocabulary.build((list(t) for t in train["target_tokens"]), vocab_cfg.max_size,
                             vocab_cfg.min_freq, False, False).itos[len(SPECIALS):]
    target = Vocabulary([*SPECIALS, BOS, EOS, *words], lowercase=False, unk_signatures=False)
    return {"source": source, "target": target}


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return {f"{split}/{side}_oov_rate": vocabs[side].oov_rate(
        list(t) for t in frames[split][f"{side}_tokens"])
        for split in ("dev", "test") for side in ("source", "target")}


def encode_split(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """Source ids [N, Tx] / lengths / mask; target_in = <bos> y<1..Ty> and
    target_out = y<1..Ty> <eos>, both [N, Ty+1], with target_lengths = Ty + 1."""
    src, tgt = vocabs["source"], vocabs["target"]
    out = pad([src.encode(list(t)) for t in frame["source_tokens"]])
    ys = [tgt.encode(list(t)) for t in frame["target_tokens"]]
    bos, eos = tgt.stoi[BOS], tgt.stoi[EOS]
    out["target_in"] = pad([[bos, *y] for y in ys])["ids"]
    target = pad([[*y, eos] for y in ys])
    out["target_out"], out["target_lengths"] = target["ids"], target["lengths"]
    return out


def encode(frames: dict[str, pd.DataFrame], vocabs: dict[str, Vocabulary]
           ) -> dict[str, dict[str, torch.Tensor]]:
    """Every split, each on its own (padded to its own longest sentence)."""
    return {split: encode_split(frame, vocabs) for split, frame in frames.items()}
