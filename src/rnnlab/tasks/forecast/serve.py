"""Serving: a history (date, value) in, the next `steps` periods out.

`steps` (decode.steps, a request may set it; 0: one horizon H) is capped at MAX_BLOCKS times
the model's horizon H: past H the direct block is iterated on its own forecasts, and the error
compounds with every block, so a request for more is refused rather than answered badly.

Prediction intervals: evaluate's split-conformal half-widths per step (backtest.py, calibrated
on the RNN's backtest errors for the data.horizon_test steps after an origin) travel with the
logged model as its calibration, and every answered period gets `lower` / `upper` = forecast
-/+ its step's half-width, the nominal `level`, and `calibrated`: whether that step's width was
measured. Steps past the calibrated ones (horizon_test) reuse the last measured width, flagged
`calibrated: false`: errors usually grow with the lead time, so those intervals are likely too
narrow; a client that needs calibrated ones asks for at most horizon_test steps. A model
logged without a backtest (data.backtest.origins: 0) answers date and forecast only."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.config import ConfigError
from rnnlab.serving import CALIBRATION, BadInput, is_missing
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.model import Forecaster
from rnnlab.tasks.forecast.params import ForecastConfig
from rnnlab.tasks.forecast.windows import Scaler, origin

MAX_BLOCKS = 4  # steps <= MAX_BLOCKS * horizon
MAX_HISTORY = 100_000  # rows of a request's history (the model reads its last window only)


def max_steps(horizon: int) -> int:
    return MAX_BLOCKS * horizon


def predict_params(cfg: ForecastConfig) -> dict[str, int]:
    """pyfunc params: how many periods to forecast (decode.steps; 0 when null: one model
    horizon H, which an auto vocab.horizon only fixes at prepare)."""
    steps = cfg.decode.steps
    if steps is None:
        return {"steps": 0}
    if cfg.vocab.horizon is None:
        return {"steps": steps}  # checked against the model's H per request
    cap = max_steps(cfg.vocab.horizon)
    if not 1 <= steps <= cap:
        raise ConfigError(f"forecast.decode.steps must be in 1..{cap} ({MAX_BLOCKS} x "
                          f"vocab.horizon {cfg.vocab.horizon}), got {steps}")
    return {"steps": steps}


def interval_calibration(half_widths: np.ndarray, level: float) -> dict[str, Any]:
    """The served model's calibration (rnnlab.tasks.Evaluation.calibration): the conformal
    half-width of each step after the history's end and their nominal coverage."""
    widths = [float(w) for w in np.asarray(half_widths, dtype=np.float64).ravel()]
    if not widths or not all(np.isfinite(w) and w >= 0 for w in widths):
        raise ValueError(f"interval half-widths must be finite and >= 0, got {widths}")
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    return {"level": float(level), "half_widths": widths}


def with_intervals(out: pd.DataFrame, calibration: dict[str, Any]) -> pd.DataFrame:
    """`out` (date, forecast) plus lower, upper, level and calibrated (module docstring)."""
    widths = np.asarray(calibration["half_widths"], dtype=np.float64)
    step = np.arange(len(out))
    half = widths[np.minimum(step, len(widths) - 1)]  # past the calibrated steps: the last
    point = out["forecast"].to_numpy(dtype=np.float64)
    return out.assign(lower=point - half, upper=point + half,
                      level=float(calibration["level"]), calibrated=step < len(widths))


def input_example(cfg: ForecastConfig, frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Scaler]) -> pd.DataFrame:
    """A request (the served input example): the last periods of the history before the test
    block, a season more than the model reads."""
    from rnnlab.tasks.forecast.data import series

    s = vocabs["scaler"]
    history = series(frames, "dev").tail(s.input_len + max(s.difference, 0) + s.season_length)
    return pd.DataFrame({"date": history["date"].dt.strftime("%Y-%m-%d").tolist(),
                         "value": history["value"].astype(float).tolist()})


