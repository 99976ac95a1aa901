"""Serving: genre names in, seeded note sequences out.

A request is a genre name, or a row {genre, count, seed} (a DataFrame with a `genre` column and
optional `count` / `seed` columns); the pyfunc params (count, seed, temperature, top_k,
max_len) apply to every request, a row's count / seed win over them.
`rnnlab.tasks.music.data.write_midi(tune["tokens"], "tune.mid", tune["metre"])` writes one as
MIDI.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from rnnlab.serving import BadInput, count, is_missing, values, whole
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicConfig

MAX_COUNT = 100  # tunes per request at most
MAX_LEN = 2000  # tokens per tune at most (the longest real tune: ~500)
MAX_SEED = 2**63 - 1  # what torch.Generator.manual_seed takes
MAX_TUNES = 100  # tunes per request, all rows together (the sum of their counts)
ROW_KEYS = ("genre", "count", "seed")


def predict_params(cfg: MusicConfig) -> dict[str, bool | int | float | str]:
    """Every pyfunc param and its default (sampling from the decode section)."""
    d = cfg.decode
    return {"count": 1, "seed": 0, "temperature": float(d.temperature), "top_k": int(d.top_k),
            "max_len": int(d.max_len)}


def input_example(cfg: MusicConfig, frames: dict[str, Any], vocabs: dict[str, Any]) -> Any:
    """A request (the served input example): two rows naming the model's first genres, one
    with its own count, one with its own seed; a missing cell takes the param. The gaps make
    MLflow declare `count` and `seed` optional columns (double: JSON has no integer column
    with gaps; a whole 2.0 passes)."""
    import pandas as pd

    names = list(vocabs["genres"].names)
    return pd.DataFrame({"genre": [names[0], names[-1]], "count": [2, None],
                         "seed": [None, 7]}).astype({"count": float, "seed": float})


def model_input(raw: Any) -> list[dict[str, Any]]:
    """Genre names (a string, a list, or a DataFrame with a `genre` column and optional `count`
    / `seed` columns) -> one request {genre[, count][, seed]} per row."""
    if hasattr(raw, "to_dict") and hasattr(raw, "columns"):  # a DataFrame
        frame = raw if "genre" in raw.columns else raw.rename(columns={raw.columns[0]: "genre"})
        rows = [{k: v for k, v in row.items() if not (k != "genre" and is_missing(v))}
                for row in frame.to_dict("records")]
    else:
        rows = values(raw)
    out = []
    for i, row in enumerate(count(rows)):
        row = {"genre": row} if isinstance(row, str) else row
        if not isinstance(row, dict):
            raise BadInput(f"input {i}: expected a genre name or {{genre, count, seed}}, "
                           f"got {'null' if is_missing(row) else repr(row)}")
        unknown = sorted(set(row) - set(ROW_KEYS))
        if unknown:
            raise BadInput(f"input {i}: unknown field(s) {unknown}; a request takes "
                           f"{list(ROW_KEYS)}")
        genre = row.get("genre")
        if not isinstance(genre, str):
            raise BadInput(f"input {i}: genre: expected a genre name, got "
                           f"{'null' if is_missing(genre) else repr(genre)}")
        out.append(dict(row))
    return out


def sampling(params: dict[str, Any]) -> tuple[float, int, int]:
    """(temperature, top_k, max_len) from the resolved params, checked."""
    temperature = params["temperature"]
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or \
            not math.isfinite(temperature) or temperature <= 0:
        raise BadInput(f"temperature must be a number > 0, got {temperature!r}")
    return (float(temperature), whole(params["top_k"], "top_k", 0),
            whole(params["max_len"], "max_len", 1, MAX_LEN))


def predict(net: Any, vocabs: dict[str, Any], inputs: list[dict[str, Any]],
            params: dict[str, Any]) -> list[dict[str, Any]]:
    """For every request: `count` generated tunes of its genre as note sequences: tokens, and
    notes as [MIDI pitch or None for a rest, quarter notes, bar number], with the genre's main
    metre. `params`: every key of predict_params (serving fills in the defaults)."""
    from rnnlab.tasks.music.model import generate

    vocab, genres = vocabs["tokens"], vocabs["genres"]
    names = list(genres.names)
    temperature, top_k, max_len = sampling(params)
    jobs = []
    for i, req in enumerate(inputs):  # every request checked before any is generated
        genre = req["genre"]
        if genre not in names:
            raise BadInput(f"input {i}: unknown genre {genre[:60]!r}; the model knows {names}")
        n = whole(req.get("count", params["count"]), "count", 1, MAX_COUNT)
        seed = whole(req.get("seed", params["seed"]), "seed", 0, MAX_SEED)
        jobs.append((genre, n, seed))
    total = sum(n for _, n, _ in jobs)
    if total > MAX_TUNES:
        raise BadInput(f"count: {total} tunes in all ({len(jobs)} rows); at most {MAX_TUNES} "
                       "per request")
    out = []
    for genre, n, seed in jobs:
        tunes = generate(net, vocab, names.index(genre), n, seed, temperature, top_k,
                         max_len)
        out.append({"genre": genre, "seed": seed, "tunes": [
            {"tokens": t, "notes": music.notes(t), "metre": genres.main_metre(genre)}
            for t in tunes]})
    return out
