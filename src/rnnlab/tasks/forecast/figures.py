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
