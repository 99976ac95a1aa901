"""Rolling-origin backtest (darts' historical_forecasts, statsforecast's cross_validation) and
the conformal prediction intervals calibrated on it.

Origin k = 1..K (`data.backtest.origins`) sits k x `step` periods before the test block; the
scored block is the `horizon_test` periods from the origin, so every block ends at or before
the test block starts (step >= horizon_test), and the test block is never read. Each origin's
history (everything before it) is split exactly as prepare splits the whole series (its last
`horizon_dev` periods early-stop the RNN), the scaler, the windows and a fresh RNN are fitted
on it alone, and every baseline is fitted on the same history: the one pipeline, run on a
shorter series. Trained on the CPU (the backtest nets are small and never served).

Intervals: split conformal on the RNN's absolute backtest errors. With K origins there are
only K errors per horizon step, so step h pools the errors of steps h-b .. h+b (b = H // 6)
over all origins, and its half-width is their ceil((n+1)(1-alpha))-th smallest (the finite-
sample conformal quantile; the largest when n is too small)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.tasks import SPLITS
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.data import meta, split_rows
from rnnlab.tasks.forecast.params import ForecastConfig

CPU = SimpleNamespace(accelerator="cpu", devices=1, strategy="auto", precision="32-true")


def step_of(cfg: ForecastConfig) -> int:
    b = cfg.data.backtest
    return int(b.step) if b.step else cfg.data.horizon_test


def origin_frames(frames: dict[str, pd.DataFrame], cfg: ForecastConfig,
                  k: int) -> dict[str, pd.DataFrame]:
    """The series up to origin k's block end (origin k x step periods before the test block,
    block horizon_test long), split into train / dev / test(= the scored block)."""
    d = cfg.data
    rows = pd.concat([frames[s] for s in SPLITS if s in frames], ignore_index=True)
    freq, _, _ = meta(rows)
    periods = ts.grid(rows["period"], freq)
    end = len(periods) - k * step_of(cfg)  # the block [end - horizon_test, end)
    if end - d.horizon_test - d.horizon_dev < 1:
        raise ValueError(f"backtest origin {k} leaves no training history: lower "
                         "forecast.data.backtest.origins or step")
    keep = rows["period"].isna() | (rows["period"] < periods[end])
    return split_rows(rows[keep].reset_index(drop=True), periods[:end], d.horizon_test,
                      d.horizon_dev)


def run_origin(cfg: ForecastConfig, frames: dict[str, pd.DataFrame], seed: int,
               trainer: Any = CPU) -> tuple[dict[str, float], pd.DataFrame]:
    """Fit everything on one origin's history and score its block: (the block's metrics, as
    evaluate names the test block's; its forecast-vs-actual table)."""
    import pytorch_lightning as pl

    from rnnlab.nn.loop import train
    from rnnlab.tasks.forecast.evaluate import forecast_blocks
    from rnnlab.tasks.forecast.model import build_net, net_config, objective
    from rnnlab.tasks.forecast.windows import build_vocabs, encode, loaders

    vocabs = build_vocabs(frames["train"], cfg.vocab)
    encoded = encode(frames, vocabs)
    pl.seed_everything(seed, workers=True, verbose=False)
    net = build_net(net_config(cfg, vocabs))
    goal = objective(cfg, net, vocabs)
    train_batches, dev_batches = loaders(cfg, encoded, seed)
    train(net, goal, train_batches, dev_batches, cfg.train, trainer, progress=False)
    metrics, tables = forecast_blocks(cfg, net.cpu(), frames, encoded, splits=("test",))
    return metrics, tables["forecast"]


def backtest(cfg: ForecastConfig, frames: dict[str, pd.DataFrame],
             seed: int) -> tuple[dict[str, float], pd.DataFrame, np.ndarray]:
    """(mean and spread over the origins of every model's MASE and sMAPE, the origins'
    forecast-vs-actual table, the RNN's errors [K, horizon_test])."""
    b, d = cfg.data.backtest, cfg.data
    if b.origins < 1:
        return {}, pd.DataFrame(), np.zeros((0, d.horizon_test))
    if step_of(cfg) < d.horizon_test:
        raise ValueError(f"forecast.data.backtest.step ({b.step}) must be >= data.horizon_test "
                         f"({d.horizon_test}), so that no backtest block overlaps the test block")
    scores: dict[str, list[float]] = {}
    tables, errors = [], []
    for k in range(1, b.origins + 1):
        metrics, table = run_origin(cfg, origin_frames(frames, cfg, k), seed)
        for key, value in metrics.items():
            if key.endswith(("/mase", "/smape")):
                scores.setdefault(key.replace("test/", "backtest/"), []).append(value)
        tables.append(table.assign(origin=k))
        errors.append(table["actual"].to_numpy() - table["rnn"].to_numpy())
    out = {}
    for key, values in scores.items():
        out[key] = float(np.mean(values))
        out[f"{key}_std"] = float(np.std(values))
    out["backtest/origins"] = b.origins
    return out, pd.concat(tables[::-1], ignore_index=True), np.stack(errors)


def conformal_widths(errors: np.ndarray, level: float) -> np.ndarray:
    """Half-width per horizon step [H] from the backtest errors [K, H] (module docstring)."""
    H = errors.shape[1]
    b = H // 6
    a = np.abs(errors)
    out = np.empty(H)
    for h in range(H):
        pool = np.sort(a[:, max(0, h - b):h + b + 1].ravel())
        rank = int(np.ceil((len(pool) + 1) * level))
        out[h] = pool[min(rank, len(pool)) - 1]
    return out


def interval_score(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray,
                   level: float) -> float:
    """Gneiting & Raftery's interval score, averaged over the block (lower is better)."""
    alpha = 1 - level
    below, above = actual < lower, actual > upper
    return float(np.mean(upper - lower + 2 / alpha * (lower - actual) * below
                         + 2 / alpha * (actual - upper) * above))


def interval_metrics(prefix: str, lower: np.ndarray, upper: np.ndarray, actual: np.ndarray,
                     level: float, scale: float) -> dict[str, float]:
    score = interval_score(lower, upper, actual, level)
    return {f"{prefix}/coverage": float(np.mean((actual >= lower) & (actual <= upper))),
            f"{prefix}/interval_score": score, f"{prefix}/msis": score / scale,
            f"{prefix}/interval_width": float(np.mean(upper - lower))}
