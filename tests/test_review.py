"""The many-to-one review task: generator, readers and grouped splits, truncation, the typed
section, the ManyToOne network (padding never leaks), the objective on the one training loop,
the one macro-F1, validation, evaluate and serving, and the grouped cross-validation CLI."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from helpers import REPO, merge
from rnnlab import config, serving, tasks
from rnnlab.config import TrainerConfig
from rnnlab.nn.encoding import pad
from rnnlab.nn.loop import BucketBatches, balanced_weights, collate, loader, train
from rnnlab.tasks.review import generator, readers
from rnnlab.tasks.review.checks import checks
from rnnlab.tasks.review.data import build_vocabs, encode, prepare, truncate
from rnnlab.tasks.review.evaluate import evaluate
from rnnlab.tasks.review.metrics import accuracy, macro_f1, per_class_f1, scores
from rnnlab.tasks.review.model import (
    ManyToOne,
    ReviewObjective,
    build_net,
    loaders,
    net_config,
    objective,
)
from rnnlab.tasks.review.params import CONFIG, TINY, ReviewTrainConfig
from rnnlab.tasks.review.serve import predict, predict_params
from rnnlab.validation import ValidationFailed, validate

CLASSES = list(generator.CLASSES)
PEERREAD = REPO.parent / "shared" / "data" / "peerread-acl2017" / "reviews.jsonl"
CPU = TrainerConfig(accelerator="cpu")




def section(**overrides: Any) -> dict:
    """params.yaml's review section with TINY and smaller validation limits merged in."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["review"]
    merge(raw, copy.deepcopy(TINY))
    merge(raw, {"data": {"builtin": {"n_train": 120, "n_dev": 40, "n_test": 40},
                          "max_len": 60},
                 "validation": {"min_tokens": 3, "max_tokens": 400, "min_per_class": 2}})
    return merge(raw, overrides)


def task_config(**overrides: Any) -> Any:
    return config.build(CONFIG, {"name": "review", **section(**overrides)}, "params.yaml:review")


# ---------------------------------------------------------------- typed section


def test_defaults_are_params_yaml_and_tiny_builds():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["review"]
    assert config.build(CONFIG, {"name": "review", **raw}, "review") == CONFIG(
        name="review", primary_metric="dev/macro_f1")
    cfg = task_config()
    assert cfg.data.label_map == {5: "accept", 4: "minor", 3: "major", 2: "reject", 1: "reject"}
    assert cfg.baselines.tfidf_lr.C == 1.0
    assert task_config(baselines={"tfidf_lr": {"C": [1, 10]}}).baselines.tfidf_lr.C == (1.0, 10.0)


@pytest.mark.parametrize(("override", "match"), [
    ({"model": {"pooling": "sum"}}, r"review\.model\.pooling must be one of"),
    ({"train": {"imbalance": "smote"}}, r"review\.train\.imbalance must be one of"),
    ({"data": {"truncation": "middle"}}, r"review\.data\.truncation must be one of"),
    ({"data": {"source": "xml"}}, r"review\.data\.source must be one of"),
    ({"data": {"split": "random"}}, r"review\.data\.split must be one of"),
    ({"train": {"threads": 1}}, r"review\.train\.threads: unknown key"),
    ({"model": {"beam_size": 2}}, r"review\.model\.beam_size: unknown key"),
    ({"baselines": {"tfidf_lr": {"C": "big"}}}, r"review\.baselines\.tfidf_lr\.C"),
])
def test_config_names_the_bad_key(override, match):
    with pytest.raises(config.ConfigError, match=match):
        task_config(**override)


