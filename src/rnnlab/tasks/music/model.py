"""The one-to-many network (plain torch), its objective (teacher-forced per-token NLL) and
sampling.

Training loss: the mean over tokens (the lecture's sum over t of L<t> divided by the number of
steps in the batch: tunes differ ten-fold in length, and a per-token loss keeps gradient
clipping and the learning rate independent of it). Dev: the per-token NLL and perplexity
(dev/nll, dev/perplexity: what early stopping watches).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnlab.nn.cells import recurrent
from rnnlab.nn.encoding import input_layer
from rnnlab.nn.loop import Batch, Objective, loader
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicConfig, MusicModel
from rnnlab.tasks.music.vocab import EOT
from rnnlab.vocab import Vocabulary

CONDITIONS = ("state", "input", "every")


class OneToMany(nn.Module):
    """The lecture's one-to-many: one integer (the genre) in, a sequence of notes out.

        e = E_g[genre]                                   genre embedding [B, genre_dim]
        a<0> = tanh(W_ag e + b_ag)      (condition="state", every layer; LSTM: c<0> = 0)
        x<1> = 0,  x<t> = embed(y<t-1>)                  the note generated at t-1 is the input
        a<t> = cell(a<t-1>, x<t>),  ŷ<t> = softmax(W_ya a<t> + b_y)   (logits returned)

    LSTM: c<0> = W_cg e + b_cg as well, so the cell's memory starts from the genre too.
    With condition="input" the genre is x<1> instead (W_xg e, and a<0> = 0); "every" sets
    a<0> and also appends e to every x<t> (the genre is never forgotten). In training the
    true y<t-1> is fed (teacher forcing); `sample` feeds its own draws. Index 0 (<pad>) is the
    zero input vector, so x<1> = 0 is written as id 0.

    Optional clock (`token_durations`, one length per token id, and `reset_id`, the bar line):
    x<t> also holds an embedding of the time elapsed since the last reset token among
    y<1..t-1> (in 1/24 quarter notes, capped), computed from the inputs themselves, in training
    and in sampling alike. It tells the cell where in the bar it is, which a small cell
    otherwise has to learn to count from durations.
    """

    CLOCK_STEPS = 24  # clock resolution per quarter note (1/3, 1/8 and 3/8 are whole steps)
    CLOCK_MAX = 8  # quarter notes; later positions share the last bucket

    def __init__(self, vocab_size: int, n_genres: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 128,
                 num_layers: int = 1, nonlinearity: str = "tanh", dropout: float = 0.0,
                 genre_dim: int = 16, condition: str = "state",
                 token_durations: list[float] | None = None, reset_id: int = -1,
                 clock_dim: int = 16) -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.condition, self.vocab_size = condition, vocab_size
        self.genre = nn.Embedding(n_genres, genre_dim)
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        n_embed = n_x
        self.clock = None
        if token_durations is not None:
            if len(token_durations) != vocab_size:
                raise ValueError("token_durations needs one length per token id")
            self.register_buffer("durations", torch.tensor(token_durations, dtype=torch.float),
                                 persistent=False)
            self.reset_id = reset_id
            self.clock = nn.Embedding(self.CLOCK_STEPS * self.CLOCK_MAX + 1, clock_dim)
            n_x += clock_dim
        if condition in ("state", "every"):  # W_ag, b_ag (LSTM: and W_cg, b_cg)
            self.init = nn.Linear(genre_dim, (2 if cell == "lstm" else 1) * num_layers
                                  * hidden_size)
        else:
            self.init = nn.Linear(genre_dim, n_embed)  # W_xg: the genre as the first input
        if condition == "every":
            n_x += genre_dim
        self.rnn = recurrent(cell, n_x, hidden_size, num_layers, False, nonlinearity, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)  # W_ya, b_y

    def initial_state(self, genres: torch.Tensor) -> torch.Tensor | tuple | None:
        """a<0> [layers, B, n_a] from the genre (None = zeros, for condition="input")."""
        if self.condition == "input":
            return None
        B = genres.shape[0]
        z = self.init(self.genre(genres))  # [B, (2*)layers*n_a]
        z = z.view(B, -1, self.num_layers, self.hidden_size).transpose(0, 2)  # [L, 1|2, B, n_a]
        a0 = torch.tanh(z[:, 0]).contiguous()
        return (a0, z[:, 1].contiguous()) if self.cell == "lstm" else a0

    def elapsed(self, ids: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
        """Time since the last reset token, up to and including each input: [B, T]. `start`
        [B] continues from an earlier call (sampling one step at a time)."""
        d = self.durations[ids]  # [B, T]
        c = d.cumsum(1) + (0 if start is None else start[:, None])
        at_reset = torch.where(ids == self.reset_id, c, torch.zeros_like(c))
        return c - at_reset.cummax(1).values  # c never decreases: the last reset is the max

    def _inputs(self, genres: torch.Tensor, ids: torch.Tensor, first: bool,
                elapsed: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(ids)  # [B, T, n_x]; id 0 at t=1 is the zero vector
        if first and self.condition == "input":
            x = torch.cat([self.init(self.genre(genres))[:, None], x[:, 1:]], dim=1)
        if self.condition == "every":
            x = torch.cat([x, self.genre(genres)[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        if self.clock is not None:
            e = self.elapsed(ids) if elapsed is None else elapsed
            steps = (e * self.CLOCK_STEPS).round().long().clamp(0, self.clock.num_embeddings - 1)
            x = torch.cat([x, self.clock(steps)], dim=-1)
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
        ones = genres.new_ones(B)
        out: list[list[int]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        elapsed = genres.new_zeros(B, dtype=torch.float)  # clock: time since the last reset
        for t in range(max_len):
            if self.clock is not None:
                step = self.durations[ids[:, 0]]
                elapsed = torch.where(ids[:, 0] == self.reset_id, torch.zeros_like(elapsed),
                                      elapsed + step)
            x = self._inputs(genres, ids, t == 0, elapsed[:, None])
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


# ---------------------------------------------------------------- loss and dev metric


def token_nll(logits: torch.Tensor, targets: torch.Tensor,
              mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Σ_t -log ŷ<t>[y<t>] over the real steps (summed) and how many steps that is."""
    nll = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                      reduction="none").view_as(targets)
    return (nll * mask).sum(), int(mask.sum())


