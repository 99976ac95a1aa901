"""Grouped k-fold cross-validation of the review RNN and its baselines (for small corpora such
as PeerRead, where one test split is too noisy to compare models):

    python -m rnnlab.tasks.review.cv [--folds K] [--set review.data.source=peerread ...]

Each fold trains with the one training loop and params.yaml's train and trainer sections.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.config import Config, TrainerConfig
from rnnlab.tasks.review import readers
from rnnlab.tasks.review.data import all_reports, build_vocabs, classes, encode
from rnnlab.tasks.review.evaluate import majority, tfidf_lr
from rnnlab.tasks.review.metrics import scores
from rnnlab.tasks.review.model import build_net, loaders, net_config, objective, predict_proba
from rnnlab.tasks.review.params import ReviewConfig


def cross_validate(cfg: ReviewConfig, trainer: TrainerConfig, seed: int,
                   folds: int = 5) -> dict[str, Any]:
    """Grouped, stratified k-fold CV: each fold's test reports come from papers the model never
    saw; early stopping (and the TF-IDF C) use a grouped dev part of the other folds. The RNN,
    the majority class and TF-IDF + LR are scored on the same folds."""
    import pytorch_lightning as pl

    from rnnlab.nn.loop import set_threads, train

    names = classes(cfg)
    set_threads(trainer.threads)
    frame = all_reports(cfg, seed)
    rows: list[dict[str, Any]] = []
    pooled: dict[str, list[np.ndarray]] = {"gold": []}
    for i, test_idx in enumerate(readers.grouped_folds(frame, folds, seed)):
        rest = frame.drop(index=test_idx).reset_index(drop=True)
        keep, dev_idx = readers.grouped_holdout(rest, cfg.data.resplit.dev, seed + 1 + i)
        split = {"train": rest.iloc[keep].reset_index(drop=True),
                 "dev": rest.iloc[dev_idx].reset_index(drop=True),
                 "test": frame.iloc[test_idx].reset_index(drop=True)}
        vocabs = build_vocabs(split["train"], cfg.vocab)
        encoded = encode(split, vocabs)
        pl.seed_everything(seed + i, workers=True, verbose=False)
        net = build_net(net_config(cfg, vocabs))
        train_batches, dev_batches = loaders(cfg, encoded, seed + i)
        train(net, objective(cfg, net, vocabs), train_batches, dev_batches, cfg.train, trainer,
              progress=False)
        gold = split["test"]["label_id"].to_numpy()
        preds = {"rnn": predict_proba(net, encoded["test"]).numpy().argmax(1),
                 "majority": majority(split["train"], len(gold))}
        if cfg.baselines.tfidf_lr.enabled:
            preds["tfidf_lr"] = tfidf_lr(cfg.baselines.tfidf_lr, len(names), split["train"],
                                         split["dev"], split["test"])[0]
        row: dict[str, Any] = {"fold": i, **{f"n_{s}": len(f) for s, f in split.items()}}
        for name, pred in preds.items():
            row.update({f"{name}/{k}": v for k, v in scores(pred, gold, names).items()})
            pooled.setdefault(name, []).append(pred)
        pooled["gold"].append(gold)
        rows.append(row)
        print(f"cv fold {i + 1}/{folds}: " + ", ".join(
            f"{m} macro_f1={row[f'{m}/macro_f1']:.3f} acc={row[f'{m}/accuracy']:.3f}"
            for m in preds), flush=True)
    table = pd.DataFrame(rows)
    metric_cols = [c for c in table.columns if "/" in c]
    gold = np.concatenate(pooled.pop("gold"))
    return {
        "folds": folds, "reports": len(frame), "groups": int(frame["group"].nunique()),
        "truncated_reports": int(frame["truncated"].sum()),
        "mean": {c: float(table[c].mean()) for c in metric_cols},
        "std": {c: float(table[c].std(ddof=0)) for c in metric_cols},
        # all folds' predictions scored together (macro-F1 over small folds is noisy)
        "pooled": {f"{m}/{k}": v for m, p in pooled.items()
                   for k, v in scores(np.concatenate(p), gold, names).items()},
        "per_fold": rows,
    }


def run(config: Config, folds: int | None = None) -> dict[str, Any]:
    """CV of params.yaml's review section with its trainer section; `folds` defaults to
    review.data.cv_folds."""
    cfg: ReviewConfig = config.task("review")
    return cross_validate(cfg, config.trainer, config.seed, folds or cfg.data.cv_folds)


def main(argv: list[str] | None = None) -> int:
    from rnnlab import config as params
    from rnnlab.io import write_json

    parser = argparse.ArgumentParser(
        prog="python -m rnnlab.tasks.review.cv",
        description="grouped k-fold cross-validation: RNN, majority class, TF-IDF + LR")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--folds", type=int, help="default: review.data.cv_folds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override params.yaml, e.g. review.data.source=peerread")
    parser.add_argument("--out", default="metrics/review/cv.json")
    args = parser.parse_args(argv)

    config = params.load_with_overrides(args.params, args.set)
    result = run(config, args.folds)
    result["overrides"] = args.set
    write_json(args.out, result)
    print(f"{result['folds']}-fold grouped CV on {result['reports']} reports "
          f"({result['groups']} groups, {result['truncated_reports']} truncated) -> {args.out}")
    m, s, p = result["mean"], result["std"], result["pooled"]
    for model in ("rnn", "tfidf_lr", "majority"):
        if f"{model}/macro_f1" in m:
            print(f"  {model:9s} macro-F1 {m[f'{model}/macro_f1']:.3f} ± "
                  f"{s[f'{model}/macro_f1']:.3f} (pooled {p[f'{model}/macro_f1']:.3f})  "
                  f"accuracy {m[f'{model}/accuracy']:.3f} ± {s[f'{model}/accuracy']:.3f} "
                  f"(pooled {p[f'{model}/accuracy']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