def test_reading_the_section_imports_no_torch_and_the_spec_is_registered():
    import subprocess
    import sys

    code = ("import sys, rnnlab.config, rnnlab.tasks.review.params; "
            "assert 'torch' not in sys.modules, 'params.py pulled torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
    spec = tasks.get("review")
    assert spec.primary_mode == "max" and spec.raw_inputs(task_config()) == []
    assert spec.raw_inputs(task_config(data={"source": "peerread"})) == [
        "data/raw/review/peerread/reviews.jsonl"]
    assert "review.data" in spec.stage_params("train", CONFIG)  # net.json takes the classes
    assert "review.decode" not in spec.stage_params("evaluate", CONFIG)


# ---------------------------------------------------------------- built-in data


def test_generator_is_seeded_distinct_and_labels_follow_the_rule():
    a = generator.generate(200, 50, 50, seed=3)
    assert a == generator.generate(200, 50, 50, seed=3)
    assert a != generator.generate(200, 50, 50, seed=4)
    assert {k: len(v) for k, v in a.items()} == {"train": 200, "dev": 50, "test": 50}
    texts = [t for rows in a.values() for t, _ in rows]
    assert len(set(texts)) == len(texts)  # no report twice, within or across splits
    assert set(Counter(y for rows in a.values() for _, y in rows)) == set(CLASSES)
    assert generator.decide(0, 0) == "accept" and generator.decide(0, 2) == "minor"
    assert generator.decide(1, 3) == "major" and generator.decide(2, 0) == "reject"


def test_generator_mixes_cues_in_every_class():
    rows = generator.generate(400, 1, 1, seed=0)["train"]
    negators = ("not", "doubt", "cannot", "nobody", "wrong")
    for label in CLASSES:
        texts = [t.lower() for t, y in rows if y == label]
        words = Counter(w for t in texts for w in t.split())
        # positive and negative adjectives, negations and hedges turn up in every class
        assert any(words[a] for a in generator.POSITIVE)
        assert any(words[a] for a in generator.NEGATIVE)
        assert sum(words[n] for n in negators) > 0
        assert sum("the authors claim" in t or "according to the authors" in t
                   for t in texts) > 0


def test_bag_of_words_does_not_solve_the_builtin_data():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = generator.generate(1500, 1, 500, seed=1)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vec.fit_transform([t for t, _ in data["train"]])
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    model.fit(x, [CLASSES.index(y) for _, y in data["train"]])
    pred = model.predict(vec.transform([t for t, _ in data["test"]]))
    assert macro_f1(pred, np.array([CLASSES.index(y) for _, y in data["test"]]), 4) < 0.5


def test_prepare_builtin_is_seeded_and_truncates():
    cfg = task_config()
    frames = prepare(cfg, seed=0)
    assert {s: len(f) for s, f in frames.items()} == {"train": 120, "dev": 40, "test": 40}
    assert frames["train"]["truncated"].any()
    assert all(len(t) <= 60 for f in frames.values() for t in f["tokens"])
    assert (frames["train"]["label_id"] == [CLASSES.index(y) for y in
                                            frames["train"]["label"]]).all()
    assert frames["train"].equals(prepare(cfg, seed=0)["train"])
    # builtin.seed overrides the top-level seed
    assert frames["train"]["text"].tolist() == prepare(
        task_config(data={"builtin": {"seed": 0}}), seed=99)["train"]["text"].tolist()


# ---------------------------------------------------------------- readers and splits


def test_csv_and_jsonl_readers_map_labels_and_keep_unknown_ones(tmp_path):
    csv = tmp_path / "r.csv"
    pd.DataFrame({"report": ["good paper", "bad paper", "meh"], "score": ["5", "2", "9"],
                  "paper": ["p1", "p2", "p2"]}).to_csv(csv, index=False)
    frame = readers.read_table(csv, "report", "score", "paper")
    labels = readers.map_labels(frame["raw_label"], readers.PEERREAD_LABELS)
    assert labels.tolist() == ["accept", "reject", "9"]  # 9 is left for validation to flag
    assert frame["group"].tolist() == ["p1", "p2", "p2"]
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("\n".join(json.dumps({"comments": c, "recommendation": r, "paper_id": p,
                                           "split": s})
                               for c, r, p, s in [("fine", 4, "1", "train"),
                                                  ("weak", 3.0, "2", "dev")]) + "\n")
    peer = readers.read_peerread(jsonl)
    assert readers.map_labels(peer["raw_label"], readers.PEERREAD_LABELS).tolist() == [
        "minor", "major"]
    assert readers.original_split(peer.assign(label="x"))["dev"]["text"].tolist() == ["weak"]
    with pytest.raises(readers.ReaderError, match="no column"):
        readers.read_table(csv, "text", "score")
    with pytest.raises(readers.ReaderError, match=r"missing\.csv: no such file"):
        readers.read_table(tmp_path / "missing.csv")


def _grouped_frame(n_papers: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"text": f"review {p}-{r}", "label": CLASSES[rng.integers(4)], "group": f"p{p}"}
            for p in range(n_papers) for r in range(rng.integers(1, 4))]
    return pd.DataFrame(rows)


def test_grouped_split_keeps_papers_together_and_is_seeded():
    frame = _grouped_frame()
    parts = readers.grouped_split(frame, seed=5, dev=0.15, test=0.2)
    groups = [set(parts[s]["group"]) for s in ("train", "dev", "test")]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert all(groups)
    assert sum(len(p) for p in parts.values()) == len(frame)
    again = readers.grouped_split(frame, seed=5, dev=0.15, test=0.2)
    assert all(parts[s].equals(again[s]) for s in parts)
    folds = readers.grouped_folds(frame, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(frame)))
    for fold in folds:
        inside = set(frame.iloc[fold]["group"])
        assert not inside & set(frame.drop(index=fold)["group"])


