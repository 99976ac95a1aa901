"""Orchestration overhead of the Prefect flow against `dvc repro`, side by side.

In one temporary copy of the repository (its own MLflow store and Prefect home), with the same
params and seed:
  1. `dvc repro --force` of the tasks' stages, timed;
  2. `python flows/pipeline.py --force` of the same tasks, timed; its metrics are compared key by
     key with step 1's, and `dvc status` must be clean after it;
  3. both again with nothing changed (the fixed cost of each when nothing runs).
Prints the wall times, the overhead as a share of the flow's wall time, the load average, and
every metric that differs (timings excluded).

Usage: python benchmarks/flow_overhead.py [task ...]   (default: every task in params.yaml)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repro_time import REPO, copy_repo

STAGES = ("prepare", "validate", "vocab", "encode", "train", "evaluate")
TIMING_KEYS = ("seconds", "per_second")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}")
    return seconds, proc.stdout


def metrics(root: Path, tasks: list[str]) -> dict[str, float]:
    """Every metric of the tasks (metrics/<task>.json and the stage metrics), timings left out."""
    out: dict[str, float] = {}
    for task in tasks:
        for path in [root / "metrics" / f"{task}.json",
                     *sorted((root / "metrics" / task).glob("*.json"))]:
            for key, value in json.loads(path.read_text()).items():
                if not any(t in key for t in TIMING_KEYS):
                    out[f"{path.relative_to(root)}:{key}"] = value
    return out


def main() -> None:
    tasks = sys.argv[1:] or yaml.safe_load((REPO / "params.yaml").read_text())["tasks"]
    targets = [f"{t}-{s}" for t in tasks for s in STAGES]
    task_args = [a for t in tasks for a in ("--task", t)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        copy_repo(root)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MLFLOW_", "DVC_", "PREFECT_API"))}
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
        env["PREFECT_HOME"] = str(Path(tmp) / "prefect")
        git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        for cmd in (["git", "init", "-q"], [*git, "add", "-A"], [*git, "commit", "-qm", "bench"]):
            subprocess.run(cmd, cwd=root, check=True, capture_output=True)
        flow = [sys.executable, "flows/pipeline.py", *task_args]

        print(f"tasks: {', '.join(tasks)}; cores: {os.cpu_count()}; load before: "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        repro_s, _ = timed(["dvc", "repro", "--force", "--single-item", *targets], root, env)
        print(f"dvc repro --force:               {repro_s:8.1f} s  (load {os.getloadavg()[0]:.2f})",
              flush=True)
        first = metrics(root, tasks)
        flow_s, _ = timed([*flow, "--force"], root, env)
        print(f"flows/pipeline.py --force:       {flow_s:8.1f} s  (load {os.getloadavg()[0]:.2f})",
              flush=True)
        second = metrics(root, tasks)
        status = subprocess.run(["dvc", "status"], cwd=root, env=env, text=True,
                                capture_output=True).stdout.strip()
        noop_repro, _ = timed(["dvc", "repro", "--single-item", *targets], root, env)
        noop_flow, _ = timed(flow, root, env)

    overhead = flow_s - repro_s
    print(f"overhead: {overhead:+.1f} s = {100 * overhead / flow_s:+.1f}% of the flow's wall time")
    print(f"nothing changed: dvc repro {noop_repro:.1f} s, flow {noop_flow:.1f} s")
    print(f"dvc status after the flow: {status or '(no output)'}")
    differ = {k: (first.get(k), second.get(k)) for k in sorted(set(first) | set(second))
              if first.get(k) != second.get(k)}
    print(f"metrics compared: {len(first)}; differing: {len(differ)}")
    for key, (a, b) in differ.items():
        print(f"  {key}: dvc repro {a} vs flow {b}")


if __name__ == "__main__":
    main()
