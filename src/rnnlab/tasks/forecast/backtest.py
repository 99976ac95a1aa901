"""Rolling-origin backtest (darts' historical_forecasts, statsforecast's cross_validation),
the epoch count chosen on it, and the conformal prediction intervals calibrated on it.

Origin k = 1..K (`data.backtest.origins`) sits k x `step` periods before the test block; the
scored block is the `horizon_test` periods from the origin, so every block ends at or before
the test block starts (step >= horizon_test), and the test block is never read. Each origin's
history (everything before it) is split exactly as prepare splits the whole series, the
scaler, the windows and a fresh RNN are fitted on it alone, and every baseline is fitted on
the same history: the one pipeline, run on a shorter series. Trained on the CPU (the backtest
nets are small and never served). The train stage runs the fits (`select`) and records the
RNN's forecast of each block (models/forecast-fit/fit.json); evaluate scores that record next
to the baselines (`scores`) and never refits.

`train.stop_on` says how the epochs are chosen, for the origins as for the served model:
- `dev`: each origin's RNN trains on its train part and early-stops on its last `horizon_dev`
  periods (best epoch, `train.patience`), as the served model does on the dev block.
- `backtest`: each origin's RNN trains `train.max_epochs` epochs on all of its history (train +
  dev) and its block's MASE is recorded after every epoch (no early stopping, so every curve
  is whole). The epoch count E* is the argmin of the mean curve over the origins, and the
  served model trains E* epochs on train + dev. So that the backtest scores the procedure and
  not its own choice, origin k is scored at the argmin of the mean curve of the *other*
  origins (leave one origin out; K >= 2), and its errors calibrate the intervals.

Intervals: split conformal on the RNN's absolute backtest errors. With K origins there are
only K errors per horizon step, so step h pools the errors of steps h-b .. h+b (b = H // 6)
over all origins, and its half-width is their ceil((n+1)(1-alpha))-th smallest (the finite-
sample conformal quantile; the largest when n is too small). `backtest/coverage` and
`backtest/interval_score` score the rule on the backtest before test: each origin against the
widths of the others."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.tasks import SPLITS
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.data import meta, series, split_rows
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


def fit_origin(cfg: ForecastConfig, frames: dict[str, pd.DataFrame], seed: int,
               trainer: Any = CPU) -> dict[str, Any]:
    """Fit a fresh scaler and RNN on one origin's history (`train.stop_on`, module
    docstring). dev: {"epochs_run", "epoch" (the best dev epoch), "forecast" (of the block)};
    backtest: {"epochs_run", "curve" (the block's MASE after each epoch), "forecasts" (the
    block's forecast after each epoch)}."""
    import pytorch_lightning as pl
    import torch

    from rnnlab.nn.loop import train
    from rnnlab.tasks.forecast.model import build_net, net_config, objective
    from rnnlab.tasks.forecast.windows import (
        block_loader,
        build_vocabs,
        encode,
        loaders,
        train_loader,
        windows,
    )

    vocabs = build_vocabs(frames["train"], cfg.vocab)
    encoded = encode(frames, vocabs)
    block = encoded["test"]  # the origin's scored block, from all the history before it
    pl.seed_everything(seed, workers=True, verbose=False)
    net = build_net(net_config(cfg, vocabs))
    goal = objective(cfg, net, vocabs)
    if cfg.train.stop_on == "dev":
        train_batches, dev_batches = loaders(cfg, encoded, seed)
        module = train(net, goal, train_batches, dev_batches, cfg.train, trainer,
                       progress=False)
        curve = [row["dev/mase"] for row in module.history]
        with torch.no_grad():
            levels = net.cpu().eval().forecast(block["x"], block["cal"], block["last"],
                                               block["actual"].shape[1])[0]
        return {"epochs_run": len(curve), "epoch": int(np.argmin(curve)) + 1 if curve else 0,
                "forecast": levels.double().tolist()}
    goal.keep_forecasts()
    history = windows(series(frames, "dev"), vocabs["scaler"])  # train + dev: all its past
    module = train(net, goal, train_loader(cfg, history, seed), block_loader(block),
                   cfg.train, trainer, progress=False, select=False)
    kept = goal.kept[len(goal.kept) - len(module.history):]  # a sanity pass comes first
    return {"epochs_run": len(module.history),
            "curve": [row["dev/mase"] for row in module.history],
            "forecasts": [levels[0].double().tolist() for levels in kept]}


def choose(curves: np.ndarray) -> int:
    """The epoch (1-based) at the minimum of the mean of `curves` [K, epochs]."""
    mean = np.asarray(curves, dtype=np.float64).mean(0)
    if not np.isfinite(mean).any():
        raise ValueError("every backtest curve is non-finite: no epoch count to choose")
    return int(np.nanargmin(mean)) + 1


def select(cfg: ForecastConfig, frames: dict[str, pd.DataFrame], seed: int) -> dict[str, Any]:
    """Fit every origin (`fit_origin`) and record what evaluate scores: {"stop_on", "origins":
    [{"origin", "epoch" (the one scored), "forecast", ...}], and for backtest "epochs" (E*, the
    served model's) and "mean_curve"}. `cfg` carries the resolved settings."""
    b, d, mode = cfg.data.backtest, cfg.data, cfg.train.stop_on
    if mode == "backtest" and b.origins < 2:
        raise ValueError(f"forecast.train.stop_on: backtest chooses the epochs on the backtest "
                         f"and scores each origin on the others' choice: set "
                         f"forecast.data.backtest.origins >= 2 (it is {b.origins}), or "
                         f"stop_on: dev")
    if b.origins < 1:
        return {"stop_on": mode, "origins": []}
    if step_of(cfg) < d.horizon_test:
        raise ValueError(f"forecast.data.backtest.step ({b.step}) must be >= data.horizon_test "
                         f"({d.horizon_test}), so that no backtest block overlaps the test block")
    fits = [fit_origin(cfg, origin_frames(frames, cfg, k), seed)
            for k in range(1, b.origins + 1)]
    if mode == "dev":
        return {"stop_on": mode, "origins": [{"origin": k, **f}
                                             for k, f in enumerate(fits, start=1)]}
    curves = np.array([f["curve"] for f in fits])  # [K, max_epochs]: no early stopping
    origins = []
    for k, f in enumerate(fits, start=1):
        epoch = choose(np.delete(curves, k - 1, axis=0))  # the others' choice
        origins.append({"origin": k, "epoch": epoch, "epochs_run": f["epochs_run"],
                        "curve": f["curve"], "forecast": f["forecasts"][epoch - 1]})
    return {"stop_on": mode, "epochs": choose(curves),
            "mean_curve": curves.mean(0).tolist(), "origins": origins}


def scores(cfg: ForecastConfig, frames: dict[str, pd.DataFrame], record: dict[str, Any]
           ) -> tuple[dict[str, float], pd.DataFrame, np.ndarray]:
    """(mean and spread over the origins of every model's MASE and sMAPE and of ETS's interval
    coverage and score, the origins' forecast-vs-actual table, the RNN's errors [K,
    horizon_test]) from `select`'s record of the RNN's forecasts and the baselines fitted here
    on each origin's history."""
    from rnnlab.tasks.forecast.baselines import baselines, ets_interval
    from rnnlab.tasks.forecast.metrics import mase_scale, score

    d, m = cfg.data, cfg.data.season_length
    e, level = cfg.baselines.ets, d.backtest.interval
    if not record["origins"]:
        return {}, pd.DataFrame(), np.zeros((0, d.horizon_test))
    values: dict[str, list[float]] = {}
    tables, errors = [], []
    for o in record["origins"]:
        part = origin_frames(frames, cfg, o["origin"])
        history = series(part, "dev")["value"].to_numpy()
        block = series(part, "test")
        block = block[block["split"] == "test"]
        actual = block["value"].to_numpy(dtype=np.float64)
        scale = mase_scale(history, m)
        preds = {"rnn": np.asarray(o["forecast"], dtype=np.float64)[:len(actual)],
                 **baselines(cfg.baselines, m, history, len(actual))}
        for name, pred in preds.items():
            prefix = "backtest" if name == "rnn" else f"{name}/backtest"
            for key, value in score(pred, actual, scale).items():
                if key in ("mase", "smape"):
                    values.setdefault(f"{prefix}/{key}", []).append(value)
        if e.enabled:  # ETS's own interval on the same block, beside the RNN's (loo_intervals)
            lo, hi = ets_interval(history, m, len(actual), level, e.trend, e.seasonal, e.damped)
            for key, value in interval_metrics("ets/backtest", lo, hi, actual, level,
                                               scale).items():
                if key.endswith(("coverage", "interval_score")):
                    values.setdefault(key, []).append(value)
        table = pd.DataFrame({"date": [x.strftime("%Y-%m-%d") for x in block["date"]],
                              "actual": actual, **{k: np.round(v, 4) for k, v in preds.items()}})
        tables.append(table.assign(origin=o["origin"]))
        errors.append(table["actual"].to_numpy() - table["rnn"].to_numpy())
    out: dict[str, float] = {}
    for key, got in values.items():
        out[key] = float(np.mean(got))
        out[f"{key}_std"] = float(np.std(got))
    out["backtest/origins"] = len(record["origins"])
    if "epochs" in record:
        out["backtest/epochs"] = record["epochs"]
    return out, pd.concat(tables[::-1], ignore_index=True), np.stack(errors)


def backtest(cfg: ForecastConfig, frames: dict[str, pd.DataFrame],
             seed: int) -> tuple[dict[str, float], pd.DataFrame, np.ndarray]:
    """`select` then `scores`: the fits and their scores in one call."""
    return scores(cfg, frames, select(cfg, frames, seed))


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


def loo_intervals(errors: np.ndarray, level: float) -> dict[str, float]:
    """The conformal rule scored on the backtest itself, known before the test block is read:
    each origin's errors [H] against the half-widths calibrated on the other origins' (leave
    one origin out; K >= 2), averaged over the origins. `backtest/coverage` and
    `backtest/interval_score` (in the series' units: a proper score, so the one to compare
    interval rules or settings by, coverage alone rewards width)."""
    covered, score = [], []
    for k in range(len(errors)):  # the error against the interval [-w, w] around zero
        w = conformal_widths(np.delete(errors, k, 0), level)
        covered.append(np.mean(np.abs(errors[k]) <= w))
        score.append(interval_score(-w, w, errors[k], level))
    return {"backtest/coverage": float(np.mean(covered)),
            "backtest/interval_score": float(np.mean(score))}


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
