"""prepare: the raw rows of the configured series, each with its grid period, split by period
(train < dev < test), and the regular series the later stages read."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from rnnlab.readers import TextFile, sources_frame
from rnnlab.tasks import SPLITS
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.params import ForecastConfig


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


# Auto scored block (data.horizon_test) per calendar period of the grid: M4's horizons for
# yearly (6), quarterly (8), weekly (13) and daily (14) data; three years for monthly data.
AUTO_BLOCK = {1: 6, 4: 8, 12: 36, 52: 13, 7: 14}
# the settings prepare derives and stamps on every row (later stages read them from there)
DERIVED = ("season_length", "horizon_test", "horizon_dev", "input_len", "horizon")


def settings(cfg: ForecastConfig, n: int, freq: str) -> ForecastConfig:
    """`cfg` with every null (auto) setting derived from a series of n periods on grid `freq`:
    season_length = the calendar period (12 monthly, 4 quarterly, 52 weekly, 7 daily, else 1);
    horizon_test = AUTO_BLOCK; horizon_dev and vocab.horizon = horizon_test; input_len = 4
    seasons (3 x horizon when non-seasonal). When the series is too short for them with
    `validation.min_train_windows` windows after the backtest's origins, the auto ones shrink
    together until it fits; explicit settings are never changed (validation then names them)."""
    d, w, v, b = cfg.data, cfg.vocab, cfg.validation, cfg.data.backtest
    period = calendar_period(freq)
    m = d.season_length if d.season_length is not None else period
    first = d.horizon_test or AUTO_BLOCK.get(period, 6)
    base_len = 4 * m if m > 1 else 3 * (w.horizon or first)  # input_len at the first block

    def fill(t: int) -> tuple[int, int, int, int]:
        ht = d.horizon_test or t
        H = w.horizon or ht
        L = w.input_len or max(2, round(base_len * t / first))
        return ht, d.horizon_dev or ht, H, L

    def fits(ht: int, hd: int, H: int, L: int) -> bool:
        cut = b.origins * (b.step or ht) if b.origins > 0 else 0
        return train_windows(n - ht - hd - cut, L, H, w.difference, w.stride) \
            >= v.min_train_windows

    chosen = fill(first)
    if not fits(*chosen):
        for t in range(first - 1, 0, -1):
            if fits(*fill(t)):
                chosen = fill(t)
                break
    ht, hd, H, L = chosen
    return replace(cfg, data=replace(d, season_length=m, horizon_test=ht, horizon_dev=hd),
                   vocab=replace(w, input_len=L, horizon=H))


def resolved(cfg: ForecastConfig, frames: dict[str, pd.DataFrame] | pd.DataFrame
             ) -> ForecastConfig:
    """`cfg` with the settings prepare derived (stamped on every prepared row)."""
    parts = [frames] if isinstance(frames, pd.DataFrame) else list(frames.values())
    rows = next((f for f in parts if len(f) and "horizon_test" in f), None)
    if rows is None:
        return cfg
    got = {k: int(rows[k].iloc[0]) for k in DERIVED}
    return replace(cfg, data=replace(cfg.data, season_length=got["season_length"],
                                     horizon_test=got["horizon_test"],
                                     horizon_dev=got["horizon_dev"]),
                   vocab=replace(cfg.vocab, input_len=got["input_len"],
                                 horizon=got["horizon"]))


def raw_inputs(cfg: ForecastConfig) -> list[str]:
    """The raw files prepare reads: the CSV for source csv, none for the built-in series."""
    return [cfg.data.path] if cfg.data.source == "csv" else []


def prepare(cfg: ForecastConfig, seed: int) -> dict[str, pd.DataFrame]:
    """Raw rows of the series, kept as they came (validation judges them), each with the grid
    period it falls into, split by period: the last horizon_test periods are test, the
    horizon_dev before them dev (null settings are derived by `settings` and stamped on every
    row, with freq and aggregate, for the later stages). Periods without any row get a
    placeholder row (row -1), so every split holds all of its periods; a row whose date does
    not parse stays in train."""
    d = cfg.data
    sources: list[TextFile] = []
    if d.source in ts.BUILTIN:
        raw = ts.builtin(d.source)
    else:  # csv (the config admits nothing else)
        raw = ts.read_csv(d.path, d.date_column, d.value_column, d.encoding, sources)
    freq, exact = d.freq, True
    if freq == "infer":
        freq, exact = ts.infer_freq(ts.to_dates(raw["date"]))
    rows = ts.parse(raw, freq)
    periods = ts.grid(rows["period"], freq)
    empty = periods.difference(pd.DatetimeIndex(rows["period"].dropna()))
    if len(empty):
        rows = pd.concat([rows, pd.DataFrame({
            "row": -1, "date_raw": "", "value_raw": "", "date": pd.NaT, "value": np.nan,
            "is_number": True, "period": empty})], ignore_index=True)
    cfg = settings(cfg, len(periods), freq)
    d, w = cfg.data, cfg.vocab
    rows = rows.assign(freq=freq, freq_exact=exact, aggregate=d.aggregate,
                       season_length=d.season_length, horizon_test=d.horizon_test,
                       horizon_dev=d.horizon_dev, input_len=w.input_len, horizon=w.horizon)
    out = split_rows(rows, periods, d.horizon_test, d.horizon_dev)
    return {**out, "sources": sources_frame(sources)} if sources else out


def split_rows(rows: pd.DataFrame, periods: pd.DatetimeIndex, ht: int,
               hd: int) -> dict[str, pd.DataFrame]:
    """Rows -> train / dev / test by period: the last `ht` periods are test, the `hd` before
    them dev (also how a backtest origin's history is split, backtest.py)."""
    n = len(periods)
    test_start = periods[max(n - ht, 0)] if n else pd.Timestamp.max
    dev_start = periods[max(n - ht - hd, 0)] if n else pd.Timestamp.max
    split = np.where(rows["period"] >= test_start, "test",
                     np.where(rows["period"] >= dev_start, "dev", "train"))
    split[rows["period"].isna().to_numpy()] = "train"
    out = {}
    for s in SPLITS:
        part = rows[split == s].sort_values(["period", "row"], na_position="last")
        out[s] = part.reset_index(drop=True)
    return out


def meta(frame: pd.DataFrame) -> tuple[str, str, int]:
    """(freq, aggregate, season length) prepare stamped on every row."""
    first = frame.iloc[0]
    return str(first["freq"]), str(first["aggregate"]), int(first["season_length"])


def series(frames: dict[str, pd.DataFrame], upto: str = "test") -> pd.DataFrame:
    """The regular series of the splits up to `upto` (train < dev < test): one value per
    period, gaps interpolated from those splits only (the test block never fills a gap of the
    history), with each period's split."""
    keep = SPLITS[: SPLITS.index(upto) + 1]
    rows = pd.concat([frames[s].assign(split=s) for s in keep], ignore_index=True)
    freq, aggregate, _ = meta(rows)
    out = ts.regular(rows, freq, aggregate)
    split_of = rows.dropna(subset=["period"]).drop_duplicates("period").set_index("period")
    out["split"] = split_of["split"].reindex(out["date"]).to_numpy()
    return out


def train_windows(n_train: int, input_len: int, horizon: int, difference: int,
                  stride: int = 1) -> int:
    """How many full windows (k + L inputs, H targets) fit in n_train periods."""
    span = n_train - max(difference, 0) - input_len - horizon + 1
    return max(0, -(-span // max(stride, 1)))
