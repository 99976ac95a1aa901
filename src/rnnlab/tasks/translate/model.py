"""translate's network and objective: the encoder–decoder (plain torch), its loss summed over
the target words with teacher forcing, greedy dev BLEU as the early-stopping signal, batches
of sentence pairs, and decoding whole splits (greedy or beam search)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnlab.nn.cells import State, TorchRecurrent, recurrent
from rnnlab.nn.encoding import input_layer
from rnnlab.nn.loop import Batch, BucketBatches, Objective, Sequences, loader
from rnnlab.tasks.translate.encoding import BOS, EOS
from rnnlab.tasks.translate.scoring import id_bleu
from rnnlab.vocab import Vocabulary

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateConfig

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
    `source_lang` / `target_lang` say how serving tokenises the input and writes the output.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, nonlinearity: str = "tanh",
                 dropout: float = 0.0, attention: str = "none", bos: int = 2, eos: int = 3,
                 source_lang: str = "it", target_lang: str = "en",
                 embedding_dropout: float | None = None, tie_embeddings: bool = False) -> None:
        super().__init__()
        # the languages tokenise the input and detokenise the output (no weights)
        self.source_lang, self.target_lang = source_lang, target_lang
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
        self.embed_dropout = nn.Dropout(dropout if embedding_dropout is None else
                                        embedding_dropout)
        self.head = nn.Linear(hidden_size, tgt_vocab_size)  # W_ys, b_y
        if tie_embeddings:  # W_ys is the target embedding matrix (one [|V_tgt|, n_a] matrix)
            if encoding != "embedding" or embedding_dim != hidden_size:
                raise ValueError("tie_embeddings needs the embedding encoding and "
                                 f"embedding_dim == hidden_size (got {encoding}, "
                                 f"{embedding_dim} vs {hidden_size})")
            self.head.weight = self.tgt_embed.weight
            with torch.no_grad():  # an output layer's scale, not N(0, 1); <pad> stays 0
                nn.init.normal_(self.head.weight, 0.0, hidden_size ** -0.5)
                self.head.weight[0].zero_()

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
        memory, state = self.encoder(self.embed_dropout(self.src_embed(src)), src_lengths)
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
        x = self.embed_dropout(self.tgt_embed(y_prev[:, None]))
        if isinstance(self.decoder, TorchRecurrent):  # the fused cell, no packing for one step
            return self.decoder.rnn(x, state)
        return self.decoder(x, y_prev.new_ones(len(y_prev)), state)

    # -- training

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor, teacher_forcing: float = 1.0) -> torch.Tensor:
        memory, mask, state = self.encode(src, src_lengths)
        if teacher_forcing >= 1.0:  # every input is the gold previous word: one pass
            s, _ = self.decoder(self.embed_dropout(self.tgt_embed(tgt_in)), tgt_lengths, state)
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


# ---------------------------------------------------------------- the architecture as JSON


def net_config(cfg: TranslateConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    """EncoderDecoder's arguments (net.json); the languages too, so serving tokenises raw text
    the way prepare did."""
    m, direction = cfg.model, cfg.data.direction
    return {"src_vocab_size": len(vocabs["source"]), "tgt_vocab_size": len(vocabs["target"]),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "attention": m.attention,
            "bos": vocabs["target"].stoi[BOS], "eos": vocabs["target"].stoi[EOS],
            "source_lang": direction.source, "target_lang": direction.target,
            "embedding_dropout": m.embedding_dropout, "tie_embeddings": m.tie_embeddings}


def build_net(config: dict[str, Any]) -> EncoderDecoder:
    return EncoderDecoder(**config)


# ---------------------------------------------------------------- batches of pairs

PAIR_KEYS = ("ids", "lengths", "target_in", "target_out", "target_lengths")


def collate_pairs(batch: list[Batch]) -> Batch:
    """Two lengths per row: source tensors are trimmed to the batch's longest source, target
    tensors to its longest target (the default `collate` knows only one length)."""
    out = {k: torch.stack([row[k] for row in batch]) for k in batch[0]}
    Tx, Ty = int(out["lengths"].max()), int(out["target_lengths"].max())
    out["ids"] = out["ids"][:, :Tx]
    out["target_in"], out["target_out"] = out["target_in"][:, :Ty], out["target_out"][:, :Ty]
    out["mask"] = torch.arange(Tx)[None, :] < out["lengths"][:, None]
    out["target_mask"] = torch.arange(Ty)[None, :] < out["target_lengths"][:, None]
    return out


def pair_loader(encoded: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
                seed: int = 0, bucket: bool = False) -> DataLoader:
    """Batches of sentence pairs; `bucket` groups similar lengths (seeded): sorted by source
    length, then by target length within it, so both padded widths shrink (a batch walks
    its longest source through the encoder and its longest target through the decoder)."""
    dataset = Sequences({k: encoded[k] for k in PAIR_KEYS})
    if shuffle and bucket:
        width = int(encoded["target_lengths"].max()) + 1
        key = encoded["lengths"] * width + encoded["target_lengths"]  # source, then target
        return DataLoader(dataset, batch_sampler=BucketBatches(key, batch_size, seed),
                          collate_fn=collate_pairs)
    return loader(encoded, batch_size, shuffle=shuffle, seed=seed, dataset=dataset,
                  collate_fn=collate_pairs)


def loaders(cfg: TranslateConfig, encoded: dict[str, dict[str, torch.Tensor]], seed: int
            ) -> tuple[DataLoader, DataLoader]:
    """Pairs have two lengths: batches trim the source and the target separately."""
    t = cfg.train
    return (pair_loader(encoded["train"], t.batch_size, shuffle=True, seed=seed,
                        bucket=t.bucket),
            pair_loader(encoded["dev"], 256))


# ---------------------------------------------------------------- loss and dev metric


def summed_ce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """L = Σ_t -log ŷ<t>[y<t>] over each target's real steps (its <eos> included), averaged
    over sentences. With label smoothing ε the target of a step is (1-ε) on y<t> plus ε
    spread evenly over the vocabulary."""
    per_step = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none",
                                           label_smoothing=label_smoothing)
    return (per_step * mask).sum() / logits.shape[0]


class TranslateObjective(Objective):
    """Loss summed over the target's steps, teacher forcing with probability
    `teacher_forcing` per step (1.0: always the gold previous word). Each dev epoch also
    decodes the dev split greedily (at most `max_len` words) and scores BLEU against the
    references as the target vocabulary spells them: dev/bleu_greedy, the early-stopping
    signal."""

    monitor = "dev/bleu_greedy"
    mode = "max"

    def __init__(self, vocab: Any, target_lang: str, teacher_forcing: float = 1.0,
                 max_len: int = 50, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.vocab, self.target_lang = vocab, target_lang
        self.teacher_forcing, self.max_len = teacher_forcing, max_len
        self.label_smoothing = label_smoothing

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        logits = net(batch["ids"], batch["lengths"], batch["target_in"], batch["target_lengths"],
                     self.teacher_forcing)
        return summed_ce(logits, batch["target_out"], batch["target_mask"],
                         self.label_smoothing)

    def dev_step(self, net: nn.Module, batch: Batch
                 ) -> tuple[torch.Tensor, list[tuple[list[int], list[int]]]]:
        logits = net(batch["ids"], batch["lengths"], batch["target_in"], batch["target_lengths"],
                     1.0)
        loss = summed_ce(logits, batch["target_out"], batch["target_mask"])
        hyps = net.greedy(batch["ids"], batch["lengths"], self.max_len)
        refs = [row[:n - 1] for row, n in zip(batch["target_out"].tolist(),
                                              batch["target_lengths"].tolist(), strict=True)]
        return loss, list(zip(hyps, refs, strict=True))

    def dev_metrics(self, outputs: list[list[tuple[list[int], list[int]]]]
                    ) -> dict[str, float]:
        pairs = [pair for batch in outputs for pair in batch]
        hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
        return {"dev/bleu_greedy": id_bleu(self.vocab, self.target_lang, hyps, refs)}


def objective(cfg: TranslateConfig, net: nn.Module, vocabs: dict[str, Vocabulary]
              ) -> TranslateObjective:
    return TranslateObjective(vocabs["target"], cfg.data.direction.target,
                              cfg.train.teacher_forcing, cfg.model.max_len,
                              cfg.train.label_smoothing)


# ---------------------------------------------------------------- decoding a split


@torch.no_grad()
def translate_ids(net: EncoderDecoder, encoded: dict[str, torch.Tensor], beam_size: int = 1,
                  max_len: int = 50, length_penalty: float = 1.0, batch_size: int = 128,
                  device: str | torch.device = "cpu") -> list[list[int]]:
    """Target token ids (no <bos>/<eos>) for every source sentence of an encoded split, in
    row order: greedy for beam_size 1, else beam search."""
    net.eval().to(device)
    out: list[list[int]] = []
    n = len(encoded["lengths"])
    for start in range(0, n, batch_size):
        lengths = encoded["lengths"][start:start + batch_size]
        ids = encoded["ids"][start:start + batch_size, :max(1, int(lengths.max()))]
        out.extend(net.translate(ids.to(device), lengths, beam_size, max_len, length_penalty))
    return out
