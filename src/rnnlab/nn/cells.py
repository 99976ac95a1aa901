"""Recurrent cells. `simple` is the lecture's RNN written out; `rnn | lstm | gru` are PyTorch's.

Notation follows the slides (n_a hidden units, n_x input features):

    a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)        W_aa: [n_a, n_a]  W_ax: [n_a, n_x]  b_a: [n_a]
    ŷ<t> = σ(W_ya a<t> + b_y)                      W_ya: [n_y, n_a]  b_y: [n_y]

Every layer here has one interface: `forward(x [B, T, n_x], lengths [B], state=None)` returns
`(outputs [B, T, dirs*n_a], state)` with `state` in PyTorch's layout ([layers*dirs, B, n_a], or a
pair for LSTM). Outputs at padded positions are zero and never feed later steps.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class SimpleRNNCell(nn.Module):
    """One step of the lecture's RNN: a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)."""

    def __init__(self, n_x: int, n_a: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"g must be tanh or relu, got {nonlinearity!r}")
        self.n_x, self.n_a, self.nonlinearity = n_x, n_a, nonlinearity
        self.W_aa = nn.Parameter(torch.empty(n_a, n_a))
        self.W_ax = nn.Parameter(torch.empty(n_a, n_x))
        self.b_a = nn.Parameter(torch.zeros(n_a))
        bound = 1 / math.sqrt(n_a)  # PyTorch's RNN initialisation, so both cells start alike
        nn.init.uniform_(self.W_aa, -bound, bound)
        nn.init.uniform_(self.W_ax, -bound, bound)

    def g(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z) if self.nonlinearity == "tanh" else torch.relu(z)

    def forward(self, x_t: torch.Tensor, a_prev: torch.Tensor) -> torch.Tensor:
        # batched column vectors as rows: (W_aa a)ᵀ = aᵀ W_aaᵀ
        return self.g(a_prev @ self.W_aa.T + x_t @ self.W_ax.T + self.b_a)


def _reverse_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; padding stays at the end."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)[None, :]
    L = lengths.to(x.device)[:, None]
    idx = torch.where(t < L, L - 1 - t, t)
    return x.gather(1, idx.unsqueeze(-1).expand_as(x))


class SimpleRNN(nn.Module):
    """Layers of SimpleRNNCell unrolled over time; `bidirectional` runs a second pass backwards
    (the lecture's BRNN: "Panthera Corporation" needs the word after, "Panthera leo" too)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        nonlinearity: str = "tanh",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.dirs = 2 if bidirectional else 1
        self.cells = nn.ModuleList()
        for layer in range(num_layers):
            n_x = input_size if layer == 0 else hidden_size * self.dirs
            for _ in range(self.dirs):
                self.cells.append(SimpleRNNCell(n_x, hidden_size, nonlinearity))
        self.dropout = nn.Dropout(dropout)

    def _run(self, cell: SimpleRNNCell, x: torch.Tensor, lengths: torch.Tensor,
             a0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = x.shape[1]
        mask = (torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None])
        a, outs = a0, []
        for t in range(T):
            a_new = cell(x[:, t], a)
            keep = mask[:, t, None]
            a = torch.where(keep, a_new, a)  # past a sequence's end its state stops changing
            outs.append(a_new * keep)
        return torch.stack(outs, dim=1), a

    def forward(self, x: torch.Tensor, lengths: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        B = x.shape[0]
        if state is None:
            state = x.new_zeros(self.num_layers * self.dirs, B, self.hidden_size)
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.dirs):
                k = layer * self.dirs + d
                inp = x if d == 0 else _reverse_valid(x, lengths)
                out, a_T = self._run(self.cells[k], inp, lengths, state[k])
                outs.append(out if d == 0 else _reverse_valid(out, lengths))
                finals.append(a_T)
            x = torch.cat(outs, dim=-1)
            if layer < self.num_layers - 1:
                x = self.dropout(x)
        return x, torch.stack(finals)


class TorchRecurrent(nn.Module):
    """PyTorch's fused nn.RNN / nn.LSTM / nn.GRU behind the same interface, via packed sequences
    so that padding never enters the recurrence."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, nonlinearity: str = "tanh",
                 dropout: float = 0.0) -> None:
        super().__init__()
        kwargs = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                      bidirectional=bidirectional, batch_first=True,
                      dropout=dropout if num_layers > 1 else 0.0)
        if cell == "rnn":
            self.rnn: nn.RNNBase = nn.RNN(nonlinearity=nonlinearity, **kwargs)
        elif cell == "lstm":
            self.rnn = nn.LSTM(**kwargs)
        elif cell == "gru":
            self.rnn = nn.GRU(**kwargs)
        else:
            raise ValueError(f"unknown PyTorch cell {cell!r}")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.dirs = 2 if bidirectional else 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        T = x.shape[1]
        packed = pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True,
                                      enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out, state


