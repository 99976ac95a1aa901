"""Forecasting a real time series: the lecture lab's "RNN for forecasting", where order is the
point and the sequence is longitudinal data (many-to-one: a window of L past values -> the next
H values).

Data: the Mauna Loa CO2 series that ships inside statsmodels (weekly, resampled to 526 monthly
means, 1958-03 .. 2001-12, gaps interpolated), yearly sunspots (statsmodels, 1700 .. 2008), or
any CSV with a date and a value column (`data.freq` set or inferred). The last
`data.horizon_test` periods are the test block, never seen in training nor in early stopping;
the `data.horizon_dev` periods before them are dev; the rest is train.

Stages keep their names: `vocab` fits the scaling and differencing on the training part only
(a `Scaler`, saved as JSON) and `encode` cuts windows (train: every window inside train; dev:
one forecast of the dev block from the training history; test: one forecast of the test block
from the history before it, which reads the end of dev).

Model: the chosen cell reads x<1..L> (first differences, scaled, by default) with the month of
year as an exogenous calendar input (one-hot or embedded, `encoding`), and its final state
gives all H future values at once (direct multi-output, `rnnlab.nn.architectures.Forecaster`).
Direct rather than recursive: every step of the horizon gets its own output, so errors are not
fed back and compounded over 36 steps, and the loss (`train.loss: level`) is the error of the
implied levels over exactly the horizon the metric scores. When `vocab.horizon` is shorter than
the block to forecast, the direct block is iterated (recursive over blocks).

Scores: MASE (MAE scaled by the in-sample MAE of the seasonal-naive forecast, lag
`data.season_length`, over the history the forecast is made from) and sMAPE on the test block,
next to seasonal naive, drift, ETS (additive trend and season) and, optionally, SARIMA fitted
on the same history.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig
from rnnlab.data import series as ts
from rnnlab.lightning import ForecastModule, window_loader
from rnnlab.nn.architectures import Forecaster, count_parameters
from rnnlab.tasks import SPLITS

SOURCES = ("co2", "sunspots", "csv")
SCALINGS = ("standard", "none")
BASELINES = ("seasonal_naive", "drift", "ets", "sarima")
# net.json keys that serving needs but the network does not take
SERVING_KEYS = ("steps",)
MONITOR = "dev/mase"
MONITOR_MODE = "min"
PRIMARY_MODE = "min"  # the champion is the lowest dev MASE
REQUIREMENTS = ("statsmodels",)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class WindowConfig:
    """forecast.vocab: how the series becomes windows (fitted on the training part only)."""

    input_len: int = 48          # L: past periods the RNN reads
    horizon: int = 36            # H: periods predicted at once (direct multi-output)
    difference: int = 1          # k: model z<t> = y<t> - y<t-k> (0: the levels themselves)
    scale: str = "standard"      # standard: (z - mean) / std of the training z | none
    stride: int = 1              # step between consecutive training windows


@dataclass(frozen=True)
class ForecastModelConfig(ModelConfig):
    bidirectional: bool = False  # the window is all past, so a backward pass is allowed, not needed
    embedding_dim: int = 4       # encoding embedding: width of the learnt calendar embedding
    dropout: float = 0.0
    calendar: bool = True        # month of year (quarter, week, weekday) as an exogenous input
    members: int = 1             # >1: seeded ensemble of independent RNNs, forecasts averaged


@dataclass(frozen=True)
class ForecastTrainConfig(TrainConfig):
    loss: str = "level"          # level: MSE of the implied level errors | step: MSE per step
    bucket: bool = False         # windows all have length L: nothing to bucket
    word_dropout: float = 0.0


VOCAB_CONFIG, MODEL_CONFIG, TRAIN_CONFIG = WindowConfig, ForecastModelConfig, ForecastTrainConfig


def _data(cfg: TaskConfig) -> dict[str, Any]:
    d = cfg.data
    return {"source": d.get("source", "co2"), "freq": d.get("freq", "MS"),
            "aggregate": d.get("aggregate", "mean"),
            "season_length": int(d.get("season_length", 12)),
            "horizon_test": int(d.get("horizon_test", 36)),
            "horizon_dev": int(d.get("horizon_dev", 36))}


# ---------------------------------------------------------------- data


def calendar_period(freq: str) -> int:
    """Positions in the calendar cycle the model is told about: 12 months, 4 quarters,
    52 weeks, 7 weekdays; 1 (no calendar input) for yearly and other frequencies."""
    code = pd.tseries.frequencies.to_offset(freq).name.split("-")[0]
    return {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7,
            "B": 7}.get(code, 1)


def calendar_ids(dates: pd.DatetimeIndex | pd.Series, period: int) -> np.ndarray:
    """1-based position of each date in its calendar cycle (0 = no calendar)."""
    d = pd.DatetimeIndex(dates)
    if period == 12:
        return d.month.to_numpy(dtype=np.int64)
    if period == 4:
        return d.quarter.to_numpy(dtype=np.int64)
    if period == 52:
        return np.minimum(d.isocalendar().week.to_numpy(dtype=np.int64), 52)
    if period == 7:
        return d.dayofweek.to_numpy(dtype=np.int64) + 1
    return np.zeros(len(d), dtype=np.int64)


def prepare(cfg: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    """Raw rows of the series, kept as they came (validation judges them), each with the grid
    period it falls into, split by period: the last horizon_test periods are test, the
    horizon_dev before them dev. Periods without any row get a placeholder row (row -1), so
    every split holds all of its periods; a row whose date does not parse stays in train."""
    d = _data(cfg)
    if d["source"] in ts.BUILTIN:
        raw = ts.builtin(d["source"])
    elif d["source"] == "csv":
        raw = ts.read_csv(cfg.data["path"], cfg.data.get("date_column", "date"),
                          cfg.data.get("value_column", "value"))
    else:
        raise ValueError(f"forecast.data.source must be one of {SOURCES}, got {d['source']!r}")
    freq, exact = d["freq"], True
    if freq == "infer":
        freq, exact = ts.infer_freq(pd.to_datetime(raw["date"], errors="coerce",
                                                   format="mixed"))
    rows = ts.parse(raw, freq)
    periods = ts.grid(rows["period"], freq)
    empty = periods.difference(pd.DatetimeIndex(rows["period"].dropna()))
    if len(empty):
        rows = pd.concat([rows, pd.DataFrame({
            "row": -1, "date_raw": "", "value_raw": "", "date": pd.NaT, "value": np.nan,
            "is_number": True, "period": empty})], ignore_index=True)
    n, ht, hd = len(periods), d["horizon_test"], d["horizon_dev"]
    test_start = periods[max(n - ht, 0)] if n else pd.Timestamp.max
    dev_start = periods[max(n - ht - hd, 0)] if n else pd.Timestamp.max
    split = np.where(rows["period"] >= test_start, "test",
                     np.where(rows["period"] >= dev_start, "dev", "train"))
    split[rows["period"].isna().to_numpy()] = "train"
    rows = rows.assign(freq=freq, freq_exact=exact, aggregate=d["aggregate"],
                       season_length=d["season_length"])
    out = {}
    for s in SPLITS:
        part = rows[split == s].sort_values(["period", "row"], na_position="last")
        out[s] = part.reset_index(drop=True)
    return out


def _meta(frame: pd.DataFrame) -> tuple[str, str, int]:
    first = frame.iloc[0]
    return str(first["freq"]), str(first["aggregate"]), int(first["season_length"])


def series(frames: dict[str, pd.DataFrame], upto: str = "test") -> pd.DataFrame:
    """The regular series of the splits up to `upto` (train < dev < test): one value per
    period, gaps interpolated from those splits only (the test block never fills a gap of the
    history), with each period's split."""
    keep = SPLITS[: SPLITS.index(upto) + 1]
    rows = pd.concat([frames[s].assign(split=s) for s in keep], ignore_index=True)
    freq, aggregate, _ = _meta(rows)
    out = ts.regular(rows, freq, aggregate)
    split_of = rows.dropna(subset=["period"]).drop_duplicates("period").set_index("period")
    out["split"] = split_of["split"].reindex(out["date"]).to_numpy()
    return out


