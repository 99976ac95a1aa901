"""Reviewer reports -> accept | minor | major | reject: the lecture's many-to-one architecture
(Tx = length of the report, Ty = 1), ŷ = softmax over c = 4 classes.

The RNN reads the whole report (packed sequences, so padding never enters the recurrence) and
classifies from its final state or a masked mean / max over time (`model.pooling`). Long
reports are cut to `data.max_len` tokens in prepare (`data.truncation`: head | tail | head+tail);
how many were cut is reported per split. Data: a seeded built-in generator (see
rnnlab/data/builtin_review.py for what makes it hard), a CSV / JSONL file, or PeerRead; real
corpora are re-split by paper (`data.split: grouped`) or kept as shipped (`original`).
Scored by accuracy, macro-F1 and per-class F1, next to a majority-class and a TF-IDF + logistic
regression baseline on the same split. `python -m rnnlab.tasks.review cv` runs grouped k-fold
cross-validation of the same model and baselines (for small corpora such as PeerRead).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab import plots
from rnnlab.config import TaskConfig
from rnnlab.encoding import pad
from rnnlab.lightning import ClassifierModule, fit, loader, predict_proba, set_threads
from rnnlab.nn.architectures import ManyToOne, count_parameters
from rnnlab.tasks import SPLITS
from rnnlab.vocab import Vocabulary, oov_rates, tokenize

CLASSES: tuple[str, ...] = ("accept", "minor", "major", "reject")
TRUNCATIONS = ("head", "tail", "head+tail")
SOURCES = ("builtin", "csv", "jsonl", "peerread")
# net.json keys that serving needs but the network does not take
SERVING_KEYS = ("classes", "max_len", "truncation")


def classes(cfg: TaskConfig) -> list[str]:
    """The declared label set. It lives in `data.tags`, the key dvc.yaml's validate stage
    tracks for every task."""
    return [str(c) for c in cfg.data.get("tags", CLASSES)]


# ---------------------------------------------------------------- data


def truncate(tokens: list[str], max_len: int, strategy: str = "head+tail") -> list[str]:
    """At most `max_len` tokens (0 = no limit). head keeps the opening (the summary), tail the
    end (the verdict), head+tail the first ceil(max_len/2) and the last floor(max_len/2)."""
    if strategy not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {strategy!r}")
    if max_len <= 0 or len(tokens) <= max_len:
        return list(tokens)
    if strategy == "head":
        return list(tokens[:max_len])
    if strategy == "tail":
        return list(tokens[len(tokens) - max_len:])
    head = (max_len + 1) // 2
    return list(tokens[:head]) + list(tokens[len(tokens) - (max_len - head):])


def _truncation(cfg: TaskConfig) -> tuple[int, str]:
    return int(cfg.data.get("max_len", 0) or 0), str(cfg.data.get("truncation", "head+tail"))


def read_reports(cfg: TaskConfig) -> pd.DataFrame:
    """Every report of a real corpus: text, raw_label, label (mapped), group, split."""
    from rnnlab.data import reviews

    data = cfg.data
    source = data.get("source", "builtin")
    if source == "peerread":
        frame = reviews.read_peerread(data.get("path", "data/raw/review/peerread/reviews.jsonl"))
        label_map = data.get("label_map") or reviews.PEERREAD_LABELS
    elif source in ("csv", "jsonl"):
        frame = reviews.read_table(data["path"], data.get("text_column", "text"),
                                   data.get("label_column", "label"), data.get("group_column"),
                                   data.get("split_column"), fmt=source)
        label_map = data.get("label_map") or {}
    else:
        raise ValueError(f"review.data.source must be one of {SOURCES}, got {source!r}")
    frame["label"] = reviews.map_labels(frame["raw_label"], label_map)
    return frame


def finish(frame: pd.DataFrame, cfg: TaskConfig) -> pd.DataFrame:
    """Tokenise, truncate and number the reports of one split (the prepared frame's columns:
    report_id, text, label, label_id, group, tokens (what the RNN reads), n_tokens (before
    truncation), truncated)."""
    names = classes(cfg)
    max_len, strategy = _truncation(cfg)
    full = [tokenize(t) for t in frame["text"]]
    return pd.DataFrame({
        "report_id": range(len(frame)),
        "text": frame["text"].tolist(),
        "label": frame["label"].tolist(),
        "label_id": [names.index(y) if y in names else -1 for y in frame["label"]],
        "group": frame["group"].astype(str).tolist(),
        "tokens": [truncate(t, max_len, strategy) for t in full],
        "n_tokens": [len(t) for t in full],
        "truncated": [0 < max_len < len(t) for t in full],
    })


def prepare(cfg: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    data = cfg.data
    truncate([], 0, _truncation(cfg)[1])  # fail early on an unknown strategy
    if data.get("source", "builtin") == "builtin":
        from rnnlab.data.builtin_review import generate

        b = data.get("builtin", {})
        rows = generate(b.get("n_train", 3000), b.get("n_dev", 500), b.get("n_test", 1000),
                        seed=b.get("seed", seed),
                        priors=tuple(b.get("priors", (0.2, 0.3, 0.3, 0.2))))
        splits = {s: pd.DataFrame({"text": [t for t, _ in r], "label": [y for _, y in r],
                                   "group": [f"{s}-{i}" for i in range(len(r))]})
                  for s, r in rows.items()}
    else:
        from rnnlab.data import reviews

        frame = read_reports(cfg)
        how = data.get("split", "grouped")
        if how == "grouped":
            share = data.get("resplit", {})
            splits = reviews.grouped_split(frame, int(data.get("split_seed", seed)),
                                           float(share.get("dev", 0.15)),
                                           float(share.get("test", 0.2)))
        elif how == "original":
            splits = reviews.original_split(frame)
        else:
            raise ValueError(f"review.data.split must be grouped or original, got {how!r}")
    return {s: finish(splits[s], cfg) for s in SPLITS}


def class_counts(frames: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """One row per declared class with its number of reports in each split."""
    return pd.DataFrame({"label": names, **{
        s: [int((frames[s]["label"] == c).sum()) if "label" in frames[s] else 0 for c in names]
        for s in frames}})


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().lower())


def checks(cfg: TaskConfig, frames: dict[str, pd.DataFrame]) -> list:
    """Report-level and class-level Great Expectations suites; class balance in the stats."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v, names = cfg.validation, classes(cfg)
    min_tok, max_tok = int(v.get("min_tokens", 1)), int(v.get("max_tokens", 5000))
    min_class = int(v.get("min_per_class", 1))

    reports = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("text", "label", "group", "n_tokens", "truncated"):
        if col not in reports:  # keep going on a broken schema so GX can report it
            reports[col] = None
    reports["n_tokens"] = [len(tokenize(t)) if isinstance(t, str) else 0
                           for t in reports["text"]]
    reports["n_chars"] = [len(t.strip()) if isinstance(t, str) else 0 for t in reports["text"]]
    norm = reports["text"].map(_normalise)
    reports["in_two_splits"] = reports.groupby(norm)["split"].transform("nunique") > 1
    group_splits = reports.groupby("group")["split"].transform("nunique")
    reports["group_in_two_splits"] = group_splits > 1

    ids = ["split", "report_id"]
    report_suite = [
        gxe.ExpectColumnToExist(column="text", description="schema: a 'text' column"),
        gxe.ExpectColumnToExist(column="label", description="schema: a 'label' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToNotBeNull(column="text", description="no missing report text"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_chars", min_value=1, description="no empty reports"),
        gxe.ExpectColumnValuesToNotBeNull(column="label", description="no missing label"),
        gxe.ExpectColumnValuesToBeInSet(
            column="label", value_set=names, description=f"labels only from {names}"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=min_tok, max_value=max_tok,
            description=f"report length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_two_splits", value_set=[False],
            description="no report appears in two splits (duplicates across splits)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="group_in_two_splits", value_set=[False],
            description="no paper has reports in two splits"),
    ]
    counts = class_counts(frames, names)
    balance = ", ".join(f"{c} {n}" for c, n in zip(counts["label"], counts["train"],
                                                    strict=True))
    class_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="train", min_value=min_class,
        description=f"each class has at least {min_class} training reports ({balance})")]
    stats = {s: {"reports": int((reports["split"] == s).sum()),
                 "truncated": int(reports.loc[reports["split"] == s, "truncated"].fillna(False)
                                  .astype(bool).sum()),
                 "classes": {c: int(n) for c, n in zip(counts["label"], counts[s], strict=True)}}
             for s in frames}
    return [Check("reports", reports, report_suite, ids, "text", stats=stats),
            Check("classes", counts, class_suite, ["label"])]


