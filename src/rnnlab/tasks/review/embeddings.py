"""Review's input embeddings: initialised from a word2vec / GloVe text file (embedding.pretrained,
embedding.freeze) with coverage metrics, and exported after training (the train stage's hooks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.nn.encoding import load_pretrained, pretrained_matrix, read_vectors
from rnnlab.tasks.review.params import ReviewConfig
from rnnlab.vocab import Vocabulary


def train_counts(vocab: Vocabulary, encoded: dict[str, dict[str, torch.Tensor]]) -> np.ndarray:
    """How often each index occurs in the encoded training split (padding excluded)."""
    train = encoded["train"]
    ids = train["ids"][train["mask"]] if "mask" in train else train["ids"].flatten()
    counts = np.bincount(ids.numpy(), minlength=len(vocab))
    counts[vocab.pad_index] = 0
    return counts


def train_inputs(cfg: ReviewConfig) -> list[str]:
    pre = cfg.embedding.pretrained
    return [pre] if cfg.encoding == "embedding" and pre else []


def init_net(cfg: ReviewConfig, net: nn.Module, vocabs: dict[str, Vocabulary],
             encoded: dict[str, dict[str, torch.Tensor]], seed: int) -> dict[str, float]:
    """Load embedding.pretrained into the network's embedding (freeze: not learnt). Returns the
    coverage: the share of vocabulary words, and of training tokens, found in the file."""
    pre = cfg.embedding.pretrained
    if cfg.encoding != "embedding" or not pre:
        return {}
    vocab = vocabs["tokens"]
    words, vectors = read_vectors(pre)
    matrix, found = pretrained_matrix(vocab.itos, words, vectors, seed, lowercase=vocab.lowercase)
    load_pretrained(net.embed, matrix, cfg.embedding.freeze)
    real = np.array([vocab.is_word(i) for i in range(len(vocab))])
    counts = train_counts(vocab, encoded)
    hit = found.numpy()
    out = {"embedding/vocab_coverage": round(float(hit[real].mean()) if real.any() else 0.0, 4),
           "embedding/token_coverage": round(float(counts[hit].sum() / max(counts.sum(), 1)), 4),
           "embedding/pretrained_words": float(len(words))}
    print(f"train[review]: pretrained {pre}: {out}")
    return out


def export(cfg: ReviewConfig, net: nn.Module, vocabs: dict[str, Vocabulary],
           encoded: dict[str, dict[str, torch.Tensor]]) -> Any:
    """(words, vectors) of the real words, most frequent in training first (onehot: none)."""
    if cfg.encoding != "embedding" or not cfg.embedding.export:
        return None
    vocab = vocabs["tokens"]
    counts = train_counts(vocab, encoded)
    order = sorted((i for i in range(len(vocab)) if vocab.is_word(i)),
                   key=lambda i: (-counts[i], vocab.itos[i]))
    weight = net.embed.weight.detach().cpu().numpy()
    return [vocab.itos[i] for i in order], weight[order]
