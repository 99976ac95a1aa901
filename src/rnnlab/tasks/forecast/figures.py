"""The forecast figure: the end of the training history, then the dev and the test block with
the RNN's and the baselines' forecasts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnlab.tasks.forecast.params import DataConfig


def forecast_figure(full: pd.DataFrame, tables: dict[str, pd.DataFrame], d: DataConfig,
                    path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab import plots

    n_ctx = 4 * max(d.horizon_test, d.season_length)
    ctx = full[full["split"] == "train"].tail(n_ctx)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(ctx["date"], ctx["value"], color="0.6", label="history (train)")
    styles = {"rnn": "C3", "seasonal_naive": "C0", "drift": "C1", "ets": "C2", "sarima": "C4"}
    for stem, table in (("dev", tables["dev_forecast"]), ("test", tables["forecast"])):
        dates = pd.to_datetime(table["date"])
        ax.plot(dates, table["actual"], color="k", lw=1.5,
                label="actual" if stem == "dev" else None)
        for name, color in styles.items():
            if name in table:
                ax.plot(dates, table[name], color=color, lw=1.2 if name == "rnn" else 0.8,
                        ls="-" if name == "rnn" else "--", label=name if stem == "dev" else None)
        ax.axvline(dates.iloc[0], color="0.8", lw=0.8)
    ax.set_title(f"{d.source}: dev and test forecasts from the history before each block")
    ax.legend(ncol=3, fontsize=8)
    plots.save(fig, path)


def backtest_figure(full: pd.DataFrame, table: pd.DataFrame, d: DataConfig, path: Path) -> None:
    """The backtest blocks: each origin's forecasts (from the history before it) vs actual."""
    import matplotlib.pyplot as plt

    from rnnlab import plots

    fig, ax = plt.subplots(figsize=(10, 4))
    dates = pd.to_datetime(table["date"]) if len(table) else pd.DatetimeIndex([])
    first = dates.min() if len(table) else None
    ctx = full[(full["split"] != "test") & (full["date"] >= first)] if first is not None else full
    ax.plot(ctx["date"], ctx["value"], color="k", lw=1.2, label="actual")
    styles = {"rnn": "C3", "seasonal_naive": "C0", "drift": "C1", "ets": "C2", "sarima": "C4"}
    for i, (_, block) in enumerate(table.groupby("origin")):
        bd = pd.to_datetime(block["date"])
        for name, color in styles.items():
            if name in block:
                ax.plot(bd, block[name], color=color, lw=1.2 if name == "rnn" else 0.8,
                        ls="-" if name == "rnn" else "--", label=name if i == 0 else None)
        ax.axvline(bd.iloc[0], color="0.8", lw=0.8)
    ax.set_title(f"{d.source}: rolling-origin backtest, each block from the history before it")
    ax.legend(ncol=3, fontsize=8)
    plots.save(fig, path)
