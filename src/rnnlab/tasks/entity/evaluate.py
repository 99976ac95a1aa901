"""The RNN against its baselines on the same test split: the gazetteer (every name seen in
training) and the lecture's dense network (trained with the train and trainer sections)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.nn import loop
from rnnlab.tasks import Evaluation
from rnnlab.tasks.entity.data import Gazetteer, binary
from rnnlab.tasks.entity.metrics import score
from rnnlab.tasks.entity.model import DenseTagger, TaggerObjective, loaders, predict_labels
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary


def dense_baseline(cfg: EntityConfig, encoded: dict[str, dict[str, torch.Tensor]],
                   vocabs: dict[str, Vocabulary], seed: int
                   ) -> tuple[nn.Module, list[list[int]]]:
    """The lecture's standard network, trained like the RNN on the same batches (reads the
    model's embedding_dim and dropout, the train section and the trainer section; its own
    hidden_size and max_epochs)."""
    import pytorch_lightning as pl

    b = cfg.baselines.dense
    pl.seed_everything(seed, workers=True, verbose=False)
    max_len = int(encoded["train"]["lengths"].max())
    net = DenseTagger(len(vocabs["tokens"]), 1, max_len, cfg.encoding, cfg.model.embedding_dim,
                      b.hidden_size, cfg.model.dropout)
    train_batches, dev_batches = loaders(cfg, encoded, seed)
    loop.train(net, TaggerObjective(), train_batches, dev_batches, cfg.train, cfg.trainer,
               max_epochs=b.max_epochs, progress=False)
    return net, predict_labels(net, encoded["test"])


def evaluate(cfg: EntityConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> Evaluation:
    """Dev and test metrics of the RNN, test metrics of its baselines, the test confusion."""
    metrics: dict[str, float] = {}
    preds = {}
    for split in ("dev", "test"):
        preds[split] = predict_labels(net, encoded[split])
        metrics.update({f"{split}/{k}": v for k, v in score(preds[split], frames[split]).items()})
    metrics["model/params"] = loop.count_parameters(net)

    gazetteer = Gazetteer.from_frame(frames["train"])
    gaz = [gazetteer.tag(list(t)) for t in frames["test"]["tokens"]]
    metrics.update({f"gazetteer/test/{k}": v for k, v in score(gaz, frames["test"]).items()})

    if cfg.baselines.dense.enabled:
        dense, dense_pred = dense_baseline(cfg, encoded, vocabs, seed)
        metrics.update({f"dense/test/{k}": v for k, v in score(dense_pred, frames["test"]).items()})
        metrics["dense/params"] = loop.count_parameters(dense)

    gold = np.concatenate([binary(t) for t in frames["test"]["tags"]])
    confusion = pd.DataFrame({"actual": gold, "predicted": np.concatenate(preds["test"])})
    labels = {0: "O", 1: "entity"}
    confusion = confusion.replace({"actual": labels, "predicted": labels})
    examples = []
    for tokens, p in list(zip(frames["test"]["tokens"], preds["test"], strict=True))[:5]:
        examples.append(" ".join(f"[{w}]" if y else w for w, y in zip(tokens, p, strict=True)))

    def draw(path):
        from rnnlab import plots

        plots.confusion(confusion, path, "entity: test tokens")

    return Evaluation(
        metrics=metrics,
        tables={"confusion": confusion},  # spec.plots draws it with the confusion template
        files={"confusion.png": draw},
        examples=examples)
