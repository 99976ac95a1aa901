"""Concurrency study (issue 16): four entity pipelines at once into one fresh store, repeated.

Modes (how the pipelines run):
  clones  N copies of the repository, one `dvc repro` in each, all started together;
  queue   one copy, N `dvc exp run --queue -S ...`, then `dvc queue start -j JOBS` (4: all
          at once, like the clones).
Stores (where they log):
  sqlite  the default store, `sqlite:///mlruns/mlflow.db` (clones: one shared file given by
          MLFLOW_TRACKING_URI; queue: the project's own, resolved to its root by tracking.py);
  server  an `mlflow server` on a fresh PostgreSQL database (one per round, dropped after),
          artifacts in the round's temporary folder.

The N pipelines train on the same data (entity's built-in corpus, its seed pinned), so they
race for one champion, but with different seeds and epochs, so their dev F1 differ. They
start from one template repository whose data stages ran once (`prepare_template`): each
pipeline runs prepare (it reads the seed; same output), train, evaluate and report, the
data stages that never touch MLflow stay up to date. Each
round checks: no crashed pipeline, one FINISHED run and one READY version per pipeline with
the dev F1 that DVC recorded, every version's model loads and predicts, and `@champion` and
the dataset's `@champion-<key>` point at the best version by dev F1 (the older on a tie).
It prints a table row per round, the failures in full, and exits 1 if any round failed.

    nice -n 10 python benchmarks/concurrency.py --mode clones --store sqlite --rounds 5
    nice -n 10 python benchmarks/concurrency.py --mode clones --store server --rounds 5
    nice -n 10 python benchmarks/concurrency.py --mode queue --store sqlite --rounds 5
    nice -n 10 python benchmarks/concurrency.py --mode queue --store server --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import clean_env, make_repo, ran  # noqa: E402
from rnnlab import teamstore  # noqa: E402

NAME = "rnnlab-entity"
METRIC = "dev/entity_f1"
# small but not degenerate: with lr 0.02 one pipeline reaches a dev F1 of 0.3-0.95 in
# 2-6 epochs, about 100 s of wall time on a shared 2-core machine (mostly process start-up)
BASE = {"data": {"builtin": {"n_train": 400, "n_dev": 100, "n_test": 100, "seed": 42}},
        "model": {"hidden_size": 32, "embedding_dim": 16},
        "train": {"lr": 0.02, "patience": 2},
        "baselines": {"dense": {"enabled": False}}}
EPOCHS = (2, 3, 4, 6)  # pipeline i of round r: EPOCHS[(i + r) % 4], so the best one moves


def variants(round_no: int, n: int) -> list[dict[str, int]]:
    """The params that make pipeline i of a round differ: its training seed (the data's own
    seed is pinned, so all share one dataset key) and its epochs."""
    return [{"seed": 1000 * round_no + i, "entity.train.max_epochs": EPOCHS[(i + round_no) % 4]}
            for i in range(n)]


def prepare_template(root: Path) -> Path:
    """The repository every pipeline of every round is a copy of: a tiny copy of this one
    with BASE merged into its entity params, whose data stages (prepare, validate, vocab,
    encode: they do not touch MLflow) ran once and are committed with dvc.lock, their
    outputs in its DVC cache. A pipeline then reruns prepare only (it reads the training
    seed, which each pipeline sets; its output does not change, the data's own seed is
    pinned), and validate, vocab and encode stay up to date: what races is train,
    evaluate (registration) and report, the stages that use the store."""
    repo = make_repo(root, tasks=("entity",))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in BASE.items():
        for key, value in values.items():
            target = params["entity"].setdefault(section, {})
            if isinstance(value, dict):
                target.setdefault(key, {}).update(value)
            else:
                target[key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-qam", "concurrency params"], cwd=repo, check=True)
    out = subprocess.run(["dvc", "repro", "entity-encode"], cwd=repo, env=clean_env(repo),
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the template's data stages failed:\n{out.stdout[-3000:]}"
                           f"\n{out.stderr[-3000:]}")
    if (repo / "mlruns").exists():
        raise RuntimeError("the data stages made an MLflow store: the copies would share it")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "data stages (dvc.lock)"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.email", "t@t"], cwd=repo, check=True)
    return repo


def copy_repo(template: Path, dst: Path) -> Path:
    """A copy of the template (git history, DVC cache and data outputs included), without
    DVC's state and locks of the template (`.dvc/tmp`, rebuilt on first use)."""
    shutil.copytree(template, dst, symlinks=True)
    shutil.rmtree(dst / ".dvc" / "tmp", ignore_errors=True)
    return dst


