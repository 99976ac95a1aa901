"""The forecasting task: series readers (built-in CO2 and sunspots, CSV), splits that never let
the test block into training or interpolation, the scaler fitted on train only, windows, the
Forecaster network (shapes, inversion of the differencing, iterated blocks), the module
(overfits a toy series), GX checks catching each planted fault with its rows named, the
baselines on toy cases, serving, and the pipeline end to end (slow)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import champion, make_repo, ran, sh
from rnnlab import config
from rnnlab.data import series as ts
from rnnlab.lightning import ForecastModule, fit, mase, smape, window_loader
from rnnlab.nn.architectures import Forecaster, level_matrix
from rnnlab.tasks import forecast as F
from rnnlab.validation import ValidationFailed, validate


def toy_series(n: int = 120, seed: int = 0, start: str = "2000-01-01") -> pd.DataFrame:
    """Monthly trend + season + noise, as a CSV would hold it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 300 + 0.1 * t + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.2, n)
    dates = pd.date_range(start, periods=n, freq="MS")
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "value": [f"{v:.3f}" for v in y]})


def write(tmp_path, frame: pd.DataFrame, name: str = "series.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def task_config(path: str | None = None, **sections) -> config.TaskConfig:
    base = {"primary_metric": "dev/mase",
            "data": {"source": "csv" if path else "co2", "path": path, "freq": "MS",
                     "aggregate": "mean", "season_length": 12, "horizon_test": 12,
                     "horizon_dev": 12},
            "validation": {"min_value": 250, "max_value": 450, "max_missing_fraction": 0.05,
                           "max_gap": 2, "min_train_windows": 5},
            "vocab": {"input_len": 24, "horizon": 12, "difference": 1},
            "encoding": "onehot",
            "model": {"cell": "gru", "hidden_size": 8},
            "train": {"max_epochs": 1, "batch_size": 16, "patience": 1, "threads": 1,
                      "accelerator": "cpu"},
            "baselines": {"sarima": {"enabled": False}}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return config._task_config("forecast", base)


# ---------------------------------------------------------------- data


def test_builtin_co2_becomes_526_months_with_5_gaps():
    cfg = task_config(data={"horizon_test": 36, "horizon_dev": 36})
    frames = F.prepare(cfg, seed=0)
    full = F.series(frames)
    assert len(full) == 526
    assert (str(full["date"].iloc[0].date()), str(full["date"].iloc[-1].date())) == (
        "1958-03-01", "2001-12-01")
    assert int(full["observed"].isna().sum()) == 5 and full["value"].notna().all()
    assert [int((full["split"] == s).sum()) for s in ("train", "dev", "test")] == [454, 36, 36]
    assert str(full.loc[full["split"] == "test", "date"].min().date()) == "1999-01-01"


def test_builtin_sunspots_is_yearly_and_has_no_calendar():
    raw = ts.builtin("sunspots")
    assert len(raw) == 309 and raw["date"].iloc[0] == "1700-01-01"
    assert F.calendar_period("YS") == 1 and F.calendar_period("MS") == 12
    rows = ts.parse(raw, "YS")
    assert (rows["period"] == rows["date"]).all()  # each year is its own period, on the grid
    assert len(ts.grid(rows["period"], "YS")) == 309


def test_periods_are_labelled_like_date_range():
    dates = pd.Series(pd.to_datetime(["1958-03-29", "1958-04-01", "2020-01-01 13:00"],
                                     format="mixed"))
    assert ts.period_start(dates, "MS").dt.strftime("%Y-%m-%d").tolist() == [
        "1958-03-01", "1958-04-01", "2020-01-01"]
    assert ts.period_start(dates, "W-SAT").iloc[2] == pd.Timestamp("2019-12-28")
    assert ts.period_start(dates, "D").iloc[2] == pd.Timestamp("2020-01-01")


def test_number_parsing_separates_missing_from_garbage():
    assert ts.to_number("1.5") == (1.5, True)
    assert np.isnan(ts.to_number("")[0]) and ts.to_number("NaN")[1]
    assert ts.to_number("12,3")[1] is False and ts.to_number("inf")[0] == float("inf")


def test_test_block_never_feeds_the_history_or_the_scaler(tmp_path):
    frame = toy_series()
    frame.loc[100, "value"] = ""  # a gap near the end of dev (months 96..107)
    frame.loc[107, "value"] = ""  # the last dev month: its right neighbour is in test
    cfg = task_config(write(tmp_path, frame))
    frames = F.prepare(cfg, 0)
    changed = frame.copy()
    changed.loc[108:, "value"] = "449"  # a very different test block
    frames2 = F.prepare(task_config(write(tmp_path, changed, "b.csv")), 0)
    a, b = F.series(frames, "dev"), F.series(frames2, "dev")
    np.testing.assert_array_equal(a["value"], b["value"])  # interpolation read no test value
    assert a["value"].iloc[-1] == pytest.approx(float(frame.loc[106, "value"]))  # end: ffill
    s1 = F.build_vocabs(frames["train"], cfg.vocab)["scaler"]
    s2 = F.build_vocabs(frames2["train"], cfg.vocab)["scaler"]
    assert (s1.mean, s1.std, s1.n_fit) == (s2.mean, s2.std, 96)


def test_scaler_round_trip_and_encoded_windows(tmp_path):
    cfg = task_config(write(tmp_path, toy_series()))
    frames = F.prepare(cfg, 0)
    vocabs = F.build_vocabs(frames["train"], cfg.vocab)
    vocabs["scaler"].save(tmp_path / "scaler.json")
    assert F.load_vocab(tmp_path / "scaler.json") == vocabs["scaler"]
    enc = F.encode_splits(frames, vocabs)
    # 96 training months: windows start at 1 + 24 and end by 96 - 12
    assert enc["train"]["x"].shape == (96 - 1 - 24 - 12 + 1, 24)
    assert enc["train"]["target"].shape == (60, 12)
    z = vocabs["scaler"].transform(F.series(frames, "train")["value"].to_numpy())
    np.testing.assert_allclose(enc["train"]["x"][0].numpy(), z[1:25], rtol=1e-5)
    np.testing.assert_allclose(enc["train"]["target"][0].numpy(), z[25:37], rtol=1e-5)
    assert enc["train"]["cal"][0, 0] == 2  # the window starts in February
    dev, test = enc["dev"], enc["test"]
    assert dev["actual"].shape == (1, 12) and test["x"].shape == (1, 24)
    hist = F.series(frames, "dev")["value"].to_numpy()
    assert float(test["last"][0, 0]) == pytest.approx(hist[-1], rel=1e-6)
    assert float(test["scale"][0]) == pytest.approx(F.mase_scale(hist, 12), rel=1e-5)


# ---------------------------------------------------------------- network


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("encoding", ["onehot", "embedding"])
def test_forecaster_shapes(cell, encoding):
    net = Forecaster(24, 6, cell=cell, hidden_size=5, encoding=encoding, members=3)
    x, cal = torch.randn(4, 24), torch.randint(1, 13, (4, 24))
    assert net(x, cal).shape == (4, 3, 6)
    assert net.forecast(x, cal, torch.randn(4, 1) + 300, steps=15).shape == (4, 15)


@pytest.mark.parametrize("k", [0, 1, 12])
def test_to_levels_inverts_the_scaled_differencing(k):
    y = 300 + np.cumsum(np.random.default_rng(k).normal(0.1, 1, 80))
    window = F.WindowConfig(input_len=10, horizon=20, difference=k)
    scaler = F.Scaler.fit(y[:60], window, "MS", "mean", 12)
    net = Forecaster(10, 20, mean=scaler.mean, std=scaler.std, difference=k)
    z = torch.tensor(scaler.transform(y)[60:], dtype=torch.float32)[None]
    last = torch.tensor(y[60 - scaler.keep:60], dtype=torch.float32)[None]
    np.testing.assert_allclose(net.to_levels(z, last)[0].numpy(), y[60:], rtol=1e-5)
    A = level_matrix(20, k)
    e = torch.randn(20)
    shift = net.to_levels(z + e, last) - net.to_levels(z, last)  # z errors -> level errors
    np.testing.assert_allclose((A @ e * scaler.std).numpy(), shift[0].numpy(), atol=1e-3)


def test_forecast_iterates_the_direct_block_with_its_own_output():
    torch.manual_seed(0)
    net = Forecaster(12, 4, hidden_size=4, difference=1).eval()
    x, cal, last = torch.randn(1, 12), torch.arange(1, 13)[None], torch.tensor([[5.0]])
    out = net.forecast(x, cal, last, steps=8)
    torch.set_grad_enabled(False)
    z1 = net(x, cal).mean(1)
    np.testing.assert_allclose(out[0, :4].numpy(), net.to_levels(z1, last)[0].numpy(), rtol=1e-6)
    x2 = torch.cat([x, z1], 1)[:, -12:]
    cal2 = torch.cat([cal, torch.tensor([[1, 2, 3, 4]])], 1)[:, -12:]  # Dec -> Jan .. Apr
    z2 = net(x2, cal2).mean(1)
    np.testing.assert_allclose(out[0, 4:].numpy(),
                               net.to_levels(z2, out[:, 3:4])[0].numpy(), rtol=1e-5)
    torch.set_grad_enabled(True)


def test_module_overfits_a_seasonal_series(tmp_path):
    torch.manual_seed(0)
    t = np.arange(200)
    y = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    scaler = F.Scaler.fit(y[:160], F.WindowConfig(24, 12, 1), "MS", "mean", 12)
    z, cal = scaler.transform(y), (t % 12) + 1
    starts = range(25, 160 - 12 + 1)
    train = {"x": torch.tensor(np.stack([z[o - 24:o] for o in starts]), dtype=torch.float32),
             "cal": torch.tensor(np.stack([cal[o - 24:o] for o in starts])),
             "target": torch.tensor(np.stack([z[o:o + 12] for o in starts]),
                                    dtype=torch.float32)}
    dev = {"x": train["x"][-1:] * 0 + torch.tensor(z[136:160], dtype=torch.float32),
           "cal": torch.tensor(cal[136:160])[None],
           "last": torch.tensor([[y[159]]], dtype=torch.float32),
           "actual": torch.tensor(y[160:172], dtype=torch.float32)[None],
           "scale": torch.tensor([F.mase_scale(y[:160], 12)], dtype=torch.float32)}
    net = Forecaster(24, 12, hidden_size=16, mean=scaler.mean, std=scaler.std, members=2)
    module = ForecastModule(net, lr=0.02)
    fit(module, window_loader(train, 64, shuffle=True), window_loader(dev, 8), max_epochs=20,
        patience=20, monitor="dev/mase", mode="min", accelerator="cpu", progress=False,
        ckpt_dir=str(tmp_path))
    best = min(r["dev/mase"] for r in module.history)
    assert best < 0.2, best  # seasonal naive is 1.0 here; the trend alone is learnt
    assert {"train/loss", "dev/loss", "dev/mase", "dev/smape"} <= set(module.history[-1])


def test_metrics_on_known_values():
    f, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 2.0]])
    assert float(mase(f, y, torch.tensor([0.5]))) == pytest.approx(1.0)
    assert float(smape(f, y)) == pytest.approx(200 / 3 / 2, rel=1e-5)
    assert F.mase_scale(np.array([1, 2, 3, 1, 2, 4.0]), 3) == pytest.approx(1 / 3)
    s = F.score(np.array([1.0, 2.0]), np.array([2.0, 2.0]), 0.5)
    assert s["mase"] == pytest.approx(1.0) and s["mae"] == pytest.approx(0.5)


