"""evaluate: the RNN's forecast of the dev and the test block next to the baselines fitted on
the same history, scored in levels (metrics.py), with a forecast-vs-actual table per block and
a figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from rnnlab.nn.loop import count_parameters
from rnnlab.tasks import Evaluation
from rnnlab.tasks.forecast.backtest import (
    conformal_widths,
    interval_metrics,
    loo_intervals,
    scores,
    select,
)
from rnnlab.tasks.forecast.baselines import NAMES, baselines, ets_interval
from rnnlab.tasks.forecast.data import resolved, series
from rnnlab.tasks.forecast.figures import backtest_figure, forecast_figure
from rnnlab.tasks.forecast.metrics import mase_scale, score
from rnnlab.tasks.forecast.model import Forecaster
from rnnlab.tasks.forecast.params import ForecastConfig
from rnnlab.tasks.forecast.serve import interval_calibration
from rnnlab.tasks.forecast.windows import Scaler


def forecast_blocks(cfg: ForecastConfig, net: Forecaster, frames: dict[str, pd.DataFrame],
                    encoded: dict[str, dict[str, torch.Tensor]],
                    splits: tuple[str, ...] = ("dev", "test"),
                    ) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """The RNN's and the baselines' forecasts of each block from the history before it, scored
    (metrics `<split>/mase`, `<baseline>/<split>/mase`, ...) and tabulated."""
    m = cfg.data.season_length
    metrics: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    full = series(frames)
    for split, before in (("dev", "train"), ("test", "dev")):
        if split not in splits:
            continue
        enc = encoded[split]
        block = series(frames, split)
        actual = block.loc[block["split"] == split, "value"].to_numpy(dtype=np.float64)
        history = series(frames, before)["value"].to_numpy()
        scale = mase_scale(history, m)
        with torch.no_grad():
            rnn = net.eval().forecast(enc["x"], enc["cal"], enc["last"], len(actual))[0].numpy()
        preds = {"rnn": rnn.astype(np.float64),
                 **baselines(cfg.baselines, m, history, len(actual))}
        for name, pred in preds.items():
            prefix = split if name == "rnn" else f"{name}/{split}"
            metrics.update({f"{prefix}/{k}": v for k, v in score(pred, actual, scale).items()})
        metrics[f"{split}/mase_scale"] = scale
        dates = full.loc[full["split"] == split, "date"]
        tables[f"{split}_forecast" if split == "dev" else "forecast"] = pd.DataFrame({
            "date": [x.strftime("%Y-%m-%d") for x in dates], "actual": actual,
            **{k: np.round(v, 4) for k, v in preds.items()}})
    return metrics, tables


def evaluate(cfg: ForecastConfig, net: Forecaster, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Scaler],
             seed: int, fit: dict | None = None) -> Evaluation:
    """The rolling-origin backtest (backtest.py: the RNN's forecasts of each origin's block
    from train's record `fit`, fitted here only when there is none, and every baseline fitted
    on the history before the origin), then the dev and test blocks, each forecast from the
    history before it, with conformal intervals from the backtest errors next to ETS's (on the
    CPU: one window each, and the committed metrics were computed there). With `stop_on:
    backtest` the served RNN was trained on the dev block too, so its dev scores are
    in-sample."""
    cfg = resolved(cfg, frames)
    d = cfg.data
    level = d.backtest.interval
    record = fit if fit is not None else select(cfg, frames, seed)
    bt_metrics, bt_table, errors = scores(cfg, frames, record)
    metrics, tables = forecast_blocks(cfg, net, frames, encoded)
    metrics.update(bt_metrics)
    test = tables["forecast"]
    actual = test["actual"].to_numpy()
    calibration = {}
    if len(errors):
        widths = conformal_widths(errors[:, :len(actual)], level)
        lower, upper = test["rnn"].to_numpy() - widths, test["rnn"].to_numpy() + widths
        test["rnn_lower"], test["rnn_upper"] = np.round(lower, 4), np.round(upper, 4)
        metrics.update(interval_metrics("test", lower, upper, actual, level,
                                        metrics["test/mase_scale"]))
        if len(errors) > 1:  # the same rule, each origin from the others: before test
            metrics.update(loo_intervals(errors[:, :len(actual)], level))
        tables["backtest"] = bt_table
        tables["intervals"] = pd.DataFrame({"step": np.arange(1, len(widths) + 1),
                                            "half_width": np.round(widths, 4)})
        # the served model's intervals: these very widths, per step after the history's end
        calibration = interval_calibration(widths, level)
    if cfg.baselines.ets.enabled:
        history = series(frames, "dev")["value"].to_numpy()
        e = cfg.baselines.ets
        lo, hi = ets_interval(history, d.season_length, len(actual), level, e.trend,
                              e.seasonal, e.damped)
        test["ets_lower"], test["ets_upper"] = np.round(lo, 4), np.round(hi, 4)
        metrics.update(interval_metrics("ets/test", lo, hi, actual, level,
                                        metrics["test/mase_scale"]))
    metrics["model/params"] = count_parameters(net)
    metrics["model/members"] = len(net.members)
    full = series(frames)
    examples = [f"{d.source}: test block {test['date'].iloc[0]} .. {test['date'].iloc[-1]}, "
                f"MASE scale {metrics['test/mase_scale']:.4f}"]
    examples += [f"{r.date} actual={r.actual:.2f} rnn={r.rnn:.2f}"
                 + "".join(f" {b}={getattr(r, b):.2f}" for b in NAMES if b in test)
                 for r in test.head(12).itertuples()]
    return Evaluation(
        metrics=metrics, tables=tables, examples=examples, calibration=calibration,
        files={"forecast.png": lambda path: forecast_figure(full, tables, d, path),
               "backtest.png": lambda path: backtest_figure(full, bt_table, d, path)})
