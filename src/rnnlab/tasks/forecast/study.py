"""Settings study (dev and backtest only): train the configured model once per seed, in-process,
as the train stage does (fit.py: `train.stop_on`, the backtest fits) with params.yaml's trainer
section, and score the dev block and the rolling-origin backtest (and the test block only
when asked, to report a chosen setting's spread, never to choose).

    python -m rnnlab.tasks.forecast.study --seeds 1 2 3 [--set forecast.model.hidden_size=32]
    python -m rnnlab.tasks.forecast.study --seeds 1 2 3 --combine ets sarima   # + combinations
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from rnnlab.config import Config

SHOWN = ("mase", "smape", "coverage", "interval_score")  # the metrics printed and averaged
WEIGHTS = (0.25, 0.5, 0.75)  # the RNN's share in a combination w * rnn + (1 - w) * baseline


def combinations(cfg: Any, frames: dict, result: Any, combine: list[str],
                 with_test: bool) -> dict[str, float]:
    """MASE of w * RNN + (1 - w) * baseline (w in WEIGHTS) on the backtest (mean over the
    origins, each scaled by its own history, as backtest.scores does) and, with `with_test`,
    on the test block: forecast combinations from evaluate's tables (`result`)."""
    from rnnlab.tasks.forecast.backtest import origin_frames
    from rnnlab.tasks.forecast.data import series
    from rnnlab.tasks.forecast.metrics import mase, mase_scale

    m = cfg.data.season_length
    blocks = [(g, mase_scale(series(origin_frames(frames, cfg, int(k)), "dev")["value"]
                             .to_numpy(), m))
              for k, g in result.tables["backtest"].groupby("origin")]
    out = {}

    def err(g: Any, scale: float, name: str, w: float) -> float:
        pred = w * g["rnn"].to_numpy() + (1 - w) * g[name].to_numpy()
        return float(mase(pred, g["actual"].to_numpy(), scale))

    for name in combine:
        for w in WEIGHTS:
            key = f"combo/{name}_{w:g}"
            out[f"{key}/backtest/mase"] = float(np.mean([err(g, s, name, w) for g, s in blocks]))
            if with_test:
                out[f"{key}/test/mase"] = err(result.tables["forecast"],
                                              result.metrics["test/mase_scale"], name, w)
    return out


def study(config: Config, seeds: list[int], with_test: bool = False,
          combine: list[str] | None = None) -> dict[str, Any]:
    import pytorch_lightning as pl

    from rnnlab.nn.loop import set_threads
    from rnnlab.tasks.forecast.data import prepare, resolved
    from rnnlab.tasks.forecast.evaluate import evaluate
    from rnnlab.tasks.forecast.fit import fit
    from rnnlab.tasks.forecast.model import build_net, net_config, objective
    from rnnlab.tasks.forecast.windows import build_vocabs, encode

    cfg = config.task("forecast")
    set_threads(config.trainer.threads)
    frames = prepare(cfg, seeds[0] if seeds else 0)
    cfg = resolved(cfg, frames)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    encoded = encode(frames, vocabs)
    rows = []
    for seed in seeds:
        pl.seed_everything(seed, workers=True, verbose=False)
        net = build_net(net_config(cfg, vocabs))
        goal = objective(cfg, net, vocabs)
        fitted = fit(cfg, net, goal, frames, vocabs, encoded, seed, config.trainer,
                     progress=False)  # train's procedure: train.stop_on, the backtest fits
        result = evaluate(cfg, net, frames, encoded, vocabs, seed, fit=fitted.record)
        metrics = result.metrics
        if combine:
            metrics.update(combinations(cfg, frames, result, combine, with_test))
        # with stop_on: backtest the RNN trained on dev: its dev scores are in-sample
        dev = ("dev/",) if cfg.train.stop_on == "dev" else ()
        keep = [k for k in metrics if k.startswith((*dev, "backtest/")) or "/backtest/" in k
                or (with_test and (k.startswith("test/") or "/test/" in k))]
        row = {"seed": seed, "epochs": len(fitted.module.history),
               **{k: metrics[k] for k in keep}}
        rows.append(row)
        shown = [k for k in row if k.endswith(SHOWN)]
        print(f"seed {seed}: " + ", ".join(f"{k}={row[k]:.4f}" for k in shown), flush=True)
    cols = [k for k in rows[0] if k.endswith(SHOWN)] if rows else []
    return {"seeds": seeds, "per_seed": rows,
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in cols},
            "std": {k: float(np.std([r[k] for r in rows])) for k in cols}}


def main(argv: list[str] | None = None) -> int:
    """Dev MASE / sMAPE of a setting over seeds (--test adds the test block, for reporting)."""
    from rnnlab import config
    from rnnlab.io import write_json

    parser = argparse.ArgumentParser(prog="python -m rnnlab.tasks.forecast.study",
                                     description="dev scores of one setting over several seeds")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--test", action="store_true",
                        help="also score the test block (reporting)")
    parser.add_argument("--combine", nargs="+", default=[], metavar="BASELINE",
                        help="also score w * rnn + (1 - w) * BASELINE (e.g. ets sarima)")
    parser.add_argument("--out", default="metrics/forecast/study.json")
    args = parser.parse_args(argv)
    settings = config.load_with_overrides(args.params, args.set, tasks=["forecast"])
    result = study(settings, args.seeds, args.test, args.combine)
    result["overrides"] = args.set
    write_json(args.out, result)
    print(f"{len(args.seeds)} seeds, {args.set or 'defaults'}: " + ", ".join(
        f"{k} {result['mean'][k]:.4f} ± {result['std'][k]:.4f}" for k in result["mean"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
