"""The many-to-one network (plain torch), the review objective (cross-entropy, dev macro-F1) and
its batches, for the one training loop (rnnlab.nn.loop)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnlab.nn.cells import final_hidden, recurrent
from rnnlab.nn.encoding import drop_words, input_layer
from rnnlab.nn.loop import Batch, Objective, loader
from rnnlab.tasks.review.data import classes
from rnnlab.tasks.review.metrics import macro_f1
from rnnlab.tasks.review.params import ReviewConfig, Truncation
from rnnlab.vocab import Vocabulary

POOLINGS = ("last", "mean", "max", "max+mean", "attention")


class ManyToOne(nn.Module):
    """x<1..T> -> a<1..T> -> one ŷ = W_ya h + b_y (logits; softmax in the loss), where h is

    - last: the final state a<T> of each direction (packed sequences: a<T> is taken at the
      sequence's own length, the backward direction's after reading back to x<1>),
    - mean / max: masked mean or max of a<t> over the real steps only,
    - max+mean: both, concatenated (2*dirs*n_a),
    - attention: sum_t alpha<t> a<t>, alpha = softmax_t(v . tanh(W a<t>)) over the real steps.

    `embedding_dropout` drops whole words' vectors (rows of x, rescaled) in training.

    Padding never reaches h: it neither enters the recurrence nor the pooling.
    """

    def __init__(self, vocab_size: int, n_out: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, nonlinearity: str = "tanh",
                 dropout: float = 0.0, pooling: str = "last",
                 embedding_dropout: float = 0.0) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling, self.num_layers = pooling, num_layers
        self.dirs = 2 if bidirectional else 1
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.rnn = recurrent(cell, n_x, hidden_size, num_layers, bidirectional, nonlinearity,
                             dropout)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dropout = embedding_dropout
        n_h = hidden_size * self.dirs
        if pooling == "attention":
            self.attend = nn.Sequential(nn.Linear(n_h, n_h), nn.Tanh(), nn.Linear(n_h, 1))
        self.head = nn.Linear(n_h * (2 if pooling == "max+mean" else 1), n_out)  # W_ya, b_y

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sequence summary h: [B, dirs*n_a]."""
        x = self.embed(ids)  # [B, T, n_x]
        if self.training and self.embedding_dropout > 0:  # one Bernoulli per word: [B, T, 1]
            keep = torch.rand(x.shape[:2], device=x.device) >= self.embedding_dropout
            x = x * keep.unsqueeze(-1) / (1 - self.embedding_dropout)
        x = self.dropout(x)
        a, state = self.rnn(x, lengths)  # [B, T, dirs*n_a]
        if self.pooling == "last":
            return final_hidden(state, self.num_layers, self.dirs)
        mask = (torch.arange(a.shape[1], device=a.device)[None, :]
                < lengths.to(a.device)[:, None]).unsqueeze(-1)
        mean = (a * mask).sum(1) / lengths.to(a.device).clamp(min=1)[:, None]
        if self.pooling == "mean":
            return mean
        if self.pooling == "attention":
            score = self.attend(a).masked_fill(~mask, float("-inf"))  # [B, T, 1]
            return (torch.softmax(score, 1) * a).sum(1)  # [B, dirs*n_a]
        top = a.masked_fill(~mask, float("-inf")).max(1).values
        return torch.cat([top, mean], -1) if self.pooling == "max+mean" else top

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encode(ids, lengths)))  # [B, n_out]


class ReportClassifier(ManyToOne):
    """ManyToOne plus what serving needs to read raw text as training did: the class names
    (softmax order) and how reports were cut. Plain attributes: the state dict is ManyToOne's."""

    def __init__(self, *, classes: list[str], max_len: int, truncation: Truncation,
                 **architecture: Any) -> None:
        super().__init__(**architecture)
        self.classes, self.max_len, self.truncation = list(classes), max_len, truncation


