"""Scores: exact-span entity precision/recall/F1 (seqeval, per type too) of IOB taggings,
and token F1 of their 1/0 views. Training's dev F1 and evaluate's are this one computation on
the same spans (the corpus' own IOB2 tags)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.tasks.entity.data import binary


def entity_scores(pred: list[list[str]], gold: list[list[str]],
                  per_type: bool = False) -> dict[str, float]:
    """seqeval's entity P/R/F1 (an entity counts only if its span and type both match); with
    `per_type`, also `type/<T>/entity_{precision,recall,f1}` and `type/<T>/support`."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    out = {"entity_precision": float(precision_score(gold, pred, zero_division=0)),
           "entity_recall": float(recall_score(gold, pred, zero_division=0)),
           "entity_f1": float(f1_score(gold, pred, zero_division=0))}
    if per_type:
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        for kind, row in sorted(report.items()):
            if kind.endswith(" avg"):
                continue
            out.update({f"type/{kind}/entity_precision": float(row["precision"]),
                        f"type/{kind}/entity_recall": float(row["recall"]),
                        f"type/{kind}/entity_f1": float(row["f1-score"]),
                        f"type/{kind}/support": float(row["support"])})
    return out


def token_f1(pred: list[list[int]], gold: list[list[int]]) -> float:
    p, g = np.concatenate(pred).astype(bool), np.concatenate(gold).astype(bool)
    tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def dev_metric(pred: list[list[str]], gold: list[list[str]]) -> dict[str, float]:
    """The dev metric training watches: entity F1 of the predicted tags' spans."""
    return {"entity_f1": entity_scores(pred, gold)["entity_f1"]}


def gold_tags(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(t) for t in tags] for tags in frame["tags"]]


def score(pred: list[list[str]], frame: pd.DataFrame, per_type: bool = True
          ) -> dict[str, float]:
    """Entity scores of predicted tags against the corpus' gold tags, and the token F1 of
    the 1/0 views."""
    gold = gold_tags(frame)
    out = entity_scores(pred, gold, per_type)
    out["token_f1"] = token_f1([binary(p) for p in pred], [binary(t) for t in gold])
    return out
