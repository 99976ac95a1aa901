"""Serving: raw sentences -> tokens, a 1/0 label per token, and the entity strings found."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnlab.nn.encoding import pad
from rnnlab.serving import texts
from rnnlab.tasks.entity.data import Gazetteer
from rnnlab.tasks.entity.model import predict_labels
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary, tokenize

model_input = texts  # a string, a list of strings, a Series or a DataFrame's first column


def predict_params(cfg: EntityConfig) -> dict[str, bool | int | float | str]:
    """Entity has no decode knobs: a request takes no params."""
    return {}


def predict(net: nn.Module, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict[str, Any]) -> list[dict]:
    """One {"tokens", "labels", "entities"} per sentence (an empty sentence: all empty)."""
    tokenised = [tokenize(t) for t in inputs]
    vocab = vocabs["tokens"]
    keep = [i for i, t in enumerate(tokenised) if t]
    labels: list[list[int]] = [[] for _ in inputs]
    if keep:
        enc = pad([vocab.encode(tokenised[i]) for i in keep])
        enc["labels"] = torch.zeros_like(enc["ids"])
        names = Gazetteer.from_vocab(vocabs["entities"])
        enc["features"] = pad([names.tag(tokenised[i]) for i in keep])["ids"]
        for i, p in zip(keep, predict_labels(net, enc), strict=True):
            labels[i] = p
    out = []
    for tokens, lab in zip(tokenised, labels, strict=True):
        spans, cur = [], []
        for w, y in zip([*tokens, ""], [*lab, 0], strict=True):
            if y:
                cur.append(w)
            elif cur:
                spans.append(" ".join(cur))
                cur = []
        out.append({"tokens": tokens, "labels": lab, "entities": spans})
    return out