def test_truncation_strategies():
    toks = [str(i) for i in range(10)]
    assert truncate(toks, 4, "head") == ["0", "1", "2", "3"]
    assert truncate(toks, 4, "tail") == ["6", "7", "8", "9"]
    assert truncate(toks, 5, "head+tail") == ["0", "1", "2", "8", "9"]
    assert truncate(toks, 0, "head") == toks and truncate(toks, 20, "tail") == toks
    with pytest.raises(ValueError, match="truncation"):
        truncate(toks, 4, "middle")


def test_real_corpus_source_with_grouped_resplit(tmp_path):
    rows = generator.generate(160, 1, 1, seed=2)["train"]
    path = tmp_path / "reports.csv"
    pd.DataFrame({"body": [t for t, _ in rows], "decision": [y for _, y in rows],
                  "paper": [f"p{i // 2}" for i in range(len(rows))]}).to_csv(path, index=False)
    cfg = task_config(data={"source": "csv", "path": str(path), "text_column": "body",
                            "label_column": "decision", "group_column": "paper",
                            "label_map": {}, "split": "grouped"})
    assert cfg.data.label_map == {}
    frames = prepare(cfg, seed=0)
    assert sum(len(frames[s]) for s in ("train", "dev", "test")) == 160
    assert frames["sources"]["file"].tolist() == [str(path)]  # read, no BOM
    assert not frames["sources"]["bom_stripped"].any()
    assert not set(frames["train"]["group"]) & set(frames["test"]["group"])
    assert (frames["train"]["label_id"] >= 0).all()


# ---------------------------------------------------------------- network and objective


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "max+mean", "attention"])
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


def test_net_config_round_trips_through_json_with_serving_attributes():
    cfg = task_config(data={"truncation": "tail"})
    vocabs = build_vocabs(prepare(cfg, 0)["train"], cfg.vocab)
    conf = net_config(cfg, vocabs)
    net = build_net(json.loads(json.dumps(conf)))
    assert (net.classes, net.max_len, net.truncation) == (CLASSES, 60, "tail")
    assert net.head.out_features == 4 and net.pooling == cfg.model.pooling
    # the serving attributes are no weights: the state dict is ManyToOne's
    plain = ManyToOne(**{k: v for k, v in conf.items()
                         if k not in ("classes", "max_len", "truncation")})
    assert net.state_dict().keys() == plain.state_dict().keys()


def test_collate_keeps_one_label_per_sequence():
    def row(ids: list[int], n: int, y: int) -> dict[str, torch.Tensor]:
        return {"ids": torch.tensor(ids), "lengths": torch.tensor(n), "labels": torch.tensor(y)}

    batch = collate([row([3, 4, 0, 0], 2, 1), row([5, 0, 0, 0], 1, 3)])
    assert batch["ids"].shape == (2, 2) and batch["labels"].tolist() == [1, 3]


def test_balanced_sampler_draws_classes_evenly():
    labels = torch.tensor([0] * 90 + [1] * 10)
    sampler = BucketBatches(torch.randint(1, 9, (100,)), 10, seed=0, pool=1,
                            weights=balanced_weights(labels))
    drawn = Counter(labels[i].item() for _ in range(20) for b in sampler for i in b)
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6
    with pytest.raises(ValueError, match="one label per sequence"):
        balanced_weights(torch.zeros(3, 4, dtype=torch.long))


def test_word_dropout_only_in_training_and_only_to_fallbacks():
    obj = ReviewObjective(4, word_dropout=0.5, fallback=[0, 1, 1, 1, 1, 1])
    ids = torch.tensor([[2, 3, 4, 5, 2, 3, 4, 5]] * 8)
    batch = {"ids": ids, "lengths": torch.full((8,), 8), "labels": torch.zeros(8, dtype=torch.long)}
    seen: list = []

    def net(ids, lengths):  # records what the network is shown
        seen.append(ids)
        return torch.zeros(len(ids), 4)

    torch.manual_seed(0)
    obj.train().loss(net, batch)
    obj.eval().loss(net, batch)
    ReviewObjective(4, 0.0, [0, 1, 1, 1, 1, 1]).train().loss(net, batch)
    dropped, shown_in_eval, shown_without = seen
    assert set(dropped.unique().tolist()) <= {1, 2, 3, 4, 5}
    assert 0 < int((dropped == 1).sum()) < ids.numel()
    assert torch.equal(shown_in_eval, ids) and torch.equal(shown_without, ids)


