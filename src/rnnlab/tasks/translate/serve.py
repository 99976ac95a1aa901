"""translate served: raw source sentences in, plain-text translations out, decoded as the
request's params say (defaults: the decode section at evaluate time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnlab.nn.encoding import pad
from rnnlab.serving import number, texts, whole
from rnnlab.tasks.translate.data import tokenize
from rnnlab.tasks.translate.encoding import text_ids
from rnnlab.tasks.translate.model import EncoderDecoder, translate_ids
from rnnlab.tasks.translate.scoring import decode_rows
from rnnlab.vocab import Vocabulary

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateConfig

model_input = texts

# a request's limits: the work of a beam grows with beam_size x max_len per sentence
MAX_BEAM_SIZE = 64
MAX_LEN = 500


def predict_params(cfg: TranslateConfig) -> dict[str, bool | int | float | str]:
    """Every decoding knob a request may set, with its default from the decode section."""
    d = cfg.decode
    return {"beam_size": d.beam_size, "length_penalty": d.length_penalty, "max_len": d.max_len}


def input_example(cfg: TranslateConfig, frames: dict[str, Any],
                  vocabs: dict[str, Vocabulary]) -> list[str]:
    """A request (the served input example): two raw test source sentences."""
    return [str(s) for s in frames["test"]["source"].iloc[:2]]


def predict(net: EncoderDecoder, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict[str, Any]) -> list[str]:
    """Raw source sentences -> translations (plain text; an empty sentence gives ""), decoded
    with params' beam_size, max_len and length_penalty."""
    beam_size = whole(params["beam_size"], "beam_size", 1, MAX_BEAM_SIZE)
    max_len = whole(params["max_len"], "max_len", 1, MAX_LEN)
    length_penalty = number(params["length_penalty"], "length_penalty", 0, 10)
    tokens = [tokenize(text, net.source_lang) for text in inputs]
    keep = [i for i, t in enumerate(tokens) if t]
    out = [""] * len(inputs)
    if keep:
        enc = pad(text_ids(vocabs["source"], [inputs[i] for i in keep],
                           [tokens[i] for i in keep]))
        ids = translate_ids(net, enc, beam_size, max_len, length_penalty)
        for i, row in zip(keep, decode_rows(vocabs["target"], ids, net.target_lang),
                          strict=True):
            out[i] = row
    return out