# ---------------------------------------------------------------- baselines


def test_baselines_on_toy_cases():
    season = np.tile([1.0, 5.0, 3.0, 2.0], 6)
    assert F.seasonal_naive(season, 4, 6).tolist() == [1, 5, 3, 2, 1, 5]
    line = 2.0 + 0.5 * np.arange(20)
    np.testing.assert_allclose(F.drift(line, 3), [12.0, 12.5, 13.0])
    t = np.arange(96)
    y = 100 + 0.3 * t + 2 * np.sin(2 * np.pi * t / 12)
    future = 100 + 0.3 * np.arange(96, 108) + 2 * np.sin(2 * np.pi * np.arange(96, 108) / 12)
    assert np.abs(F.ets(y, 12, 12) - future).max() < 0.05
    assert np.abs(F.sarima(y, 12, 12) - future).max() < 0.05
    assert F.ets(line, 1, 3).shape == (3,)  # m = 1: no season


# ---------------------------------------------------------------- validation


def _fails(tmp_path, frame: pd.DataFrame, expect: str, **sections) -> str:
    cfg = task_config(write(tmp_path, frame), **sections)
    with pytest.raises(ValidationFailed) as err:
        validate("forecast", F.checks(cfg, F.prepare(cfg, 0)), tmp_path / "v")
    message = str(err.value)
    assert expect in message, message
    return message


