"""The review scores, written once: per-class F1, macro-F1 over every declared class, accuracy.

Used by early stopping (the dev macro-F1 of each epoch), by evaluate (the RNN and the baselines
on dev and test), by the TF-IDF baseline's choice of C and by the cross-validation.

F1 of class c = 2 tp / (2 tp + fp + fn), from integer counts, 0 when tp = 0 (also for a class
neither predicted nor present); macro-F1 = their unweighted mean over all c classes, so rare
classes weigh as much as frequent ones and a missing class counts 0. In float64 these are the
values scikit-learn's f1_score(labels=range(c), average=None / "macro", zero_division=0)
returns, bit for bit (tests/test_review.py checks it). Numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def per_class_f1(pred: np.ndarray, gold: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of every class 0..n_classes-1, float64 [n_classes]."""
    pred, gold = np.asarray(pred, dtype=np.int64), np.asarray(gold, dtype=np.int64)
    scores = np.zeros(n_classes, dtype=np.float64)
    for c in range(n_classes):
        tp = int(((pred == c) & (gold == c)).sum())
        if tp:
            # 2 tp + fp + fn = (#predicted c) + (#gold c)
            scores[c] = 2 * tp / (int((pred == c).sum()) + int((gold == c).sum()))
    return scores


def macro_f1(pred: np.ndarray, gold: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 over all `n_classes`."""
    return float(np.mean(per_class_f1(pred, gold, n_classes)))


def accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    """Share of correct predictions (0.0 for no rows)."""
    gold = np.asarray(gold)
    return int((np.asarray(pred) == gold).sum()) / len(gold) if len(gold) else 0.0


def scores(pred: np.ndarray, gold: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """accuracy, macro_f1 over all declared classes, and f1_<class> per class, in that order."""
    per_class = per_class_f1(pred, gold, len(names))
    out = {"accuracy": accuracy(pred, gold), "macro_f1": float(np.mean(per_class))}
    out.update({f"f1_{c}": float(f) for c, f in zip(names, per_class, strict=True)})
    return out
