"""Character-level word features: one vector per word from its characters, so a word never
seen in training ("Loxodonta") still has a representation (Lample et al. 2016; flair's
CharacterEmbeddings).

    rnn: the lecture's cell applied to characters: a bidirectional RNN over c<1..L> of a word,
         its two final states concatenated (the cell is any of rnnlab.nn.cells: simple, rnn,
         lstm, gru);
    cnn: a 1-D convolution over character windows, max-pooled over the word (cheaper).

Input: char ids [B, T, L] (0 = padding, a word's characters first); output [B, T, n_out], zero
for padded words.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.nn.cells import final_hidden, recurrent


class CharRNN(nn.Module):
    def __init__(self, n_chars: int, char_dim: int = 16, hidden_size: int = 16,
                 cell: str = "gru") -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.rnn = recurrent(cell, char_dim, hidden_size, 1, bidirectional=True)
        self.n_out = 2 * hidden_size

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        B, T, L = chars.shape
        flat = chars.reshape(B * T, L)
        n = (flat != 0).sum(1)  # characters per word: [B*T]
        words = n > 0  # real words only (padding positions have no characters)
        out = flat.new_zeros(B * T, self.n_out, dtype=self.embed.weight.dtype)
        if words.any():
            _, state = self.rnn(self.embed(flat[words]), n[words].cpu())  # [W, L, c] in
            out[words] = final_hidden(state, 1, 2)  # [W, 2*n_c]: a<L> forward, a<1> backward
        return out.view(B, T, self.n_out)


class CharCNN(nn.Module):
    def __init__(self, n_chars: int, char_dim: int = 16, filters: int = 32,
                 kernel: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.n_out = filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        B, T, L = chars.shape
        flat = chars.reshape(B * T, L)
        h = self.conv(self.embed(flat).transpose(1, 2))  # [B*T, filters, L]
        h = h.masked_fill((flat == 0).unsqueeze(1), float("-inf")).amax(dim=2)  # max over chars
        h = torch.where(torch.isinf(h), torch.zeros_like(h), h)  # padded words -> 0
        return torch.relu(h).view(B, T, self.n_out)


def char_layer(kind: str, n_chars: int, char_dim: int, hidden_size: int,
               cell: str = "gru") -> nn.Module | None:
    """`model.chars`: none | rnn | cnn (`hidden_size`: per direction for rnn, filters for cnn)."""
    if kind == "none":
        return None
    if kind == "rnn":
        return CharRNN(n_chars, char_dim, hidden_size, cell)
    if kind == "cnn":
        return CharCNN(n_chars, char_dim, 2 * hidden_size)
    raise ValueError(f"chars must be none, rnn or cnn, got {kind!r}")
