"""Serving: raw sentences -> the seed's two representations of the entities found.

Per input string `raw`, one dict:

    tokens    the words and punctuation marks, as the corpus was tokenised;
    offsets   [start, end] of each token: raw[start:end] == tokens[i];
    tags      the predicted IOB tag of each token (O, B-<type>, I-<type>), after the
              training dictionary (dictionary: true) and label consistency across the
              request's texts (consistency_window > 0);
    labels    the lecture's 1/0 vector: 1 if the token is inside an entity;
    entities  {text, start, end, type} per entity: start/end are character offsets into raw
              (end exclusive), so raw[start:end] == text even with extra spaces or punctuation;
              two adjacent names are two entities (B- opens each).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from rnnlab.nn.encoding import pad
from rnnlab.serving import number, texts, whole
from rnnlab.tasks.entity.consistency import finish
from rnnlab.tasks.entity.data import Gazetteer, binary, encode_chars, spans
from rnnlab.tasks.entity.model import predict_tags
from rnnlab.tasks.entity.params import DecodeConfig, EntityConfig
from rnnlab.vocab import Vocabulary, token_spans

model_input = texts  # a string, a list of strings, a Series or a DataFrame's first column

# "P. leo": a capital initial and its full stop form one token where the training corpus
# tokenised abbreviations so (the built-in generator); LINNAEUS-style corpora split "E" "."
_WORDS = r"\w+(?:[-']\w+)*|[^\w\s]"
_ABBREVIATED = re.compile(r"[A-Z]\.(?=\s*[a-z])|" + _WORDS)
_PLAIN = re.compile(_WORDS)


def tokenizer(vocab: Vocabulary) -> re.Pattern[str]:
    """Join "P." into one token if the training vocabulary has such tokens."""
    joined = any(re.fullmatch(r"[A-Z]\.", w) for w in vocab.itos)
    return _ABBREVIATED if joined else _PLAIN


def predict_params(cfg: EntityConfig) -> dict[str, bool | int | float | str]:
    """The decode section's knobs, which a request may override: the training dictionary on or
    off; the texts of one request, in order, are the neighbourhood of label consistency
    (consistency_window sentences)."""
    d = cfg.decode
    return {"dictionary": d.dictionary, "consistency_window": d.consistency_window,
            "consistency_share": d.consistency_share, "abbreviations": d.abbreviations}


def input_example(cfg: EntityConfig, frames: dict[str, Any], vocabs: dict[str, Any]) -> list[str]:
    """A request (the served input example): two test sentences as raw text, those with an
    entity first."""
    test = frames["test"]
    tagged = [i for i, tags in enumerate(test["tags"]) if any(t != "O" for t in tags)]
    rows = (tagged + [i for i in range(len(test)) if i not in tagged])[:2]
    return [" ".join(test["tokens"].iloc[i]) for i in rows]


def predict(net: nn.Module, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict[str, Any]) -> list[dict]:
    """One {"tokens", "offsets", "tags", "labels", "entities"} per input (see the module)."""
    knobs = {**asdict(DecodeConfig()), **params}  # a signature without params: the defaults
    window = whole(knobs["consistency_window"], "consistency_window", 0)
    share = number(knobs["consistency_share"], "consistency_share", 0, 1)
    abbreviate = bool(knobs["abbreviations"])  # resolve_params checked both are bools
    vocab, tags = vocabs["tokens"], vocabs["tags"].itos[2:]
    names = Gazetteer.from_vocab(vocabs["entities"])
    pattern = tokenizer(vocab)
    found = [token_spans(t, pattern) for t in inputs]
    words = [[w for w, _, _ in f] for f in found]
    keep = [i for i, w in enumerate(words) if w]
    predicted: list[list[str]] = [[] for _ in inputs]
    if keep:
        enc = pad([vocab.encode(words[i]) for i in keep])
        enc["labels"] = torch.zeros_like(enc["ids"])
        enc["features"] = pad([binary(names.tag(words[i])) for i in keep])["ids"]
        enc["chars"] = encode_chars([words[i] for i in keep], vocabs["chars"])
        for i, p in zip(keep, predict_tags(net, enc), strict=True):
            predicted[i] = [tags[k] for k in p]
    predicted = finish(words, predicted, names if knobs["dictionary"] else None, window, share,
                       abbreviate)
    out = []
    for raw, toks, tagging in zip(inputs, found, predicted, strict=True):
        entities = []
        for kind, i, j in spans(tagging):
            start, end = toks[i][1], toks[j - 1][2]
            entities.append({"text": raw[start:end], "start": start, "end": end, "type": kind})
        out.append({"tokens": [w for w, _, _ in toks],
                    "offsets": [[s, e] for _, s, e in toks],
                    "tags": tagging, "labels": binary(tagging), "entities": entities})
    return out
