"""The classical forecasts the RNN is compared with, each fitted on the same history."""

from __future__ import annotations

import warnings

import numpy as np

from rnnlab.tasks.forecast.params import BaselinesConfig

NAMES = ("seasonal_naive", "drift", "ets", "sarima")


def seasonal_naive(history: np.ndarray, m: int, steps: int) -> np.ndarray:
    """Repeat the last season: ŷ<T+h> = y<T+h-m·ceil(h/m)>."""
    m = max(int(m), 1)
    last = np.asarray(history[-m:], dtype=np.float64)
    return np.resize(last, steps) if len(last) == m else np.full(steps, history[-1])


def drift(history: np.ndarray, steps: int) -> np.ndarray:
    """The line through the first and last observations, extended."""
    h = np.asarray(history, dtype=np.float64)
    slope = (h[-1] - h[0]) / max(len(h) - 1, 1)
    return h[-1] + slope * np.arange(1, steps + 1)


def ets(history: np.ndarray, m: int, steps: int, trend: str | None = "add",
        seasonal: str | None = "add", damped: bool = False) -> np.ndarray:
    """statsmodels Holt-Winters ETS (additive trend and season by default; no season if m < 2)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = seasonal if m >= 2 and len(history) >= 2 * m else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(np.asarray(history, dtype=np.float64), trend=trend,
                                   damped_trend=bool(damped and trend), seasonal=seasonal,
                                   seasonal_periods=m if seasonal else None).fit()
    return np.asarray(fit.forecast(steps))


def ets_interval(history: np.ndarray, m: int, steps: int, level: float = 0.8,
                 trend: str | None = "add", seasonal: str | None = "add",
                 damped: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """statsmodels' state-space ETS (additive errors, the same trend and season as `ets`):
    its `level` prediction interval (lower, upper) for the next `steps` periods."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = seasonal if m >= 2 and len(history) >= 2 * m else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd

        y = pd.Series(np.asarray(history, dtype=np.float64))  # its PredictionResults wants an index
        fit = ETSModel(y, error="add", trend=trend,
                       damped_trend=bool(damped and trend), seasonal=seasonal,
                       seasonal_periods=m if seasonal else None).fit(disp=False)
        frame = fit.get_prediction(start=len(history),
                                   end=len(history) + steps - 1).summary_frame(alpha=1 - level)
    return frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()


def sarima(history: np.ndarray, m: int, steps: int, order: tuple[int, ...] = (0, 1, 1),
           seasonal_order: tuple[int, ...] = (0, 1, 1)) -> np.ndarray:
    """statsmodels SARIMA(p,d,q)(P,D,Q)m (the airline model by default)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal = (*seasonal_order, m) if m >= 2 else (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SARIMAX(np.asarray(history, dtype=np.float64), order=tuple(order),
                      seasonal_order=seasonal).fit(disp=False)
    return np.asarray(fit.forecast(steps))


def baselines(b: BaselinesConfig, m: int, history: np.ndarray,
              steps: int) -> dict[str, np.ndarray]:
    """Every enabled baseline's forecast of `steps` periods after `history` (season m)."""
    out = {}
    if b.seasonal_naive.enabled:
        out["seasonal_naive"] = seasonal_naive(history, m, steps)
    if b.drift.enabled:
        out["drift"] = drift(history, steps)
    if b.ets.enabled:
        out["ets"] = ets(history, m, steps, b.ets.trend, b.ets.seasonal, b.ets.damped)
    if b.sarima.enabled:
        out["sarima"] = sarima(history, m, steps, b.sarima.order, b.sarima.seasonal_order)
    return out
