"""The RNN (its tagger's tags, then the decode section's: the training dictionary and label
consistency) against its baselines on the same test split: the gazetteer (every name seen in
training, one entity per match) and the lecture's dense network (trained with the train and
trainer sections, kept cheap: capped sentences, positions and epochs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.nn import loop
from rnnlab.tasks import Evaluation
from rnnlab.tasks.entity.consistency import finish
from rnnlab.tasks.entity.data import Gazetteer
from rnnlab.tasks.entity.metrics import entity_scores, gold_tags, score
from rnnlab.tasks.entity.model import DenseTagger, TaggerObjective, loaders, predict_tags
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary


def subsample(split: dict[str, torch.Tensor], n: int, seed: int) -> dict[str, torch.Tensor]:
    """A seeded sample of n rows of an encoded split (all of it when n is 0 or larger)."""
    rows = len(split["lengths"])
    if n <= 0 or n >= rows:
        return split
    keep = torch.randperm(rows, generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return {k: v[keep] for k, v in split.items()}


def dense_baseline(cfg: EntityConfig, encoded: dict[str, dict[str, torch.Tensor]],
                   vocabs: dict[str, Vocabulary], seed: int
                   ) -> tuple[nn.Module, list[list[str]], dict[str, int]]:
    """The lecture's standard network, trained like the RNN (reads the model's embedding_dim
    and dropout, the train section and the trainer section; its own hidden_size, max_epochs,
    max_train_sentences and max_len). Returns the net, its test tags and what it was fit on."""
    import pytorch_lightning as pl

    b = cfg.baselines.dense
    pl.seed_everything(seed, workers=True, verbose=False)
    train = subsample(encoded["train"], b.max_train_sentences, seed)
    max_len = int(train["lengths"].max())
    if b.max_len > 0:
        max_len = min(max_len, b.max_len)
    tags = vocabs["tags"].itos[2:]
    net = DenseTagger(len(vocabs["tokens"]), len(tags), max_len, cfg.encoding,
                      cfg.model.embedding_dim, b.hidden_size, cfg.model.dropout)
    train_batches, dev_batches = loaders(cfg, {**encoded, "train": train}, seed)
    loop.train(net, TaggerObjective(tags), train_batches, dev_batches, cfg.train, cfg.trainer,
               max_epochs=b.max_epochs, progress=False)
    pred = [[tags[i] for i in p] for p in predict_tags(net, encoded["test"])]
    return net, pred, {"train_sentences": len(train["lengths"]), "max_len": max_len}


def evaluate(cfg: EntityConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> Evaluation:
    """Dev and test metrics of the RNN, test metrics of its baselines, the test confusion."""
    metrics: dict[str, float] = {}
    tags = vocabs["tags"].itos[2:]
    preds: dict[str, list[list[str]]] = {}
    d = cfg.decode
    gazetteer = Gazetteer.from_frame(frames["train"])
    for split in ("dev", "test"):
        tagged = [[tags[i] for i in p] for p in predict_tags(net, encoded[split])]
        # the tagger's own scores (training's dev/entity_f1 at its best epoch), then those of
        # the final tags, after the decode section (the same when it is off)
        metrics.update({f"tagger/{split}/{k}": v
                        for k, v in entity_scores(tagged, gold_tags(frames[split])).items()})
        preds[split] = finish(list(frames[split]["tokens"]), tagged,
                              gazetteer if d.dictionary else None, d.consistency_window,
                              d.consistency_share, d.abbreviations)
        metrics.update({f"{split}/{k}": v for k, v in score(preds[split], frames[split]).items()})
    metrics["model/params"] = loop.count_parameters(net)

    gaz = [gazetteer.tag(list(t)) for t in frames["test"]["tokens"]]
    metrics.update({f"gazetteer/test/{k}": v for k, v in score(gaz, frames["test"]).items()})

    if cfg.baselines.dense.enabled:
        dense, dense_pred, fit = dense_baseline(cfg, encoded, vocabs, seed)
        metrics.update({f"dense/test/{k}": v for k, v in score(dense_pred, frames["test"]).items()})
        metrics["dense/params"] = loop.count_parameters(dense)
        metrics.update({f"dense/{k}": v for k, v in fit.items()})

    gold = np.concatenate([[str(t) for t in tags] for tags in frames["test"]["tags"]])
    confusion = pd.DataFrame({"actual": gold, "predicted": np.concatenate(preds["test"])})
    examples = []
    for tokens, p in list(zip(frames["test"]["tokens"], preds["test"], strict=True))[:5]:
        examples.append(" ".join(w if y == "O" else f"[{y}:{w}]"
                                 for w, y in zip(tokens, p, strict=True)))

    def draw(path):
        from rnnlab import plots

        plots.confusion(confusion, path, "entity: test tokens")

    return Evaluation(
        metrics=metrics,
        tables={"confusion": confusion},  # spec.plots draws it with the confusion template
        files={"confusion.png": draw},
        examples=examples)
