"""Entity recognition, the lecture's many-to-many architecture (Tx = Ty).

Each word gets 1/0: is it part of a scientific animal name? ("... populations of Panthera leo
and Loxodonta africana"). Data: a seeded built-in generator (unseen species in test), or any
CoNLL/IOB corpus; the binary view is B-*/I-* -> 1, O -> 0. Scored by exact-span entity F1
(seqeval) against the gold IOB spans, next to a gazetteer and the lecture's dense network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab import plots
from rnnlab.config import TaskConfig
from rnnlab.encoding import pad
from rnnlab.lightning import TaggerModule, fit, loader, predict_labels
from rnnlab.nn.architectures import DenseTagger, ManyToMany, count_parameters
from rnnlab.tasks import SPLITS
from rnnlab.vocab import Vocabulary, oov_rates, tokenize

# ---------------------------------------------------------------- data


def prepare(cfg: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    data = cfg.data
    source = data.get("source", "builtin")
    if source == "builtin":
        from rnnlab.data.builtin_entity import generate

        b = data.get("builtin", {})
        sents = generate(b.get("n_train", 3000), b.get("n_dev", 500), b.get("n_test", 1000),
                         seed=b.get("seed", seed))
        return {split: pd.DataFrame({"sentence_id": range(len(rows)),
                                     "tokens": [list(t) for t, _ in rows],
                                     "tags": [list(g) for _, g in rows]})
                for split, rows in sents.items()}
    if source == "conll":
        from rnnlab.data.conll import read_conll

        root = Path(data["path"])
        files = data.get("files", {"train": "train.tsv", "dev": "devel.tsv", "test": "test.tsv"})
        return {split: read_conll(root / files[split]) for split in SPLITS}
    raise ValueError(f"entity.data.source must be 'builtin' or 'conll', got {source!r}")


def checks(cfg: TaskConfig, frames: dict[str, pd.DataFrame]) -> list:
    """Sentence-level and token-level Great Expectations suites."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v = cfg.validation
    allowed = list(cfg.data.get("tags", ["O", "B-Species", "I-Species"]))
    min_tok, max_tok = int(v.get("min_tokens", 1)), int(v.get("max_tokens", 400))
    dup_min = int(v.get("duplicate_min_tokens", 1))
    dup_frac = float(v.get("max_duplicate_fraction", 0.0))

    sentences = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("tokens", "tags"):  # keep going on a broken schema so GX can report it
        if col not in sentences:
            sentences[col] = None
    as_list = [x if isinstance(x, list | np.ndarray) else [] for x in sentences["tokens"]]
    sentences["n_tokens"] = [len(x) for x in as_list]
    sentences["n_tags"] = [len(x) if isinstance(x, list | np.ndarray) else 0
                           for x in sentences["tags"]]
    sentences["text"] = [" ".join(str(t) for t in x) for x in as_list]
    train_texts = set(sentences.loc[sentences["split"] == "train", "text"])
    sentences["dup_in_train"] = [
        s != "train" and n >= dup_min and t in train_texts
        for s, n, t in zip(sentences["split"], sentences["n_tokens"], sentences["text"],
                           strict=True)]

    ids = ["split", "sentence_id"]
    sentence_suite = [
        gxe.ExpectColumnToExist(column="tokens", description="schema: a 'tokens' column"),
        gxe.ExpectColumnToExist(column="tags", description="schema: a 'tags' column"),
        gxe.ExpectColumnValuesToNotBeNull(column="tokens", description="no null token lists"),
        gxe.ExpectColumnValuesToNotBeNull(column="tags", description="no null tag lists"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=1, description="no empty sentences"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=min_tok, max_value=max_tok,
            description=f"sentence length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="n_tokens", column_B="n_tags",
            description="tokens and tags have equal length in every sentence"),
        gxe.ExpectColumnValuesToBeInSet(
            column="dup_in_train", value_set=[False], mostly=1.0 - dup_frac,
            description=f"no dev/test sentence of >= {dup_min} tokens repeats a training "
                        f"sentence (tolerance {dup_frac:.1%})"),
    ]

    rows = []
    for s, sid, toks, tags, line in zip(
            sentences["split"], sentences["sentence_id"], as_list, sentences["tags"],
            sentences.get("line", [None] * len(sentences)), strict=True):
        tags = list(tags) if isinstance(tags, list | np.ndarray) else []
        for pos in range(max(len(toks), len(tags))):
            rows.append((s, sid, pos, toks[pos] if pos < len(toks) else None,
                         tags[pos] if pos < len(tags) else None,
                         None if line is None or pd.isna(line) else int(line) + pos))
    tokens = pd.DataFrame(rows, columns=["split", "sentence_id", "position", "token", "tag",
                                         "file_line"])
    token_ids = ["split", "sentence_id", "position"]
    if tokens["file_line"].notna().any():
        token_ids.append("file_line")
    token_suite = [
        gxe.ExpectColumnValuesToNotBeNull(
            column="token", description="no missing token (malformed line)"),
        gxe.ExpectColumnValuesToNotBeNull(
            column="tag", description="no missing tag (malformed line: expected token<TAB>tag)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="tag", value_set=allowed, description=f"tags only from {allowed}"),
        gxe.ExpectColumnValueLengthsToBeBetween(
            column="token", min_value=1, description="no empty tokens"),
    ]
    entity = tokens["tag"].fillna("O") != "O"
    stats = {split: {"sentences": int((sentences["split"] == split).sum()),
                     "tokens": int((tokens["split"] == split).sum()),
                     "entity_tokens": int((entity & (tokens["split"] == split)).sum())}
             for split in SPLITS}
    return [Check("sentences", sentences, sentence_suite, ids, "text", stats=stats),
            Check("tokens", tokens, token_suite, token_ids, "token")]


# ---------------------------------------------------------------- representation


def build_vocabs(train: pd.DataFrame, vocab_cfg: Any) -> dict[str, Vocabulary]:
    """The word vocabulary, and the dictionary of entity names seen in training (one entry per
    name, its words joined by spaces) for the gazetteer and the optional dictionary feature."""
    names = Gazetteer.from_frame(train).names
    return {"tokens": Vocabulary.build(
        (list(t) for t in train["tokens"]), vocab_cfg.max_size, vocab_cfg.min_freq,
        vocab_cfg.lowercase, vocab_cfg.unk_signatures),
        "entities": Vocabulary.build([[" ".join(n) for n in names]], max_size=len(names),
                                     unk_signatures=False)}


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def binary(tags: Any) -> list[int]:
    """The slide's 1/0 view: inside any entity (B-* or I-*) -> 1, O -> 0."""
    return [0 if t == "O" else 1 for t in tags]


def encode(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    vocab, names = vocabs["tokens"], Gazetteer.from_vocab(vocabs["entities"])
    out = pad([vocab.encode(list(t)) for t in frame["tokens"]])
    out["labels"] = pad([binary(t) for t in frame["tags"]])["ids"]
    out["features"] = pad([names.tag(list(t)) for t in frame["tokens"]])["ids"].to(torch.uint8)
    return out


# ---------------------------------------------------------------- model


def net_config(cfg: TaskConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m = cfg.model
    return {"vocab_size": len(vocabs["tokens"]), "n_out": 1, "encoding": cfg.encoding,
            "embedding_dim": m.embedding_dim, "cell": m.cell, "hidden_size": m.hidden_size,
            "num_layers": m.num_layers, "bidirectional": m.bidirectional,
            "nonlinearity": m.nonlinearity, "dropout": m.dropout,
            "features": int(m.dictionary_feature)}


def build_net(config: dict[str, Any]) -> nn.Module:
    return ManyToMany(**config)


def lightning_module(cfg: TaskConfig, net: nn.Module,
                     vocabs: dict[str, Vocabulary]) -> TaggerModule:
    return TaggerModule(net, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay,
                        word_dropout=cfg.train.word_dropout,
                        positive_weight=cfg.train.positive_weight,
                        fallback=vocabs["tokens"].fallback_indices(), dev_metric=dev_metric)


MONITOR = "dev/entity_f1"


# ---------------------------------------------------------------- metrics


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
    return {"entity_f1": entity_scores([to_iob(p) for p in pred],
                                       [to_iob(g) for g in gold])["entity_f1"]}


def score(pred: list[list[int]], frame: pd.DataFrame) -> dict[str, float]:
    gold_tags = [list(t) for t in frame["tags"]]
    out = entity_scores([to_iob(p) for p in pred], [gold_iob(t) for t in gold_tags])
    out["token_f1"] = token_f1(pred, [binary(t) for t in gold_tags])
    return out


# ---------------------------------------------------------------- baselines


class Gazetteer:
    """Dictionary baseline: every entity string seen in training, matched longest-first."""

    def __init__(self, names: set[tuple[str, ...]]) -> None:
        self.names = names
        self.longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def from_frame(cls, train: pd.DataFrame) -> Gazetteer:
        names: set[tuple[str, ...]] = set()
        for tokens, tags in zip(train["tokens"], train["tags"], strict=True):
            start = None
            for i, t in enumerate([*list(tags), "O"]):
                if start is not None and not str(t).startswith("I-"):
                    names.add(tuple(tokens[start:i]))
                    start = None
                if str(t).startswith("B-"):
                    start = i
        return cls(names)

    @classmethod
    def from_vocab(cls, vocab: Vocabulary) -> Gazetteer:
        return cls({tuple(name.split(" ")) for name in vocab.itos[2:]})

    def tag(self, tokens: list[str]) -> list[int]:
        out, i = [0] * len(tokens), 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                if tuple(tokens[i:i + n]) in self.names:
                    out[i:i + n] = [1] * n
                    i += n
                    break
            else:
                i += 1
        return out


def dense_baseline(cfg: TaskConfig, frames: dict[str, pd.DataFrame],
                   encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
                   seed: int) -> tuple[nn.Module, list[list[int]]]:
    """The lecture's standard network, trained like the RNN on the same split."""
    import pytorch_lightning as pl

    b = cfg.baselines.get("dense", {})
    pl.seed_everything(seed, workers=True, verbose=False)
    max_len = int(encoded["train"]["lengths"].max())
    net = DenseTagger(len(vocabs["tokens"]), 1, max_len, cfg.encoding, cfg.model.embedding_dim,
                      int(b.get("hidden_size", 128)), cfg.model.dropout)
    module = TaggerModule(net, lr=cfg.train.lr, dev_metric=dev_metric)
    with tempfile.TemporaryDirectory() as ckpt:
        fit(module, loader(encoded["train"], cfg.train.batch_size, shuffle=True, seed=seed,
                           bucket=cfg.train.bucket),
            loader(encoded["dev"], 256), max_epochs=int(b.get("max_epochs", 10)),
            patience=cfg.train.patience, monitor=MONITOR, accelerator=cfg.train.accelerator,
            ckpt_dir=ckpt, progress=False)
    return net, predict_labels(net, encoded["test"])


def evaluate(cfg: TaskConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Test metrics of the RNN and its baselines on the same split, plus plot data."""
    metrics: dict[str, float] = {}
    preds = {}
    for split in ("dev", "test"):
        preds[split] = predict_labels(net, encoded[split])
        metrics.update({f"{split}/{k}": v for k, v in score(preds[split], frames[split]).items()})
    metrics["model/params"] = count_parameters(net)

    gazetteer = Gazetteer.from_frame(frames["train"])
    gaz = [gazetteer.tag(list(t)) for t in frames["test"]["tokens"]]
    metrics.update({f"gazetteer/test/{k}": v for k, v in score(gaz, frames["test"]).items()})

    if cfg.baselines.get("dense", {}).get("enabled", True):
        dense, dense_pred = dense_baseline(cfg, frames, encoded, vocabs, seed)
        metrics.update({f"dense/test/{k}": v for k, v in score(dense_pred, frames["test"]).items()})
        metrics["dense/params"] = count_parameters(dense)

    gold = np.concatenate([binary(t) for t in frames["test"]["tags"]])
    confusion = pd.DataFrame({"actual": gold, "predicted": np.concatenate(preds["test"])})
    labels = {0: "O", 1: "entity"}
    confusion = confusion.replace({"actual": labels, "predicted": labels})
    examples = []
    for tokens, p in list(zip(frames["test"]["tokens"], preds["test"], strict=True))[:5]:
        examples.append(" ".join(f"[{w}]" if y else w for w, y in zip(tokens, p, strict=True)))
    return metrics, {
        "tables": {"confusion": confusion},  # dvc.yaml draws it with the confusion template
        "files": {"confusion.png": lambda path: plots.confusion(confusion, path,
                                                                "entity: test tokens")},
        "examples": examples}


# ---------------------------------------------------------------- serving


def predict(net: nn.Module, vocabs: dict[str, Vocabulary], texts: list[str]) -> list[dict]:
    """Raw sentences -> tokens, 1/0 label per token, and the entity strings found."""
    tokenised = [tokenize(t) for t in texts]
    vocab = vocabs["tokens"]
    keep = [i for i, t in enumerate(tokenised) if t]
    labels: list[list[int]] = [[] for _ in texts]
    if keep:
        enc = pad([vocab.encode(tokenised[i]) for i in keep])
        enc["labels"] = torch.zeros_like(enc["ids"])
        names = Gazetteer.from_vocab(vocabs["entities"])
        enc["features"] = pad([names.tag(tokenised[i]) for i in keep])["ids"]
        for i, p in zip(keep, predict_labels(net, enc), strict=True):
            labels[i] = p
    out = []
    for tokens, lab in zip(tokenised, labels, strict=True):
        spans, cur = [], []
        for w, y in zip([*tokens, ""], [*lab, 0], strict=True):
            if y:
                cur.append(w)
            elif cur:
                spans.append(" ".join(cur))
                cur = []
        out.append({"tokens": tokens, "labels": lab, "entities": spans})
    return out
