"""train's fit for forecast (TaskSpec.fit): the served model's epochs by `train.stop_on`, and
the rolling-origin backtest fits (backtest.select), whose record evaluate scores.

- `dev`: the served model early-stops on the dev block (the one loop's best epoch), then the
  backtest origins are fitted the same way on their own histories.
- `backtest`: the origins are fitted first, each for `train.max_epochs` epochs on all of its
  history, and E* = the argmin of their mean MASE curve; the served model then trains exactly
  E* epochs on the windows of train + dev (the scaler stays the vocab stage's, fitted on
  train), with no dev block to stop on. Its training.csv rows carry the backtest mean curve
  (`backtest/mase`) beside the training loss. The test block is read by neither."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn

from rnnlab.nn.loop import train
from rnnlab.tasks import Fitted
from rnnlab.tasks.forecast.backtest import select
from rnnlab.tasks.forecast.data import resolved, series
from rnnlab.tasks.forecast.model import ForecastObjective
from rnnlab.tasks.forecast.params import ForecastConfig
from rnnlab.tasks.forecast.windows import Scaler, loaders, train_loader, windows


def fit(cfg: ForecastConfig, net: nn.Module, goal: ForecastObjective,
        frames: dict[str, pd.DataFrame], vocabs: dict[str, Scaler],
        encoded: dict[str, dict[str, torch.Tensor]], seed: int, trainer: Any,
        logger: Any = False, progress: bool = True) -> Fitted:
    cfg = resolved(cfg, frames)
    if cfg.train.stop_on == "dev":
        train_batches, dev_batches = loaders(cfg, encoded, seed)
        module = train(net, goal, train_batches, dev_batches, cfg.train, trainer,
                       logger=logger, progress=progress)
        return Fitted(module, {}, select(cfg, frames, seed))
    record = select(cfg, frames, seed)
    epochs, mean = record["epochs"], record["mean_curve"]
    batches = train_loader(cfg, windows(series(frames, "dev"), vocabs["scaler"]), seed)
    module = train(net, goal, batches, None, cfg.train, trainer, max_epochs=epochs,
                   logger=logger, progress=progress, select=False)
    for row in module.history:
        row["backtest/mase"] = mean[int(row["epoch"]) - 1]
    return Fitted(module, {"backtest/epochs": epochs,
                           "backtest/mean_curve_min": float(mean[epochs - 1])}, record)
