"""The forecasting task package: series readers (built-in CO2 and sunspots, CSV), splits that
never let the test block into training or interpolation, the scaler fitted on train only,
windows, the Forecaster network (shapes, inversion of the differencing, iterated blocks, the
input's device), its objective (overfits a toy series through the one training loop), the one
MASE, GX checks catching each planted fault with its rows named, the baselines on toy cases,
serving (steps capped, bad requests refused), the typed section and the study CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from helpers import REPO
from rnnlab import config, tasks
from rnnlab.nn.loop import set_threads, train
from rnnlab.serving import BadInput, resolve_params
from rnnlab.tasks.forecast import backtest, serve
from rnnlab.tasks.forecast import baselines as B
from rnnlab.tasks.forecast import data as D
from rnnlab.tasks.forecast import params as P
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast import windows as W
from rnnlab.tasks.forecast.checks import checks
from rnnlab.tasks.forecast.evaluate import evaluate
from rnnlab.tasks.forecast.metrics import mase, mase_scale, score, smape
from rnnlab.tasks.forecast.model import (
    Forecaster,
    ForecastObjective,
    build_net,
    level_matrix,
    net_config,
    objective,
)
from rnnlab.validation import ValidationFailed, validate

SPEC = tasks.get("forecast")
CPU = config.TrainerConfig(accelerator="cpu")


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


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


def task_config(path: str | None = None, **sections) -> P.ForecastConfig:
    base = {"data": {"source": "csv" if path else "co2", "horizon_test": 12, "horizon_dev": 12,
                     **({"path": path} if path else {})},
            "validation": {"max_gap": 2, "min_train_windows": 5},
            "vocab": {"input_len": 24, "horizon": 12},
            "model": {"hidden_size": 8},
            "train": {"max_epochs": 1, "batch_size": 16, "patience": 1},
            "baselines": {"sarima": {"enabled": False}}}
    return config.build(P.CONFIG, merge({"name": "forecast", **base}, sections), "forecast")


def tiny() -> P.ForecastConfig:
    return config.build(P.CONFIG, {"name": "forecast", **P.TINY}, "forecast")


# ---------------------------------------------------------------- data


def test_builtin_co2_becomes_526_months_with_5_gaps():
    cfg = task_config(data={"horizon_test": 36, "horizon_dev": 36})
    full = D.series(D.prepare(cfg, seed=0))
    assert len(full) == 526
    assert (str(full["date"].iloc[0].date()), str(full["date"].iloc[-1].date())) == (
        "1958-03-01", "2001-12-01")
    assert int(full["observed"].isna().sum()) == 5 and full["value"].notna().all()
    assert [int((full["split"] == s).sum()) for s in ("train", "dev", "test")] == [454, 36, 36]
    assert str(full.loc[full["split"] == "test", "date"].min().date()) == "1999-01-01"
    assert D.raw_inputs(cfg) == [] and D.raw_inputs(task_config("x.csv")) == ["x.csv"]


def test_builtin_sunspots_is_yearly_and_has_no_calendar():
    raw = ts.builtin("sunspots")
    assert len(raw) == 309 and raw["date"].iloc[0] == "1700-01-01"
    assert D.calendar_period("YS") == 1 and D.calendar_period("MS") == 12
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
    frames = D.prepare(cfg, 0)
    changed = frame.copy()
    changed.loc[108:, "value"] = "449"  # a very different test block
    frames2 = D.prepare(task_config(write(tmp_path, changed, "b.csv")), 0)
    a, b = D.series(frames, "dev"), D.series(frames2, "dev")
    np.testing.assert_array_equal(a["value"], b["value"])  # interpolation read no test value
    assert a["value"].iloc[-1] == pytest.approx(float(frame.loc[106, "value"]))  # end: ffill
    s1 = W.build_vocabs(frames["train"], cfg.vocab)["scaler"]
    s2 = W.build_vocabs(frames2["train"], cfg.vocab)["scaler"]
    assert (s1.mean, s1.std, s1.n_fit) == (s2.mean, s2.std, 96)


def test_scaler_round_trip_and_encoded_windows(tmp_path):
    cfg = task_config(write(tmp_path, toy_series()))
    frames = D.prepare(cfg, 0)
    vocabs = W.build_vocabs(frames["train"], cfg.vocab)
    vocabs["scaler"].save(tmp_path / "scaler.json")
    assert W.load_vocab(tmp_path / "scaler.json") == vocabs["scaler"]
    enc = W.encode(frames, vocabs)
    # 96 training months: windows start at 1 + 24 and end by 96 - 12
    assert enc["train"]["x"].shape == (96 - 1 - 24 - 12 + 1, 24)
    assert enc["train"]["target"].shape == (60, 12)
    z = vocabs["scaler"].transform(D.series(frames, "train")["value"].to_numpy())
    np.testing.assert_allclose(enc["train"]["x"][0].numpy(), z[1:25], rtol=1e-5)
    np.testing.assert_allclose(enc["train"]["target"][0].numpy(), z[25:37], rtol=1e-5)
    assert enc["train"]["cal"][0, 0] == 2  # the window starts in February
    dev, test = enc["dev"], enc["test"]
    assert dev["actual"].shape == (1, 12) and test["x"].shape == (1, 24)
    hist = D.series(frames, "dev")["value"].to_numpy()
    assert float(test["last"][0, 0]) == pytest.approx(hist[-1], rel=1e-6)
    assert float(test["scale"][0]) == pytest.approx(mase_scale(hist, 12), rel=1e-5)
    train_batches, dev_batches = W.loaders(cfg, enc, 0)
    first = next(iter(train_batches))
    assert first["x"].shape == (16, 24) and set(first) == {"x", "cal", "target"}
    assert next(iter(dev_batches))["actual"].shape == (1, 12)
    again = next(iter(W.loaders(cfg, enc, 0)[0]))  # seeded: the same first batch
    assert torch.equal(first["x"], again["x"])


# ---------------------------------------------------------------- network and objective


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
    window = P.WindowConfig(input_len=10, horizon=20, difference=k)
    scaler = W.Scaler.fit(y[:60], window, "MS", "mean", 12)
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
    with torch.no_grad():
        z1 = net(x, cal).mean(1)
        np.testing.assert_allclose(out[0, :4].numpy(), net.to_levels(z1, last)[0].numpy(),
                                   rtol=1e-6)
        x2 = torch.cat([x, z1], 1)[:, -12:]
        cal2 = torch.cat([cal, torch.tensor([[1, 2, 3, 4]])], 1)[:, -12:]  # Dec -> Jan .. Apr
        z2 = net(x2, cal2).mean(1)
        np.testing.assert_allclose(out[0, 4:].numpy(),
                                   net.to_levels(z2, out[:, 3:4])[0].numpy(), rtol=1e-5)


def test_forecast_makes_its_tensors_on_the_input_device(monkeypatch):
    """Forecaster.forecast and forward create no tensor on a fixed device: every factory call
    they make names the input's device (a CPU arange failed on the GPU at the first
    validation)."""
    calls = []
    for name in ("arange", "full", "zeros", "ones", "tensor"):
        real = getattr(torch, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append((_name, kwargs.get("device")))
            return _real(*args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    net = Forecaster(12, 4, hidden_size=4, members=2).eval()
    x, cal, last = torch.randn(2, 12), torch.randint(1, 13, (2, 12)), torch.ones(2, 1)
    calls.clear()
    net.forecast(x, cal, last, steps=9)
    made = [c for c in calls if c[0] != "tensor"]
    assert made and all(device is not None for _, device in made), made


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_trains_and_forecasts_on_the_gpu():
    cfg = tiny()
    frames = SPEC.prepare(cfg, 0)
    vocabs = SPEC.build_vocabs(frames["train"], cfg.vocab)
    enc = SPEC.encode(frames, vocabs)
    net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
    train_batches, dev_batches = SPEC.loaders(cfg, enc, 0)
    module = train(net, SPEC.objective(cfg, net, vocabs), train_batches, dev_batches,
                   cfg.train, config.TrainerConfig(accelerator="gpu", devices=1),
                   max_epochs=1, progress=False)
    assert np.isfinite(module.history[-1]["dev/mase"])
    net.cuda()
    dev = {k: v.cuda() for k, v in enc["dev"].items()}
    out = net.forecast(dev["x"], dev["cal"], dev["last"], steps=3 * net.horizon)
    assert out.device.type == "cuda" and out.shape == (1, 3 * net.horizon)


def test_objective_overfits_a_seasonal_series():
    set_threads(CPU.threads)  # as the stages do (several threads crawl on a busy machine)
    torch.manual_seed(0)
    t = np.arange(200)
    y = 10 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    scaler = W.Scaler.fit(y[:160], P.WindowConfig(24, 12, 1), "MS", "mean", 12)
    z, cal = scaler.transform(y), (t % 12) + 1
    starts = range(25, 160 - 12 + 1)
    train_enc = {"x": torch.tensor(np.stack([z[o - 24:o] for o in starts]), dtype=torch.float32),
                 "cal": torch.tensor(np.stack([cal[o - 24:o] for o in starts])),
                 "target": torch.tensor(np.stack([z[o:o + 12] for o in starts]),
                                        dtype=torch.float32)}
    dev_enc = {"x": torch.tensor(z[136:160], dtype=torch.float32)[None],
               "cal": torch.tensor(cal[136:160])[None],
               "last": torch.tensor([[y[159]]], dtype=torch.float32),
               "actual": torch.tensor(y[160:172], dtype=torch.float32)[None],
               "scale": torch.tensor([mase_scale(y[:160], 12)], dtype=torch.float32)}
    cfg = task_config(train={"batch_size": 64, "lr": 0.02, "max_epochs": 20, "patience": 20})
    net = Forecaster(24, 12, hidden_size=16, mean=scaler.mean, std=scaler.std, members=2)
    goal = ForecastObjective(12, 1)
    assert (goal.monitor, goal.mode) == ("dev/mase", "min") and "A" not in goal.state_dict()
    module = train(net, goal, W.loaders(cfg, {"train": train_enc, "dev": dev_enc}, 0)[0],
                   W.loaders(cfg, {"train": train_enc, "dev": dev_enc}, 0)[1], cfg.train, CPU,
                   progress=False)
    best = min(r["dev/mase"] for r in module.history)
    assert best < 0.2, best  # seasonal naive is 1.0 here; the trend alone is learnt
    assert {"train/loss", "dev/loss", "dev/mase", "dev/smape"} <= set(module.history[-1])


def test_objective_loss_kinds():
    with pytest.raises(ValueError, match="'level' or 'step'"):
        ForecastObjective(4, 1, "mse")
    step, level = ForecastObjective(4, 1, "step"), ForecastObjective(4, 1, "level")
    assert torch.equal(step.A, torch.eye(4)) and torch.equal(level.A, torch.tril(torch.ones(4, 4)))
    z, target = torch.zeros(2, 3, 4), torch.ones(2, 4)  # 3 members, each error 1 per step
    assert float(step.members_loss(z, target)) == pytest.approx(3.0)
    assert float(level.members_loss(z, target)) == pytest.approx(3 * (1 + 4 + 9 + 16) / 4)


def test_the_one_mase_scores_torch_batches_and_numpy_blocks_alike():
    f, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 2.0]])
    assert float(mase(f, y, torch.tensor([0.5]))[0]) == pytest.approx(1.0)
    assert float(smape(f, y)[0]) == pytest.approx(200 / 3 / 2, rel=1e-5)
    assert float(smape(torch.zeros(1, 2), torch.zeros(1, 2))[0]) == 0.0  # 0/0 counts 0
    assert mase_scale(np.array([1, 2, 3, 1, 2, 4.0]), 3) == pytest.approx(1 / 3)
    s = score(np.array([1.0, 2.0]), np.array([2.0, 2.0]), 0.5)
    assert s["mase"] == pytest.approx(1.0) and s["mae"] == pytest.approx(0.5)
    assert s["smape"] == pytest.approx(200 / 3 / 2) and s["rmse"] == pytest.approx(0.5 ** 0.5)
    rng = np.random.default_rng(0)
    a, b = rng.normal(300, 5, 36), rng.normal(300, 5, 36)
    batch = mase(torch.tensor(a)[None], torch.tensor(b)[None], 1.3)  # float64 either way
    assert float(batch[0]) == pytest.approx(score(a, b, 1.3)["mase"], rel=1e-12)


# ---------------------------------------------------------------- baselines


def test_baselines_on_toy_cases():
    season = np.tile([1.0, 5.0, 3.0, 2.0], 6)
    assert B.seasonal_naive(season, 4, 6).tolist() == [1, 5, 3, 2, 1, 5]
    line = 2.0 + 0.5 * np.arange(20)
    np.testing.assert_allclose(B.drift(line, 3), [12.0, 12.5, 13.0])
    t = np.arange(96)
    y = 100 + 0.3 * t + 2 * np.sin(2 * np.pi * t / 12)
    future = 100 + 0.3 * np.arange(96, 108) + 2 * np.sin(2 * np.pi * np.arange(96, 108) / 12)
    assert np.abs(B.ets(y, 12, 12) - future).max() < 0.05
    assert np.abs(B.sarima(y, 12, 12) - future).max() < 0.05
    assert B.ets(line, 1, 3).shape == (3,)  # m = 1: no season
    only = P.BaselinesConfig(ets=P.EtsConfig(enabled=False), sarima=P.SarimaConfig(enabled=False))
    assert list(B.baselines(only, 4, season, 3)) == ["seasonal_naive", "drift"]


# ---------------------------------------------------------------- validation


def _fails(tmp_path, frame: pd.DataFrame, expect: str, **sections) -> str:
    cfg = task_config(write(tmp_path, frame), **sections)
    with pytest.raises(ValidationFailed) as err:
        validate("forecast", checks(cfg, D.prepare(cfg, 0)), tmp_path / "v")
    message = str(err.value)
    assert expect in message, message
    return message


def test_clean_csv_passes(tmp_path):
    cfg = task_config(write(tmp_path, toy_series()))
    summary = validate("forecast", checks(cfg, D.prepare(cfg, 0)), tmp_path / "v")
    assert summary["success"] and summary["stats"]["rows"]["test"]["periods"] == 12


def test_each_planted_row_fault_is_named(tmp_path):
    """One GX run over a CSV with every row-level fault planted on its own rows."""
    frame = toy_series()
    frame.loc[50, "date"] = frame.loc[49, "date"]                 # duplicated timestamp
    frame.loc[30, "value"] = "n.a.?"                              # not a number
    frame.loc[[40, 41]] = frame.loc[[41, 40]].to_numpy()          # out of order
    frame.loc[12, "value"], frame.loc[70, "value"] = "inf", "1234"  # not finite, out of bounds
    frame.loc[7, "date"] = "sometime in 2000"                     # unparseable date
    message = _fails(tmp_path, frame, "6 of 11 expectations failed",
                     validation={"min_value": 250, "max_value": 450})  # bounds default to none
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


def test_series_shorter_than_the_configured_windows(tmp_path):
    _fails(tmp_path, toy_series(40), "enough points for the windows: train needs 41 periods")
    # the check reads the vocab section: longer windows need a longer train part
    _fails(tmp_path, toy_series(), "train needs 101 periods for 5 window(s) of 1+84 inputs",
           vocab={"input_len": 84, "horizon": 12})


def test_too_many_missing_values(tmp_path):
    frame = toy_series()
    frame.loc[[5, 20, 33, 47, 61, 75, 90], "value"] = ""
    _fails(tmp_path, frame, "at most 5% of the periods missing before interpolation (7 of 120")


def test_irregular_frequency_after_resampling(tmp_path):
    frame = toy_series().drop(index=[60, 61, 62])  # a 3-month hole
    message = _fails(tmp_path, frame, "at most 2 consecutive MS periods without a value",
                     validation={"max_missing_fraction": 0.5})
    assert "2005-01-01" in message


def test_inferred_frequency_must_be_regular(tmp_path):
    frame = toy_series().drop(index=[10, 50])
    _fails(tmp_path, frame, "pandas infers a regular frequency",
           data={"freq": "infer"}, validation={"max_missing_fraction": 0.5})


def test_a_too_short_series_names_the_params_and_suggests_values_that_pass(tmp_path):
    """About 100 yearly points with the CO2-sized defaults: the message names the settings
    and the values it suggests validate."""
    frame = toy_series(100)
    frame["date"] = pd.date_range("1900-01-01", periods=100, freq="YS").strftime("%Y-%m-%d")
    big = {"data": {"freq": "YS", "season_length": 1, "horizon_test": 36, "horizon_dev": 36},
           "vocab": {"input_len": 48, "horizon": 36}, "validation": {"min_train_windows": 24}}
    message = _fails(tmp_path, frame, "forecast.vocab.input_len", **big)
    tried = message.split(" periods try ", 1)[1].split(" — ")[0]
    values = {k: int(v) for k, v in (item.split(": ") for item in tried.split(", "))}
    assert set(values) >= {"forecast.data.horizon_test", "forecast.vocab.input_len",
                           "forecast.vocab.horizon", "forecast.data.backtest.origins"}
    fix = merge(big, {})
    for key, value in values.items():
        _, section, *rest = key.split(".")
        fix = merge(fix, {section: {rest[0]: value} if len(rest) == 1
                          else {rest[0]: {rest[1]: value}}})
    cfg = task_config(write(tmp_path, frame), **fix)
    assert validate("forecast", checks(cfg, D.prepare(cfg, 0)), tmp_path / "ok")["success"]


def test_auto_settings_give_co2_its_values_and_fit_short_series():
    """null settings: CO2's monthly grid gets 12 / 36 / 36 / 48 / 36; short yearly series get
    M4's 6-year block, shrunk (block, window together) until the windows fit."""
    auto = config.build(P.CONFIG, {"name": "forecast"}, "forecast")
    got = D.resolved(auto, D.prepare(auto, 0))
    assert (got.data.season_length, got.data.horizon_test, got.data.horizon_dev,
            got.vocab.input_len, got.vocab.horizon) == (12, 36, 36, 48, 36)
    shape = {n: D.settings(auto, n, "YS") for n in (100, 60)}
    assert [(s.data.season_length, s.data.horizon_test, s.vocab.input_len, s.vocab.horizon)
            for s in shape.values()] == [(1, 6, 18, 6), (1, 4, 12, 4)]
    fixed = config.build(P.CONFIG, {"name": "forecast", "vocab": {"input_len": 30}}, "f")
    assert D.settings(fixed, 60, "YS").vocab.input_len == 30  # explicit: never changed