def test_objective_learns_a_batch_and_weighs_classes():
    torch.manual_seed(0)
    seqs = [[2, 3, 4], [5, 6], [7, 8, 9, 2], [3, 3], [4, 5, 6], [9]] * 4
    enc = pad(seqs)
    enc["labels"] = torch.tensor([0, 1, 2, 3, 0, 0] * 4)
    obj = ReviewObjective(4, class_weights="balanced")
    assert obj.monitor == "dev/macro_f1" and obj.mode == "max"
    settings = ReviewTrainConfig(lr=0.05, max_epochs=30, patience=30, log_every_n_steps=1)
    module = train(ManyToOne(10, 4, "embedding", 8, "gru", 16, pooling="mean"), obj,
                   loader(enc, 8, shuffle=True), loader(enc, 64), settings, CPU,
                   progress=False)
    # n / (c * count): class 0 has 12 of 24 sequences, the others 4 each
    assert obj.weight.tolist() == pytest.approx([0.5, 1.5, 1.5, 1.5])
    assert max(row["dev/macro_f1"] for row in module.history) == 1.0
    assert {"train/loss", "dev/loss", "dev/accuracy"} <= set(module.history[-1])


def test_loaders_bucket_and_balance_the_training_split_only():
    cfg = task_config(train={"imbalance": "sampler"})
    frames = prepare(cfg, 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    encoded = encode(frames, vocabs)
    train_batches, dev_batches = loaders(cfg, encoded, seed=1)
    assert isinstance(train_batches.batch_sampler, BucketBatches)
    assert train_batches.batch_sampler.weights is not None
    dev_rows = [i for b in dev_batches for i in b["labels"].tolist()]
    assert dev_rows == encoded["dev"]["labels"].tolist()  # dev in fixed order
    obj = objective(cfg, build_net(net_config(cfg, vocabs)), vocabs)
    assert obj.class_weights is None  # the sampler balances, not the loss
    assert objective(task_config(train={"imbalance": "weights"}), None,
                     vocabs).class_weights == "balanced"


# ---------------------------------------------------------------- the one macro-F1


def test_metrics_equal_scikit_learn_bit_for_bit():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    for n_classes in (2, 4, 9):
        for _ in range(25):
            n = int(rng.integers(1, 60))
            gold = rng.integers(0, n_classes, n)
            pred = rng.integers(0, n_classes - 1, n)  # the last class is never predicted
            labels = list(range(n_classes))
            assert per_class_f1(pred, gold, n_classes).tolist() == f1_score(
                gold, pred, labels=labels, average=None, zero_division=0).tolist()
            assert macro_f1(pred, gold, n_classes) == f1_score(
                gold, pred, labels=labels, average="macro", zero_division=0)
            assert accuracy(pred, gold) == accuracy_score(gold, pred)


def test_macro_f1_counts_every_declared_class():
    gold, pred = np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])
    assert macro_f1(pred, gold, 2) == 1.0
    assert macro_f1(pred, gold, 4) == 0.5  # two classes neither seen nor predicted count 0
    out = scores(pred, gold, CLASSES)
    assert list(out) == ["accuracy", "macro_f1", "f1_accept", "f1_minor", "f1_major",
                         "f1_reject"]
    assert out["f1_major"] == 0.0 and out["accuracy"] == 1.0
    assert accuracy(np.array([]), np.array([])) == 0.0


# ---------------------------------------------------------------- validation


def test_clean_builtin_data_passes_and_reports_the_class_balance(tmp_path):
    cfg = task_config()
    summary = validate("review", checks(cfg, prepare(cfg, 0)), tmp_path / "v")
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
    cfg = task_config()
    frames = prepare(cfg, 0)
    plant(frames)
    with pytest.raises(ValidationFailed) as err:
        validate("review", checks(cfg, frames), tmp_path / "v")
    assert expect in str(err.value)


def test_too_few_training_reports_of_a_class_fails(tmp_path):
    cfg = task_config()
    frames = prepare(cfg, 0)
    train_frame = frames["train"]
    frames["train"] = train_frame.drop(
        index=train_frame.index[train_frame["label"] == "accept"][1:])
    with pytest.raises(ValidationFailed, match=r"at least 2 training reports \(accept 1,"):
        validate("review", checks(cfg, frames), tmp_path / "v")


# ---------------------------------------------------------------- evaluate and serving


