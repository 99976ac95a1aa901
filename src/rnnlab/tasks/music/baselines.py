"""The baselines on the same split: a per-genre add-k bigram (likelihood and sampling) and a
fixed genre classifier that judges real and generated tunes alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab.tasks.music.params import BigramBaseline, ClassifierBaseline


class Bigram:
    """Per-genre bigram (Markov) model over the same token ids as the RNN, add-k smoothed:
    P(y<t> | y<t-1>, g) = (c_g(y<t-1>, y<t>) + k) / (c_g(y<t-1>) + k |V'|), with y<0> = the
    start (id 0) and V' the vocabulary without <pad>."""

    def __init__(self, encoded: dict[str, torch.Tensor], n_genres: int, vocab_size: int,
                 k: float) -> None:
        self.k, self.V = float(k), vocab_size
        self.counts = np.zeros((n_genres, vocab_size, vocab_size))
        for g, x, y, n in _rows(encoded):
            np.add.at(self.counts[g], (x[:n], y[:n]), 1)
        self.counts[:, :, 0] = 0  # <pad> is never a target

    def log_probs(self, g: int) -> np.ndarray:
        c = self.counts[g] + self.k
        c[:, 0] = 0
        return np.log(c / c.sum(1, keepdims=True), where=c > 0, out=np.full_like(c, -np.inf))

    def nll(self, encoded: dict[str, torch.Tensor]) -> tuple[float, int]:
        """Summed NLL over every target and the number of targets."""
        tables = {g: self.log_probs(g) for g in range(self.counts.shape[0])}
        total, count = 0.0, 0
        for g, x, y, n in _rows(encoded):
            total -= float(tables[g][x[:n], y[:n]].sum())
            count += n
        return total, count

    def sample(self, g: int, count: int, seed: int, eos: int, banned: tuple[int, ...],
               max_len: int) -> list[list[int]]:
        rng = np.random.default_rng(seed)
        probs = np.exp(self.log_probs(g))
        probs[:, list(banned)] = 0
        probs /= probs.sum(1, keepdims=True)
        out = []
        for _ in range(count):
            prev, row = 0, []
            for _ in range(max_len):
                y = int(rng.choice(self.V, p=probs[prev]))
                if y == eos:
                    break
                row.append(y)
                prev = y
            out.append(row)
        return out


def _rows(encoded: dict[str, torch.Tensor]) -> Iterator[tuple[int, Any, Any, int]]:
    genres = encoded["genres"].numpy()
    ids, targets = encoded["ids"].numpy(), encoded["targets"].numpy()
    for i, n in enumerate(encoded["lengths"].tolist()):
        yield int(genres[i]), ids[i], targets[i], n


def fit_bigram(settings: BigramBaseline, encoded: dict[str, dict[str, torch.Tensor]],
               n_genres: int, vocab_size: int) -> tuple[Bigram, float]:
    """The add-k bigram with k chosen on dev NLL from `baselines.bigram.k` (one or a list)."""
    grid = settings.k if isinstance(settings.k, tuple) else (settings.k,)
    best: tuple[float, Bigram] | None = None
    for k in grid:
        model = Bigram(encoded["train"], n_genres, vocab_size, float(k))
        total, n = model.nll(encoded["dev"])
        if best is None or total / max(n, 1) < best[0]:
            best = (total / max(n, 1), model)
    assert best is not None
    return best[1], best[0]


def _durations_text(tokens: list[str]) -> str:
    return " ".join(t.split("_", 1)[1] if "_" in t else t for t in tokens)


class GenreClassifier:
    """A fixed, simple genre classifier: TF-IDF over token n-grams (1-3) and over duration /
    bar-line n-grams (1-4, the rhythm alone), logistic regression; C chosen on dev accuracy.
    Trained on real training tunes only, then it labels real test tunes and generated ones."""

    def __init__(self, settings: ClassifierBaseline) -> None:
        self.settings = settings

    def _features(self, tunes: list[list[str]], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        notes = [" ".join(t) for t in tunes]
        rhythm = [_durations_text(t) for t in tunes]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.notes = TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                                         ngram_range=(1, 3), sublinear_tf=True, min_df=2)
            self.rhythm = TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                                          ngram_range=(1, 4), sublinear_tf=True, min_df=2)
            return hstack([self.notes.fit_transform(notes), self.rhythm.fit_transform(rhythm)])
        return hstack([self.notes.transform(notes), self.rhythm.transform(rhythm)]).tocsr()

    def fit(self, train: pd.DataFrame, dev: pd.DataFrame) -> GenreClassifier:
        from sklearn.linear_model import LogisticRegression

        x = self._features([list(t) for t in train["tokens"]], fit=True)
        x_dev = self._features([list(t) for t in dev["tokens"]])
        C = self.settings.C
        grid = C if isinstance(C, tuple) else (C,)
        best = None
        for c in grid:
            model = LogisticRegression(C=float(c), max_iter=3000)
            model.fit(x, train["genre_id"])
            acc = float((model.predict(x_dev) == dev["genre_id"].to_numpy()).mean())
            if best is None or acc > best[0]:
                best = (acc, model, float(c))
        assert best is not None
        self.dev_accuracy, self.model, self.C = best
        return self

    def predict(self, tunes: list[list[str]]) -> np.ndarray:
        return self.model.predict(self._features(tunes))
