"""train: the Forecaster network (plain torch) and its Objective (the loss and the dev MASE).

Every tensor the network or the objective makes is made on its input's device, so training
and forecasting run on a GPU as on the CPU."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnlab.nn.cells import final_hidden, recurrent
from rnnlab.nn.encoding import input_layer
from rnnlab.nn.loop import Batch, Objective
from rnnlab.tasks.forecast.metrics import mase, smape
from rnnlab.tasks.forecast.params import ForecastConfig
from rnnlab.tasks.forecast.windows import Scaler


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
        lengths = torch.full((B,), L, dtype=torch.long, device=x.device)
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
        ahead = torch.arange(1, self.horizon + 1, device=cal.device)[None, :]
        blocks: list[torch.Tensor] = []
        done = 0
        while done < steps:
            z = self(x, cal).mean(1)  # [B, H]
            level = self.to_levels(z, last)
            blocks.append(level)
            done += self.horizon
            x = torch.cat([x, z], 1)[:, -self.input_len:]
            nxt = (cal[:, -1:] + ahead - 1) % self.period + 1
            cal = torch.cat([cal, nxt if self.calendar else torch.zeros_like(nxt)],
                            1)[:, -self.input_len:]
            last = torch.cat([last, level], 1)[:, -last.shape[1]:]
        return torch.cat(blocks, 1)[:, :steps]


class ForecastObjective(Objective):
    """Direct multi-output forecasting: every member of the net's ensemble predicts H scaled
    (differenced) values per window, with its own loss (the members train independently).

    loss `level`: the MSE of the level errors those values imply (errors of a differenced
    forecast add up over the horizon, so the loss sees what the metric sees); `step`: the plain
    MSE of the H predicted values. The dev metric is the MASE (and sMAPE) of the forecast of the
    dev block from the history before it, in levels, exactly as the test block is forecast.
    """

    monitor = "dev/mase"
    mode = "min"

    def __init__(self, horizon: int, difference: int, loss: str = "level") -> None:
        super().__init__()
        if loss not in ("level", "step"):
            raise ValueError(f"loss must be 'level' or 'step', got {loss!r}")
        self.kind = loss
        A = level_matrix(horizon, difference if loss == "level" else 0)
        self.register_buffer("A", A, persistent=False)
        # keep_forecasts(): the dev forecast [B, steps] of every validation pass, in order
        # (a sanity pass before the first epoch included), e.g. to score any epoch afterwards
        self.kept: list[torch.Tensor] | None = None

    def keep_forecasts(self) -> None:
        self.kept = []

    def members_loss(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """z [B, members, H], target [B, H]: each member's MSE, summed over members."""
        err = (z - target[:, None, :]) @ self.A.T
        return (err ** 2).mean(dim=(0, 2)).sum()

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        return self.members_loss(net(batch["x"], batch["cal"]), batch["target"])

    def dev_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        steps = batch["actual"].shape[1]
        levels = net.forecast(batch["x"], batch["cal"], batch["last"], steps)
        # dev/loss: MSE of the levels in units of the training std (comparable across epochs)
        loss = (((levels - batch["actual"]) / net.std) ** 2).mean()
        return loss, (mase(levels, batch["actual"], batch["scale"]).cpu(),
                      smape(levels, batch["actual"]).cpu(), levels.cpu())

    def dev_metrics(self, outputs: list[Any]) -> dict[str, float]:
        m, s, levels = (torch.cat(x) for x in zip(*outputs, strict=True))
        if self.kept is not None:
            self.kept.append(levels)
        return {"dev/mase": float(m.mean()), "dev/smape": float(s.mean())}


def net_config(cfg: ForecastConfig, vocabs: dict[str, Scaler]) -> dict[str, Any]:
    m, s = cfg.model, vocabs["scaler"]
    return {"input_len": s.input_len, "horizon": s.horizon, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "calendar": m.calendar, "period": s.period,
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "members": m.members,
            "mean": s.mean, "std": s.std, "difference": s.difference}


def build_net(config: dict[str, Any]) -> Forecaster:
    return Forecaster(**config)


def objective(cfg: ForecastConfig, net: nn.Module, vocabs: dict[str, Scaler]) -> ForecastObjective:
    return ForecastObjective(net.horizon, net.difference, cfg.train.loss)