def test_a_short_yearly_series_runs_with_only_its_file_and_frequency(tmp_path):
    """About 100 yearly points, params: the file and freq YS; everything else auto. Prepare,
    validate, vocab, encode and a short training run, and the serving default is one H."""
    frame = toy_series(100)
    frame["date"] = pd.date_range("1900-01-01", periods=100, freq="YS").strftime("%Y-%m-%d")
    cfg = config.build(P.CONFIG, {"name": "forecast", "data": {
        "source": "csv", "path": write(tmp_path, frame), "freq": "YS"}}, "forecast")
    frames = D.prepare(cfg, 0)
    summary = validate("forecast", checks(cfg, frames), tmp_path / "v")
    assert summary["success"], summary
    assert summary["stats"]["series"]["settings"] == {
        "season_length": 1, "horizon_test": 6, "horizon_dev": 6, "input_len": 18,
        "horizon": 6, "freq": "YS"}
    vocabs = SPEC.build_vocabs(frames["train"], cfg.vocab)
    encoded = SPEC.encode(frames, vocabs)
    assert encoded["train"]["x"].shape[1] == 18 and encoded["test"]["actual"].shape[1] == 6
    net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
    short = dataclasses.replace(cfg.train, max_epochs=1)
    train(net, SPEC.objective(cfg, net, vocabs), *SPEC.loaders(cfg, encoded, 0), short, CPU,
          progress=False)
    assert SPEC.predict_params(cfg) == {"steps": 0}
    out = SPEC.predict(net.eval(), vocabs, _history(frames), {"steps": 0})
    assert len(out) == 6 and out["date"].iloc[0] == "2000-01-01"