def set_params(repo: Path, values: dict[str, int]) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for dotted, value in values.items():
        *path, last = dotted.split(".")
        node = params
        for key in path:
            node = node[key]
        node[last] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_clones(base: Path, template: Path, plan: list[dict[str, int]], uri: str) -> dict:
    """One `dvc repro` per copy, all at once; per pipeline its return code, output tail and
    the dev F1 DVC recorded (metrics/entity.json), keyed by its seed."""
    repos = []
    for i, values in enumerate(plan):
        repo = copy_repo(template, base / f"clone{i}")
        set_params(repo, values)
        repos.append(repo)
    start = time.perf_counter()
    procs = [subprocess.Popen(["dvc", "repro"], cwd=r,
                              env={**clean_env(r), "MLFLOW_TRACKING_URI": uri},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in repos]
    outs = [p.communicate()[0] for p in procs]
    seconds = time.perf_counter() - start
    pipelines = {}
    for repo, values, proc, out in zip(repos, plan, procs, outs, strict=True):
        path = repo / "metrics/entity.json"
        dev = json.loads(path.read_text())[METRIC] if path.exists() else None
        pipelines[values["seed"]] = {"rc": proc.returncode, "tail": out[-1500:], "dev": dev,
                                     "epochs": values["entity.train.max_epochs"],
                                     "ran": [s.removeprefix("entity-") for s in ran(out)]}
    return {"seconds": seconds, "pipelines": pipelines}


def run_queue(base: Path, template: Path, plan: list[dict[str, int]], uri: str | None,
              jobs: int, wait_s: float) -> dict:
    """N queued experiments in one copy, run by `dvc queue start -j jobs`; per pipeline its
    queue state and the dev F1 of its experiment (`dvc exp show --json`), keyed by its seed.
    `uri` None: the project's default store (mlruns/mlflow.db at the copy's root)."""
    repo = copy_repo(template, base / "clone")
    env = clean_env(repo)
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    names = {}
    for values in plan:
        name = f"seed{values['seed']}"
        sets = [a for k, v in values.items() for a in ("-S", f"{k}={v}")]
        subprocess.run(["dvc", "exp", "run", "--queue", "--name", name, *sets], cwd=repo,
                       env=env, check=True, capture_output=True, text=True)
        names[name] = values
    start = time.perf_counter()
    subprocess.run(["dvc", "queue", "start", "-j", str(jobs)], cwd=repo, env=env, check=True,
                   capture_output=True, text=True)
    # poll cheaply: a finished experiment's git ref (refs/exps/.../<name>) every 5 s, and
    # `dvc queue status` (a DVC process: CPU on a 2-core machine) once all refs are there,
    # or every 60 s (a failed experiment makes no ref)
    status, asked = "", 0.0
    while time.perf_counter() - start < wait_s:
        time.sleep(5)
        refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
                              cwd=repo, capture_output=True, text=True).stdout.split()
        made = {ref.rsplit("/", 1)[-1] for ref in refs} & set(names)
        if made != set(names) and time.perf_counter() - asked < 60:
            continue
        asked = time.perf_counter()
        status = subprocess.run(["dvc", "queue", "status"], cwd=repo, env=env,
                                capture_output=True, text=True).stdout
        lines = [ln for ln in status.splitlines()[1:] if ln.strip()]
        if lines and not any(s in ln for ln in lines for s in ("Queued", "Running")):
            break
    seconds = time.perf_counter() - start
    subprocess.run(["dvc", "queue", "stop"], cwd=repo, env=env, capture_output=True)
    state = {}
    for line in status.splitlines()[1:]:
        cols = line.split()
        for name in names:
            if name in cols:
                state[name] = next((c for c in cols if c in (
                    "Success", "Failed", "Queued", "Running", "Killed")), line)
    show = subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, env=env,
                          capture_output=True, text=True)
    dev = _exp_metrics(json.loads(show.stdout)) if show.returncode == 0 else {}
    pipelines = {}
    for name, values in names.items():
        ok = state.get(name) == "Success"
        logs = subprocess.run(["dvc", "queue", "logs", name], cwd=repo, env=env,
                              capture_output=True, text=True).stdout
        pipelines[values["seed"]] = {"rc": 0 if ok else state.get(name, "missing"),
                                     "tail": "" if ok else logs[-1500:], "dev": dev.get(name),
                                     "epochs": values["entity.train.max_epochs"],
                                     "ran": [s.removeprefix("entity-") for s in ran(logs)]}
    return {"seconds": seconds, "pipelines": pipelines, "status": status,
            "store": f"sqlite:///{repo}/mlruns/mlflow.db"}


