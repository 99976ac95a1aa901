"""Sequence representation: padded index tensors, lengths and masks; one-hot or embedding input.

The encode stage stores only integer indices. One-hot vectors (T vectors of vocabulary length,
as on the slide) are built per batch inside the model, so memory stays flat as the vocabulary
grows: a batch costs B*T*|V| floats, the data set never does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def pad(sequences: Sequence[Sequence[int]], value: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad index lists to one [N, T] tensor, with lengths [N] and a bool mask [N, T]."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(sequences) else 0
    ids = torch.full((len(sequences), width), value, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    mask = torch.arange(width)[None, :] < lengths[:, None]
    return {"ids": ids, "lengths": lengths, "mask": mask}


class OneHot(nn.Module):
    """x<t> as a one-hot vector of vocabulary length; <pad> (index 0) becomes the zero vector."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T, |V|]
        x = nn.functional.one_hot(ids, self.vocab_size).float()
        return x * (ids != 0).unsqueeze(-1)


def input_layer(encoding: str, vocab_size: int, embedding_dim: int) -> tuple[nn.Module, int]:
    """The model's first layer and its output width: one-hot (|V|) or a learnt embedding."""
    if encoding == "onehot":
        return OneHot(vocab_size), vocab_size
    if encoding == "embedding":
        return nn.Embedding(vocab_size, embedding_dim, padding_idx=0), embedding_dim
    raise ValueError(f"encoding must be 'onehot' or 'embedding', got {encoding!r}")


def drop_words(ids: torch.Tensor, fallback: torch.Tensor, p: float) -> torch.Tensor:
    """Word dropout: each index becomes its unknown-word class (`fallback[ids]`) with
    probability `p`, so the network learns what an unseen word looks like (training only)."""
    if p <= 0 or len(fallback) == 0:
        return ids
    drop = torch.rand(ids.shape, device=ids.device) < p
    return torch.where(drop, fallback[ids], ids)