@pytest.fixture(scope="module")
def untrained() -> tuple[Any, Any, dict, dict, dict]:
    cfg = task_config()
    frames = prepare(cfg, seed=0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    torch.manual_seed(0)
    return cfg, build_net(net_config(cfg, vocabs)), frames, encode(frames, vocabs), vocabs


def test_evaluate_scores_the_rnn_and_baselines_on_the_same_split(untrained):
    cfg, net, frames, encoded, vocabs = untrained
    result = evaluate(cfg, net, frames, encoded, vocabs, seed=0)
    metrics = result.metrics
    for key in ("test/macro_f1", "test/accuracy", "test/f1_accept", "test/f1_reject",
                "dev/macro_f1", "majority/test/macro_f1", "tfidf_lr/test/macro_f1",
                "tfidf_lr/C", "test/truncated_reports", "train/share_accept", "model/params"):
        assert key in metrics, key
    assert metrics["test/truncated_reports"] == int(frames["test"]["truncated"].sum())
    assert metrics["tfidf_lr/C"] == 1.0
    assert sum(metrics[f"test/share_{c}"] for c in CLASSES) == pytest.approx(1.0)
    confusion = result.tables["confusion"]
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 40
    assert confusion["actual"].tolist() == frames["test"]["label"].tolist()
    assert set(result.files) == {"confusion.png"} and len(result.examples) == 5
    off = evaluate(task_config(baselines={"tfidf_lr": {"enabled": False}}), net, frames,
                   encoded, vocabs, seed=0).metrics
    assert not any(k.startswith("tfidf_lr/") for k in off)


def test_predict_reads_raw_text_as_training_did(untrained):
    _, net, _, _, vocabs = untrained
    assert predict_params(task_config()) == {}
    long = "The research problem is very important , but I doubt that it works . " * 10
    out = predict(net, vocabs, ["I doubt that the evaluation is convincing .", "", long], {})
    assert out[0]["label"] in CLASSES and set(out[0]["probabilities"]) == set(CLASSES)
    assert sum(out[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert out[0]["truncated"] is False
    assert out[1] == {"label": None, "probabilities": {}, "tokens": 0, "truncated": False}
    assert out[2]["tokens"] > 60 and out[2]["truncated"] is True
    # a report is scored alone as in a batch
    assert predict(net, vocabs, [long], {})[0] == out[2]


def test_serving_input_is_strict():
    assert serving.texts(pd.DataFrame({"text": ["a b", "c"]})) == ["a b", "c"]
    with pytest.raises(serving.BadInput, match="input 1: expected a string"):
        serving.texts(["fine", None])


# ---------------------------------------------------------------- cross-validation


def test_cross_validation_cli(tmp_path, capsys):
    from rnnlab.tasks.review.cv import main

    rows = generator.generate(150, 1, 1, seed=4)["train"]
    corpus = tmp_path / "reports.jsonl"
    corpus.write_text("\n".join(json.dumps({"comments": t, "recommendation": {
        "accept": 5, "minor": 4, "major": 3, "reject": 2}[y], "paper_id": str(i // 2),
        "split": "train"}) for i, (t, y) in enumerate(rows)) + "\n")
    params = {"seed": 1, "tasks": ["review"], "trainer": {"accelerator": "cpu"},
              "review": section(model={"cell": "gru"})}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "cv.json"
    assert main(["--params", str(tmp_path / "params.yaml"), "--folds", "3",
                 "--set", "review.data.source=peerread", "--set", f"review.data.path={corpus}",
                 "--set", "review.data.max_len=50", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["folds"] == 3 and result["reports"] == 150 and result["groups"] == 75
    assert len(result["per_fold"]) == 3
    assert sum(f["n_test"] for f in result["per_fold"]) == 150
    for model in ("rnn", "majority", "tfidf_lr"):
        assert 0 <= result["mean"][f"{model}/macro_f1"] <= 1
        assert f"{model}/accuracy" in result["pooled"]
    assert result["truncated_reports"] > 0
    assert "3-fold grouped CV on 150 reports" in capsys.readouterr().out


@pytest.mark.skipif(not PEERREAD.exists(), reason="the shared PeerRead copy is not here")
def test_peerread_default_mapping_counts():
    with pytest.raises(readers.ReaderError, match=r"U\+001F control character at line 79"):
        readers.read_peerread(PEERREAD)  # one review holds a unit separator (PDF extraction)
    frame = readers.read_peerread(PEERREAD, control_characters="remove")
    labels = readers.map_labels(frame["raw_label"], readers.PEERREAD_LABELS)
    assert len(frame) == 229 and frame["group"].nunique() == 114
    assert Counter(labels) == {"minor": 113, "reject": 54, "major": 53, "accept": 9}
