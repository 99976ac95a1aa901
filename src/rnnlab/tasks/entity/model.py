"""The networks (plain torch), the tagging objective and the batches.

- ManyToMany (Tx = Ty): one logit per input word, ŷ<t> = σ(W_ya a<t> + b_y).
- DenseTagger: the lecture's "standard (dense) network" on padded input, the foil for the RNN.
- TaggerObjective: L = Σ_t L<t>(ŷ<t>, y<t>) (binary cross-entropy summed over the real steps,
  averaged over sentences), word dropout, and the dev entity F1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnlab.nn.cells import recurrent
from rnnlab.nn.encoding import drop_words, input_layer
from rnnlab.nn.loop import Batch, Objective, loader
from rnnlab.tasks.entity.metrics import dev_metric
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary

# ---------------------------------------------------------------- networks


class ManyToMany(nn.Module):
    """x<1..T> -> a<1..T> -> ŷ<1..T>, with ŷ<t> = W_ya a<t> + b_y as logits (σ in the loss)."""

    def __init__(self, vocab_size: int, n_out: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, nonlinearity: str = "tanh",
                 dropout: float = 0.0, features: int = 0) -> None:
        super().__init__()
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.features = features  # extra per-step inputs appended to x<t> (e.g. a dictionary hit)
        self.rnn = recurrent(cell, n_x + features, hidden_size, num_layers, bidirectional,
                             nonlinearity, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_out)  # W_ya, b_y

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                features: torch.Tensor | None = None) -> torch.Tensor:
        x = self.dropout(self.embed(ids))  # [B, T, n_x]
        if self.features:
            x = torch.cat([x, features.view(*ids.shape, self.features)], dim=-1)
        a, _ = self.rnn(x, lengths)  # [B, T, dirs*n_a]
        return self.head(self.dropout(a))  # [B, T, n_out]


class DenseTagger(nn.Module):
    """A feed-forward network over the whole padded sentence: [B, T_max*n_x] -> [B, T_max*n_out].

    The lecture's point: inputs and outputs differ in length between examples (so everything is
    padded to T_max), and nothing learnt at position 3 is shared with position 7.
    """

    def __init__(self, vocab_size: int, n_out: int, max_len: int, encoding: str = "embedding",
                 embedding_dim: int = 64, hidden_size: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len, self.n_out = max_len, n_out
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.net = nn.Sequential(
            nn.Linear(max_len * n_x, hidden_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_size, max_len * n_out),
        )

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                features: torch.Tensor | None = None) -> torch.Tensor:
        B, T = ids.shape  # sees the words only
        fixed = ids.new_zeros(B, self.max_len)
        fixed[:, : min(T, self.max_len)] = ids[:, : self.max_len]  # words past T_max are unseen
        out = self.net(self.embed(fixed).flatten(1)).view(B, self.max_len, self.n_out)
        if self.max_len < T:  # positions past T_max get a constant "no entity" score
            out = torch.cat([out, out.new_full((B, T - self.max_len, self.n_out), -10.0)], 1)
        return out[:, :T]


def net_config(cfg: EntityConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m = cfg.model
    return {"vocab_size": len(vocabs["tokens"]), "n_out": 1, "encoding": cfg.encoding,
            "embedding_dim": m.embedding_dim, "cell": m.cell, "hidden_size": m.hidden_size,
            "num_layers": m.num_layers, "bidirectional": m.bidirectional,
            "nonlinearity": m.nonlinearity, "dropout": m.dropout,
            "features": int(m.dictionary_feature)}


def build_net(config: dict[str, Any]) -> nn.Module:
    return ManyToMany(**config)


# ---------------------------------------------------------------- loss and dev metric


def net_inputs(batch: Batch, device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
    """(ids, lengths[, features]) for a network's forward; lengths stay where they are
    (packing reads them on the CPU)."""
    ids, lengths = batch["ids"], batch["lengths"]
    if device is not None:
        ids = ids.to(device)
    if "features" in batch:
        features = batch["features"].float()
        return ids, lengths, features.to(device) if device is not None else features
    return ids, lengths


def summed_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
               positive_weight: float = 1.0) -> torch.Tensor:
    """L = Σ_t L<t>(ŷ<t>, y<t>) over each sentence's real steps, averaged over sentences.
    `positive_weight` > 1 counts missed 1-labels more (entities are rare words)."""
    pos = None if positive_weight == 1.0 else logits.new_tensor(positive_weight)
    per_step = nn.functional.binary_cross_entropy_with_logits(
        logits, labels.float(), reduction="none", pos_weight=pos)
    return (per_step * mask).sum() / logits.shape[0]


class TaggerObjective(Objective):
    """Many-to-many binary tagging: ŷ<t> = σ(logit<t>), loss summed over time; the dev loss
    is unweighted, the dev metric the entity F1 of the predicted spans."""

    monitor = "dev/entity_f1"
    mode = "max"

    def __init__(self, word_dropout: float = 0.0, fallback: list[int] | None = None,
                 positive_weight: float = 1.0) -> None:
        super().__init__()
        self.word_dropout, self.positive_weight = word_dropout, positive_weight
        self.register_buffer("fallback", torch.tensor(fallback or [], dtype=torch.long),
                             persistent=False)

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        ids, *rest = net_inputs(batch)
        logits = net(drop_words(ids, self.fallback, self.word_dropout if self.training else 0.0),
                     *rest).squeeze(-1)
        return summed_bce(logits, batch["labels"], batch["mask"], self.positive_weight)

    def dev_step(self, net: nn.Module, batch: Batch
                 ) -> tuple[torch.Tensor, list[tuple[list[int], list[int]]]]:
        logits = net(*net_inputs(batch)).squeeze(-1)
        loss = summed_bce(logits, batch["labels"], batch["mask"])
        pred = (logits > 0).long()
        pairs = [(p[:n], g[:n]) for p, g, n in zip(
            pred.tolist(), batch["labels"].tolist(), batch["lengths"].tolist(), strict=True)]
        return loss, pairs

    def dev_metrics(self, outputs: list[list[tuple[list[int], list[int]]]]
                    ) -> dict[str, float]:
        pairs = [pair for batch in outputs for pair in batch]
        preds, golds = zip(*pairs, strict=True)
        return {f"dev/{k}": v for k, v in dev_metric(list(preds), list(golds)).items()}


def objective(cfg: EntityConfig, net: nn.Module,
              vocabs: dict[str, Vocabulary]) -> TaggerObjective:
    t = cfg.train
    return TaggerObjective(word_dropout=t.word_dropout,
                           fallback=vocabs["tokens"].fallback_indices(),
                           positive_weight=t.positive_weight)


def loaders(cfg: EntityConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[DataLoader, DataLoader]:
    """Seeded, length-bucketed training batches; dev in order, 256 a batch."""
    t = cfg.train
    return (loader(encoded["train"], t.batch_size, shuffle=True, seed=seed, bucket=t.bucket),
            loader(encoded["dev"], 256))


@torch.no_grad()
def predict_labels(net: nn.Module, encoded: dict[str, torch.Tensor],
                   batch_size: int = 256) -> list[list[int]]:
    """Binary label per real token for every sentence of an encoded split, on the device the
    network is on."""
    net.eval()
    device = next(net.parameters()).device
    out: list[list[int]] = []
    for batch in loader(encoded, batch_size):
        logits = net(*net_inputs(batch, device)).squeeze(-1)
        for row, n in zip((logits > 0).long().tolist(), batch["lengths"].tolist(), strict=True):
            out.append(row[:n])
    return out
