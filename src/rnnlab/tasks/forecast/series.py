"""Time series readers for the forecasting task: built-in real series that ship inside
statsmodels (Mauna Loa CO2, yearly sunspots) and any CSV with a date and a value column.

Nothing here repairs the data. `builtin` and `read_csv` keep every source row as it came (the
date and value as text), `parse` adds what could be parsed and the grid period each row falls
into, and validation (rnnlab.tasks.forecast.checks) then decides whether the series is usable:
duplicated or out-of-order timestamps, non-numeric or non-finite values and gaps are reported
with their rows instead of being sorted, dropped or averaged away silently.

`regular` turns validated rows into the regular series the model reads: one value per period
(resampled with `aggregate`), gaps filled by linear interpolation in time.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from rnnlab.readers import ReaderError, TextFile, read_text, reject_bad_lines

BUILTIN = ("co2", "sunspots")
AGGREGATES = ("mean", "sum", "last", "none")
MISSING_TEXT = frozenset({"", "nan", "na", "n/a", "null", "none"})


def builtin(name: str) -> pd.DataFrame:
    """A real series that ships with statsmodels, as raw rows (date, value as text).

    co2: weekly CO2 at Mauna Loa, ppm, 1958-03-29 .. 2001-12-29 (2,284 weeks, 59 missing).
    sunspots: yearly mean sunspot number, 1700 .. 2008 (309 years).
    """
    import statsmodels.datasets as datasets

    if name == "co2":
        data = datasets.co2.load_pandas().data["co2"]
        dates, values = data.index, data.to_numpy()
    elif name == "sunspots":
        data = datasets.sunspots.load_pandas().data
        dates = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
        values = data["SUNACTIVITY"].to_numpy()
    else:
        raise ValueError(f"built-in series are {BUILTIN}, got {name!r}")
    return pd.DataFrame({"date": [d.strftime("%Y-%m-%d") for d in pd.DatetimeIndex(dates)],
                         "value": ["" if np.isnan(v) else repr(float(v)) for v in values]})


def read_csv(path: str, date_column: str = "date", value_column: str = "value",
             encoding: str = "utf-8", sources: list[TextFile] | None = None) -> pd.DataFrame:
    """A CSV's date and value columns, read as text (parsing is `parse`'s job), with `line`:
    the file line of each row. Decoded strictly (rnnlab.readers): undecodable bytes, control
    characters, a file pandas cannot parse or a missing column stop prepare naming the file
    and lines; a leading UTF-8 BOM is stripped (and recorded in `sources`)."""
    tf = read_text(path, encoding, "forecast.data.encoding", "forecast.data.path")
    reject_bad_lines(tf)
    if sources is not None:
        sources.append(tf)
    if not tf.text.strip():
        raise ReaderError(f"{tf.path}: the file is empty (forecast.data.path)")
    try:
        frame = pd.read_csv(io.StringIO(tf.text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise ReaderError(f"{tf.path}: not a valid CSV file: {str(err).strip()[:300]}") \
            from None
    missing = [c for c in (date_column, value_column) if c not in frame.columns]
    if missing:
        raise ReaderError(f"{tf.path}: no column(s) {missing}; columns are "
                          f"{list(frame.columns)[:20]} (set forecast.data.date_column / "
                          "value_column)")
    return pd.DataFrame({"date": frame[date_column], "value": frame[value_column]})


def to_number(text: object) -> tuple[float, bool]:
    """(value, is_number): missing markers give (nan, True), text that is no number (nan,
    False); 'inf' parses (to inf) so that the finiteness check can name it."""
    s = str(text).strip() if text is not None else ""
    if s.lower() in MISSING_TEXT:
        return float("nan"), True
    try:
        return float(s), True
    except ValueError:
        return float("nan"), False


STEPS = ((1.5, "D"), (10, "W"), (45, "MS"), (120, "QS"), (400, "YS"))


def infer_freq(dates: pd.Series) -> tuple[str, bool]:
    """(frequency alias, inferred exactly) of parsed dates. When pandas finds no regular
    frequency, the alias nearest the median step, and False: validation then names the rows
    that do not fit it, instead of the series being bent onto a grid silently."""
    index = pd.DatetimeIndex(sorted(set(dates.dropna())))
    if len(index) < 3:
        return "D", False
    freq = pd.infer_freq(index)
    if freq is not None:
        return freq, True
    median = float(np.median(np.diff(index.asi8)) / 86400e9)
    return next((alias for days, alias in STEPS if median <= days), "YS"), False


def period_start(dates: pd.Series, freq: str) -> pd.Series:
    """The start (label) of the grid period each date falls into, as `pd.date_range(freq=...)`
    labels it: the month start for MS, January 1st for YS, the Saturday on or before a date for
    W-SAT, the day for D (NaT stays NaT)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    tick = isinstance(offset, pd.offsets.Tick)
    label = {}
    for d in pd.DatetimeIndex(dates.dropna()).unique():
        label[d] = d.floor(freq) if tick else offset.rollback(d.normalize())
    return pd.Series([label.get(d, pd.NaT) if pd.notna(d) else pd.NaT for d in dates],
                     index=dates.index, dtype="datetime64[ns]")


