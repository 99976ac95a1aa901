"""A linear-chain conditional random field on top of per-step scores (Lample et al. 2016).

The RNN gives emission scores E[t, k] (how well tag k fits word t); the CRF adds a learnt
transition score A[i, j] for tag i followed by tag j, a start score s[k] and an end score e[k].
The score of a whole tagging y<1..T> is

    score(y) = s[y1] + Σ_t E[t, y_t] + Σ_{t>1} A[y_{t-1}, y_t] + e[y_T]

and p(y | x) = exp(score(y)) / Σ_y' exp(score(y')). The normaliser Z is the forward algorithm
(log-sum-exp over the previous tag, step by step); the best tagging is Viterbi (max instead of
log-sum-exp, with back-pointers). Both walk only each sentence's real steps (`mask`).

Shapes: emissions [B, T, K], tags [B, T] (long), mask [B, T] (bool, real steps first).
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, n_tags: int) -> None:
        super().__init__()
        self.n_tags = n_tags
        self.start = nn.Parameter(torch.zeros(n_tags))  # s[k]
        self.end = nn.Parameter(torch.zeros(n_tags))  # e[k]
        self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))  # A[i, j]: i then j
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
        """score(y) of the given taggings: [B]."""
        m = mask.to(emissions.dtype)  # [B, T]
        emit = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # E[t, y_t]: [B, T]
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # A[y_{t-1}, y_t]: [B, T-1]
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # y_T
        return (self.start[tags[:, 0]] + (emit * m).sum(1) + (trans * m[:, 1:]).sum(1)
                + self.end[last])

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z by the forward algorithm: [B]."""
        alpha = self.start + emissions[:, 0]  # [B, K]: log-sum of every path ending in k at t=1
        for t in range(1, emissions.shape[1]):
            # [B, K_prev, 1] + [K_prev, K] + [B, 1, K] -> log-sum-exp over K_prev
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions
                                   + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t, None], step, alpha)  # padding keeps alpha
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor,
            mask: torch.Tensor) -> torch.Tensor:
        """-log p(y | x) of each sentence: [B]."""
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi: the highest-scoring tagging of each sentence's real steps."""
        B, T, _ = emissions.shape
        delta = self.start + emissions[:, 0]  # [B, K]: best score of a path ending in k
        pointers = []
        for t in range(1, T):
            cand = delta.unsqueeze(2) + self.transitions  # [B, K_prev, K]
            best, arg = cand.max(dim=1)  # [B, K]
            step = best + emissions[:, t]
            keep = mask[:, t, None]
            delta = torch.where(keep, step, delta)
            # past a sentence's end, point every tag at itself so backtracking passes through
            ident = torch.arange(self.n_tags, device=emissions.device).expand(B, -1)
            pointers.append(torch.where(keep, arg, ident))
        last = (delta + self.end).argmax(dim=1)  # [B]
        path = [last]
        for arg in reversed(pointers):
            last = arg.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        tags = torch.stack(path[::-1], dim=1).tolist()  # [B, T]
        return [row[:n] for row, n in zip(tags, mask.sum(1).tolist(), strict=True)]