def test_backtest_origins_stop_before_the_test_block_and_fit_only_their_past():
    cfg = task_config(data={"backtest": {"origins": 3, "step": 12}})
    frames = D.prepare(cfg, 0)
    test_start = D.series(frames, "test").query("split == 'test'")["date"].min()
    ends = []
    for k in (1, 2, 3):
        part = backtest.origin_frames(frames, cfg, k)
        full = D.series(part)
        block = full[full["split"] == "test"]
        assert len(block) == 12 and (full["date"] < test_start).all()
        assert full[full["split"] != "test"]["date"].max() < block["date"].min()
        ends.append(block["date"].max())
    assert ends[0] > ends[1] > ends[2]
    assert (ends[0].year, ends[0].month) == (test_start.year - 1, 12)
    with pytest.raises(ValueError, match=r"backtest\.step"):
        backtest.backtest(task_config(data={"backtest": {"step": 6}}), frames, 0)


def _stop_on_backtest(epochs: int = 4, path: str | None = None, **data) -> P.ForecastConfig:
    """A small generated monthly series (toy_series, 96 months), 2 backtest origins of 6."""
    return task_config(path, data={"horizon_test": 6, "horizon_dev": 6,
                                   "backtest": {"origins": 2}, **data},
                       vocab={"input_len": 12, "horizon": 6, "stride": 2},
                       train={"max_epochs": epochs, "stop_on": "backtest"})


