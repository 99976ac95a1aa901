"""The many-to-one review task: generator, readers and grouped splits, truncation, the
ManyToOne network (padding never leaks), the classifier module, validation, the task's stage
functions end to end in-process, and the grouped cross-validation mode."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import REPO
from rnnlab import config
from rnnlab.data import builtin_review, reviews
from rnnlab.encoding import pad
from rnnlab.lightning import (
    BucketBatches,
    ClassifierModule,
    balanced_weights,
    collate,
    fit,
    loader,
    macro_f1,
)
from rnnlab.nn.architectures import ManyToOne
from rnnlab.tasks import review
from rnnlab.validation import ValidationFailed, validate

CLASSES = list(builtin_review.CLASSES)
PEERREAD = REPO.parent / "shared" / "data" / "peerread-acl2017" / "reviews.jsonl"


def task_config(**sections) -> config.TaskConfig:
    base = {"primary_metric": "dev/macro_f1",
            "data": {"source": "builtin", "tags": CLASSES,
                     "builtin": {"n_train": 120, "n_dev": 40, "n_test": 40},
                     "max_len": 60, "truncation": "head+tail"},
            "validation": {"min_tokens": 3, "max_tokens": 400, "min_per_class": 2},
            "vocab": {"lowercase": True},
            "model": {"cell": "gru", "hidden_size": 8, "embedding_dim": 8, "pooling": "mean"},
            "train": {"max_epochs": 1, "batch_size": 32, "patience": 1, "threads": 1,
                      "imbalance": "weights", "accelerator": "cpu"},
            "baselines": {"tfidf_lr": {"C": 1.0}}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return config._task_config("review", base)


# ---------------------------------------------------------------- built-in data


def test_generator_is_seeded_distinct_and_labels_follow_the_rule():
    a = builtin_review.generate(200, 50, 50, seed=3)
    assert a == builtin_review.generate(200, 50, 50, seed=3)
    assert {k: len(v) for k, v in a.items()} == {"train": 200, "dev": 50, "test": 50}
    texts = [t for rows in a.values() for t, _ in rows]
    assert len(set(texts)) == len(texts)  # no report twice, within or across splits
    assert set(Counter(y for rows in a.values() for _, y in rows)) == set(CLASSES)
    assert builtin_review.decide(0, 0) == "accept" and builtin_review.decide(0, 2) == "minor"
    assert builtin_review.decide(1, 3) == "major" and builtin_review.decide(2, 0) == "reject"


def test_generator_mixes_cues_in_every_class():
    rows = builtin_review.generate(400, 1, 1, seed=0)["train"]
    negators = ("not", "doubt", "cannot", "nobody", "wrong")
    for label in CLASSES:
        texts = [t.lower() for t, y in rows if y == label]
        words = Counter(w for t in texts for w in t.split())
        # positive and negative adjectives, negations and hedges turn up in every class
        assert any(words[a] for a in builtin_review.POSITIVE)
        assert any(words[a] for a in builtin_review.NEGATIVE)
        assert sum(words[n] for n in negators) > 0
        assert sum("the authors claim" in t or "according to the authors" in t
                   for t in texts) > 0


def test_bag_of_words_does_not_solve_the_builtin_data():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    data = builtin_review.generate(1500, 1, 500, seed=1)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([t for t, _ in data["train"]])
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    model.fit(x, [y for _, y in data["train"]])
    pred = model.predict(vec.transform([t for t, _ in data["test"]]))
    assert f1_score([y for _, y in data["test"]], pred, average="macro") < 0.5


# ---------------------------------------------------------------- readers and splits


def test_csv_and_jsonl_readers_map_labels_and_keep_unknown_ones(tmp_path):
    csv = tmp_path / "r.csv"
    pd.DataFrame({"report": ["good paper", "bad paper", "meh"], "score": ["5", "2", "9"],
                  "paper": ["p1", "p2", "p2"]}).to_csv(csv, index=False)
    frame = reviews.read_table(csv, "report", "score", "paper")
    labels = reviews.map_labels(frame["raw_label"], reviews.PEERREAD_LABELS)
    assert labels.tolist() == ["accept", "reject", "9"]  # 9 is left for validation to flag
    assert frame["group"].tolist() == ["p1", "p2", "p2"]
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("\n".join(json.dumps({"comments": c, "recommendation": r, "paper_id": p,
                                           "split": s})
                               for c, r, p, s in [("fine", 4, "1", "train"),
                                                  ("weak", 3.0, "2", "dev")]) + "\n")
    peer = reviews.read_peerread(jsonl)
    assert reviews.map_labels(peer["raw_label"], reviews.PEERREAD_LABELS).tolist() == [
        "minor", "major"]
    assert reviews.original_split(peer.assign(label="x"))["dev"]["text"].tolist() == ["weak"]
    with pytest.raises(ValueError, match="no column"):
        reviews.read_table(csv, "text", "score")


def _grouped_frame(n_papers: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"text": f"review {p}-{r}", "label": CLASSES[rng.integers(4)], "group": f"p{p}"}
            for p in range(n_papers) for r in range(rng.integers(1, 4))]
    return pd.DataFrame(rows)


def test_grouped_split_keeps_papers_together_and_is_seeded():
    frame = _grouped_frame()
    parts = reviews.grouped_split(frame, seed=5, dev=0.15, test=0.2)
    groups = [set(parts[s]["group"]) for s in ("train", "dev", "test")]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert sum(len(p) for p in parts.values()) == len(frame)
    again = reviews.grouped_split(frame, seed=5, dev=0.15, test=0.2)
    assert all(parts[s].equals(again[s]) for s in parts)
    folds = reviews.grouped_folds(frame, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(frame)))
    for fold in folds:
        inside = set(frame.iloc[fold]["group"])
        assert not inside & set(frame.drop(index=fold)["group"])


def test_truncation_strategies():
    toks = [str(i) for i in range(10)]
    assert review.truncate(toks, 4, "head") == ["0", "1", "2", "3"]
    assert review.truncate(toks, 4, "tail") == ["6", "7", "8", "9"]
    assert review.truncate(toks, 5, "head+tail") == ["0", "1", "2", "8", "9"]
    assert review.truncate(toks, 0, "head") == toks and review.truncate(toks, 20, "tail") == toks
    with pytest.raises(ValueError, match="truncation"):
        review.truncate(toks, 4, "middle")


# ---------------------------------------------------------------- network and module


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_many_to_one_padding_never_leaks(cell: str, pooling: str):
    torch.manual_seed(0)
    net = ManyToOne(20, 4, "embedding", 6, cell, 5, num_layers=2, bidirectional=True,
                    pooling=pooling).eval()
    seqs = [[3, 4, 5], [6, 7, 8, 9, 10, 11], [2]]
    batch = pad(seqs)
    out = net(batch["ids"], batch["lengths"])
    assert out.shape == (3, 4)
    wide = torch.cat([batch["ids"], torch.full((3, 7), 9)], 1)  # garbage after each length
    assert torch.allclose(net(wide, batch["lengths"]), out, atol=1e-5)
    for i, s in enumerate(seqs):  # alone, unpadded: the same answer
        alone = net(torch.tensor([s]), torch.tensor([len(s)]))
        assert torch.allclose(alone[0], out[i], atol=1e-5)


@pytest.mark.parametrize("encoding", ["onehot", "embedding"])
def test_many_to_one_encodings(encoding: str):
    net = ManyToOne(15, 4, encoding, 6, "lstm", 5, bidirectional=False)
    batch = pad([[1, 2], [3, 4, 5]])
    assert net(batch["ids"], batch["lengths"]).shape == (2, 4)


def test_collate_keeps_one_label_per_sequence():
    row = lambda ids, n, y: {"ids": torch.tensor(ids), "lengths": torch.tensor(n),  # noqa: E731
                             "labels": torch.tensor(y)}
    batch = collate([row([3, 4, 0, 0], 2, 1), row([5, 0, 0, 0], 1, 3)])
    assert batch["ids"].shape == (2, 2) and batch["labels"].tolist() == [1, 3]


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    gold = torch.tensor([0, 0, 1, 2, 2, 2, 3, 1])
    pred = torch.tensor([0, 1, 1, 2, 0, 2, 2, 1])
    expected = f1_score(gold, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert macro_f1(pred, gold, 4) == pytest.approx(expected)


def test_balanced_sampler_draws_classes_evenly():
    labels = torch.tensor([0] * 90 + [1] * 10)
    sampler = BucketBatches(torch.randint(1, 9, (100,)), 10, seed=0, pool=1,
                            weights=balanced_weights(labels))
    drawn = Counter(labels[i].item() for _ in range(20) for b in sampler for i in b)
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6
    with pytest.raises(ValueError, match="one label per sequence"):
        balanced_weights(torch.zeros(3, 4, dtype=torch.long))


def test_classifier_module_learns_a_batch_and_weighs_classes(tmp_path):
    torch.manual_seed(0)
    seqs = [[2, 3, 4], [5, 6], [7, 8, 9, 2], [3, 3], [4, 5, 6], [9]] * 4
    enc = pad(seqs)
    enc["labels"] = torch.tensor([0, 1, 2, 3, 0, 0] * 4)
    module = ClassifierModule(ManyToOne(10, 4, "embedding", 8, "gru", 16, pooling="mean"), 4,
                              lr=0.05, class_weights="balanced")
    fit(module, loader(enc, 8, shuffle=True), loader(enc, 64), max_epochs=30, patience=30,
        monitor="dev/macro_f1", accelerator="cpu", progress=False, ckpt_dir=str(tmp_path))
    # n / (c * count): class 0 has 12 of 24 sequences, the others 4 each
    assert module.weight.tolist() == pytest.approx([0.5, 1.5, 1.5, 1.5])
    assert max(row["dev/macro_f1"] for row in module.history) == 1.0
    assert {"train/loss", "dev/loss", "dev/accuracy"} <= set(module.history[-1])


# ---------------------------------------------------------------- validation


def _frames() -> dict[str, pd.DataFrame]:
    return review.prepare(task_config(), seed=0)


def test_clean_builtin_data_passes_and_reports_the_class_balance(tmp_path):
    summary = validate("review", review.checks(task_config(), _frames()), tmp_path / "v")
    assert summary["success"]
    stats = summary["stats"]["reports"]
    assert sum(stats["train"]["classes"].values()) == 120
    assert set(stats["test"]) == {"reports", "truncated", "classes"}
    assert stats["train"]["truncated"] > 0  # max_len 60 cuts some reports


@pytest.mark.parametrize(("plant", "expect"), [
    (lambda f: f["dev"].loc.__setitem__((0, "text"), "   "), "no empty reports"),
    (lambda f: f["train"].loc.__setitem__((1, "label"), "strong accept"), "labels only from"),
    (lambda f: f["test"].loc.__setitem__((0, "text"), "word " * 500),
     "report length within [3, 400]"),
    (lambda f: f["test"].loc.__setitem__((2, "text"), f["train"].loc[0, "text"]),
     "no report appears in two splits"),
    (lambda f: f["dev"].loc.__setitem__((3, "group"), f["train"].loc[0, "group"]),
     "no paper has reports in two splits"),
])
def test_planted_fault_fails_validation(tmp_path, plant, expect):
    frames = _frames()
    plant(frames)
    with pytest.raises(ValidationFailed) as err:
        validate("review", review.checks(task_config(), frames), tmp_path / "v")
    assert expect in str(err.value)


def test_too_few_training_reports_of_a_class_fails(tmp_path):
    frames = _frames()
    train = frames["train"]
    frames["train"] = train.drop(index=train.index[train["label"] == "accept"][1:])
    with pytest.raises(ValidationFailed, match=r"at least 2 training reports \(accept 1,"):
        validate("review", review.checks(task_config(), frames), tmp_path / "v")


# ---------------------------------------------------------------- the task end to end


def test_task_functions_end_to_end_and_serving(tmp_path):
    cfg = task_config()
    frames = review.prepare(cfg, seed=0)
    assert frames["train"]["truncated"].any()
    assert all(len(t) <= 60 for f in frames.values() for t in f["tokens"])
    vocabs = review.build_vocabs(frames["train"], cfg.vocab)
    encoded = {s: review.encode(f, vocabs) for s, f in frames.items()}
    assert encoded["train"]["labels"].shape == (120,)
    net = review.build_net(json.loads(json.dumps(review.net_config(cfg, vocabs))))
    module = review.lightning_module(cfg, net, vocabs)
    fit(module, loader(encoded["train"], 32, shuffle=True, bucket=True),
        loader(encoded["dev"], 256), max_epochs=1, patience=1, monitor=review.MONITOR,
        accelerator="cpu", progress=False, ckpt_dir=str(tmp_path))
    metrics, extra = review.evaluate(cfg, net, frames, encoded, vocabs, seed=0)
    for key in ("test/macro_f1", "test/accuracy", "test/f1_accept", "test/f1_reject",
                "majority/test/macro_f1", "tfidf_lr/test/macro_f1", "test/truncated_reports",
                "dev/macro_f1", "model/params"):
        assert key in metrics, key
    assert metrics["test/truncated_reports"] == int(frames["test"]["truncated"].sum())
    assert list(extra["tables"]["confusion"].columns) == ["actual", "predicted"]
    assert set(extra["tables"]["confusion"]["actual"]) <= set(CLASSES)
    out = review.predict(net, vocabs, ["The research problem is very important , but "
                                       "I doubt that the evaluation is convincing .", ""])
    assert out[0]["label"] in CLASSES
    assert set(out[0]["probabilities"]) == set(CLASSES)
    assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert out[1]["label"] is None  # empty text: no prediction, no crash


def test_real_corpus_source_with_grouped_resplit(tmp_path):
    rows = builtin_review.generate(160, 1, 1, seed=2)["train"]
    path = tmp_path / "reports.csv"
    pd.DataFrame({"body": [t for t, _ in rows], "decision": [y for _, y in rows],
                  "paper": [f"p{i // 2}" for i in range(len(rows))]}).to_csv(path, index=False)
    cfg = task_config(data={"source": "csv", "path": str(path), "text_column": "body",
                            "label_column": "decision", "group_column": "paper",
                            "label_map": {}, "split": "grouped"})
    frames = review.prepare(cfg, seed=0)
    assert sum(len(f) for f in frames.values()) == 160
    assert not set(frames["train"]["group"]) & set(frames["test"]["group"])
    assert (frames["train"]["label_id"] >= 0).all()


def test_cross_validation_mode(tmp_path):
    import yaml

    from rnnlab.tasks.review import main

    rows = builtin_review.generate(150, 1, 1, seed=4)["train"]
    corpus = tmp_path / "reports.jsonl"
    corpus.write_text("\n".join(json.dumps({"comments": t, "recommendation": {
        "accept": 5, "minor": 4, "major": 3, "reject": 2}[y], "paper_id": str(i // 2),
        "split": "train"}) for i, (t, y) in enumerate(rows)) + "\n")
    params = {"seed": 1, "tasks": ["review"],
              "review": {"primary_metric": "dev/macro_f1",
                         "data": {"source": "builtin", "tags": CLASSES},
                         "model": {"hidden_size": 8, "embedding_dim": 8, "cell": "gru"},
                         "train": {"max_epochs": 1, "threads": 1, "accelerator": "cpu"},
                         "baselines": {"tfidf_lr": {"C": 1.0}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "cv.json"
    assert main(["cv", "--params", str(tmp_path / "params.yaml"), "--folds", "3",
                 "--set", "review.data.source=peerread", "--set", f"review.data.path={corpus}",
                 "--set", "review.data.max_len=50", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["folds"] == 3 and result["reports"] == 150 and result["groups"] == 75
    assert len(result["per_fold"]) == 3
    for model in ("rnn", "majority", "tfidf_lr"):
        assert 0 <= result["mean"][f"{model}/macro_f1"] <= 1
        assert f"{model}/accuracy" in result["pooled"]
    assert result["truncated_reports"] > 0


def test_config_rejects_unknown_pooling_and_imbalance():
    with pytest.raises(config.ConfigError, match="pooling"):
        task_config(model={"pooling": "sum"})
    with pytest.raises(config.ConfigError, match="imbalance"):
        task_config(train={"imbalance": "smote"})


@pytest.mark.skipif(not PEERREAD.exists(), reason="the shared PeerRead copy is not here")
def test_peerread_default_mapping_counts():
    frame = reviews.read_peerread(PEERREAD)
    labels = reviews.map_labels(frame["raw_label"], reviews.PEERREAD_LABELS)
    assert len(frame) == 229 and frame["group"].nunique() == 114
    assert Counter(labels) == {"minor": 113, "reject": 54, "major": 53, "accept": 9}
