"""Time `dvc repro` of each task from scratch in a temporary copy of the repository.

Prints wall time per stage and in total, the figure the issues set targets on
(e.g. "dvc repro of the entity task on defaults takes at most 3 minutes on 2 cores").
Usage: python benchmarks/repro_time.py [task ...]   (default: every task in params.yaml)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def copy_repo(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    (dest / "dvc.lock").unlink(missing_ok=True)


def main() -> None:
    tasks = sys.argv[1:] or yaml.safe_load((REPO / "params.yaml").read_text())["tasks"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    print(f"cores: {os.cpu_count()}, torch threads: default")
    for task in tasks:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            copy_repo(root)
            subprocess.run(["git", "init", "-q"], cwd=root, check=True)
            # the copy runs its own code (stages refuse another checkout's rnnlab under DVC)
            env["PYTHONPATH"] = str(root / "src")
            stages, start, last = {}, time.perf_counter(), None
            proc = subprocess.Popen(["dvc", "repro", "--single-item", *[
                f"{task}-{s}" for s in ("prepare", "validate", "vocab", "encode", "train",
                                        "evaluate")]], cwd=root, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            assert proc.stdout is not None
            for line in proc.stdout:
                m = re.match(r"Running stage '([^']+)'", line)
                if m:
                    now = time.perf_counter()
                    if last:
                        stages[last] = now - stages[last]
                    last, stages[m.group(1)] = m.group(1), now
            end = time.perf_counter()
            if last:
                stages[last] = end - stages[last]
            if proc.wait():
                raise SystemExit(f"dvc repro failed for {task}")
            for name, secs in stages.items():
                print(f"{task:10s} {name:20s} {secs:7.1f} s")
            print(f"{task:10s} {'dvc repro total':20s} {end - start:7.1f} s")


if __name__ == "__main__":
    main()