# ---------------------------------------------------------------- representation


def build_vocabs(train: pd.DataFrame, vocab_cfg: Any) -> dict[str, Vocabulary]:
    return {"tokens": Vocabulary.build(
        (list(t) for t in train["tokens"]), vocab_cfg.max_size, vocab_cfg.min_freq,
        vocab_cfg.lowercase, vocab_cfg.unk_signatures)}


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def encode(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """Padded ids [N, T], lengths, mask, and one class index per report: labels [N]."""
    out = pad([vocabs["tokens"].encode(list(t)) for t in frame["tokens"]])
    out["labels"] = torch.tensor(frame["label_id"].to_numpy(dtype=np.int64))
    return out


# ---------------------------------------------------------------- model


def net_config(cfg: TaskConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m = cfg.model
    max_len, strategy = _truncation(cfg)
    return {"vocab_size": len(vocabs["tokens"]), "n_out": len(classes(cfg)),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "pooling": m.pooling,
            # serving reads raw text: it must cut and name classes exactly as training did
            "classes": classes(cfg), "max_len": max_len, "truncation": strategy}


def build_net(config: dict[str, Any]) -> nn.Module:
    net = ManyToOne(**{k: v for k, v in config.items() if k not in SERVING_KEYS})
    net.classes = list(config.get("classes", CLASSES))
    net.max_len = int(config.get("max_len", 0))
    net.truncation = str(config.get("truncation", "head+tail"))
    return net


def lightning_module(cfg: TaskConfig, net: nn.Module,
                     vocabs: dict[str, Vocabulary]) -> ClassifierModule:
    t = cfg.train
    return ClassifierModule(net, len(classes(cfg)), lr=t.lr, weight_decay=t.weight_decay,
                            word_dropout=t.word_dropout,
                            fallback=vocabs["tokens"].fallback_indices(),
                            class_weights="balanced" if t.imbalance == "weights" else None)


MONITOR = "dev/macro_f1"


# ---------------------------------------------------------------- metrics


def score(pred: np.ndarray, gold: np.ndarray, names: list[str]) -> dict[str, float]:
    """Accuracy, macro-F1 over all declared classes, and F1 per class."""
    from sklearn.metrics import accuracy_score, f1_score

    per_class = f1_score(gold, pred, labels=list(range(len(names))), average=None,
                         zero_division=0)
    out = {"accuracy": float(accuracy_score(gold, pred)) if len(gold) else 0.0,
           "macro_f1": float(np.mean(per_class))}
    out.update({f"f1_{c}": float(f) for c, f in zip(names, per_class, strict=True)})
    return out


# ---------------------------------------------------------------- baselines


def majority(train: pd.DataFrame, n: int) -> np.ndarray:
    """The most frequent training class, for every report."""
    return np.full(n, int(train["label_id"].mode().min()))


def tfidf_lr(cfg: TaskConfig, train: pd.DataFrame, dev: pd.DataFrame,
             test: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """TF-IDF n-grams + logistic regression on the full (untruncated) text; C chosen on dev
    macro-F1 when several are given. Returns test predictions and the choice."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    b = cfg.baselines.get("tfidf_lr", {})
    vectoriser = TfidfVectorizer(ngram_range=(1, int(b.get("ngram_max", 2))), sublinear_tf=True,
                                 min_df=int(b.get("min_df", 1)), lowercase=True)
    x_train = vectoriser.fit_transform(train["text"])
    grid = b.get("C", [0.1, 1.0, 10.0])
    grid = grid if isinstance(grid, list) else [grid]
    best: tuple[float, Any, float] | None = None
    for c in grid:
        model = LogisticRegression(C=float(c), max_iter=3000,
                                   class_weight=b.get("class_weight", "balanced"))
        model.fit(x_train, train["label_id"])
        dev_f1 = (f1_score(dev["label_id"], model.predict(vectoriser.transform(dev["text"])),
                           average="macro", zero_division=0) if len(dev) else 0.0)
        if best is None or dev_f1 > best[0]:
            best = (dev_f1, model, float(c))
    assert best is not None
    return best[1].predict(vectoriser.transform(test["text"])), {"C": best[2],
                                                                  "dev/macro_f1": best[0]}


def evaluate(cfg: TaskConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Test metrics of the RNN and its baselines on the same split, plus plot data."""
    names = classes(cfg)
    metrics: dict[str, float] = {}
    probs = {}
    for split in ("dev", "test"):
        probs[split] = predict_proba(net, encoded[split]).numpy()
        gold = frames[split]["label_id"].to_numpy()
        metrics.update({f"{split}/{k}": v
                        for k, v in score(probs[split].argmax(1), gold, names).items()})
    for split in SPLITS:
        metrics[f"{split}/truncated_reports"] = int(frames[split]["truncated"].sum())
        counts = frames[split]["label"].value_counts()
        for c in names:  # the class balance, next to the scores it explains
            metrics[f"{split}/share_{c}"] = float(counts.get(c, 0) / max(1, len(frames[split])))
    metrics["model/params"] = count_parameters(net)

    test_gold = frames["test"]["label_id"].to_numpy()
    metrics.update({f"majority/test/{k}": v for k, v in
                    score(majority(frames["train"], len(test_gold)), test_gold, names).items()})
    if cfg.baselines.get("tfidf_lr", {}).get("enabled", True):
        pred, chosen = tfidf_lr(cfg, frames["train"], frames["dev"], frames["test"])
        metrics.update({f"tfidf_lr/test/{k}": v for k, v in score(pred, test_gold, names).items()})
        metrics["tfidf_lr/C"] = chosen["C"]

    predicted = probs["test"].argmax(1)
    confusion = pd.DataFrame({"actual": [names[i] for i in test_gold],
                              "predicted": [names[i] for i in predicted]})
    examples = []
    for text, g, p in list(zip(frames["test"]["text"], test_gold, probs["test"],
                               strict=True))[:5]:
        examples.append(f"gold={names[g]} predicted={names[int(p.argmax())]} "
                        f"(p={float(p.max()):.2f}) | {' '.join(str(text).split())[:200]}")
    return metrics, {
        "tables": {"confusion": confusion},  # dvc.yaml draws it with the confusion template
        "files": {"confusion.png": lambda path: plots.confusion(confusion, path,
                                                                "review: test reports")},
        "examples": examples}


# ---------------------------------------------------------------- serving


def predict(net: nn.Module, vocabs: dict[str, Vocabulary], texts: list[str]) -> list[dict]:
    """Raw reports -> decision and the probability of every class (cut as in training)."""
    names = list(getattr(net, "classes", CLASSES))
    max_len, strategy = getattr(net, "max_len", 0), getattr(net, "truncation", "head+tail")
    full = [tokenize(str(t)) for t in texts]
    cut = [truncate(t, max_len, strategy) for t in full]
    keep = [i for i, t in enumerate(cut) if t]
    probs: dict[int, np.ndarray] = {}
    if keep:
        enc = pad([vocabs["tokens"].encode(cut[i]) for i in keep])
        enc["labels"] = torch.zeros(len(keep), dtype=torch.long)
        probs = dict(zip(keep, predict_proba(net, enc).numpy(), strict=True))
    out = []
    for i, tokens in enumerate(full):
        p = probs.get(i)
        out.append({"label": names[int(p.argmax())] if p is not None else None,
                    "probabilities": ({c: round(float(x), 6) for c, x in zip(names, p,
                                                                             strict=True)}
                                      if p is not None else {}),
                    "tokens": len(tokens), "truncated": 0 < max_len < len(tokens)})
    return out


# ---------------------------------------------------------------- cross-validation


def cv_frame(cfg: TaskConfig, seed: int) -> pd.DataFrame:
    """Every report of the configured source in one frame, prepared as for the pipeline."""
    if cfg.data.get("source", "builtin") == "builtin":
        return pd.concat(prepare(cfg, seed).values(), ignore_index=True)
    frame = finish(read_reports(cfg), cfg)
    bad = sorted(set(frame.loc[frame["label_id"] < 0, "label"].astype(str)))
    if bad:
        raise ValueError(f"labels outside {classes(cfg)}: {bad} (see review.data.label_map)")
    return frame


def cross_validate(cfg: TaskConfig, seed: int, folds: int = 5) -> dict[str, Any]:
    """Grouped, stratified k-fold CV: each fold's test reports come from papers the model never
    saw; early stopping (and the TF-IDF C) use a grouped dev part of the other folds. The RNN,
    the majority class and TF-IDF + LR are scored on the same folds."""
    import pytorch_lightning as pl

    from rnnlab.data import reviews

    names, t = classes(cfg), cfg.train
    set_threads(t.threads)
    frame = cv_frame(cfg, seed)
    dev_share = float(cfg.data.get("resplit", {}).get("dev", 0.15))
    rows: list[dict[str, Any]] = []
    pooled: dict[str, list[np.ndarray]] = {"gold": []}
    for i, test_idx in enumerate(reviews.grouped_folds(frame, folds, seed)):
        rest = frame.drop(index=test_idx).reset_index(drop=True)
        keep, dev_idx = reviews.grouped_holdout(rest, dev_share, seed + 1 + i)
        split = {"train": rest.iloc[keep].reset_index(drop=True),
                 "dev": rest.iloc[dev_idx].reset_index(drop=True),
                 "test": frame.iloc[test_idx].reset_index(drop=True)}
        vocabs = build_vocabs(split["train"], cfg.vocab)
        encoded = {s: encode(f, vocabs) for s, f in split.items()}
        pl.seed_everything(seed + i, workers=True, verbose=False)
        net = build_net(net_config(cfg, vocabs))
        with tempfile.TemporaryDirectory() as ckpt:
            fit(lightning_module(cfg, net, vocabs),
                loader(encoded["train"], t.batch_size, shuffle=True, seed=seed + i,
                       bucket=t.bucket, balanced=t.imbalance == "sampler"),
                loader(encoded["dev"], 256), max_epochs=t.max_epochs, patience=t.patience,
                monitor=MONITOR, grad_clip=t.grad_clip, accelerator=t.accelerator,
                ckpt_dir=ckpt, progress=False)
        gold = split["test"]["label_id"].to_numpy()
        preds = {"rnn": predict_proba(net, encoded["test"]).numpy().argmax(1),
                 "majority": majority(split["train"], len(gold))}
        if cfg.baselines.get("tfidf_lr", {}).get("enabled", True):
            preds["tfidf_lr"] = tfidf_lr(cfg, split["train"], split["dev"], split["test"])[0]
        row: dict[str, Any] = {"fold": i, **{f"n_{s}": len(f) for s, f in split.items()}}
        for name, pred in preds.items():
            row.update({f"{name}/{k}": v for k, v in score(pred, gold, names).items()})
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
                   for k, v in score(np.concatenate(p), gold, names).items()},
        "per_fold": rows,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m rnnlab.tasks.review cv [--folds K] [--set review.data.source=peerread ...]`"""
    from rnnlab import config
    from rnnlab.io import write_json

    parser = argparse.ArgumentParser(prog="python -m rnnlab.tasks.review")
    sub = parser.add_subparsers(dest="command", required=True)
    cv = sub.add_parser("cv", help="grouped k-fold cross-validation: RNN, majority, TF-IDF + LR")
    cv.add_argument("--params", default="params.yaml")
    cv.add_argument("--folds", type=int, help="default: review.data.cv_folds (5)")
    cv.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override params.yaml, e.g. review.data.source=peerread")
    cv.add_argument("--out", default="metrics/review/cv.json")
    args = parser.parse_args(argv)

    cfg = config.load_with_overrides(args.params, args.set)
    tc = cfg.task("review")
    folds = args.folds or int(tc.data.get("cv_folds", 5))
    result = cross_validate(tc, cfg.seed, folds)
    result["overrides"] = args.set
    write_json(args.out, result)
    print(f"{folds}-fold grouped CV on {result['reports']} reports ({result['groups']} groups, "
          f"{result['truncated_reports']} truncated) -> {args.out}")
    for model in ("rnn", "tfidf_lr", "majority"):
        if f"{model}/macro_f1" in result["mean"]:
            m, s, p = result["mean"], result["std"], result["pooled"]
            print(f"  {model:9s} macro-F1 {m[f'{model}/macro_f1']:.3f} ± "
                  f"{s[f'{model}/macro_f1']:.3f} (pooled {p[f'{model}/macro_f1']:.3f})  "
                  f"accuracy {m[f'{model}/accuracy']:.3f} ± {s[f'{model}/accuracy']:.3f} "
                  f"(pooled {p[f'{model}/accuracy']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
