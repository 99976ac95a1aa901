"""Concurrency study (issue 16): N pipelines of one tiny task at once, each in its own copy of
the repository with its own learning rate (the same data, so one champion race), logging into
one fresh store: a SQLite file (default) or a tracking server (--server URL). Per round it
prints crashed pipelines, lost runs / versions / model files, and whether the final @champion
is the best version by dev metric (a tie: the older).

    python benchmarks/concurrency.py --rounds 5 [--pipelines 4] [--server http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import clean_env, make_repo  # noqa: E402

LRS = (0.003, 0.01, 0.03, 0.1, 0.002, 0.005)


def one_round(base: Path, n: int, server: str | None) -> dict:
    import mlflow

    uri = server or f"sqlite:///{base}/store/mlflow.db"
    repos = []
    for i in range(n):
        repo = make_repo(base / f"clone{i}", tasks=("entity",))
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["entity"]["train"]["lr"] = LRS[i]
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        repos.append(repo)
    start = time.perf_counter()
    procs = [subprocess.Popen(["dvc", "repro"], cwd=r,
                              env={**clean_env(r), "MLFLOW_TRACKING_URI": uri},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in repos]
    outs = [p.communicate()[0] for p in procs]
    seconds = time.perf_counter() - start
    crashed = [i for i, p in enumerate(procs) if p.returncode]
    client = mlflow.MlflowClient(uri, uri)
    experiment = client.get_experiment_by_name("rnnlab-entity")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    dev = {}
    for repo in repos:
        path = repo / "metrics/entity.json"
        if path.exists():
            dev[json.loads(path.read_text())["dev/entity_f1"]] = repo
    finished = [r for r in runs if r.info.status == "FINISHED"
                and "dev/entity_f1" in r.data.metrics]
    versions = client.search_model_versions("name='rnnlab-entity'") if experiment else []
    lost_files = 0
    for v in versions:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=client.get_model_version_download_uri("rnnlab-entity", v.version),
                dst_path=str(base / "download" / str(v.version)), tracking_uri=uri)
            lost_files += not (Path(local) / "MLmodel").is_file()
        except Exception:  # a missing artifact is what this counts
            lost_files += 1
    scores = {str(v.version): float(v.tags["rnnlab.primary_value"]) for v in versions
              if v.status == "READY"}
    best = max(scores.values()) if scores else None
    expected = min((int(k) for k, s in scores.items() if s == best), default=None)
    try:
        champion = str(client.get_model_version_by_alias("rnnlab-entity", "champion").version)
    except Exception:  # no champion at all
        champion = None
    return {"pipelines": n, "seconds": round(seconds, 1), "crashed": len(crashed),
            "crash_tails": [outs[i][-600:] for i in crashed],
            "finished_runs": len(finished), "lost_runs": n - len(crashed) - len(finished),
            "versions": len(versions), "lost_versions": n - len(crashed) - len(versions),
            "lost_model_files": lost_files, "dev_scores": scores,
            "champion": champion, "champion_is_best": champion == str(expected)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--server", help="a tracking server's URL (its store must be fresh)")
    args = parser.parse_args()
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="rnnlab-concurrency-") as tmp:
            print(json.dumps({"round": r + 1, **one_round(Path(tmp), args.pipelines,
                                                          args.server)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
