"""RNN architectures from the lecture, as plain torch modules.

- ManyToMany (Tx = Ty): one output per input step, e.g. entity recognition.
- DenseTagger: the lecture's "standard (dense) network" on padded input, the foil for the RNN.
- ManyToOne (Ty = 1): one output per sequence, e.g. classifying a whole reviewer report.
- OneToMany (Tx = 1): one integer (a genre) in, a sequence of notes out, e.g. a melody.
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


CONDITIONS = ("state", "input")


class OneToMany(nn.Module):
    """The lecture's one-to-many: one integer (the genre) in, a sequence of notes out.

        e = E_g[genre]                                   genre embedding [B, genre_dim]
        a<0> = tanh(W_ag e + b_ag)      (condition="state", every layer; LSTM: c<0> = 0)
        x<1> = 0,  x<t> = embed(y<t-1>)                  the note generated at t-1 is the input
        a<t> = cell(a<t-1>, x<t>),  ŷ<t> = softmax(W_ya a<t> + b_y)   (logits returned)

    With condition="input" the genre is x<1> instead (W_xg e, and a<0> = 0). In training the
    true y<t-1> is fed (teacher forcing); `sample` feeds its own draws. Index 0 (<pad>) is the
    zero input vector, so x<1> = 0 is written as id 0.
    """

    def __init__(self, vocab_size: int, n_genres: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 128,
                 num_layers: int = 1, nonlinearity: str = "tanh", dropout: float = 0.0,
                 genre_dim: int = 16, condition: str = "state") -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.condition, self.vocab_size = condition, vocab_size
        self.genre = nn.Embedding(n_genres, genre_dim)
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        if condition == "state":
            self.init = nn.Linear(genre_dim, num_layers * hidden_size)  # W_ag, b_ag
        else:
            self.init = nn.Linear(genre_dim, n_x)  # W_xg: the genre as the first input
        self.rnn = recurrent(cell, n_x, hidden_size, num_layers, False, nonlinearity, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)  # W_ya, b_y

    def initial_state(self, genres: torch.Tensor) -> torch.Tensor | tuple | None:
        """a<0> [layers, B, n_a] from the genre (None = zeros, for condition="input")."""
        if self.condition != "state":
            return None
        B = genres.shape[0]
        a0 = torch.tanh(self.init(self.genre(genres)))  # [B, layers*n_a]
        a0 = a0.view(B, self.num_layers, self.hidden_size).transpose(0, 1).contiguous()
        return (a0, torch.zeros_like(a0)) if self.cell == "lstm" else a0

    def _inputs(self, genres: torch.Tensor, ids: torch.Tensor, first: bool) -> torch.Tensor:
        x = self.embed(ids)  # [B, T, n_x]; id 0 at t=1 is the zero vector
        if first and self.condition == "input":
            x = torch.cat([self.init(self.genre(genres))[:, None], x[:, 1:]], dim=1)
        return self.dropout(x)

    def forward(self, genres: torch.Tensor, ids: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ids = [0, y<1>, ..., y<T-1>] -> logits for y<1..T>: [B, T, |V|]."""
        a, _ = self.rnn(self._inputs(genres, ids, True), lengths, self.initial_state(genres))
        return self.head(self.dropout(a))

    @torch.no_grad()
    def sample(self, genres: torch.Tensor, max_len: int, eos: int, temperature: float = 1.0,
               top_k: int = 0, banned: tuple[int, ...] = (0, 1),
               generator: torch.Generator | None = None) -> list[list[int]]:
        """Autoregressive draws, one sequence per genre id: y<t> ~ softmax(logits / T) over
        the top-k tokens (0 = all), fed back as x<t+1>; a sequence stops at `eos` (not
        returned) or after `max_len` tokens. `banned` ids (<pad>, <unk>) are never drawn."""
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        self.eval()
        B = genres.shape[0]
        state = self.initial_state(genres)
        ids = genres.new_zeros(B, 1)
        ones = torch.ones(B, dtype=torch.long)
        out: list[list[int]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        for t in range(max_len):
            x = self._inputs(genres, ids, t == 0)
            a, state = self.rnn(x, ones, state)
            logits = self.head(a[:, -1]) / temperature  # [B, |V|]
            logits[:, list(banned)] = float("-inf")
            if 0 < top_k < logits.shape[-1]:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            y = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)  # [B, 1]
            for i in range(B):
                if not done[i]:
                    if int(y[i]) == eos:
                        done[i] = True
                    else:
                        out[i].append(int(y[i]))
            if bool(done.all()):
                break
            ids = y
        return out
