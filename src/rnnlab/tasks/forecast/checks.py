"""validate: row-level (as the source gave them), period-level (after resampling) and
series-level Great Expectations suites. The series suite reads the window settings
(`vocab.input_len`, `horizon`, `difference`, `stride`) to judge whether train holds
`validation.min_train_windows` windows, so the validate stage also reads `vocab`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.readers import source_stats
from rnnlab.tasks import SPLITS
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.data import resolved, train_windows
from rnnlab.tasks.forecast.params import ForecastConfig
from rnnlab.validation import Check


def checks(cfg: ForecastConfig, frames: dict[str, pd.DataFrame]) -> list[Check]:
    """Row-level (as the source gave them), period-level (after resampling) and series-level
    Great Expectations suites."""
    import great_expectations.expectations as gxe

    cfg = resolved(cfg, frames)
    v, d, w = cfg.validation, cfg.data, cfg.vocab
    lo, hi = v.min_value, v.max_value
    max_missing, max_gap = v.max_missing_fraction, v.max_gap
    min_windows = v.min_train_windows

    sources = source_stats(frames)
    frames = {s: frames[s] for s in SPLITS if s in frames}  # side frames: `sources`
    every = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    freq = str(every["freq"].iloc[0]) if len(every) else d.freq
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
        *([gxe.ExpectColumnValuesToBeBetween(
            column="in_bounds_value", min_value=lo, max_value=hi,
            description=f"values within the plausible bounds [{_g(lo)}, {_g(hi)}]")]
          if lo is not None or hi is not None else []),
        gxe.ExpectColumnValuesToBeInSet(
            column="duplicated", value_set=[False], description="timestamps are unique"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_order", value_set=[True],
            description="timestamps increase (no row dated before the row above it)"),
    ]
    if d.aggregate == "none":
        row_suite.append(gxe.ExpectColumnValuesToBeBetween(
            column="per_period", max_value=1,
            description=f"at most one row per {freq} period (aggregate: none)"))

    regular = ts.resample(every, freq, d.aggregate)
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
    # the earliest backtest origin trains on K x step periods fewer
    b = d.backtest
    cut = b.origins * (b.step or d.horizon_test) if b.origins > 0 else 0
    n_fit = n["train"] - max(cut, 0)
    windows = train_windows(n_fit, w.input_len, w.horizon, w.difference, w.stride)
    need = max(w.difference, 0) + w.input_len + w.horizon + min_windows - 1
    where = (f"the earliest of {b.origins} backtest origins trains on {n_fit} of them"
             if cut > 0 else "")
    summary = pd.DataFrame([{
        "series": d.source, "periods": len(regular), "missing_fraction": missing,
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
                        f"{w.horizon} targets, and has {n['train']}"
                        + (f" ({where})" if where else "")
                        + ("" if windows >= min_windows else
                           "; " + suggest(len(regular), cfg))),
        gxe.ExpectColumnValuesToBeBetween(
            column="dev_periods", min_value=d.horizon_dev, max_value=d.horizon_dev,
            description=f"dev holds {d.horizon_dev} periods"),
        gxe.ExpectColumnValuesToBeBetween(
            column="test_periods", min_value=d.horizon_test, max_value=d.horizon_test,
            description=f"test holds the last {d.horizon_test} periods"),
    ]
    if d.freq == "infer":
        series_suite.append(gxe.ExpectColumnValuesToBeInSet(
            column="freq_exact", value_set=[True],
            description=f"pandas infers a regular frequency from the dates (nearest: {freq})"))
    stats = {s: {"periods": n[s], "rows": int((rows["split"] == s).sum()),
                 "missing_periods": int((empty & (regular["split"] == s).to_numpy()).sum()),
                 "first": regular.loc[regular["split"] == s, "date"].min(),
                 "last": regular.loc[regular["split"] == s, "date"].max()}
             for s in SPLITS}
    # the settings in force, auto ones as prepare derived them from the series
    used = {"season_length": d.season_length, "horizon_test": d.horizon_test,
            "horizon_dev": d.horizon_dev, "input_len": w.input_len, "horizon": w.horizon,
            "freq": freq}
    if sources:
        stats["sources"] = sources
    return [Check("rows", rows, row_suite, ids, "as_written", stats=stats),
            Check("periods", regular, period_suite, ["split", "date"]),
            Check("series", summary, series_suite, ["series"], stats={"settings": used})]


def _text(dates: pd.Series) -> pd.Series:
    return pd.Series([None if pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d")
                      for x in dates], index=dates.index, dtype=object)


def _g(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


def suggest(n: int, cfg: ForecastConfig) -> str:
    """Settings that fit a series of n periods: the message of a too-short series."""
    d, w, v, b = cfg.data, cfg.vocab, cfg.validation, cfg.data.backtest
    m = max(d.season_length, 1)
    for H in range(min(w.horizon, d.horizon_test), 0, -1):
        for origins in range(min(b.origins, 3), -1, -1):
            L = max(min(w.input_len, 2 * H, 4 * m if m > 1 else 2 * H), 1)
            windows = min(v.min_train_windows, 12)
            cut = origins * H
            if n - 2 * H - cut - max(w.difference, 0) - L - H + 1 >= windows:
                return (f"for {n} periods try forecast.data.horizon_test: {H}, "
                        f"forecast.data.horizon_dev: {H}, forecast.vocab.horizon: {H}, "
                        f"forecast.vocab.input_len: {L}, forecast.data.backtest.origins: "
                        f"{origins}, forecast.validation.min_train_windows: "
                        f"{windows}")
    return (f"{n} periods are too few to forecast: lower forecast.data.horizon_test, "
            "horizon_dev, vocab.input_len, vocab.horizon and data.backtest.origins")
