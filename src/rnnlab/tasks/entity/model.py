"""The networks (plain torch), the tagging objective and the batches.

- ManyToMany (Tx = Ty): x<t> = [word embedding or one-hot; character features; dictionary hit]
  -> BiRNN a<t> -> one score per tag, ŷ<t> = W_ya a<t> + b_y over the IOB tags (O, B-X, I-X...);
  decoded per word (softmax, argmax) or as a whole sentence (a linear-chain CRF, Viterbi).
- DenseTagger: the lecture's "standard (dense) network" on padded input, the foil for the RNN.
- TaggerObjective: L = Σ_t L<t>(ŷ<t>, y<t>) (cross-entropy summed over the real steps,
  averaged over sentences) or the CRF's -log p(y<1..T> | x), word dropout, and the dev entity
  F1 (metrics.entity_scores on the tags' spans, the same computation evaluate uses).
- summed_bce: the lecture's binary loss of one 1/0 output per word (the BPTT check uses it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from rnnlab.nn.cells import recurrent
from rnnlab.nn.chars import char_layer
from rnnlab.nn.crf import CRF
from rnnlab.nn.encoding import drop_words, input_layer
from rnnlab.nn.loop import Batch, Objective, loader
from rnnlab.tasks.entity.metrics import dev_metric
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.vocab import Vocabulary

# ---------------------------------------------------------------- networks


class ManyToMany(nn.Module):
    """x<1..T> -> a<1..T> -> ŷ<1..T>, with ŷ<t> = W_ya a<t> + b_y: one score per tag (logits;
    the softmax or the CRF is in the loss and the decoding)."""

    def __init__(self, vocab_size: int, n_out: int, encoding: str = "embedding",
                 embedding_dim: int = 64, cell: str = "gru", hidden_size: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, nonlinearity: str = "tanh",
                 dropout: float = 0.0, features: int = 0, chars: str = "none",
                 n_chars: int = 0, char_dim: int = 16, char_hidden: int = 16,
                 decoder: str = "softmax") -> None:
        super().__init__()
        self.embed, n_x = input_layer(encoding, vocab_size, embedding_dim)
        self.chars = char_layer(chars, n_chars, char_dim, char_hidden, cell)
        n_c = self.chars.n_out if self.chars is not None else 0
        self.features = features  # extra per-step inputs appended to x<t> (e.g. a dictionary hit)
        self.rnn = recurrent(cell, n_x + n_c + features, hidden_size, num_layers, bidirectional,
                             nonlinearity, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_out)  # W_ya, b_y
        if decoder not in ("softmax", "crf"):
            raise ValueError(f"decoder must be softmax or crf, got {decoder!r}")
        self.crf = CRF(n_out) if decoder == "crf" else None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                features: torch.Tensor | None = None,
                chars: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(ids)  # [B, T, n_x]
        if self.chars is not None:
            x = torch.cat([x, self.chars(chars)], dim=-1)  # [B, T, n_x + n_c]
        x = self.dropout(x)
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
                features: torch.Tensor | None = None,
                chars: torch.Tensor | None = None) -> torch.Tensor:
        B, T = ids.shape  # sees the words only
        fixed = ids.new_zeros(B, self.max_len)
        fixed[:, : min(T, self.max_len)] = ids[:, : self.max_len]  # words past T_max are unseen
        out = self.net(self.embed(fixed).flatten(1)).view(B, self.max_len, self.n_out)
        if self.max_len < T:  # positions past T_max get a constant "no entity" score: O (id 0)
            rest = out.new_full((B, T - self.max_len, self.n_out), -10.0)
            rest[..., 0] = 10.0 if self.n_out > 1 else -10.0
            out = torch.cat([out, rest], 1)
        return out[:, :T]


def net_config(cfg: EntityConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m = cfg.model
    return {"vocab_size": len(vocabs["tokens"]), "n_out": len(vocabs["tags"]) - 2,
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "features": int(m.dictionary_feature), "chars": m.chars,
            "n_chars": len(vocabs["chars"]), "char_dim": m.char_dim,
            "char_hidden": m.char_hidden, "decoder": m.decoder}


def build_net(config: dict[str, Any]) -> nn.Module:
    return ManyToMany(**config)


# ---------------------------------------------------------------- loss and dev metric


def net_inputs(batch: Batch, device: torch.device | None = None) -> dict[str, torch.Tensor]:
    """The keyword inputs of a network's forward (ids, lengths, features, chars); lengths stay
    where they are (packing reads them on the CPU)."""
    out = {"ids": batch["ids"], "lengths": batch["lengths"]}
    if "features" in batch:
        out["features"] = batch["features"].float()
    if "chars" in batch:
        out["chars"] = batch["chars"].long()
    return {k: v if k == "lengths" or device is None else v.to(device) for k, v in out.items()}


def summed_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
               positive_weight: float = 1.0) -> torch.Tensor:
    """L = Σ_t L<t>(ŷ<t>, y<t>) over each sentence's real steps, averaged over sentences, for
    one 1/0 output per word (the lecture's loss). `positive_weight` > 1 counts missed 1-labels
    more (entities are rare words)."""
    pos = None if positive_weight == 1.0 else logits.new_tensor(positive_weight)
    per_step = nn.functional.binary_cross_entropy_with_logits(
        logits, labels.float(), reduction="none", pos_weight=pos)
    return (per_step * mask).sum() / logits.shape[0]


def summed_ce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
              positive_weight: float = 1.0) -> torch.Tensor:
    """L = Σ_t -log softmax(ŷ<t>)[y<t>] over each sentence's real steps, averaged over
    sentences. `positive_weight` > 1 weighs every tag but O (id 0) more."""
    weight = None
    if positive_weight != 1.0:
        weight = logits.new_full((logits.shape[-1],), positive_weight)
        weight[0] = 1.0
    per_step = nn.functional.cross_entropy(logits.transpose(1, 2), labels, weight=weight,
                                           reduction="none")  # [B, T]
    return (per_step * mask).sum() / logits.shape[0]


def tag_loss(net: nn.Module, logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
             positive_weight: float = 1.0) -> torch.Tensor:
    """The network's own loss: the CRF's sentence NLL, or the per-word cross-entropy."""
    crf = getattr(net, "crf", None)
    if crf is not None:
        return crf.nll(logits, labels, mask).sum() / logits.shape[0]
    return summed_ce(logits, labels, mask, positive_weight)


def decode(net: nn.Module, logits: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Tag ids of every sentence's real words: Viterbi with a CRF, else argmax per word."""
    crf = getattr(net, "crf", None)
    mask = torch.arange(logits.shape[1], device=logits.device)[None, :] < \
        lengths.to(logits.device)[:, None]
    if crf is not None:
        return crf.decode(logits, mask)
    return [row[:n] for row, n in zip(logits.argmax(-1).tolist(), lengths.tolist(), strict=True)]


class TaggerObjective(Objective):
    """Many-to-many tagging over the IOB tags: the loss summed over time (or the CRF's), the
    dev loss unweighted, the dev metric the entity F1 of the predicted tags' spans against the
    gold tags' spans (metrics.dev_metric, the computation evaluate uses)."""

    monitor = "dev/entity_f1"
    mode = "max"

    def __init__(self, tags: list[str], word_dropout: float = 0.0,
                 fallback: list[int] | None = None, positive_weight: float = 1.0) -> None:
        super().__init__()
        self.tags = list(tags)
        self.word_dropout, self.positive_weight = word_dropout, positive_weight
        self.register_buffer("fallback", torch.tensor(fallback or [], dtype=torch.long),
                             persistent=False)

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        inputs = net_inputs(batch)
        inputs["ids"] = drop_words(inputs["ids"], self.fallback,
                                   self.word_dropout if self.training else 0.0)
        return tag_loss(net, net(**inputs), batch["labels"], batch["mask"],
                        self.positive_weight)

    def dev_step(self, net: nn.Module, batch: Batch
                 ) -> tuple[torch.Tensor, list[tuple[list[int], list[int]]]]:
        logits = net(**net_inputs(batch))
        loss = tag_loss(net, logits, batch["labels"], batch["mask"])
        pred = decode(net, logits, batch["lengths"])
        pairs = [(p, g[:n]) for p, g, n in zip(
            pred, batch["labels"].tolist(), batch["lengths"].tolist(), strict=True)]
        return loss, pairs

    def dev_metrics(self, outputs: list[list[tuple[list[int], list[int]]]]
                    ) -> dict[str, float]:
        pairs = [pair for batch in outputs for pair in batch]
        preds, golds = zip(*pairs, strict=True)
        name = self.tags.__getitem__
        return {f"dev/{k}": v for k, v in dev_metric(
            [list(map(name, p)) for p in preds], [list(map(name, g)) for g in golds]).items()}


def objective(cfg: EntityConfig, net: nn.Module,
              vocabs: dict[str, Vocabulary]) -> TaggerObjective:
    t = cfg.train
    return TaggerObjective(vocabs["tags"].itos[2:], word_dropout=t.word_dropout,
                           fallback=vocabs["tokens"].fallback_indices(),
                           positive_weight=t.positive_weight)


def loaders(cfg: EntityConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[DataLoader, DataLoader]:
    """Seeded, length-bucketed training batches; dev in order, 256 a batch."""
    t = cfg.train
    return (loader(encoded["train"], t.batch_size, shuffle=True, seed=seed, bucket=t.bucket),
            loader(encoded["dev"], 256))


@torch.no_grad()
def predict_tags(net: nn.Module, encoded: dict[str, torch.Tensor],
                 batch_size: int = 256) -> list[list[int]]:
    """Tag id per real token for every sentence of an encoded split, on the device the
    network is on."""
    net.eval()
    device = next(net.parameters()).device
    out: list[list[int]] = []
    for batch in loader(encoded, batch_size):
        out.extend(decode(net, net(**net_inputs(batch, device)), batch["lengths"]))
    return out