def recurrent(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
              bidirectional: bool = False, nonlinearity: str = "tanh",
              dropout: float = 0.0) -> nn.Module:
    """Factory for `model.cell`: simple | rnn | lstm | gru."""
    if cell == "simple":
        return SimpleRNN(input_size, hidden_size, num_layers, bidirectional, nonlinearity, dropout)
    return TorchRecurrent(cell, input_size, hidden_size, num_layers, bidirectional, nonlinearity,
                          dropout)


def final_hidden(state: State, num_layers: int, dirs: int) -> torch.Tensor:
    """The last layer's final a<T> of every direction, concatenated: [B, dirs*n_a]."""
    h = state[0] if isinstance(state, tuple) else state
    h = h.view(num_layers, dirs, *h.shape[1:])[-1]
    return torch.cat(list(h), dim=-1)


def bptt(
    cell: SimpleRNNCell,
    W_ya: torch.Tensor,
    b_y: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Backpropagation through time for the many-to-many simple RNN, written out by hand.

    Loss, as in the lecture: L = Σ_t L<t>(ŷ<t>, y<t>), with
    L<t> = -y<t> log ŷ<t> - (1 - y<t>) log(1 - ŷ<t>), summed over valid steps, averaged over the
    batch. x: [B, T, n_x], y and mask: [B, T] (n_y = 1). Returns (L, gradients by name).
    """
    B, T, _ = x.shape
    m = mask.float()
    W_aa, W_ax, b_a = cell.W_aa.detach(), cell.W_ax.detach(), cell.b_a.detach()
    W_ya, b_y = W_ya.detach(), b_y.detach()
    # forward pass, keeping every a<t> for the backward pass
    a = [x.new_zeros(B, cell.n_a)]
    y_hat = []
    for t in range(T):
        z = a[-1] @ W_aa.T + x[:, t] @ W_ax.T + b_a
        a_t = torch.tanh(z) if cell.nonlinearity == "tanh" else torch.relu(z)
        a_t = torch.where(mask[:, t, None], a_t, a[-1])
        a.append(a_t)
        y_hat.append(torch.sigmoid(a_t @ W_ya.T + b_y).squeeze(-1))
    yh = torch.stack(y_hat, 1).clamp(1e-7, 1 - 1e-7)
    loss = (-(y * yh.log() + (1 - y) * (1 - yh).log()) * m).sum() / B
    # backward pass: from t = T down to 1, carrying dL/da<t> from the step after
    grads = {k: torch.zeros_like(v) for k, v in
             {"W_aa": W_aa, "W_ax": W_ax, "b_a": b_a, "W_ya": W_ya, "b_y": b_y}.items()}
    da_next = x.new_zeros(B, cell.n_a)
    for t in reversed(range(T)):
        a_t, a_prev = a[t + 1], a[t]
        do = ((yh[:, t] - y[:, t]) * m[:, t] / B)[:, None]  # dL/d(W_ya a + b_y) for σ + BCE
        grads["W_ya"] += do.T @ a_t
        grads["b_y"] += do.sum(0)
        da = do @ W_ya + da_next
        dg = 1 - a_t**2 if cell.nonlinearity == "tanh" else (a_t > 0).float()
        dz = da * dg * m[:, t, None]  # padded steps pass the gradient straight through
        grads["W_aa"] += dz.T @ a_prev
        grads["W_ax"] += dz.T @ x[:, t]
        grads["b_a"] += dz.sum(0)
        da_next = dz @ W_aa + da * (1 - m[:, t, None])
    return loss, grads
