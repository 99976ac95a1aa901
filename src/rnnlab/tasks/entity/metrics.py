"""Scores: exact-span entity precision/recall/F1 (seqeval) and token F1 of the 1/0 labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnnlab.tasks.entity.data import binary


def to_iob(labels: list[int]) -> list[str]:
    """1/0 labels -> IOB spans: a run of 1s is one entity."""
    return ["O" if y == 0 else ("I-ENT" if i and labels[i - 1] else "B-ENT")
            for i, y in enumerate(labels)]


def gold_iob(tags: Any) -> list[str]:
    """Any B-X/I-X/O tagging -> one entity type, keeping the corpus' own span boundaries."""
    return [t if t == "O" else f"{t[:1]}-ENT" for t in tags]


def entity_scores(pred: list[list[str]], gold: list[list[str]]) -> dict[str, float]:
    from seqeval.metrics import f1_score, precision_score, recall_score

    return {"entity_precision": float(precision_score(gold, pred, zero_division=0)),
            "entity_recall": float(recall_score(gold, pred, zero_division=0)),
            "entity_f1": float(f1_score(gold, pred, zero_division=0))}


def token_f1(pred: list[list[int]], gold: list[list[int]]) -> float:
    p, g = np.concatenate(pred).astype(bool), np.concatenate(gold).astype(bool)
    tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def dev_metric(pred: list[list[int]], gold: list[list[int]]) -> dict[str, float]:
    """The dev metric training watches: entity F1 of the 1/0 labels' spans."""
    return {"entity_f1": entity_scores([to_iob(p) for p in pred],
                                       [to_iob(g) for g in gold])["entity_f1"]}


def score(pred: list[list[int]], frame: pd.DataFrame) -> dict[str, float]:
    """Entity scores against the corpus' gold spans, and token F1."""
    gold_tags = [list(t) for t in frame["tags"]]
    out = entity_scores([to_iob(p) for p in pred], [gold_iob(t) for t in gold_tags])
    out["token_f1"] = token_f1(pred, [binary(t) for t in gold_tags])
    return out
