"""RNN architectures from the lecture, as plain torch modules.

- ManyToMany (Tx = Ty): one output per input step, e.g. entity recognition.
- DenseTagger: the lecture's "standard (dense) network" on padded input, the foil for the RNN.
- ManyToOne (Ty = 1): one output per sequence, e.g. classifying a whole reviewer report.
- OneToMany (Tx = 1): one integer (a genre) in, a sequence of notes out, e.g. a melody.
- EncoderDecoder (many-to-many*, Tx ≠ Ty): an encoder reads the source, its final state starts
  a decoder that writes the target word by word, e.g. Italian -> English translation.
- Forecaster (many-to-one, Ty = H values): reads a window of a series, forecasts the next H.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.nn.encoding import input_layer
from rnnlab.nn.cells import State, TorchRecurrent, final_hidden, recurrent


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
        ones = torch.ones(B, dtype=torch.long)
        out: list[list[int]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        elapsed = torch.zeros(B)  # clock: time since the last reset token
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


# ---------------------------------------------------------------- encoder–decoder

ATTENTIONS = ("none", "luong")


def _map_state(state: State, fn) -> State:
    """Apply `fn` to a recurrent state: a tensor, or LSTM's (h, c) pair."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class EncoderDecoder(nn.Module):
    """The lecture's many-to-many* architecture for Tx ≠ Ty (machine translation):

        encoder:  a<t> = RNN(x<t>, a<t-1>),  t = 1..Tx            (reads the whole source)
        bridge:   s<0> = a<Tx>  (bidirectional: s<0> = tanh(W_b [a→<Tx>; a←<1>] + b_b))
        decoder:  s<t> = RNN(y<t-1>, s<t-1>),  ŷ<t> = softmax(W_ys s<t> + b_y),  y<0> = <bos>

    The encoder's final state is the decoder's initial state and the only thing the decoder
    knows about the source (the plain encoder–decoder). With a bidirectional encoder, each
    layer's forward final state (after x<Tx>) and backward final state (after x<1>) are
    concatenated and mapped back to n_a units by a learnt tanh layer, one per layer (for LSTM,
    h and c each get their own, c without the tanh). `attention: luong` is the optional
    extension: ŷ<t> = softmax(W_ys tanh(W_c [s<t>; c<t>])), where the context
    c<t> = Σ_τ α<t,τ> a<τ> and α<t> = softmax_τ(s<t>ᵀ W_α a<τ>) over the real source steps.

    Training: `forward(src, src_lengths, tgt_in, tgt_lengths, teacher_forcing)` with
    tgt_in = <bos> y<1..Ty> returns the logits for y<1..Ty> <eos>; at each step the decoder
    reads the gold previous word with probability `teacher_forcing`, else its own argmax.
    Inference: `greedy` and `beam_search` (max_len steps at most), token ids without <bos>/<eos>.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, nonlinearity: str = "tanh",
                 dropout: float = 0.0, attention: str = "none", bos: int = 2, eos: int = 3
                 ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.dirs = 2 if bidirectional else 1
        self.attention, self.bos, self.eos = attention, bos, eos
        self.tgt_vocab_size = tgt_vocab_size
        self.src_embed, n_x = input_layer(encoding, src_vocab_size, embedding_dim)
        self.tgt_embed, n_y = input_layer(encoding, tgt_vocab_size, embedding_dim)
        self.encoder = recurrent(cell, n_x, hidden_size, num_layers, bidirectional,
                                 nonlinearity, dropout)
        self.decoder = recurrent(cell, n_y, hidden_size, num_layers, False, nonlinearity,
                                 dropout)
        if bidirectional:
            self.bridge = nn.ModuleList(nn.Linear(2 * hidden_size, hidden_size)
                                        for _ in range(2 if cell == "lstm" else 1))
        if attention == "luong":
            self.attn = nn.Linear(self.dirs * hidden_size, hidden_size, bias=False)  # W_α
            self.combine = nn.Linear(hidden_size + self.dirs * hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, tgt_vocab_size)  # W_ys, b_y

    # -- pieces

    def _bridge(self, state: State) -> State:
        if self.dirs == 1:
            return state

        def merge(s: torch.Tensor, layer: nn.Linear, squash: bool) -> torch.Tensor:
            L, B = self.num_layers, s.shape[1]
            both = s.view(L, 2, B, -1).permute(0, 2, 1, 3).reshape(L, B, -1)  # [L, B, 2 n_a]
            out = layer(both)
            return torch.tanh(out) if squash else out

        if isinstance(state, tuple):
            return (merge(state[0], self.bridge[0], True), merge(state[1], self.bridge[1], False))
        return merge(state, self.bridge[0], True)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Encoder outputs a<1..Tx> [B, Tx, dirs*n_a], source mask [B, Tx], decoder s<0>."""
        memory, state = self.encoder(self.dropout(self.src_embed(src)), src_lengths)
        mask = (torch.arange(src.shape[1], device=src.device)[None, :]
                < src_lengths.to(src.device)[:, None])
        return memory, mask, self._bridge(state)

    def _output(self, s: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
                ) -> torch.Tensor:
        """Decoder states s<t> [B, T, n_a] -> logits [B, T, |V_tgt|]."""
        if self.attention == "luong":
            scores = s @ self.attn(memory).transpose(1, 2)  # [B, T, Tx]
            alpha = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), -1)
            s = torch.tanh(self.combine(torch.cat([s, alpha @ memory], -1)))
        return self.head(self.dropout(s))

    def _step(self, y_prev: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decoder step from the previous words [B]: s<t> [B, 1, n_a] and the new state."""
        x = self.dropout(self.tgt_embed(y_prev[:, None]))
        if isinstance(self.decoder, TorchRecurrent):  # the fused cell, no packing for one step
            return self.decoder.rnn(x, state)
        return self.decoder(x, torch.ones(len(y_prev), dtype=torch.long), state)

    # -- training

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor, teacher_forcing: float = 1.0) -> torch.Tensor:
        memory, mask, state = self.encode(src, src_lengths)
        if teacher_forcing >= 1.0:  # every input is the gold previous word: one pass
            s, _ = self.decoder(self.dropout(self.tgt_embed(tgt_in)), tgt_lengths, state)
            return self._output(s, memory, mask)
        y_prev, steps = tgt_in[:, 0], []
        for t in range(tgt_in.shape[1]):
            s, state = self._step(y_prev, state)
            logits = self._output(s, memory, mask)[:, 0]
            steps.append(logits)
            if t + 1 < tgt_in.shape[1]:
                gold = torch.rand(len(y_prev), device=src.device) < teacher_forcing
                y_prev = torch.where(gold, tgt_in[:, t + 1], logits.argmax(-1))
        return torch.stack(steps, 1)

    # -- inference

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int = 50
               ) -> list[list[int]]:
        memory, mask, state = self.encode(src, src_lengths)
        y = torch.full((len(src),), self.bos, dtype=torch.long, device=src.device)
        done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
        out = []
        for _ in range(max_len):
            s, state = self._step(y, state)
            y = self._output(s, memory, mask)[:, 0].argmax(-1)
            out.append(y)
            done |= y == self.eos
            if bool(done.all()):
                break
        return self._strip(torch.stack(out, 1)) if out else [[] for _ in range(len(src))]

    @torch.no_grad()
    def beam_search(self, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int = 5,
                    max_len: int = 50, length_penalty: float = 1.0) -> list[list[int]]:
        """Batched beam search: keep the `beam_size` best partial translations by summed
        log-probability; a finished one (<eos>) keeps its score. The best finished
        hypothesis by score / length**length_penalty wins (0: the plain sum)."""
        if beam_size <= 1:
            return self.greedy(src, src_lengths, max_len)
        B, K, V = len(src), beam_size, self.tgt_vocab_size
        memory, mask, state = self.encode(src, src_lengths)
        memory, mask = memory.repeat_interleave(K, 0), mask.repeat_interleave(K, 0)
        state = _map_state(state, lambda s: s.repeat_interleave(K, 1))
        dev = src.device
        scores = torch.full((B, K), float("-inf"), device=dev)
        scores[:, 0] = 0.0  # K identical beams at the start: keep one
        tokens = torch.full((B * K, 0), self.eos, dtype=torch.long, device=dev)
        y = torch.full((B * K,), self.bos, dtype=torch.long, device=dev)
        done = torch.zeros(B * K, dtype=torch.bool, device=dev)
        length = torch.zeros(B * K, device=dev)
        only_eos = torch.full((V,), float("-inf"), device=dev)
        only_eos[self.eos] = 0.0
        for _ in range(max_len):
            s, state = self._step(y, state)
            logp = torch.log_softmax(self._output(s, memory, mask)[:, 0], -1)  # [B*K, V]
            logp = torch.where(done[:, None], only_eos, logp)
            top, idx = (scores.view(-1, 1) + logp).view(B, K * V).topk(K, dim=1)
            origin = (torch.arange(B, device=dev)[:, None] * K + idx // V).view(-1)
            y = (idx % V).view(-1)
            tokens = torch.cat([tokens[origin], y[:, None]], 1)
            state = _map_state(state, lambda h, o=origin: h[:, o])
            length = length[origin] + (~done[origin]).float()
            done = done[origin] | (y == self.eos)
            scores = top
            if bool(done.all()):
                break
        final = scores.view(-1) / length.clamp(min=1) ** length_penalty
        final = torch.where(done, final, final - 1e9)  # prefer finished hypotheses
        best = final.view(B, K).argmax(1) + torch.arange(B, device=dev) * K
        return self._strip(tokens[best])

    def _strip(self, ids: torch.Tensor) -> list[list[int]]:
        out = []
        for row in ids.tolist():
            out.append(row[:row.index(self.eos)] if self.eos in row else row)
        return out

    def translate(self, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int = 1,
                  max_len: int = 50, length_penalty: float = 1.0) -> list[list[int]]:
        self.eval()
        return self.beam_search(src, src_lengths, beam_size, max_len, length_penalty)


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