def test_clean_csv_passes(tmp_path):
    cfg = task_config(write(tmp_path, toy_series()))
    summary = validate("forecast", F.checks(cfg, F.prepare(cfg, 0)), tmp_path / "v")
    assert summary["success"] and summary["stats"]["rows"]["test"]["periods"] == 12


def test_each_planted_row_fault_is_named(tmp_path):
    """One GX run over a CSV with every row-level fault planted on its own rows."""
    frame = toy_series()
    frame.loc[50, "date"] = frame.loc[49, "date"]                 # duplicated timestamp
    frame.loc[30, "value"] = "n.a.?"                              # not a number
    frame.loc[[40, 41]] = frame.loc[[41, 40]].to_numpy()          # out of order
    frame.loc[12, "value"], frame.loc[70, "value"] = "inf", "1234"  # not finite, out of bounds
    frame.loc[7, "date"] = "sometime in 2000"                     # unparseable date
    message = _fails(tmp_path, frame, "6 of 11 expectations failed")
    blocks = {line.split("] ", 1)[1].split(" — ")[0]: line for line in message.splitlines()
              if "FAILED" in line}
    rows = message.split("FAILED")

    def named(description: str) -> str:
        return next(r for r in rows if description in r)

    assert '"row": 49' in named("timestamps are unique") and '"row": 50' in named(
        "timestamps are unique")
    assert '"as_written": "2002-07-01,n.a.?"' in named("every value is a number")
    assert '"row": 41' in named("timestamps increase")  # 2003-05 comes after 2003-06
    assert '"row": 12' in named("values are finite")
    assert '"row": 70' in named("within the plausible bounds [250, 450]")
    assert '"as_written": "sometime in 2000,' in named("every date parses")
    assert len(blocks) == 6


