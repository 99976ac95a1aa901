"""Start-up of `rnnlab predict`: a warm call next to `python -c pass` and next to loading the
same champion through mlflow.pyfunc.load_model, side by side in one run (same machine, same
load). Run it in a repository whose store has the champion (after `dvc repro`, or `rnnlab
register <task>` after `dvc pull`):

    python benchmarks/predict_startup.py --task entity --repeat 5

Prints the median and min wall time of each, and the ratios. A "warm" call is any call after
the first (the OS file cache holds torch and the model; nothing else is kept between calls).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

INPUT = {"entity": "in the forest there are Panthera leo", "review": "a clear and sound paper",
         "translate": "il gatto mangia.", "music": "Reel"}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{out.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="entity", choices=sorted(INPUT))
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = INPUT[args.task]
    pyfunc = ("import mlflow, sys; from rnnlab import config, tracking; "
              f"tracking.setup(config.load('params.yaml').mlflow, {args.task!r}); "
              f"m = mlflow.pyfunc.load_model('models:/rnnlab-{args.task}@{args.alias}'); "
              f"print(m.predict([{text!r}]))")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        f"rnnlab predict {args.task}": [sys.executable, "-m", "rnnlab", "predict", args.task,
                                        text, "--alias", args.alias],
        "mlflow.pyfunc.load_model + predict": [sys.executable, "-c", pyfunc],
    }
    for cmd in cases.values():  # the cold call of each: fills the OS file cache
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # interleaved, so a burst of load hits all three alike
        for name, cmd in cases.items():
            times[name].append(wall(cmd))
    base = statistics.median(times[f"rnnlab predict {args.task}"])
    print(f"{'command':40s} {'median s':>9s} {'min s':>7s} {'x rnnlab predict':>17s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:40s} {med:9.2f} {min(ts):7.2f} {med / base:17.2f}")


if __name__ == "__main__":
    main()