def model_input(raw: Any) -> pd.DataFrame:
    """A history as a DataFrame with `date` and `value` columns (or a dict / records of them;
    a two-column frame with other names is read as date, value). One request is one history,
    so this is one frame rather than a list."""
    try:
        frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(raw)
    except (ValueError, TypeError) as err:
        raise BadInput(f"expected a history with columns date and value: {err}") from None
    if not {"date", "value"} <= set(frame.columns):
        if frame.shape[1] != 2:
            raise BadInput(f"expected columns date and value, got {list(frame.columns)}")
        frame = frame.set_axis(["date", "value"], axis=1)
    if len(frame) > MAX_HISTORY:
        raise BadInput(f"history has {len(frame)} rows; at most {MAX_HISTORY}")
    return frame[["date", "value"]]


def _steps(value: Any, horizon: int) -> int:
    """A request's steps; 0 means one model horizon."""
    cap = max_steps(horizon)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise BadInput(f"steps must be an integer, got {value!r}")
    if int(value) == 0:
        return horizon
    if not 1 <= int(value) <= cap:
        raise BadInput(f"steps must be in 1..{cap} (the model forecasts {horizon} periods at "
                       f"once and iterates at most {MAX_BLOCKS} blocks), got {int(value)}")
    return int(value)


def predict(net: Forecaster, vocabs: dict[str, Scaler], history: pd.DataFrame,
            params: dict[str, Any]) -> pd.DataFrame:
    """The next `steps` periods after a history: date and forecast, and with evaluate's
    calibration lower, upper, level and calibrated (module docstring). The history is checked
    (dates parse and increase, values are finite numbers), resampled onto the training grid
    and interpolated as in training."""
    s = vocabs["scaler"]
    steps = _steps(params["steps"], net.horizon)
    history = model_input(history)
    rows = ts.parse(history.astype(str), s.freq)
    problems = []
    # a null would be read as a gap and interpolated; a request says what it means instead
    nulls = [i for i, (d, v) in enumerate(zip(history["date"], history["value"], strict=True))
             if is_missing(d) or is_missing(v)]
    if nulls:
        problems.append(f"null date or value in rows {nulls[:5]}")
    if rows["date"].isna().any():
        problems.append(f"unparseable dates in rows {rows.index[rows['date'].isna()].tolist()[:5]}")
    if not rows["is_number"].all() or np.isinf(rows["value"]).any():
        bad = rows.index[~rows["is_number"] | np.isinf(rows["value"])].tolist()[:5]
        problems.append(f"values that are not finite numbers in rows {bad}")
    back = rows["date"] < rows["date"].cummax().shift(1)
    dup = rows["date"].duplicated(keep=False) & rows["date"].notna()
    if back.any() or dup.any():
        problems.append(f"dates not strictly increasing in rows "
                        f"{rows.index[back | dup].tolist()[:5]}")
    if problems:
        raise BadInput("bad history: " + "; ".join(problems))
    regular = ts.regular(rows, s.freq, s.aggregate) if len(rows) else rows
    needs = s.input_len + max(s.difference, 0)
    if len(regular) < needs:  # one window: the model reads input_len periods after differencing
        raise BadInput(f"history has {len(regular)} periods; needs at least {needs} (shorter "
                       "than one window)")
    try:
        window = origin(regular, s)
    except ValueError as err:
        raise BadInput(str(err)) from None
    device = net.mean.device
    window = {k: v.to(device) for k, v in window.items()}
    levels = net.eval().forecast(**window, steps=steps)[0].cpu().numpy()
    dates = pd.date_range(regular["date"].iloc[-1], periods=steps + 1, freq=s.freq)[1:]
    out = pd.DataFrame({"date": [x.strftime("%Y-%m-%d") for x in dates],
                        "forecast": levels.astype(np.float64)})
    calibration = vocabs.get(CALIBRATION)
    return with_intervals(out, calibration) if calibration else out
