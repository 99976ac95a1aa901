"""x<1..T> (one bit per step) -> the lecture's RNN -> ŷ = softmax(W_ya a<T> + b_y), c = 2."""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.nn.cells import final_hidden, recurrent
from rnnlab.nn.encoding import input_layer
from rnnlab.nn.loop import Objective


class ParityNet(nn.Module):
    def __init__(self, vocab_size: int, encoding: str, embedding_dim: int, cell: str,
                 hidden_size: int) -> None:
        super().__init__()
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.rnn = recurrent(cell, n_x, hidden_size)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(self.embed(ids), lengths)      # ids [B, T] -> a<T> [1, B, n_a]
        return self.head(final_hidden(state, 1, 1))         # [B, 2]


class ParityObjective(Objective):
    monitor, mode = "dev/accuracy", "max"

    def loss(self, net, batch):
        return nn.functional.cross_entropy(net(batch["ids"], batch["lengths"]), batch["labels"])

    def dev_step(self, net, batch):
        logits = net(batch["ids"], batch["lengths"])
        hits = (logits.argmax(-1) == batch["labels"]).sum()
        return nn.functional.cross_entropy(logits, batch["labels"]), (hits, len(logits))

    def dev_metrics(self, outputs):
        return {"dev/accuracy": float(sum(h for h, _ in outputs)) / sum(n for _, n in outputs)}