def _exp_metrics(show: list[dict]) -> dict[str, float]:
    """{experiment name: dev F1} from `dvc exp show --json` (DVC 3's list of commits, each
    with its experiments)."""
    out: dict[str, float] = {}
    for commit in show:
        for exp in commit.get("experiments") or []:
            for revision in exp.get("revs") or []:
                data = (revision.get("data") or {})
                metrics = (data.get("metrics") or {}).get("metrics/entity.json") or {}
                value = (metrics.get("data") or {}).get(METRIC)
                name = revision.get("name") or exp.get("name")
                if name and value is not None:
                    out[name] = float(value)
    return out


def check(uri: str, result: dict, base: Path) -> dict:
    """The round's invariants against the store; a row of the table and its failures."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(uri, uri)
    pipelines, n = result["pipelines"], len(result["pipelines"])
    failures = [f"pipeline seed={s} crashed ({p['rc']}):\n{p['tail']}"
                for s, p in pipelines.items() if p["rc"] != 0]
    experiment = client.get_experiment_by_name(NAME)
    runs = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
    finished = {r.info.run_id: r for r in runs if r.info.status == "FINISHED"
                and METRIC in r.data.metrics}
    if len(runs) != n or len(finished) != n:
        failures.append(f"{len(runs)} runs, {len(finished)} FINISHED with {METRIC}; want {n} "
                        f"({sorted((r.info.status, r.data.params.get('seed')) for r in runs)})")
    versions = client.search_model_versions(f"name='{NAME}'") if experiment else []
    ready = [v for v in versions if v.status == "READY"]
    if len(ready) != n or len(versions) != n:
        failures.append(f"{len(versions)} versions, {len(ready)} READY; want {n}")
    keys = {v.tags.get("rnnlab.dataset") for v in ready}
    if len(keys) != 1:
        failures.append(f"{len(keys)} dataset keys among the versions; want 1 (one race)")
    # every pipeline's DVC-side dev F1 is its run's and its version's
    table = {}
    for v in ready:
        run = finished.get(v.run_id)
        if run is None:
            failures.append(f"v{v.version}: its run {v.run_id} is not a finished run")
            continue
        seed = int(run.data.params["seed"])
        value = float(v.tags["rnnlab.primary_value"])
        table[seed] = (str(v.version), value)
        recorded = pipelines.get(seed, {}).get("dev")
        if recorded is None or abs(recorded - value) > 1e-9 \
                or abs(run.data.metrics[METRIC] - value) > 1e-9:
            failures.append(f"seed {seed}: DVC dev F1 {recorded}, run {run.data.metrics[METRIC]},"
                            f" version v{v.version} {value}")
    missing = sorted(set(pipelines) - set(table))
    if missing:
        failures.append(f"pipelines with no registered version: seeds {missing}")
    loaded = 0
    for v in ready:  # the artifacts: every version's model loads and tags a sentence
        dst = base / "load" / str(v.version)
        dst.mkdir(parents=True)
        try:
            model = mlflow.pyfunc.load_model(f"models:/{NAME}/{v.version}", dst_path=str(dst))
            tags = model.predict(["in the forest there are Panthera leo"])[0]["tags"]
            loaded += len(tags) == 7
        except Exception as err:  # a missing or broken artifact is what this counts
            failures.append(f"v{v.version} does not load: {type(err).__name__}: {err}")
    if loaded != len(ready):
        failures.append(f"{loaded} of {len(ready)} versions load and predict")
    best = max((value for _, value in table.values()), default=None)
    expected = min((int(ver) for ver, value in table.values() if value == best), default=None)
    aliases = {}
    for alias in ("champion", *(f"champion-{k[:12]}" for k in keys if k)):
        try:
            aliases[alias] = str(client.get_model_version_by_alias(NAME, alias).version)
        except Exception:  # no such alias: reported below
            aliases[alias] = None
    for alias, version in aliases.items():
        if version != str(expected):
            failures.append(f"@{alias} is v{version}, the best by {METRIC} is v{expected}")
    scores = sorted(table.values(), key=lambda t: int(t[0]))
    return {"seconds": round(result["seconds"]), "crashed": sum(p["rc"] != 0
                                                                for p in pipelines.values()),
            "runs": f"{len(finished)}/{n}", "versions": f"{len(ready)}/{n}",
            "loaded": f"{loaded}/{len(ready)}",
            "dev_f1": " ".join(f"v{ver}:{value:.3f}" for ver, value in scores),
            "distinct": len({value for _, value in scores}),
            "champion": f"v{aliases.get('champion')}", "best": f"v{expected}",
            # the best registered last proves less: "last writer wins" would also pass
            "best_is_newest": expected is not None and expected == max(
                (int(ver) for ver, _ in scores), default=None),
            "ok": not failures, "failures": failures}


def one_round(round_no: int, args: argparse.Namespace, template: Path) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-concurrency-") as tmp:
        base = Path(tmp)
        plan = variants(round_no, args.pipelines)
        with (teamstore.team_store(base, "rnnlab_conc") if args.store == "server"
              else _none()) as server:
            if args.mode == "clones":
                uri = server or f"sqlite:///{base}/store/mlflow.db"
                result = run_clones(base, template, plan, uri)
            else:
                result = run_queue(base, template, plan, server, args.jobs, args.wait)
                uri = server or result["store"]
            row = check(uri, result, base)
    # the stages each pipeline ran (its `dvc repro` output; the queue: `dvc queue logs`)
    stages = {",".join(p["ran"]) for p in result["pipelines"].values() if "ran" in p}
    return {**row, "ran": " / ".join(sorted(stages)) or "-",
            "round_s": round(time.perf_counter() - start)}


@contextmanager
def _none() -> Iterator[None]:
    yield None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("clones", "queue"), default="clones")
    parser.add_argument("--store", choices=("sqlite", "server"), default="sqlite")
    parser.add_argument("--pipelines", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--first", type=int, default=1,
                        help="number of the first round (its plan: seeds and epochs)")
    parser.add_argument("--jobs", type=int, default=4,
                        help="queue: dvc queue start -j (4: all four at once)")
    parser.add_argument("--wait", type=float, default=1800, help="queue: seconds to wait")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per load
    columns = ("round", "seconds", "round_s", "crashed", "runs", "versions", "loaded",
               "dev_f1", "distinct", "champion", "best", "best_is_newest", "ran", "ok")
    print(f"mode={args.mode} store={args.store} pipelines={args.pipelines}"
          + (f" jobs={args.jobs}" if args.mode == "queue" else ""), flush=True)
    began = time.perf_counter()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="rnnlab-concurrency-template-") as tmp:
        template = prepare_template(Path(tmp) / "template")
        print(f"template (data stages once): {time.perf_counter() - began:.0f} s", flush=True)
        print(" | ".join(columns), flush=True)
        for r in range(args.first - 1, args.first - 1 + args.rounds):
            row = {"round": r + 1, **one_round(r, args, template)}
            print(" | ".join(str(row[c]) for c in columns), flush=True)
            for failure in row["failures"]:
                print(f"  FAILED: {failure}", flush=True)
            failed += not row["ok"]
    print(f"{args.rounds - failed}/{args.rounds} rounds passed in "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