def test_series_shorter_than_one_window(tmp_path):
    _fails(tmp_path, toy_series(40), "enough points for the windows: train needs 41 periods")


def test_too_many_missing_values(tmp_path):
    frame = toy_series()
    frame.loc[[5, 20, 33, 47, 61, 75, 90], "value"] = ""
    _fails(tmp_path, frame, "at most 5% of the periods missing before interpolation (7 of 120")


def test_irregular_frequency_after_resampling(tmp_path):
    frame = toy_series().drop(index=[60, 61, 62])  # a 3-month hole
    message = _fails(tmp_path, frame, "at most 2 consecutive MS periods without a value",
                     validation={"max_missing_fraction": 0.5})
    assert '"date": "2005-01-01' in message or "2005-01-01" in message


def test_inferred_frequency_must_be_regular(tmp_path):
    frame = toy_series().drop(index=[10, 50])
    _fails(tmp_path, frame, "pandas infers a regular frequency",
           data={"freq": "infer"}, validation={"max_missing_fraction": 0.5})


# ---------------------------------------------------------------- the task end to end


def test_task_functions_end_to_end_and_serving(tmp_path):
    cfg = task_config(write(tmp_path, toy_series(150)))
    frames = F.prepare(cfg, 0)
    vocabs = F.build_vocabs(frames["train"], cfg.vocab)
    enc = F.encode_splits(frames, vocabs)
    net = F.build_net(json.loads(json.dumps(F.net_config(cfg, vocabs))))
    module = F.lightning_module(cfg, net, vocabs)
    train, dev = F.loaders(cfg, enc, 0)
    fit(module, train, dev, max_epochs=2, patience=2, monitor=F.MONITOR, mode=F.MONITOR_MODE,
        accelerator="cpu", progress=False, ckpt_dir=str(tmp_path / "ckpt"))
    metrics, extra = F.evaluate(cfg, net, frames, enc, vocabs, seed=0)
    for key in ("test/mase", "test/smape", "dev/mase", "seasonal_naive/test/mase",
                "drift/test/mase", "ets/test/mase", "ets/dev/mase", "test/mase_scale"):
        assert np.isfinite(metrics[key]), key
    table = extra["tables"]["forecast"]
    assert list(table.columns) == ["date", "actual", "rnn", "seasonal_naive", "drift", "ets"]
    assert len(table) == 12 and table["date"].iloc[0] == "2011-07-01"
    extra["files"]["forecast.png"](tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000

    history = toy_series(150)[["date", "value"]].assign(value=lambda f: f["value"].astype(float))
    out = F.predict(net, vocabs, F.model_input(history))
    assert out["date"].tolist()[:2] == ["2012-07-01", "2012-08-01"] and len(out) == 12
    assert out["forecast"].notna().all()
    assert len(F.predict(net, vocabs, history, params={"steps": 30})) == 30
    with pytest.raises(ValueError, match="not strictly increasing in rows"):
        F.predict(net, vocabs, history.iloc[::-1])
    with pytest.raises(ValueError, match="shorter than one window"):
        F.predict(net, vocabs, history.tail(10))


def test_study_mode_scores_dev_only_unless_asked(tmp_path):
    import yaml

    csv = write(tmp_path, toy_series(150))
    params = {"seed": 1, "tasks": ["forecast"], "forecast": {
        "primary_metric": "dev/mase",
        "data": {"source": "csv", "path": csv, "horizon_test": 12, "horizon_dev": 12},
        "vocab": {"input_len": 24, "horizon": 12}, "encoding": "onehot",
        "model": {"hidden_size": 4}, "train": {"max_epochs": 1, "threads": 1,
                                               "accelerator": "cpu"},
        "baselines": {"sarima": {"enabled": False}}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "study.json"
    assert F.main(["study", "--params", str(tmp_path / "params.yaml"), "--seeds", "1", "2",
                   "--set", "forecast.model.members=2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["seed"] for r in result["per_seed"]] == [1, 2]
    assert "dev/mase" in result["mean"] and not any(k.startswith("test/") for k in result["mean"])
    assert result["overrides"] == ["forecast.model.members=2"]


def test_config_rejects_unknown_keys():
    with pytest.raises(config.ConfigError, match="unknown key"):
        task_config(vocab={"window": 3})
    cfg = task_config(model={"members": 3, "calendar": False}, train={"loss": "step"})
    assert cfg.model.members == 3 and cfg.train.loss == "step" and cfg.vocab.input_len == 24


# ---------------------------------------------------------------- pipeline


@pytest.mark.slow
def test_dvc_repro_registers_and_bad_input_stops_at_validate(tmp_path):
    repo = make_repo(tmp_path / "repo", tasks=("forecast",))
    csv = repo / "data" / "raw" / "forecast" / "series.csv"
    toy_series(150).to_csv(csv, index=False)
    out = sh(repo, "dvc", "repro")
    assert ran(out, "forecast") == [f"{s}@forecast" for s in (
        "prepare", "validate", "vocab", "encode", "train", "evaluate")]
    metrics = json.loads((repo / "metrics" / "forecast.json").read_text())
    for key in ("test/mase", "test/smape", "dev/mase", "ets/test/mase", "drift/test/mase",
                "seasonal_naive/test/mase"):
        assert key in metrics, key
    assert (repo / "plots" / "forecast" / "evaluation" / "forecast.csv").exists()
    assert (repo / "plots" / "forecast" / "evaluation" / "forecast.png").exists()
    version, versions = champion(repo, "forecast")
    assert version == "1" and versions == ["1"]

    code = ("import mlflow, pandas as pd; mlflow.set_tracking_uri('sqlite:///mlruns/mlflow.db'); "
            "m = mlflow.pyfunc.load_model('models:/rnnlab-forecast@champion'); "
            "h = pd.read_csv('data/raw/forecast/series.csv'); "
            "print(m.predict(h).to_json(orient='records')); "
            "print(m.predict(h, params={'steps': 9}).to_json(orient='records'))")
    import sys

    lines = sh(repo, sys.executable, "-c", code).stdout.strip().splitlines()
    pred, longer = json.loads(lines[-2]), json.loads(lines[-1])
    assert len(pred) == 6 and pred[0]["date"] == "2012-07-01"
    assert len(longer) == 9  # pyfunc params reach predict

    bad = toy_series(150)
    bad.loc[20, "date"] = bad.loc[19, "date"]
    bad.to_csv(csv, index=False)
    failed = sh(repo, "dvc", "repro", check=False)
    assert failed.returncode != 0
    assert "timestamps are unique" in failed.stdout + failed.stderr
    assert '"row": 20' in failed.stdout + failed.stderr
    assert champion(repo, "forecast")[1] == ["1"]  # nothing new registered