def net_config(cfg: ReviewConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m = cfg.model
    return {"vocab_size": len(vocabs["tokens"]), "n_out": len(classes(cfg)),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "pooling": m.pooling,
            "embedding_dropout": m.embedding_dropout,
            # serving reads raw text: it must cut and name classes exactly as training did
            "classes": classes(cfg), "max_len": cfg.data.max_len,
            "truncation": cfg.data.truncation}


def build_net(config: dict[str, Any]) -> ReportClassifier:
    return ReportClassifier(**config)


class ReviewObjective(Objective):
    """Many-to-one: ŷ = softmax(net(x<1..T>)) over c classes, cross-entropy loss; early
    stopping on the dev macro-F1 (higher is better).

    `class_weights`: None (all 1), "balanced" (n / (c * count) from the training labels,
    computed when training starts), or one weight per class. The dev loss is always
    unweighted. `word_dropout`: the share of training words replaced by their unknown-word
    class (`fallback`, from the vocabulary), so <unk> is learnt. Logs dev/macro_f1 and
    dev/accuracy.
    """

    monitor = "dev/macro_f1"
    mode = "max"

    def __init__(self, n_classes: int, word_dropout: float = 0.0,
                 fallback: list[int] | None = None,
                 class_weights: str | list[float] | None = None) -> None:
        super().__init__()
        self.n_classes, self.word_dropout, self.class_weights = (n_classes, word_dropout,
                                                                 class_weights)
        self.register_buffer("fallback", torch.tensor(fallback or [], dtype=torch.long),
                             persistent=False)
        weight = (torch.tensor(class_weights, dtype=torch.float)
                  if isinstance(class_weights, list | tuple) else torch.ones(n_classes))
        self.register_buffer("weight", weight, persistent=False)

    def on_train_start(self, train: DataLoader) -> None:
        if self.class_weights == "balanced":
            labels = train.dataset.tensors["labels"]
            counts = torch.bincount(labels, minlength=self.n_classes).float().clamp(min=1)
            self.weight = (len(labels) / (self.n_classes * counts)).to(self.weight.device)

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        ids = drop_words(batch["ids"], self.fallback, self.word_dropout if self.training else 0.0)
        logits = net(ids, batch["lengths"])  # [B, c]
        return nn.functional.cross_entropy(logits, batch["labels"], weight=self.weight)

    def dev_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        logits = net(batch["ids"], batch["lengths"])
        loss = nn.functional.cross_entropy(logits, batch["labels"])
        return loss, (logits.argmax(-1).cpu(), batch["labels"].cpu())

    def dev_metrics(self, outputs: list[Any]) -> dict[str, float]:
        pred, gold = (torch.cat(x) for x in zip(*outputs, strict=True))
        # accuracy stays the float32 mean it always was (the training curves' dev/accuracy)
        return {"dev/macro_f1": macro_f1(pred.numpy(), gold.numpy(), self.n_classes),
                "dev/accuracy": float((pred == gold).float().mean())}


def objective(cfg: ReviewConfig, net: nn.Module, vocabs: dict[str, Vocabulary]
              ) -> ReviewObjective:
    t = cfg.train
    return ReviewObjective(len(classes(cfg)), word_dropout=t.word_dropout,
                           fallback=vocabs["tokens"].fallback_indices(),
                           class_weights="balanced" if t.imbalance == "weights" else None)


def loaders(cfg: ReviewConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[DataLoader, DataLoader]:
    """Seeded training batches (length-bucketed with `train.bucket`, class-balanced with
    `train.imbalance: sampler`) and the dev split in fixed order."""
    t = cfg.train
    return (loader(encoded["train"], t.batch_size, shuffle=True, seed=seed, bucket=t.bucket,
                   balanced=t.imbalance == "sampler"),
            loader(encoded["dev"], 256))


@torch.no_grad()
def predict_proba(net: nn.Module, encoded: dict[str, torch.Tensor], batch_size: int = 256,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Class probabilities [N, c] for every sequence of an encoded split, in row order."""
    net.eval().to(device)
    out = [torch.softmax(net(b["ids"].to(device), b["lengths"]), -1).cpu()
           for b in loader(encoded, batch_size)]
    return torch.cat(out) if out else torch.empty(0, 0)
