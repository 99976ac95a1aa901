"""RNN architectures from the lecture, as plain torch modules.

- ManyToMany (Tx = Ty): one output per input step, e.g. entity recognition.
- DenseTagger: the lecture's "standard (dense) network" on padded input, the foil for the RNN.
- ManyToOne (Ty = 1): one output per sequence, e.g. classifying a whole reviewer report.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.encoding import input_layer
from rnnlab.nn.cells import final_hidden, recurrent


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


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


POOLINGS = ("last", "mean", "max")


class ManyToOne(nn.Module):
    """x<1..T> -> a<1..T> -> one ŷ = W_ya h + b_y (logits; softmax in the loss), where h is

    - last: the final state a<T> of each direction (packed sequences: a<T> is taken at the
      sequence's own length, the backward direction's after reading back to x<1>),
    - mean / max: masked mean or max of a<t> over the real steps only.

    Padding never reaches h: it neither enters the recurrence nor the pooling.
    """

    def __init__(self, vocab_size: int, n_out: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, nonlinearity: str = "tanh",
                 dropout: float = 0.0, pooling: str = "last") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling, self.num_layers = pooling, num_layers
        self.dirs = 2 if bidirectional else 1
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.rnn = recurrent(cell, n_x, hidden_size, num_layers, bidirectional, nonlinearity,
                             dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * self.dirs, n_out)  # W_ya, b_y

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The sequence summary h: [B, dirs*n_a]."""
        x = self.dropout(self.embed(ids))  # [B, T, n_x]
        a, state = self.rnn(x, lengths)  # [B, T, dirs*n_a]
        if self.pooling == "last":
            return final_hidden(state, self.num_layers, self.dirs)
        mask = (torch.arange(a.shape[1], device=a.device)[None, :]
                < lengths.to(a.device)[:, None]).unsqueeze(-1)
        if self.pooling == "mean":
            return (a * mask).sum(1) / lengths.to(a.device).clamp(min=1)[:, None]
        return a.masked_fill(~mask, float("-inf")).max(1).values

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encode(ids, lengths)))  # [B, n_out]


# ---------------------------------------------------------------- forecasting


def level_matrix(horizon: int, difference: int) -> torch.Tensor:
    """A [H, H] with (A e)[h] = the level error at step h implied by errors e of the
    differenced series: y<T+h> = y<T+h-k> + z<T+h> (k = difference) sums the z errors at
    h, h-k, h-2k, ... (k = 0: the series itself, A = I)."""
    h = torch.arange(horizon)
    if difference <= 0:
        return torch.eye(horizon)
    lag = h[:, None] - h[None, :]
    return ((lag >= 0) & (lag % difference == 0)).float()


class Forecaster(nn.Module):
    """Many-to-one forecasting, direct multi-output: the RNN reads a window of L past values
    x<1..L> (scaled, differenced with lag k when k > 0), each step with its calendar position
    (month of year, one-hot or embedded), and W_ya a<L> + b_y gives all H future values at once.

    `members` > 1 makes a seeded ensemble: independent RNNs (own initialisation, trained on the
    same batches with their own losses), whose forecasts are averaged.

    The scaling (mean, std) and differencing are part of the network, so `forecast` turns a
    window into levels, and iterates the direct block (feeding its own forecasts back) when more
    than H steps are asked for.
    """

    def __init__(self, input_len: int, horizon: int, cell: str = "gru", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = False, nonlinearity: str = "tanh",
                 dropout: float = 0.0, calendar: bool = True, period: int = 12,
                 encoding: str = "onehot", embedding_dim: int = 4, members: int = 1,
                 mean: float = 0.0, std: float = 1.0, difference: int = 1) -> None:
        super().__init__()
        self.input_len, self.horizon, self.period = input_len, horizon, max(int(period), 1)
        self.calendar = bool(calendar) and self.period > 1
        self.difference, self.num_layers = int(difference), num_layers
        self.dirs = 2 if bidirectional else 1
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.members = nn.ModuleList()
        for _ in range(max(int(members), 1)):
            member = nn.Module()
            n_x = 1
            if self.calendar:  # calendar ids 1..period; 0 (none) is the zero vector / padding
                member.embed, n_cal = input_layer(encoding, self.period + 1, embedding_dim)
                n_x += n_cal
            member.rnn = recurrent(cell, n_x, hidden_size, num_layers, bidirectional,
                                   nonlinearity, dropout)
            member.head = nn.Linear(hidden_size * self.dirs, horizon)  # W_ya, b_y: all H at once
            self.members.append(member)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cal: torch.Tensor) -> torch.Tensor:
        """x [B, L] scaled (differenced) values, cal [B, L] calendar ids -> [B, members, H]."""
        B, L = x.shape
        lengths = torch.full((B,), L, dtype=torch.long)
        out = []
        for m in self.members:
            inputs = x.unsqueeze(-1)  # [B, L, 1]
            if self.calendar:
                inputs = torch.cat([inputs, m.embed(cal.long())], dim=-1)
            _, state = m.rnn(inputs, lengths)
            h = final_hidden(state, self.num_layers, self.dirs)  # [B, dirs*n_a]
            out.append(m.head(self.dropout(h)))
        return torch.stack(out, dim=1)

    def to_levels(self, z: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Scaled differenced forecasts z [B, H'] -> levels [B, H'], given the last k levels of
        the history `last` [B, k] (k = max(difference, 1))."""
        d = z * self.std + self.mean
        if self.difference <= 0:
            return d
        k = self.difference
        levels = list(last[:, -k:].unbind(1))
        for h in range(d.shape[1]):
            levels.append(levels[-k] + d[:, h])
        return torch.stack(levels[k:], dim=1)

    @torch.no_grad()
    def forecast(self, x: torch.Tensor, cal: torch.Tensor, last: torch.Tensor,
                 steps: int | None = None) -> torch.Tensor:
        """Levels of the next `steps` periods [B, steps] (default H): the ensemble mean of the
        direct forecast, iterated block by block when steps > H."""
        steps = steps or self.horizon
        x, cal, last = x.float(), cal.long(), last.float()
        blocks: list[torch.Tensor] = []
        done = 0
        while done < steps:
            z = self(x, cal).mean(1)  # [B, H]
            level = self.to_levels(z, last)
            blocks.append(level)
            done += self.horizon
            x = torch.cat([x, z], 1)[:, -self.input_len:]
            nxt = (cal[:, -1:] + torch.arange(1, self.horizon + 1)[None, :] - 1) % self.period + 1
            cal = torch.cat([cal, nxt if self.calendar else torch.zeros_like(nxt)],
                            1)[:, -self.input_len:]
            last = torch.cat([last, level], 1)[:, -last.shape[1]:]
        return torch.cat(blocks, 1)[:, :steps]