class MusicObjective(Objective):
    """Teacher forcing: the input at step t is the true y<t-1>, the loss is -log ŷ<t>[y<t>] at
    every real step, averaged over the batch's tokens."""

    monitor = "dev/nll"
    mode = "min"

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        logits = net(batch["genres"], batch["ids"], batch["lengths"])
        total, n = token_nll(logits, batch["targets"], batch["mask"])
        return total / max(n, 1)

    def dev_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        logits = net(batch["genres"], batch["ids"], batch["lengths"])
        total, n = token_nll(logits, batch["targets"], batch["mask"])
        # in float64: the loss curve's dev/loss stays total.item() / n, as it always was
        return total.double() / max(n, 1), (total.item(), n)

    def dev_metrics(self, outputs: list[Any]) -> dict[str, float]:
        total = sum(t for t, _ in outputs)
        n = sum(k for _, k in outputs)
        nll = total / max(n, 1)
        return {"dev/nll": nll, "dev/perplexity": float(torch.tensor(nll).exp())}


@torch.no_grad()
def sequence_nll(net: nn.Module, encoded: dict[str, torch.Tensor], batch_size: int = 64,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """-log ŷ<t>[y<t>] at every step of every sequence, [N, T] (0 past each length), teacher
    forced, in row order."""
    net.eval().to(device)
    rows = []
    for batch in loader(encoded, batch_size):
        logits = net(batch["genres"].to(device), batch["ids"].to(device), batch["lengths"])
        nll = nn.functional.cross_entropy(logits.flatten(0, 1), batch["targets"].to(device)
                                          .flatten(), reduction="none").view(logits.shape[:2])
        rows.append(nn.functional.pad(nll * batch["mask"].to(device),
                                      (0, encoded["ids"].shape[1] - nll.shape[1])).cpu())
    return torch.cat(rows) if rows else torch.empty(0, 0)


# ---------------------------------------------------------------- what train builds


def net_config(cfg: MusicConfig, vocabs: dict[str, Any]) -> dict[str, Any]:
    """The architecture (net.json); the sampling knobs are the decode section's, not here."""
    m = cfg.model
    if m.bidirectional:
        raise ValueError("music.model.bidirectional must be false: a generator cannot read "
                         "notes it has not generated yet")
    return {"vocab_size": len(vocabs["tokens"]), "n_genres": len(vocabs["genres"]),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "nonlinearity": m.nonlinearity, "dropout": m.dropout, "genre_dim": m.genre_dim,
            "condition": m.condition, **_clock(m, vocabs["tokens"])}


def _clock(m: MusicModel, vocab: Vocabulary) -> dict[str, Any]:
    """The clock input's settings: every token's length in quarter notes and the bar line."""
    if not m.clock or music.BAR not in vocab.stoi:
        return {}
    lengths = []
    for tok in vocab.itos:
        parsed = music.parse_token(tok) if tok != music.BAR else None
        lengths.append(parsed[1] if parsed else 0.0)
    return {"token_durations": lengths, "reset_id": vocab.stoi[music.BAR],
            "clock_dim": m.clock_dim}


def build_net(config: dict[str, Any]) -> OneToMany:
    return OneToMany(**config)


def objective(cfg: MusicConfig, net: nn.Module, vocabs: dict[str, Any]) -> MusicObjective:
    return MusicObjective()


def loaders(cfg: MusicConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[DataLoader, DataLoader]:
    """Seeded, length-bucketed training batches; dev in row order."""
    t = cfg.train
    return (loader(encoded["train"], t.batch_size, shuffle=True, seed=seed, bucket=t.bucket),
            loader(encoded["dev"], 256))


# ---------------------------------------------------------------- sampling


def generate(net: OneToMany, vocab: Vocabulary, genre_id: int, count: int, seed: int,
             temperature: float = 1.0, top_k: int = 0, max_len: int = 600) -> list[list[str]]:
    """`count` tunes of one genre as token lists (no <eot>), seeded; on the net's device."""
    device = next(net.parameters()).device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    ids = net.sample(torch.full((count,), int(genre_id), dtype=torch.long, device=device),
                     max_len, eos=vocab.stoi[EOT], temperature=temperature, top_k=top_k,
                     banned=(vocab.pad_index, vocab.unk_index), generator=gen)
    return [vocab.decode(row) for row in ids]
