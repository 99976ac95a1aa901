"""evaluate: the RNN next to its baselines on the same test split. Likelihood vs the bigram;
conditioning (the fixed genre classifier on K generated tunes per genre, next to its accuracy on
real test tunes); the share of bars in the genre's metre, generated vs real; pitch-class
histogram distance per genre. Sampling follows the decode section; generated tunes become MIDI
files and piano rolls."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.nn.loop import count_parameters
from rnnlab.tasks import Evaluation
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music import figures
from rnnlab.tasks.music.baselines import GenreClassifier, fit_bigram
from rnnlab.tasks.music.model import OneToMany, generate, sequence_nll
from rnnlab.tasks.music.params import MusicConfig
from rnnlab.tasks.music.vocab import EOT

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# ---------------------------------------------------------------- metrics


def bar_lengths(tokens: list[str]) -> list[float]:
    """The length in quarter notes of every bar that has a bar line on both sides (the pickup
    before the first line and the rest after the last are not whole bars)."""
    bars, cur, started = [], 0.0, False
    for tok in tokens:
        if tok == music.BAR:
            if started:
                bars.append(cur)
            cur, started = 0.0, True
            continue
        parsed = music.parse_token(tok)
        if parsed:
            cur += parsed[1]
    return bars


def bar_fit(tunes: list[list[str]], lengths: list[float]) -> tuple[float, int]:
    """(share of whole bars whose length is one of `lengths`, number of whole bars)."""
    bars = [b for t in tunes for b in bar_lengths(t)]
    if not bars:
        return float("nan"), 0
    fits = sum(any(abs(b - L) < 1e-6 for L in lengths) for b in bars)
    return fits / len(bars), len(bars)


def pitch_class_histogram(tunes: list[list[str]]) -> np.ndarray:
    """Share of note time per pitch class (duration-weighted), 12 bins."""
    hist = np.zeros(12)
    for t in tunes:
        for tok in t:
            parsed = music.parse_token(tok) if tok != music.BAR else None
            if parsed and parsed[0] is not None:
                hist[parsed[0] % 12] += parsed[1]
    return hist / hist.sum() if hist.sum() else hist


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same histogram, 1 = disjoint)."""
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        keep = a > 0
        return float((a[keep] * np.log2(a[keep] / b[keep])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


# ---------------------------------------------------------------- the evaluation


def evaluate(cfg: MusicConfig, net: OneToMany, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Any],
             seed: int) -> Evaluation:
    """Likelihood vs the bigram, conditioning, metre and pitch classes of generated tunes, vs
    real test tunes; MIDI files and piano rolls."""
    vocab, genres = vocabs["tokens"], vocabs["genres"]
    d = cfg.decode
    metrics: dict[str, float] = {"model/params": count_parameters(net)}
    eot = vocab.stoi[EOT]
    # likelihood, per token, teacher forced
    for split in ("dev", "test"):
        nll = sequence_nll(net, encoded[split])
        n = int(encoded[split]["lengths"].sum())
        metrics[f"{split}/nll"] = float(nll.sum()) / n
        metrics[f"{split}/perplexity"] = math.exp(metrics[f"{split}/nll"])
        if split == "test":
            notes = (encoded["test"]["targets"] != vocab.stoi.get(music.BAR, -1)) & (
                encoded["test"]["targets"] != eot) & encoded["test"]["mask"]
            metrics["test/nll_notes"] = float(nll[notes].sum()) / int(notes.sum())
    bigram, bigram_dev = fit_bigram(cfg.baselines.bigram, encoded, len(genres), len(vocab))
    total, n = bigram.nll(encoded["test"])
    metrics.update({"bigram/k": bigram.k, "bigram/dev/nll": bigram_dev,
                    "bigram/test/nll": total / n, "bigram/test/perplexity": math.exp(total / n),
                    "test/nll_ratio_to_bigram": metrics["test/nll"] / (total / n)})

    # generate K tunes per genre (RNN and bigram), seeded
    K = cfg.evaluation.samples_per_genre
    generated: dict[str, dict[str, list[list[str]]]] = {"rnn": {}, "bigram": {}}
    banned = (vocab.pad_index, vocab.unk_index)
    for gid, g in enumerate(genres.names):
        generated["rnn"][g] = generate(net, vocab, gid, K, seed + gid, d.temperature, d.top_k,
                                       d.max_len)
        generated["bigram"][g] = [vocab.decode(r) for r in bigram.sample(
            gid, K, seed + gid, eot, banned, d.max_len)]
    real = {g: [list(t) for t in frames["test"].loc[frames["test"]["genre"] == g, "tokens"]]
            for g in genres.names}

    # conditioning: the fixed classifier on real test tunes and on generated ones
    clf = GenreClassifier(cfg.baselines.classifier).fit(frames["train"], frames["dev"])
    test_pred = clf.predict([list(t) for t in frames["test"]["tokens"]])
    metrics["classifier/test/accuracy"] = float(
        (test_pred == frames["test"]["genre_id"].to_numpy()).mean())
    metrics["classifier/C"] = clf.C
    rows = []
    for gid, g in enumerate(genres.names):
        row = {"genre": g, "real": float((test_pred[frames["test"]["genre_id"] == gid]
                                          == gid).mean()) if len(real[g]) else float("nan")}
        for name in ("rnn", "bigram"):
            row[name] = float((clf.predict(generated[name][g]) == gid).mean())
        rows.append(row)
    conditioning = pd.DataFrame(rows)
    metrics["test/conditioning_accuracy"] = float(conditioning["rnn"].mean())
    metrics["bigram/test/conditioning_accuracy"] = float(conditioning["bigram"].mean())
    for r in rows:
        metrics[f"test/conditioning_accuracy_{r['genre']}"] = r["rnn"]
        metrics[f"classifier/test/accuracy_{r['genre']}"] = r["real"]

    # metre: share of whole bars whose length fits the genre's metres (from training tunes)
    metre_rows, pitch_rows = [], []
    for g in genres.names:
        lengths = genres.bar_lengths(g)
        row = {"genre": g, "metres": " ".join(m for m, s in genres.metres[g].items()
                                              if s >= 0.05),
               "bar_lengths": " ".join(f"{x:g}" for x in lengths)}
        for name, tunes in (("real", real[g]), ("rnn", generated["rnn"][g]),
                            ("bigram", generated["bigram"][g])):
            row[name], row[f"{name}_bars"] = bar_fit(tunes, lengths)
        metre_rows.append(row)
        hists = {"real": pitch_class_histogram(real[g]),
                 "rnn": pitch_class_histogram(generated["rnn"][g]),
                 "bigram": pitch_class_histogram(generated["bigram"][g])}
        for pc in range(12):
            pitch_rows.append({"genre": g, "pitch_class": PITCH_CLASSES[pc],
                               **{k: round(float(h[pc]), 5) for k, h in hists.items()}})
        metrics[f"test/pitch_class_js_{g}"] = js_divergence(hists["rnn"], hists["real"])
        metrics[f"bigram/test/pitch_class_js_{g}"] = js_divergence(hists["bigram"], hists["real"])
    metre = pd.DataFrame(metre_rows)
    if metre["real_bars"].sum():
        metrics["test/bar_fit_real"] = float(np.nanmean(metre["real"]))
        metrics["test/bar_fit"] = float(np.nanmean(metre["rnn"]))
        metrics["bigram/test/bar_fit"] = float(np.nanmean(metre["bigram"]))
    metrics["test/pitch_class_js"] = float(np.mean(
        [metrics[f"test/pitch_class_js_{g}"] for g in genres.names]))
    metrics["bigram/test/pitch_class_js"] = float(np.mean(
        [metrics[f"bigram/test/pitch_class_js_{g}"] for g in genres.names]))
    lengths = {name: float(np.mean([len(t) for g in genres.names for t in generated[name][g]]))
               for name in generated}
    metrics["test/generated_tokens_mean"] = lengths["rnn"]
    metrics["test/real_tokens_mean"] = float(np.mean([len(t) for t in frames["test"]["tokens"]]))
    metrics["test/stopped_at_eot"] = float(np.mean(
        [len(t) < d.max_len for g in genres.names for t in generated["rnn"][g]]))

    files: dict[str, Callable[[Path], None]] = {
        "metre.png": lambda p: figures.metre(metre, p),
        "conditioning.png": lambda p: figures.conditioning(conditioning, p),
    }
    for g in genres.names:
        files[f"pianoroll_{g}.png"] = (lambda p, g=g: figures.pianoroll(
            generated["rnn"][g][:3], real[g][:1], g, p))
        for i, tune in enumerate(generated["rnn"][g][: cfg.evaluation.midi_per_genre]):
            files[f"midi/{g}_{i + 1}.mid"] = (lambda p, t=tune, g=g, i=i: music.write_midi(
                t, p, genres.main_metre(g), title=f"rnnlab {g} {i + 1}"))
    examples = [f"{g}: {' '.join(generated['rnn'][g][0][:60])} ..." for g in genres.names]
    tables = {"metre": metre, "conditioning": conditioning,
              "pitch_classes": pd.DataFrame(pitch_rows)}
    return Evaluation(metrics, tables, files, examples)
