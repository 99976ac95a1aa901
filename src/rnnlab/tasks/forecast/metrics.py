"""The forecast scores, written once: the same functions score the dev block every epoch
(torch tensors, float32, [B, H] -> [B]) and the dev and test blocks in evaluate (numpy
float64, [H] -> a scalar). They use only operations numpy arrays and torch tensors share
(`abs`, arithmetic, `.mean(-1)`), so each keeps its own dtype."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

Array = TypeVar("Array")  # np.ndarray or torch.Tensor


def mase_scale(history: np.ndarray, m: int) -> float:
    """MASE's denominator: the in-sample MAE of the seasonal-naive forecast (lag m; m = 1:
    the naive one) over the history a forecast is made from."""
    m = max(int(m), 1)
    h = np.asarray(history, dtype=np.float64)
    return float(np.mean(np.abs(h[m:] - h[:-m]))) if len(h) > m else float("nan")


def mase(forecast: Array, actual: Array, scale: Array | float) -> Array:
    """Mean absolute scaled error per series: MAE / `mase_scale` of its history."""
    return abs(forecast - actual).mean(-1) / scale


def smape(forecast: Array, actual: Array) -> Array:
    """Symmetric MAPE in percent per series: mean 200 |f - y| / (|f| + |y|) (0 where both
    are 0)."""
    denom = abs(forecast) + abs(actual)
    return (200 * abs(forecast - actual) / (denom + (denom == 0))).mean(-1)


def score(forecast: np.ndarray, actual: np.ndarray, scale: float) -> dict[str, float]:
    """MASE, sMAPE, MAE and RMSE of one forecast of a block, in levels."""
    f, y = np.asarray(forecast, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    err = f - y
    return {"mase": float(mase(f, y, scale)), "smape": float(smape(f, y)),
            "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2)))}