@pytest.fixture(scope="module")
def toy_frames(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("toy"), toy_series(96))
    return path, D.prepare(_stop_on_backtest(path=path), 0)


def _fit(cfg, frames, seed=0, spy=None):
    from rnnlab.tasks.forecast import fit as F

    cfg = D.resolved(cfg, frames)
    vocabs = SPEC.build_vocabs(frames["train"], cfg.vocab)
    enc = SPEC.encode(frames, vocabs)
    torch.manual_seed(seed)
    net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
    return F.fit(cfg, net, SPEC.objective(cfg, net, vocabs), frames, vocabs, enc, seed, CPU,
                 progress=False), net, vocabs, enc


def test_stop_on_backtest_trains_the_argmin_of_the_mean_curve_on_train_and_dev(toy_frames,
                                                                               monkeypatch):
    from rnnlab.tasks.forecast import fit as F

    path, frames = toy_frames
    cfg = _stop_on_backtest(path=path)
    calls = []

    def spy(net, goal, train_batches, dev_batches, settings, trainer, **kw):
        calls.append({"windows": len(train_batches.dataset), "dev": dev_batches, **kw})
        return train(net, goal, train_batches, dev_batches, settings, trainer, **kw)

    monkeypatch.setattr(F, "train", spy)
    fitted, _, vocabs, enc = _fit(cfg, frames)
    record = fitted.record
    curves = np.array([o["curve"] for o in record["origins"]])
    assert record["stop_on"] == "backtest" and curves.shape == (2, 4)  # whole: no stopping
    mean = curves.mean(0)
    np.testing.assert_allclose(record["mean_curve"], mean)
    assert record["epochs"] == int(np.argmin(mean)) + 1 == fitted.metrics["backtest/epochs"]
    # each origin is scored at the other origin's argmin (leave one out), and the recorded
    # forecast is that epoch's: its MASE is the curve's value there
    for o, other in zip(record["origins"], curves[::-1], strict=True):
        assert o["epoch"] == int(np.argmin(other)) + 1
        part = backtest.origin_frames(frames, D.resolved(cfg, frames), o["origin"])
        history = D.series(part, "dev")["value"].to_numpy()
        block = D.series(part, "test").query("split == 'test'")["value"].to_numpy()
        got = mase(np.array(o["forecast"]), block, mase_scale(history, 12))
        assert got == pytest.approx(o["curve"][o["epoch"] - 1], rel=1e-5)
    # the served net: exactly E* epochs, no dev block, on every window of train + dev
    final = calls[-1]
    assert final["max_epochs"] == record["epochs"] and final["select"] is False
    assert final["dev"] is None
    all_windows = W.windows(D.series(frames, "dev"), vocabs["scaler"])["x"].shape[0]
    assert final["windows"] == all_windows > enc["train"]["x"].shape[0]
    assert [r["epoch"] for r in fitted.module.history] == list(range(1, record["epochs"] + 1))
    assert [r["backtest/mase"] for r in fitted.module.history] == \
        pytest.approx(list(mean[:record["epochs"]]))
    assert not any(k.startswith("dev/") for r in fitted.module.history for k in r)