def train_windows(n_train: int, input_len: int, horizon: int, difference: int,
                  stride: int = 1) -> int:
    """How many full windows (k + L inputs, H targets) fit in n_train periods."""
    span = n_train - max(difference, 0) - input_len - horizon + 1
    return max(0, -(-span // max(stride, 1)))


def checks(cfg: TaskConfig, frames: dict[str, pd.DataFrame]) -> list:
    """Row-level (as the source gave them), period-level (after resampling) and series-level
    Great Expectations suites."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v, d, w = cfg.validation, _data(cfg), cfg.vocab
    lo, hi = float(v.get("min_value", -np.inf)), float(v.get("max_value", np.inf))
    max_missing, max_gap = float(v.get("max_missing_fraction", 0.05)), int(v.get("max_gap", 3))
    min_windows = int(v.get("min_train_windows", 1))

    every = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    freq = str(every["freq"].iloc[0]) if len(every) else d["freq"]
    rows = every[every["row"] >= 0].sort_values("row").reset_index(drop=True)
    present = rows["value"].notna()
    rows["finite"] = ~present | np.isfinite(rows["value"].fillna(0.0))
    previous = rows["date"].cummax().shift(1)
    rows["in_order"] = ~(rows["date"] < previous)
    rows["duplicated"] = rows["date"].notna() & rows.duplicated("date", keep=False)
    rows["per_period"] = rows.groupby("period")["row"].transform("size").fillna(0)
    rows["in_bounds_value"] = rows["value"].where(np.isfinite(rows["value"]))
    rows["as_written"] = rows["date_raw"].astype(str) + "," + rows["value_raw"].astype(str)
    rows["date"] = _text(rows["date"])  # GX reports dates as JSON: ISO text, None if unparsed
    rows["period"] = _text(rows["period"])

    ids = ["split", "row"]
    row_suite = [
        gxe.ExpectColumnValuesToNotBeNull(
            column="date", description="every date parses"),
        gxe.ExpectColumnValuesToBeInSet(
            column="is_number", value_set=[True],
            description="every value is a number (empty/NaN counts as missing)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="finite", value_set=[True], description="values are finite (no inf)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="in_bounds_value", min_value=lo, max_value=hi,
            description=f"values within the plausible bounds [{lo:g}, {hi:g}]"),
        gxe.ExpectColumnValuesToBeInSet(
            column="duplicated", value_set=[False], description="timestamps are unique"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_order", value_set=[True],
            description="timestamps increase (no row dated before the row above it)"),
    ]
    if d["aggregate"] == "none":
        row_suite.append(gxe.ExpectColumnValuesToBeBetween(
            column="per_period", max_value=1,
            description=f"at most one row per {freq} period (aggregate: none)"))

    regular = ts.resample(every, freq, d["aggregate"])
    regular["split"] = (every.dropna(subset=["period"]).drop_duplicates("period")
                        .set_index("period")["split"].reindex(regular["date"]).to_numpy())
    empty = regular["observed"].isna().to_numpy()
    run_id = np.cumsum(~empty)
    run = pd.Series(empty.astype(int)).groupby(run_id).transform("sum").to_numpy()
    regular["empty_run"] = np.where(empty, run, 0)
    regular["date"] = _text(regular["date"])
    period_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="empty_run", max_value=max_gap,
        description=f"at most {max_gap} consecutive {freq} periods without a value: the "
                    "frequency is regular after resampling")]

    n = {s: int((regular["split"] == s).sum()) for s in SPLITS}
    missing = float(empty.mean()) if len(empty) else 1.0
    windows = train_windows(n["train"], w.input_len, w.horizon, w.difference, w.stride)
    need = max(w.difference, 0) + w.input_len + w.horizon + min_windows - 1
    summary = pd.DataFrame([{
        "series": d["source"], "periods": len(regular), "missing_fraction": missing,
        "train_windows": windows, "dev_periods": n["dev"], "test_periods": n["test"],
        "freq_exact": bool(every["freq_exact"].all()) if len(every) else False}])
    missing_dates = regular.loc[empty, "date"][:5].tolist()
    series_suite = [
        gxe.ExpectColumnValuesToBeBetween(
            column="missing_fraction", max_value=max_missing,
            description=f"at most {max_missing:.0%} of the periods missing before "
                        f"interpolation ({int(empty.sum())} of {len(empty)}"
                        + (f", first {', '.join(missing_dates)}" if missing_dates else "")
                        + ")"),
        gxe.ExpectColumnValuesToBeBetween(
            column="train_windows", min_value=min_windows,
            description=f"enough points for the windows: train needs {need} periods for "
                        f"{min_windows} window(s) of {w.difference}+{w.input_len} inputs and "
                        f"{w.horizon} targets, and has {n['train']}"),
        gxe.ExpectColumnValuesToBeBetween(
            column="dev_periods", min_value=d["horizon_dev"], max_value=d["horizon_dev"],
            description=f"dev holds {d['horizon_dev']} periods"),
        gxe.ExpectColumnValuesToBeBetween(
            column="test_periods", min_value=d["horizon_test"], max_value=d["horizon_test"],
            description=f"test holds the last {d['horizon_test']} periods"),
    ]
    if d["freq"] == "infer":
        series_suite.append(gxe.ExpectColumnValuesToBeInSet(
            column="freq_exact", value_set=[True],
            description=f"pandas infers a regular frequency from the dates (nearest: {freq})"))
    stats = {s: {"periods": n[s], "rows": int((rows["split"] == s).sum()),
                 "missing_periods": int((empty & (regular["split"] == s).to_numpy()).sum()),
                 "first": regular.loc[regular["split"] == s, "date"].min(),
                 "last": regular.loc[regular["split"] == s, "date"].max()}
             for s in SPLITS}
    return [Check("rows", rows, row_suite, ids, "as_written", stats=stats),
            Check("periods", regular, period_suite, ["split", "date"]),
            Check("series", summary, series_suite, ["series"])]


def _text(dates: pd.Series) -> pd.Series:
    return pd.Series([None if pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d")
                      for x in dates], index=dates.index, dtype=object)


# ---------------------------------------------------------------- scaling and windows


@dataclass
class Scaler:
    """The fitted transformation: z<t> = (y<t> - y<t-k> - mean) / std, with mean and std of the
    training part only, plus the window settings and the grid it was fitted on."""

    input_len: int
    horizon: int
    difference: int
    scale: str
    mean: float
    std: float
    n_fit: int
    freq: str
    aggregate: str
    season_length: int
    period: int
    stride: int = 1

    @classmethod
    def fit(cls, values: np.ndarray, window: WindowConfig, freq: str, aggregate: str,
            season_length: int) -> Scaler:
        if window.scale not in SCALINGS:
            raise ValueError(f"forecast.vocab.scale must be one of {SCALINGS}")
        if window.input_len < 1 or window.horizon < 1 or window.difference < 0:
            raise ValueError("forecast.vocab: input_len and horizon >= 1, difference >= 0")
        z = cls._diff(np.asarray(values, dtype=np.float64), window.difference)
        z = z[np.isfinite(z)]
        mean, std = (float(z.mean()), float(z.std())) if window.scale == "standard" and len(z) \
            else (0.0, 1.0)
        return cls(window.input_len, window.horizon, window.difference, window.scale, mean,
                   std if std > 0 else 1.0, len(values), freq, aggregate, season_length,
                   calendar_period(freq), window.stride)

    @staticmethod
    def _diff(y: np.ndarray, k: int) -> np.ndarray:
        if k <= 0:
            return y.copy()
        out = np.full_like(y, np.nan)
        out[k:] = y[k:] - y[:-k]
        return out

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (self._diff(np.asarray(values, dtype=np.float64), self.difference)
                - self.mean) / self.std

    @property
    def keep(self) -> int:
        """History levels the inversion needs (the last k, at least 1)."""
        return max(self.difference, 1)

    def __len__(self) -> int:
        return self.n_fit

    def save(self, path: str | Path) -> None:
        from rnnlab.io import write_json

        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> Scaler:
        return cls(**json.loads(Path(path).read_text()))


def load_vocab(path: str | Path) -> Scaler:
    return Scaler.load(path)


def build_vocabs(train: pd.DataFrame, vocab_cfg: WindowConfig) -> dict[str, Scaler]:
    freq, aggregate, m = _meta(train)
    y = ts.regular(train, freq, aggregate)["value"].to_numpy()
    return {"scaler": Scaler.fit(y, vocab_cfg, freq, aggregate, m)}


def vocab_metrics(frames: dict[str, pd.DataFrame], vocabs: dict[str, Scaler]) -> dict[str, float]:
    s = vocabs["scaler"]
    full = series(frames)
    out = {f"{split}/periods": int((full["split"] == split).sum()) for split in SPLITS}
    out.update({f"{split}/missing_periods": int(full.loc[full["split"] == split,
                                                         "observed"].isna().sum())
                for split in SPLITS})
    out.update({"scaler/mean": s.mean, "scaler/std": s.std,
                "train/windows": train_windows(s.n_fit, s.input_len, s.horizon, s.difference,
                                               s.stride)})
    return out


def mase_scale(history: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal-naive forecast (lag m; m = 1: the naive one)."""
    m = max(int(m), 1)
    h = np.asarray(history, dtype=np.float64)
    return float(np.mean(np.abs(h[m:] - h[:-m]))) if len(h) > m else float("nan")


def origin(history: pd.DataFrame, scaler: Scaler, actual: np.ndarray | None = None,
           m: int | None = None) -> dict[str, torch.Tensor]:
    """One forecast origin: the last window of `history` (date, value), the levels the
    inversion needs, and (when given) the actual block and the MASE scale."""
    y = history["value"].to_numpy(dtype=np.float64)
    L = scaler.input_len
    if len(y) < L + scaler.difference:
        raise ValueError(f"a history of {len(y)} periods is shorter than one window "
                         f"({scaler.difference} + {L})")
    z = scaler.transform(y)
    cal = calendar_ids(history["date"], scaler.period)
    out = {"x": torch.tensor(z[-L:], dtype=torch.float32)[None],
           "cal": torch.tensor(cal[-L:], dtype=torch.long)[None],
           "last": torch.tensor(y[-scaler.keep:], dtype=torch.float32)[None]}
    if actual is not None:
        out["actual"] = torch.tensor(np.asarray(actual), dtype=torch.float32)[None]
        out["scale"] = torch.tensor([mase_scale(y, m or scaler.season_length)],
                                    dtype=torch.float32)
    return out


def encode_splits(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Scaler]) -> dict[str, dict[str, torch.Tensor]]:
    """train: every window inside the training part, x [N, L], cal [N, L], target [N, H]
    (scaled, differenced); dev / test: one origin each (the history before the block), with
    the block's actual levels [1, H_block] and the MASE scale of that history."""
    s = vocabs["scaler"]
    train = series(frames, "train")
    y, cal = train["value"].to_numpy(), calendar_ids(train["date"], s.period)
    z = s.transform(y)
    L, H, k = s.input_len, s.horizon, s.difference
    starts = range(k + L, len(z) - H + 1, max(s.stride, 1))
    out = {"train": {
        "x": torch.tensor(np.stack([z[o - L:o] for o in starts]) if len(starts) else
                          np.zeros((0, L)), dtype=torch.float32),
        "cal": torch.tensor(np.stack([cal[o - L:o] for o in starts]) if len(starts) else
                            np.zeros((0, L)), dtype=torch.long),
        "target": torch.tensor(np.stack([z[o:o + H] for o in starts]) if len(starts) else
                               np.zeros((0, H)), dtype=torch.float32)}}
    for split, before in (("dev", "train"), ("test", "dev")):
        history = series(frames, before)
        block = series(frames, split)
        actual = block.loc[block["split"] == split, "value"].to_numpy()
        out[split] = origin(history, s, actual)
    return out


def loaders(cfg: TaskConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[Any, Any]:
    return (window_loader(encoded["train"], cfg.train.batch_size, shuffle=True, seed=seed),
            window_loader(encoded["dev"], 256))


# ---------------------------------------------------------------- model


def net_config(cfg: TaskConfig, vocabs: dict[str, Scaler]) -> dict[str, Any]:
    m, s = cfg.model, vocabs["scaler"]
    return {"input_len": s.input_len, "horizon": s.horizon, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "calendar": m.calendar, "period": s.period,
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "members": m.members,
            "mean": s.mean, "std": s.std, "difference": s.difference,
            # serving: how many periods a plain predict forecasts (the test block's length)
            "steps": _data(cfg)["horizon_test"]}


def build_net(config: dict[str, Any]) -> nn.Module:
    net = Forecaster(**{k: v for k, v in config.items() if k not in SERVING_KEYS})
    net.steps = int(config.get("steps", config["horizon"]))
    return net


def lightning_module(cfg: TaskConfig, net: nn.Module, vocabs: dict[str, Scaler]) -> ForecastModule:
    t = cfg.train
    return ForecastModule(net, lr=t.lr, weight_decay=t.weight_decay, loss=t.loss)


# ---------------------------------------------------------------- metrics and baselines


def score(forecast: np.ndarray, actual: np.ndarray, scale: float) -> dict[str, float]:
    f, y = np.asarray(forecast, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    err = f - y
    denom = np.abs(f) + np.abs(y)
    return {"mase": float(np.mean(np.abs(err)) / scale),
            "smape": float(np.mean(np.where(denom > 0, 200 * np.abs(err) / np.where(
                denom > 0, denom, 1), 0.0))),
            "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2)))}


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


def sarima(history: np.ndarray, m: int, steps: int, order: tuple = (0, 1, 1),
           seasonal_order: tuple = (0, 1, 1)) -> np.ndarray:
    """statsmodels SARIMA(p,d,q)(P,D,Q)m (the airline model by default)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal = (*seasonal_order, m) if m >= 2 else (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SARIMAX(np.asarray(history, dtype=np.float64), order=tuple(order),
                      seasonal_order=seasonal).fit(disp=False)
    return np.asarray(fit.forecast(steps))


def baselines(cfg: TaskConfig, history: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    """Every enabled baseline's forecast of `steps` periods after `history`."""
    b, m = cfg.baselines, _data(cfg)["season_length"]
    out = {}
    if b.get("seasonal_naive", {}).get("enabled", True):
        out["seasonal_naive"] = seasonal_naive(history, m, steps)
    if b.get("drift", {}).get("enabled", True):
        out["drift"] = drift(history, steps)
    e = b.get("ets", {})
    if e.get("enabled", True):
        out["ets"] = ets(history, m, steps, e.get("trend", "add"), e.get("seasonal", "add"),
                         e.get("damped", False))
    s = b.get("sarima", {})
    if s.get("enabled", False):
        out["sarima"] = sarima(history, m, steps, tuple(s.get("order", (0, 1, 1))),
                               tuple(s.get("seasonal_order", (0, 1, 1))))
    return out


def evaluate(cfg: TaskConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Scaler],
             seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """The RNN's forecast of the dev and the test block next to the baselines fitted on the
    same history, scored in levels; a forecast-vs-actual table per block and a figure."""
    d = _data(cfg)
    metrics: dict[str, float] = {}
    tables: dict[str, pd.DataFrame] = {}
    full = series(frames)
    for split, before in (("dev", "train"), ("test", "dev")):
        enc = encoded[split]
        block = series(frames, split)
        actual = block.loc[block["split"] == split, "value"].to_numpy(dtype=np.float64)
        history = series(frames, before)["value"].to_numpy()
        scale = mase_scale(history, d["season_length"])
        rnn = net.eval().forecast(enc["x"], enc["cal"], enc["last"], len(actual))[0].numpy()
        preds = {"rnn": rnn.astype(np.float64), **baselines(cfg, history, len(actual))}
        for name, pred in preds.items():
            prefix = split if name == "rnn" else f"{name}/{split}"
            metrics.update({f"{prefix}/{k}": v for k, v in score(pred, actual, scale).items()})
        metrics[f"{split}/mase_scale"] = scale
        dates = full.loc[full["split"] == split, "date"]
        tables[f"{split}_forecast" if split == "dev" else "forecast"] = pd.DataFrame({
            "date": [x.strftime("%Y-%m-%d") for x in dates], "actual": actual,
            **{k: np.round(v, 4) for k, v in preds.items()}})
    metrics["model/params"] = count_parameters(net)
    metrics["model/members"] = len(net.members)
    test = tables["forecast"]
    examples = [f"{d['source']}: test block {test['date'].iloc[0]} .. {test['date'].iloc[-1]}, "
                f"MASE scale {metrics['test/mase_scale']:.4f}"]
    examples += [f"{r.date} actual={r.actual:.2f} rnn={r.rnn:.2f}"
                 + "".join(f" {b}={getattr(r, b):.2f}" for b in BASELINES if b in test)
                 for r in test.head(12).itertuples()]
    return metrics, {"tables": tables,
                     "files": {"forecast.png": lambda path: _figure(full, tables, d, path)},
                     "examples": examples}


def _figure(full: pd.DataFrame, tables: dict[str, pd.DataFrame], d: dict[str, Any],
            path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab import plots

    n_ctx = 4 * max(d["horizon_test"], d["season_length"])
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
    ax.set_title(f"{d['source']}: dev and test forecasts from the history before each block")
    ax.legend(ncol=3, fontsize=8)
    plots.save(fig, path)


# ---------------------------------------------------------------- serving


def predict_params(cfg: TaskConfig) -> dict[str, int]:
    """pyfunc params: how many periods to forecast (default: the test block's length)."""
    return {"steps": _data(cfg)["horizon_test"]}


def model_input(raw: Any) -> pd.DataFrame:
    """A history as a DataFrame with `date` and `value` columns (or a dict / records of them;
    a two-column frame with other names is read as date, value)."""
    frame = raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(raw)
    if not {"date", "value"} <= set(frame.columns):
        if frame.shape[1] != 2:
            raise ValueError(f"expected columns date and value, got {list(frame.columns)}")
        frame = frame.set_axis(["date", "value"], axis=1)
    return frame[["date", "value"]]


def predict(net: nn.Module, vocabs: dict[str, Scaler], history: pd.DataFrame,
            params: dict | None = None) -> pd.DataFrame:
    """The next `steps` periods (params; default the test block's length) after a history:
    date and forecast. The history is checked (dates parse and increase, values are finite
    numbers), resampled onto the training grid and interpolated as in training."""
    s = vocabs["scaler"]
    steps = int((params or {}).get("steps", getattr(net, "steps", s.horizon)))
    rows = ts.parse(model_input(history).astype(str), s.freq)
    problems = []
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
        raise ValueError("bad history: " + "; ".join(problems))
    regular = ts.regular(rows, s.freq, s.aggregate)
    levels = net.eval().forecast(**origin(regular, s), steps=steps)[0].numpy()
    dates = pd.date_range(regular["date"].iloc[-1], periods=steps + 1, freq=s.freq)[1:]
    return pd.DataFrame({"date": [x.strftime("%Y-%m-%d") for x in dates],
                         "forecast": levels.astype(np.float64)})


# ---------------------------------------------------------------- settings study (dev only)


def study(cfg: TaskConfig, seeds: list[int], with_test: bool = False) -> dict[str, Any]:
    """Train the configured model once per seed, in-process, and score the dev block (and the
    test block only when asked, to report a chosen setting's spread, never to choose)."""
    import tempfile

    import pytorch_lightning as pl

    from rnnlab.lightning import fit, set_threads

    set_threads(cfg.train.threads)
    frames = prepare(cfg, seeds[0] if seeds else 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    encoded = encode_splits(frames, vocabs)
    rows = []
    for seed in seeds:
        pl.seed_everything(seed, workers=True, verbose=False)
        net = build_net(net_config(cfg, vocabs))
        module = lightning_module(cfg, net, vocabs)
        train, dev = loaders(cfg, encoded, seed)
        with tempfile.TemporaryDirectory() as ckpt:
            fit(module, train, dev, max_epochs=cfg.train.max_epochs, patience=cfg.train.patience,
                monitor=MONITOR, mode=MONITOR_MODE, grad_clip=cfg.train.grad_clip,
                accelerator=cfg.train.accelerator, ckpt_dir=ckpt, progress=False)
        metrics, _ = evaluate(cfg, net, frames, encoded, vocabs, seed)
        keep = [k for k in metrics if k.startswith("dev/") or (with_test and k.startswith("test/"))]
        row = {"seed": seed, "epochs": len(module.history), **{k: metrics[k] for k in keep}}
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{k}={v:.4f}" for k, v in row.items()
                                            if k.endswith(("mase", "smape"))), flush=True)
    cols = [k for k in rows[0] if k.endswith(("mase", "smape"))] if rows else []
    return {"seeds": seeds, "per_seed": rows,
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in cols},
            "std": {k: float(np.std([r[k] for r in rows])) for k in cols}}


def main(argv: list[str] | None = None) -> int:
    """`python -m rnnlab.tasks.forecast study --seeds 1 2 3 [--set forecast.model.hidden_size=32]`:
    dev MASE / sMAPE of a setting over seeds (--test adds the test block, for reporting)."""
    import argparse

    from rnnlab import config
    from rnnlab.io import write_json

    parser = argparse.ArgumentParser(prog="python -m rnnlab.tasks.forecast")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("study", help="dev scores of one setting over several seeds")
    st.add_argument("--params", default="params.yaml")
    st.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    st.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    st.add_argument("--test", action="store_true", help="also score the test block (reporting)")
    st.add_argument("--out", default="metrics/forecast/study.json")
    args = parser.parse_args(argv)
    cfg = config.load_with_overrides(args.params, args.set, tasks=["forecast"]).task("forecast")
    result = study(cfg, args.seeds, args.test)
    result["overrides"] = args.set
    write_json(args.out, result)
    print(f"{len(args.seeds)} seeds, {args.set or 'defaults'}: " + ", ".join(
        f"{k} {result['mean'][k]:.4f} ± {result['std'][k]:.4f}" for k in result["mean"]))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
