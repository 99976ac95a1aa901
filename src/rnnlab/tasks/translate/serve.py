"""translate served: raw source sentences in, plain-text translations out, decoded as the
request's params say (defaults: the decode section at evaluate time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnlab.nn.encoding import pad
from rnnlab.serving import BadInput, texts
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


def input_example(cfg: TranslateConfig) -> list[str]:
    """A request: raw source sentences, one string each (the served input schema)."""
    if cfg.data.direction.source == "it":
        return ["il gatto nero mangia il pesce.", "non leggiamo il giornale."]
    if cfg.data.direction.source == "en":
        return ["the black cat eats the fish.", "we do not read the newspaper."]
    return ["Tom."]  # a name reads the same in most languages


def _count(params: dict[str, Any], name: str, most: int) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise BadInput(f"{name} must be an integer from 1 to {most}, got {value!r}")
    return value


def _penalty(params: dict[str, Any]) -> float:
    value = params["length_penalty"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise BadInput(f"length_penalty must be a number from 0 to 10, got {value!r}")
    return float(value)


def predict(net: EncoderDecoder, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict[str, Any]) -> list[str]:
    """Raw source sentences -> translations (plain text; an empty sentence gives ""), decoded
    with params' beam_size, max_len and length_penalty."""
    beam_size = _count(params, "beam_size", MAX_BEAM_SIZE)
    max_len = _count(params, "max_len", MAX_LEN)
    length_penalty = _penalty(params)
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