def test_stop_on_backtest_never_reads_the_test_block(toy_frames):
    path, frames = toy_frames
    cfg = _stop_on_backtest(epochs=2, path=path)
    first, net, _, _ = _fit(cfg, frames)
    changed = dict(frames)
    changed["test"] = frames["test"].assign(value=frames["test"]["value"] * 10)
    again, net2, _, _ = _fit(cfg, changed)
    assert again.record == first.record
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_evaluate_scores_train_s_record_without_refitting(toy_frames, monkeypatch):
    path, frames = toy_frames
    cfg = _stop_on_backtest(epochs=2, path=path)
    fitted, net, vocabs, enc = _fit(cfg, frames)

    def no_refit(*_, **__):
        raise AssertionError("evaluate refitted a backtest origin")

    monkeypatch.setattr(backtest, "fit_origin", no_refit)
    record = json.loads(json.dumps(fitted.record))  # as train writes and evaluate reads it
    result = evaluate(cfg, net, frames, enc, vocabs, seed=0, fit=record)
    m = result.metrics
    assert m["backtest/origins"] == 2 and m["backtest/epochs"] == record["epochs"]
    # backtest/mase is the mean over the origins of the recorded (leave-one-out) forecasts
    expect = np.mean([o["curve"][o["epoch"] - 1] for o in record["origins"]])
    assert m["backtest/mase"] == pytest.approx(expect, rel=1e-5)
    back = result.tables["backtest"]
    np.testing.assert_allclose(back.loc[back["origin"] == 1, "rnn"],
                               np.round(record["origins"][0]["forecast"], 4))
    assert np.isfinite(m["test/coverage"]) and len(result.calibration["half_widths"]) == 6


def test_stop_on_dev_records_each_origin_s_best_dev_epoch(toy_frames):
    path, frames = toy_frames
    cfg = task_config(path=path, data={"horizon_test": 6, "horizon_dev": 6,
                                       "backtest": {"origins": 2}},
                      vocab={"input_len": 12, "horizon": 6, "stride": 2},
                      train={"max_epochs": 3, "patience": 1})
    assert cfg.train.stop_on == "dev"  # the default
    fitted, net, vocabs, enc = _fit(cfg, frames)
    assert fitted.record["stop_on"] == "dev" and "epochs" not in fitted.record
    for o in fitted.record["origins"]:
        assert 1 <= o["epoch"] <= o["epochs_run"] <= 3 and len(o["forecast"]) == 6
    assert "dev/mase" in fitted.module.history[0]
    # evaluate with no record fits the same origins itself: the same scores
    direct = evaluate(cfg, net, frames, enc, vocabs, seed=0).metrics
    reused = evaluate(cfg, net, frames, enc, vocabs, seed=0, fit=fitted.record).metrics
    assert direct["backtest/mase"] == reused["backtest/mase"]


def test_stop_on_backtest_needs_two_origins(toy_frames):
    path, frames = toy_frames
    with pytest.raises(ValueError, match=r"forecast\.data\.backtest\.origins >= 2"):
        backtest.select(D.resolved(_stop_on_backtest(path=path, backtest={"origins": 1}),
                                   frames), frames, 0)


def test_choose_is_the_first_argmin_of_the_mean():
    assert backtest.choose(np.array([[3.0, 1.0, 2.0, 1.0], [3.0, 2.0, 0.5, 2.0]])) == 3
    assert backtest.choose(np.array([[2.0, np.nan], [1.0, 1.0]])) == 1
    with pytest.raises(ValueError, match="non-finite"):
        backtest.choose(np.array([[np.nan, np.nan]]))


def test_the_stages_with_stop_on_backtest(tmp_path, monkeypatch):
    """train writes models/forecast-fit/fit.json and a net trained E* epochs on train + dev;
    evaluate scores that record (it fits no origin) and reports the same E*."""
    from helpers import tiny_params
    from rnnlab.io import read_json
    from rnnlab.stages import STAGES, Paths
    from rnnlab.stages import run as run_stage

    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), ["forecast"])
    raw["trainer"]["accelerator"] = "cpu"
    raw["mlflow"]["register"] = False
    raw["forecast"]["train"].update(stop_on="backtest", max_epochs=3)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    for stage in STAGES[:-1]:
        run_stage(stage, "forecast", tmp_path / "params.yaml")
    paths = Paths("forecast")
    record = read_json(paths.fit / "fit.json")
    assert record["stop_on"] == "backtest" and len(record["origins"]) == 2
    assert read_json(paths.stage_metrics / "train.json")["epochs"] == record["epochs"]
    curve = pd.read_csv(paths.plots / "training.csv")
    assert curve["epoch"].tolist() == list(range(1, record["epochs"] + 1))
    assert "backtest/mase" in curve and "dev/mase" not in curve

    monkeypatch.setattr(backtest, "fit_origin", lambda *_, **__: pytest.fail("refitted"))
    run_stage("evaluate", "forecast", tmp_path / "params.yaml")
    metrics = read_json(paths.metrics)
    assert metrics["backtest/epochs"] == record["epochs"] and metrics["backtest/origins"] == 2
    assert (paths.evaluation / "backtest.csv").is_file()


