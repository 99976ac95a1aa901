"""Sequence representation: padded index tensors, lengths and masks; one-hot or embedding input.

The encode stage stores only integer indices. One-hot vectors (T vectors of vocabulary length,
as on the slide) are built per batch inside the model, so memory stays flat as the vocabulary
grows: a batch costs B*T*|V| floats, the data set never does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


# ---------------------------------------------------------------- pretrained and exported vectors


def read_vectors(path: str, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """A word2vec or GloVe text file -> (words, vectors [n, d] float32). word2vec's first line
    `<count> <dim>` is skipped when present (GloVe has none); a line of another width fails."""
    words, rows, dim = [], [], None
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # the word2vec header
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise ValueError(f"{path}: line {number} has {len(parts) - 1} values, "
                                 f"expected {dim}")
            words.append(parts[0])
            rows.append(np.asarray(parts[1:], dtype=np.float32))
            if limit and len(words) >= limit:
                break
    if not rows:
        raise ValueError(f"{path}: no vectors")
    return words, np.stack(rows)


def pretrained_matrix(vocab: Sequence[str], words: Sequence[str], vectors: np.ndarray,
                      seed: int = 0, lowercase: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The embedding matrix E [|V|, d] for `vocab` (index order): rows of words found in the
    file are their vectors (first occurrence; `lowercase`: also matched case-folded), the
    others drawn from N(0, std of the file's vectors), <pad> (0) zero. Returns E and `found`
    [|V|] bool."""
    lookup: dict[str, int] = {}
    for i, w in enumerate(words):
        lookup.setdefault(w, i)
        if lowercase:
            lookup.setdefault(w.lower(), i)
    gen = torch.Generator().manual_seed(seed)
    std = float(vectors.std()) or 1.0
    matrix = torch.randn(len(vocab), vectors.shape[1], generator=gen) * std
    found = torch.zeros(len(vocab), dtype=torch.bool)
    for i, w in enumerate(vocab):
        j = lookup.get(w)
        if j is not None and i != 0:
            matrix[i] = torch.from_numpy(vectors[j])
            found[i] = True
    matrix[0] = 0.0
    return matrix, found


def load_pretrained(embedding: nn.Embedding, matrix: torch.Tensor, freeze: bool) -> None:
    """Copy E into an nn.Embedding (same shape) in place; `freeze`: it is not learnt."""
    if tuple(embedding.weight.shape) != tuple(matrix.shape):
        raise ValueError(f"pretrained vectors are {tuple(matrix.shape)[1]}-dimensional, the "
                         f"embedding {embedding.weight.shape[1]}: set embedding_dim to match")
    with torch.no_grad():
        embedding.weight.copy_(matrix.to(embedding.weight.device))
    embedding.weight.requires_grad_(not freeze)


def write_word2vec(path: str, words: Sequence[str], vectors: np.ndarray) -> None:
    """word2vec text format: `<count> <dim>`, then `word v1 ... vd` per line (gensim reads it
    with KeyedVectors.load_word2vec_format). Words with a space are written with '_'."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{len(words)} {vectors.shape[1]}\n")
        for w, v in zip(words, vectors, strict=True):
            fh.write(w.replace(" ", "_") + " " + " ".join(f"{x:.6g}" for x in v) + "\n")


def write_projector_tsv(vectors_path: str, metadata_path: str, words: Sequence[str],
                        vectors: np.ndarray) -> None:
    """The TensorFlow Embedding Projector's two files: vectors (tab-separated, no header) and
    metadata (one word per line, no header for a single column)."""
    with open(vectors_path, "w", encoding="utf-8") as fh:
        for v in vectors:
            fh.write("\t".join(f"{x:.6g}" for x in v) + "\n")
    with open(metadata_path, "w", encoding="utf-8") as fh:
        for w in words:
            fh.write(w.replace("\t", " ").replace("\n", " ") + "\n")
