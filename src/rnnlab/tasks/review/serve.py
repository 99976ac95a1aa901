"""Serving: raw reports in, the decision and every class's probability out.

No request params: a report is cut (max_len, truncation) and its classes named exactly as in
training, from net.json; nothing else is chosen at inference time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnlab.nn.encoding import pad
from rnnlab.serving import texts
from rnnlab.tasks.review.data import truncate
from rnnlab.tasks.review.model import ReportClassifier, predict_proba
from rnnlab.tasks.review.params import ReviewConfig
from rnnlab.vocab import Vocabulary, tokenize

model_input = texts
EXAMPLE_WORDS = 60  # a real report runs to hundreds of words; the input example shows the shape


def predict_params(cfg: ReviewConfig) -> dict[str, bool | int | float | str]:
    return {}


def input_example(cfg: ReviewConfig, frames: dict[str, Any], vocabs: dict[str, Any]) -> list[str]:
    """A request (the served input example): the first words of two test reports."""
    return [" ".join(str(t).split()[:EXAMPLE_WORDS]) for t in frames["test"]["text"].iloc[:2]]


def predict(net: ReportClassifier, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw reports -> {label, probabilities, tokens (before cutting), truncated}. A report
    without a single token gets label None and no probabilities (nothing to read)."""
    names, max_len = net.classes, net.max_len
    full = [tokenize(t) for t in inputs]
    cut = [truncate(t, max_len, net.truncation) for t in full]
    keep = [i for i, t in enumerate(cut) if t]
    probs: dict[int, np.ndarray] = {}
    if keep:
        enc = pad([vocabs["tokens"].encode(cut[i]) for i in keep])
        enc["labels"] = torch.zeros(len(keep), dtype=torch.long)
        probs = dict(zip(keep, predict_proba(net, enc).numpy(), strict=True))
    out = []
    for i, tokens in enumerate(full):
        p = probs.get(i)
        out.append({"label": names[int(p.argmax())] if p is not None else None,
                    "probabilities": ({c: round(float(x), 6) for c, x in zip(names, p,
                                                                             strict=True)}
                                      if p is not None else {}),
                    "tokens": len(tokens), "truncated": 0 < max_len < len(tokens)})
    return out