def test_conformal_widths_and_interval_score():
    errors = np.array([[1.0, -2.0, 3.0, -4.0, 5.0, 6.0], [0.5, 0.5, -0.5, 0.5, 0.5, -9.0]])
    # b = 6 // 6 = 1: step 1 pools steps 1-2 of both origins (4 errors), rank ceil(5*0.5) = 3
    np.testing.assert_allclose(backtest.conformal_widths(errors, 0.5)[0], 1.0)
    assert backtest.conformal_widths(errors, 0.99)[-1] == 9.0  # too few: the largest
    lower, upper, y = np.array([0.0, 0.0]), np.array([2.0, 2.0]), np.array([1.0, 3.0])
    # width 2 each; the second misses by 1: + 2 / 0.2 * 1
    assert backtest.interval_score(lower, upper, y, 0.8) == pytest.approx((2 + 2 + 10) / 2)
    m = backtest.interval_metrics("test", lower, upper, y, 0.8, 2.0)
    assert m["test/coverage"] == 0.5 and m["test/msis"] == pytest.approx(3.5)
    # leave one origin out, one step: origin 1 gets origin 2's width 2 (covered), 2 gets 1
    # origin 1 (error 1, width 2): score 4; origin 2 (error 2, width 1): 2 + 2 / 0.2 * 1 = 12
    loo = backtest.loo_intervals(np.array([[1.0], [-2.0]]), 0.8)
    assert loo == {"backtest/coverage": 0.5, "backtest/interval_score": pytest.approx(8.0)}
    assert backtest.loo_intervals(errors, 0.8)["backtest/coverage"] == pytest.approx(np.mean(
        [np.abs(errors[k]) <= backtest.conformal_widths(errors[[1 - k]], 0.8) for k in (0, 1)]))


def test_non_seasonal_baselines_and_ets_intervals():
    y = np.cumsum(np.random.default_rng(0).normal(0.5, 1.0, 60)) + 50
    np.testing.assert_array_equal(B.seasonal_naive(y, 1, 3), [y[-1]] * 3)
    assert np.isfinite(B.ets(y, 1, 4)).all()
    assert np.isfinite(B.sarima(y, 1, 4)).all()
    lo, hi = B.ets_interval(y, 1, 4, 0.8)
    point = B.ets(y, 1, 4)
    assert (lo < point).all() and (point < hi).all() and (np.diff(hi - lo) > 0).all()


def test_bounds_default_to_none(tmp_path):
    frame = toy_series()
    frame["value"] = [f"{1e6 + i:.1f}" for i in range(len(frame))]
    cfg = task_config(write(tmp_path, frame))
    assert cfg.validation.min_value is None and cfg.validation.max_value is None
    assert validate("forecast", checks(cfg, D.prepare(cfg, 0)), tmp_path / "v")["success"]


# ---------------------------------------------------------------- evaluate and serving


@pytest.fixture(scope="module")
def tiny_task():
    """The TINY settings on the built-in CO2 series, an untrained net: what evaluate and
    serving do with it (training is the lead's smoke test)."""
    cfg = tiny()
    frames = SPEC.prepare(cfg, 0)
    vocabs = SPEC.build_vocabs(frames["train"], cfg.vocab)
    enc = SPEC.encode(frames, vocabs)
    torch.manual_seed(0)
    net = SPEC.build_net(json.loads(json.dumps(SPEC.net_config(cfg, vocabs))))
    return cfg, frames, vocabs, enc, net