def to_dates(text: pd.Series) -> pd.Series:
    """Date texts -> datetime64[ns]; what does not parse, or lies outside the nanosecond range
    (years 1677-2262: a bit flip turns 2000 into 3000), is NaT, so validation names the row."""
    dates = pd.to_datetime(text, errors="coerce", format="mixed")
    if len(dates):
        outside = (dates < pd.Timestamp.min) | (dates > pd.Timestamp.max)
        dates = dates.mask(outside)
    return dates.astype("datetime64[ns]")


def parse(raw: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Raw rows -> row, date_raw, value_raw, date, value, is_number, period (all rows kept)."""
    dates = to_dates(raw["date"])
    parsed = [to_number(v) for v in raw["value"]]
    return pd.DataFrame({
        "row": np.arange(len(raw), dtype=np.int64),
        "date_raw": raw["date"].astype(str).to_numpy(),
        "value_raw": raw["value"].astype(str).to_numpy(),
        "date": dates.astype("datetime64[ns]").to_numpy(),
        "value": np.array([v for v, _ in parsed], dtype=np.float64),
        "is_number": np.array([ok for _, ok in parsed], dtype=bool),
        "period": period_start(dates, freq).to_numpy(),
    })


def grid(periods: pd.Series, freq: str) -> pd.DatetimeIndex:
    """Every period from the first to the last one present."""
    p = periods.dropna()
    if p.empty:
        return pd.DatetimeIndex([])
    return pd.date_range(p.min(), p.max(), freq=freq)


def resample(rows: pd.DataFrame, freq: str, aggregate: str = "mean",
             index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """One row per period of `index` (default: the rows' own span): date, observed (the
    aggregated value before interpolation, NaN where nothing was observed), n_obs."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"forecast.data.aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    ok = rows[rows["period"].notna() & np.isfinite(rows["value"])]
    how = "last" if aggregate == "none" else aggregate
    grouped = ok.groupby("period")["value"]
    values = getattr(grouped, how)()
    counts = rows[rows["period"].notna() & (rows["row"] >= 0)].groupby("period").size()
    index = grid(rows["period"], freq) if index is None else index
    return pd.DataFrame({"date": index,
                         "observed": values.reindex(index).to_numpy(dtype=np.float64),
                         "n_obs": counts.reindex(index, fill_value=0).to_numpy(dtype=np.int64)})


def interpolate(observed: np.ndarray) -> np.ndarray:
    """Linear interpolation over the gaps; gaps at either end take the nearest value."""
    y = np.asarray(observed, dtype=np.float64)
    ok = np.isfinite(y)
    if not ok.any():
        return y.copy()
    t = np.arange(len(y))
    return np.interp(t, t[ok], y[ok])


def regular(rows: pd.DataFrame, freq: str, aggregate: str = "mean") -> pd.DataFrame:
    """Validated rows -> the regular series: date, value (interpolated), observed, n_obs."""
    out = resample(rows, freq, aggregate)
    out["value"] = interpolate(out["observed"].to_numpy())
    return out
