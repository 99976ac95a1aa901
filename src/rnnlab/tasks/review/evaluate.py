"""The RNN and its baselines (majority class, TF-IDF + logistic regression) on the same test
split; dev and test scores of the RNN, truncation counts and class shares per split, the
confusion matrix and a few examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from rnnlab import plots
from rnnlab.nn.loop import count_parameters
from rnnlab.tasks import SPLITS, Evaluation
from rnnlab.tasks.review.metrics import macro_f1, scores
from rnnlab.tasks.review.model import ReportClassifier, predict_proba
from rnnlab.tasks.review.params import ReviewConfig, TfidfLRConfig
from rnnlab.vocab import Vocabulary

# ---------------------------------------------------------------- baselines


def majority(train: pd.DataFrame, n: int) -> np.ndarray:
    """The most frequent training class, for every report."""
    return np.full(n, int(train["label_id"].mode().min()))


def tfidf_lr(settings: TfidfLRConfig, n_classes: int, train: pd.DataFrame, dev: pd.DataFrame,
             test: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """TF-IDF n-grams + logistic regression on the full (untruncated) text; C chosen on dev
    macro-F1 (over all declared classes) when several are given. Returns test predictions and
    the choice."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(ngram_range=(1, settings.ngram_max), sublinear_tf=True,
                                 min_df=settings.min_df, lowercase=True)
    x_train = vectoriser.fit_transform(train["text"])
    grid = settings.C if isinstance(settings.C, tuple) else (settings.C,)
    best: tuple[float, Any, float] | None = None
    for c in grid:
        model = LogisticRegression(C=c, max_iter=3000, class_weight=settings.class_weight)
        model.fit(x_train, train["label_id"])
        dev_f1 = (macro_f1(model.predict(vectoriser.transform(dev["text"])),
                           dev["label_id"].to_numpy(), n_classes) if len(dev) else 0.0)
        if best is None or dev_f1 > best[0]:
            best = (dev_f1, model, c)
    if best is None:
        raise ValueError("review.baselines.tfidf_lr.C: an empty list")
    return best[1].predict(vectoriser.transform(test["text"])), {"C": best[2],
                                                                  "dev/macro_f1": best[0]}


# ---------------------------------------------------------------- evaluate


def evaluate(cfg: ReviewConfig, net: ReportClassifier, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> Evaluation:
    """Test metrics of the RNN and its baselines on the same split, plus plot data. Classes
    are named as the network was trained (net.json, from data.tags). The RNN runs on the CPU,
    as it always did (the committed scores come from there)."""
    names = net.classes
    metrics: dict[str, float] = {}
    probs = {}
    for split in ("dev", "test"):
        probs[split] = predict_proba(net, encoded[split]).numpy()
        gold = frames[split]["label_id"].to_numpy()
        metrics.update({f"{split}/{k}": v
                        for k, v in scores(probs[split].argmax(1), gold, names).items()})
    for split in SPLITS:
        metrics[f"{split}/truncated_reports"] = int(frames[split]["truncated"].sum())
        counts = frames[split]["label"].value_counts()
        for c in names:  # the class balance, next to the scores it explains
            metrics[f"{split}/share_{c}"] = float(counts.get(c, 0) / max(1, len(frames[split])))
    metrics["model/params"] = count_parameters(net)

    test_gold = frames["test"]["label_id"].to_numpy()
    metrics.update({f"majority/test/{k}": v for k, v in
                    scores(majority(frames["train"], len(test_gold)), test_gold, names).items()})
    settings = cfg.baselines.tfidf_lr
    if settings.enabled:
        pred, chosen = tfidf_lr(settings, len(names), frames["train"], frames["dev"],
                                frames["test"])
        metrics.update({f"tfidf_lr/test/{k}": v
                        for k, v in scores(pred, test_gold, names).items()})
        metrics["tfidf_lr/C"] = chosen["C"]

    predicted = probs["test"].argmax(1)
    confusion = pd.DataFrame({"actual": [names[i] for i in test_gold],
                              "predicted": [names[i] for i in predicted]})
    examples = []
    for text, g, p in list(zip(frames["test"]["text"], test_gold, probs["test"],
                               strict=True))[:5]:
        examples.append(f"gold={names[g]} predicted={names[int(p.argmax())]} "
                        f"(p={float(p.max()):.2f}) | {' '.join(str(text).split())[:200]}")
    return Evaluation(
        metrics=metrics,
        tables={"confusion": confusion},  # dvc.yaml draws it with the confusion template
        files={"confusion.png": lambda path: plots.confusion(confusion, path,
                                                             "review: test reports")},
        examples=examples)