def test_evaluate_scores_rnn_and_baselines_on_the_same_blocks(tiny_task, tmp_path):
    cfg, frames, vocabs, enc, net = tiny_task
    result = evaluate(cfg, net, frames, enc, vocabs, seed=0)
    for key in ("test/mase", "test/smape", "dev/mase", "seasonal_naive/test/mase",
                "drift/test/mase", "ets/test/mase", "ets/dev/mase", "test/mase_scale"):
        assert np.isfinite(result.metrics[key]), key
    assert not any(k.startswith("sarima/") for k in result.metrics)  # disabled in TINY
    table = result.tables["forecast"]
    assert list(table.columns) == ["date", "actual", "rnn", "seasonal_naive", "drift", "ets",
                                   "rnn_lower", "rnn_upper", "ets_lower", "ets_upper"]
    # the backtest: 2 origins (TINY), every model's mean and spread, blocks before test
    for key in ("backtest/mase", "backtest/mase_std", "backtest/smape_std",
                "ets/backtest/mase", "seasonal_naive/backtest/smape", "drift/backtest/mase_std",
                "test/coverage", "test/interval_score", "ets/test/coverage", "ets/test/msis",
                "backtest/coverage", "backtest/interval_score", "ets/backtest/coverage",
                "ets/backtest/interval_score"):
        assert np.isfinite(result.metrics[key]), key
    assert result.metrics["backtest/origins"] == 2
    back = result.tables["backtest"]
    assert back["date"].tolist() == [f"2000-{m:02d}-01" for m in range(7, 13)] + [
        f"2001-{m:02d}-01" for m in range(1, 7)] and back["origin"].tolist() == [2] * 6 + [1] * 6
    assert (table["rnn_lower"] <= table["rnn"]).all() and (table["rnn"] <= table["rnn_upper"]).all()
    assert (table["ets_lower"] < table["ets"]).all() and (table["ets"] < table["ets_upper"]).all()
    result.files["backtest.png"](tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 1000
    assert table["date"].tolist() == ["2001-07-01", "2001-08-01", "2001-09-01", "2001-10-01",
                                      "2001-11-01", "2001-12-01"]
    assert result.tables["dev_forecast"]["date"].iloc[0] == "2001-01-01"
    assert result.examples[0].startswith("co2: test block 2001-07-01 .. 2001-12-01")
    result.files["forecast.png"](tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


def _history(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    full = D.series(frames)
    return pd.DataFrame({"date": full["date"].dt.strftime("%Y-%m-%d"), "value": full["value"]})


def test_serving_forecasts_steps_periods_after_the_history(tiny_task):
    cfg, frames, vocabs, _, net = tiny_task
    defaults = SPEC.predict_params(cfg)
    assert defaults == {"steps": 6}  # decode.steps
    history = SPEC.model_input(_history(frames).to_dict("records"))
    out = SPEC.predict(net, vocabs, history, resolve_params(SPEC, defaults, None))
    assert out["date"].tolist()[:2] == ["2002-01-01", "2002-02-01"] and len(out) == 6
    assert out["forecast"].notna().all()
    longer = SPEC.predict(net, vocabs, history, resolve_params(SPEC, defaults, {"steps": 24}))
    assert len(longer) == 24  # four direct blocks of H = 6, the cap
    np.testing.assert_array_equal(longer["forecast"][:6], out["forecast"])


def test_served_pyfunc_returns_evaluates_conformal_intervals(tiny_task, tmp_path):
    """Through mlflow.pyfunc as the registry serves it: the logged model carries evaluate's
    conformal half-widths, and every period comes with lower <= forecast <= upper at exactly
    those widths; past the calibrated steps the last width is reused and flagged."""
    import mlflow

    from rnnlab.io import write_json
    from rnnlab.stages.evaluate import model_kwargs

    cfg, frames, vocabs, enc, net = tiny_task
    result = evaluate(cfg, net, frames, enc, vocabs, seed=0)
    cal, n = result.calibration, cfg.data.horizon_test
    assert cal["level"] == cfg.data.backtest.interval == 0.8 and len(cal["half_widths"]) == n
    np.testing.assert_allclose(cal["half_widths"], result.tables["intervals"]["half_width"],
                               atol=5e-5)
    folder = tmp_path / "model"  # as train writes it
    (folder / "vocab").mkdir(parents=True)
    torch.save(net.state_dict(), folder / "model.pt")
    write_json(folder / "net.json", {"task": "forecast", "config": SPEC.net_config(cfg, vocabs),
                                     "vocabs": sorted(vocabs)})
    for name, vocab in vocabs.items():
        vocab.save(folder / "vocab" / f"{name}.json")
    mlflow.pyfunc.save_model(tmp_path / "pyfunc",
                             **model_kwargs(SPEC, cfg, folder, frames, calibration=cal))
    served = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    declared = {c.name: c.type.name for c in served.metadata.get_output_schema().inputs}
    assert declared == {"date": "string", "forecast": "double", "lower": "double",
                        "upper": "double", "level": "double", "calibrated": "boolean"}
    history = _history(frames)
    out = served.predict(history, params={"steps": 4 * n})  # the cap: four blocks
    assert (out["lower"] <= out["forecast"]).all() and (out["forecast"] <= out["upper"]).all()
    half = (out["upper"] - out["forecast"]).to_numpy()
    np.testing.assert_allclose(half, (out["forecast"] - out["lower"]).to_numpy())
    np.testing.assert_allclose(half[:n], cal["half_widths"], rtol=1e-9)
    np.testing.assert_allclose(half[n:], cal["half_widths"][-1], rtol=1e-9)
    assert out["calibrated"].tolist() == [True] * n + [False] * 3 * n
    assert (out["level"] == 0.8).all()
    plain = SPEC.predict(net, vocabs, history, {"steps": 4 * n})  # no calibration: no intervals
    assert list(plain.columns) == ["date", "forecast"]
    np.testing.assert_allclose(out["forecast"], plain["forecast"])
    # the scoring server's path, on the model's own serving_input_example.json
    example = (tmp_path / "pyfunc" / "serving_input_example.json").read_text()
    answer = mlflow.models.validate_serving_input(str(tmp_path / "pyfunc"), example)
    assert len(answer) == cfg.decode.steps and answer["calibrated"].all()
    assert (answer["lower"] <= answer["forecast"]).all()
    np.testing.assert_allclose(answer["upper"] - answer["forecast"],
                               cal["half_widths"][:cfg.decode.steps], rtol=1e-9)


def test_serving_refuses_bad_requests(tiny_task):
    cfg, frames, vocabs, _, net = tiny_task
    history = _history(frames)
    for steps, match in ((25, r"steps must be in 1\.\.24 \(the model forecasts 6"),
                         (-1, r"steps must be in 1\.\.24"), (2.5, "steps must be an integer"),
                         (True, "steps must be an integer")):
        with pytest.raises(BadInput, match=match):
            SPEC.predict(net, vocabs, history, {"steps": steps})
    with pytest.raises(BadInput, match="unknown param"):
        resolve_params(SPEC, SPEC.predict_params(cfg), {"horizon": 3})
    with pytest.raises(BadInput, match="not strictly increasing in rows"):
        SPEC.predict(net, vocabs, history.iloc[::-1], {"steps": 6})
    with pytest.raises(BadInput, match="shorter than one window"):
        SPEC.predict(net, vocabs, history.tail(10), {"steps": 6})
    garbled = history.astype(str)
    garbled.loc[3, "value"] = "abc"
    with pytest.raises(BadInput, match=r"values that are not finite numbers in rows \[3\]"):
        SPEC.predict(net, vocabs, garbled, {"steps": 6})
    with pytest.raises(BadInput, match="expected columns date and value"):
        SPEC.model_input(pd.DataFrame({"a": [1], "b": [2], "c": [3]}))


def test_decode_steps_past_the_cap_fails_at_evaluate():
    with pytest.raises(config.ConfigError, match=r"decode\.steps must be in 1\.\.48"):
        serve.predict_params(task_config(decode={"steps": 49}))


# ---------------------------------------------------------------- settings, spec, study


def test_defaults_are_params_yaml_and_tiny_builds():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["forecast"]
    from_yaml = config.build(P.CONFIG, {"name": "forecast", **section}, "params.yaml:forecast")
    assert from_yaml == P.CONFIG(name="forecast")
    cfg = tiny()
    assert cfg.data.source == "co2" and cfg.decode.steps == 6 and cfg.vocab.horizon == 6
    assert cfg.baselines.sarima.enabled is False and cfg.baselines.ets.trend == "add"


def test_config_rejects_unknown_and_misplaced_keys():
    with pytest.raises(config.ConfigError, match=r"forecast\.vocab\.window: unknown key"):
        task_config(vocab={"window": 3})
    with pytest.raises(config.ConfigError, match=r"forecast\.model\.steps: unknown key"):
        task_config(model={"steps": 3})  # a decode knob, not the model's
    with pytest.raises(config.ConfigError, match=r"forecast\.train\.loss must be one of"):
        task_config(train={"loss": "mae"})
    cfg = task_config(model={"members": 3, "calendar": False}, train={"loss": "step"})
    assert cfg.model.members == 3 and cfg.train.loss == "step" and cfg.vocab.input_len == 24
    assert dataclasses.replace(cfg, decode=P.DecodeConfig(7)).decode.steps == 7


def test_spec_declares_what_the_stages_read():
    own = P.CONFIG
    assert SPEC.stage_params("validate", own) == [
        "forecast.data", "forecast.validation", "forecast.vocab"]
    assert "forecast.decode" in SPEC.stage_params("evaluate", own)
    assert "forecast.decode" not in SPEC.stage_params("train", own)
    assert SPEC.primary_mode == "min" and SPEC.requirements == ("statsmodels",)
    net = build_net(net_config(tiny(), {"scaler": W.Scaler(12, 6, 1, "standard", 0.0, 1.0, 100,
                                                           "MS", "mean", 12, 12)}))
    assert objective(tiny(), net, {}).A.shape == (6, 6)
    from rnnlab import dag

    entries = dag.plots("forecast")
    named = [e if isinstance(e, str) else next(iter(e)) for e in entries]
    assert "plots/forecast/evaluation/forecast.csv" in named
    assert "plots/forecast/evaluation/training.png" in named  # the dag adds the figure
    curves = [e["forecast: training"] for e in entries
              if isinstance(e, dict) and "forecast: training" in e]
    assert len(curves) == 1  # ours, with the dev MASE; the dag adds no generic curves
    assert curves[0]["y"] == {"plots/forecast/training.csv": ["train/loss", "dev/loss",
                                                               "dev/mase", "backtest/mase"]}
    # train runs the backtest fits: it reads the prepared series and the backtest settings,
    # and evaluate reads train's record of them instead of refitting
    stages = yaml.safe_load(dag.render(REPO / "params.yaml"))["stages"]
    assert "data/prepared/forecast" in stages["forecast-train"]["deps"]
    assert "models/forecast-fit" in stages["forecast-train"]["outs"]
    assert "models/forecast-fit" in stages["forecast-evaluate"]["deps"]
    assert {"forecast.data", "forecast.vocab"} <= set(stages["forecast-train"]["params"])
    assert not {"forecast.model", "forecast.train"} & set(stages["forecast-evaluate"]["params"])
    assert SPEC.fit is not None


def test_study_cli_scores_dev_only_unless_asked(tmp_path):
    from rnnlab.tasks.forecast import study

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    params = {**raw, "seed": 1,  # every task's section: the study narrows to forecast
              "trainer": {**raw["trainer"], "accelerator": "cpu"},
              "forecast": merge(raw["forecast"], {**P.TINY, "train": {
                  **P.TINY["train"], "max_epochs": 1}})}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "study.json"
    assert study.main(["--params", str(tmp_path / "params.yaml"), "--seeds", "1", "--set",
                       "forecast.model.members=2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["seed"] for r in result["per_seed"]] == [1] and result["per_seed"][0]["epochs"] == 1
    assert "dev/mase" in result["mean"] and not any(k.startswith("test/") for k in result["mean"])
    assert result["overrides"] == ["forecast.model.members=2"]


def test_study_scores_forecast_combinations_on_the_backtest_and_test(tmp_path):
    """`--combine ets`: w * rnn + (1 - w) * ets for w = 0.25, 0.5, 0.75; as |y - f| is convex
    in f, a combination's MASE is at most the same mix of the two models' MASEs."""
    from rnnlab.tasks.forecast import study

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    params = {**raw, "seed": 1, "trainer": {**raw["trainer"], "accelerator": "cpu"},
              "forecast": merge(raw["forecast"], {**P.TINY, "train": {
                  **P.TINY["train"], "max_epochs": 1}})}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "study.json"
    assert study.main(["--params", str(tmp_path / "params.yaml"), "--seeds", "1", "--test",
                       "--combine", "ets", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["per_seed"][0]
    for w in study.WEIGHTS:
        for block, rnn, ets in (("backtest", "backtest/mase", "ets/backtest/mase"),
                                ("test", "test/mase", "ets/test/mase")):
            combo = row[f"combo/ets_{w:g}/{block}/mase"]
            assert 0 < combo <= w * row[rnn] + (1 - w) * row[ets] + 1e-9, (w, block, row)
