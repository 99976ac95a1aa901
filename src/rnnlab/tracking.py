"""MLflow: where the store is, one run per training, registry with champion/challenger aliases.

Default store: sqlite:///mlruns/mlflow.db with artifacts under mlruns/artifacts. Set
MLFLOW_TRACKING_URI to use a shared tracking server instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from filelock import FileLock
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rnnlab.config import MlflowConfig
from rnnlab.io import file_digest, process_alive
from rnnlab.stages import stage_name

log = logging.getLogger(__name__)
WEIGHTS_TAG = "rnnlab.weights_sha256"  # set by train; evaluate finds its training run by it
# on each registered version (and its run): SHA-256 of the prepared data it was trained and
# scored on, so versions from different corpora can be told apart
DATA_TAG = "rnnlab.data_sha256"
# on each registered version: what the champion rule reads (see `decide`)
DATASET_TAG = "rnnlab.dataset"  # dataset_key(): data SHA-256 + primary metric + direction
METRIC_TAG, MODE_TAG, VALUE_TAG = ("rnnlab.primary_metric", "rnnlab.primary_mode",
                                   "rnnlab.primary_value")
# on each run: the process that has it open, so a rerun can tell a killed stage's run
HOST_TAG, PID_TAG = "rnnlab.host", "rnnlab.pid"
# on each run: the workspace its stage ran in (`workspace()`), so that evaluate finds the
# training of its own workspace when another one trained identical weights
WORKSPACE_TAG = "rnnlab.workspace"
# the MLflow 3 UI's experiment type (read by its JavaScript, mlflow/server/js): model training
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


def project_root(start: str | Path | None = None) -> Path:
    """The project whose store a stage logs into: the nearest folder holding params.yaml or
    dvc.yaml, except that DVC's experiment workspaces (`<root>/.dvc/tmp/exps/...`, which DVC
    deletes afterwards) belong to the project `<root>` around them."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if folder.name == "exps" and folder.parent.name == "tmp" \
                and folder.parent.parent.name == ".dvc":
            return folder.parent.parent.parent
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file() or (folder / "dvc.yaml").is_file():
            return folder
    return here


def store_uri(cfg: MlflowConfig, start: str | Path | None = None) -> str:
    """The store's URI (MLFLOW_TRACKING_URI, else params.yaml's), a local SQLite path made
    absolute against `project_root(start)`; creates nothing. Always absolute: MLflow caches
    one store object per URI string, so a relative one would follow the current directory
    (and DVC's temporary workspaces)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    if uri.startswith("sqlite:///"):
        path, sep, query = uri.removeprefix("sqlite:///").partition("?")
        db = Path(path) if Path(path).is_absolute() else project_root(start) / path
        uri = f"sqlite:///{db}{sep}{query}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local SQLite URI; None for a server."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").partition("?")[0])


def tracking_uri(cfg: MlflowConfig) -> str:
    """`store_uri(cfg)` from the current directory, with the local store's folder made."""
    uri = store_uri(cfg)
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return uri


def artifact_root(cfg: MlflowConfig) -> Path:
    """Where a local store keeps its artifacts (against the project root, like the store)."""
    root = Path(cfg.artifact_root)
    return root if root.is_absolute() else project_root() / root


def store_lock(uri: str, purpose: str, timeout: float = 900.0) -> FileLock:
    """A file lock serialising `purpose` ("init": first open and migration; "registry": read
    the versions, register, move the aliases) across the processes of this machine: next to
    the database for SQLite, in the temporary folder (one per URI) for a server."""
    db = sqlite_path(uri)
    if db is not None:
        path = db.with_name(f"{db.name}.{purpose}.lock")
    else:
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"rnnlab-mlflow-{digest}.{purpose}.lock"
    return FileLock(path, timeout=timeout)


def model_name(task: str) -> str:
    return f"rnnlab-{task}"


def experiment_name(task: str) -> str:
    return f"rnnlab-{task}"


def setup(cfg: MlflowConfig, task: str) -> str:
    """Point MLflow at the store and select the task's experiment; returns the experiment id.
    A local SQLite store is created and migrated under a file lock (two processes migrating
    one new file crash it, or break it for good)."""
    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri.startswith("sqlite:"):
        with store_lock(uri, "init"):  # the client builds (creates, migrates) the tables
            client = MlflowClient(uri, uri)
            client.search_registered_models(max_results=1)  # the registry's store, the same
    else:
        client = MlflowClient(uri, uri)
    location = None
    if uri.startswith("sqlite:"):  # a local store keeps its artifacts next to the database
        location = (artifact_root(cfg) / task).as_uri()
    experiment_id = get_or_create_experiment(client, experiment_name(task), location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def get_or_create_experiment(client: MlflowClient, name: str, location: str | None) -> str:
    """The experiment's id, creating it if needed; another process creating it at the same
    moment is no error (its experiment is read back). Tagged as model training, so that the
    MLflow 3 UI opens it in its model-training view, not the GenAI one."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=location,
                                            tags={KIND_TAG: KIND})
        except MlflowException:
            experiment = client.get_experiment_by_name(name)  # created meanwhile
            if experiment is None:
                raise
    if experiment.tags.get(KIND_TAG) != KIND:
        client.set_experiment_tag(experiment.experiment_id, KIND_TAG, KIND)
    return experiment.experiment_id


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def workspace() -> str:
    """Where this stage runs: host and current directory, e.g. one clone, or one of DVC's
    temporary experiment workspaces (`.dvc/tmp/exps/...`; unlike `project_root`, which
    maps those to the project around them)."""
    return f"{socket.gethostname()}:{Path.cwd().resolve()}"


def run_tags(task: str, stage: str) -> dict[str, str]:
    tags = {"rnnlab.task": task, "dvc.stage": stage_name(task, stage),
            "mlflow.source.git.commit": git_commit(), HOST_TAG: socket.gethostname(),
            PID_TAG: str(os.getpid()), WORKSPACE_TAG: workspace()}
    flow_run = os.environ.get("PREFECT__FLOW_RUN_ID")
    if flow_run:
        tags["prefect.flow_run_id"] = flow_run
    torch = sys.modules.get("torch")
    if torch is not None:  # the kernels' instruction set decides the last bits (rnnlab/__init__)
        tags["rnnlab.cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return tags


def flat_params(prefix: str, value: Any) -> dict[str, Any]:
    """Nested settings -> {'model.cell': 'gru', ...} for mlflow.log_params."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flat_params(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def training_run(task: str, digest: str) -> str | None:
    """The latest training run whose weights have this SHA-256, preferring one trained in
    this workspace (`workspace()`): two pipelines with the same params and seed train
    identical weights, and each evaluate must find its own training. Else the latest run
    with these weights from anywhere (runs from before the workspace tag, a moved
    checkout); None, e.g. after `dvc pull` into a fresh store: evaluate then opens a run
    of its own."""
    experiment = mlflow.get_experiment_by_name(experiment_name(task))
    if experiment is None:
        return None
    here, query = workspace(), f"tags.`{WEIGHTS_TAG}` = '{digest}'"
    mine = [f"{query} and tags.`{WORKSPACE_TAG}` = '{here}'"] if "'" not in here else []
    for where in (*mine, query):
        runs = MlflowClient().search_runs([experiment.experiment_id], where,
                                          order_by=["attributes.start_time DESC"],
                                          max_results=1)
        if runs:
            return runs[0].info.run_id
    return None


def is_better(value: float, champion: float | None, mode: str) -> bool:
    """The champion rule: a new version beats the champion if there is none, or if its
    primary metric is higher (`mode` max) or lower (`mode` min); a tie keeps the champion."""
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if champion is None:
        return True
    return value > champion if mode == "max" else value < champion


def data_fingerprint(folder: str | Path) -> str:
    """SHA-256 over the names and SHA-256s of every file in a folder (e.g. the prepared data)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(folder).as_posix()}\0{file_digest(path)}\n".encode())
    return h.hexdigest()


def dataset_key(task: str, data_sha256: str, metric: str, mode: str) -> str:
    """What a champion is the champion of: the task, the prepared data's SHA-256 and the
    primary metric with its direction. Versions with different keys are never compared."""
    text = json.dumps({"task": task, "data": data_sha256, "metric": metric, "mode": mode},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_alias(key: str) -> str:
    """The alias of a dataset's own champion: `champion-<first 12 hex digits of its key>`."""
    return f"champion-{key[:12]}"


def _score(version: ModelVersion) -> float | None:
    raw = version.tags.get(VALUE_TAG)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return None if math.isnan(value) else value


def decide(versions: list[ModelVersion]) -> tuple[dict[str, str], str | None, str | None]:
    """The champion rule over every version at once, so any process can recompute it and all
    get the same answer: per dataset key, the best by its primary metric (`is_better`; on a
    tie the older version stays, a NaN never wins). Returns ({key: champion version},
    the current key, that of the newest version, and its challenger: the newest version of
    the current key that is not its champion). Versions without the key tags (registered
    before this rule) and unfinished ones take no part."""
    best: dict[str, tuple[str, float]] = {}
    newest: tuple[int, str] | None = None
    latest: dict[str, list[str]] = {}
    for v in sorted(versions, key=lambda v: int(v.version)):
        key, mode, value = v.tags.get(DATASET_TAG), v.tags.get(MODE_TAG), _score(v)
        if not key or mode not in ("max", "min") or v.status != "READY":
            continue
        newest = (int(v.version), key)
        latest.setdefault(key, []).append(str(v.version))
        if value is not None and (key not in best or is_better(value, best[key][1], mode)):
            best[key] = (str(v.version), value)
    champions = {key: version for key, (version, _) in best.items()}
    if newest is None:
        return champions, None, None
    current = newest[1]  # (version numbers are strings here: stores answer either)
    others = [v for v in latest[current] if v != champions.get(current)]
    return champions, current, others[-1] if others else None


def settle_aliases(client: MlflowClient, name: str, rounds: int = 20) -> dict[str, str]:
    """Move the aliases to what `decide` says of all versions: `champion-<key>` per dataset,
    `champion` and `challenger` for the current dataset. Repeated until no version appeared
    meanwhile, so that whichever process writes last writes the answer for every version
    (race-tolerant without a lock, e.g. several machines on one server). Returns the aliases."""
    aliases: dict[str, str] = {}
    for _ in range(rounds):
        before = client.search_model_versions(f"name='{name}'")
        champions, current, challenger = decide(before)
        aliases = {dataset_alias(k): v for k, v in champions.items()}
        if current in champions:
            aliases["champion"] = champions[current]
        if challenger:
            aliases["challenger"] = challenger
        held = {a: str(v.version) for v in before for a in v.aliases}
        for alias, version in aliases.items():
            if held.get(alias) != version:
                client.set_registered_model_alias(name, alias, version)
        for alias in ("champion", "challenger"):
            if alias in held and alias not in aliases:
                client.delete_registered_model_alias(name, alias)
        after = client.search_model_versions(f"name='{name}'")
        if sorted(v.version for v in after) == sorted(v.version for v in before):
            return aliases
    raise RuntimeError(f"{name}: versions kept appearing over {rounds} rounds of settling "
                       "its aliases; run the stage again")


def register(model_uri: str, task: str, metric: str, value: float,
             mode: str = "max", tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Register a version and move the aliases (`settle_aliases`): it is its dataset's
    `champion` only if it beats every other version of the same data on the primary metric,
    otherwise the `challenger`. The version is tagged with the data's SHA-256 (`tags`, from
    DATA_TAG), the dataset key and the primary metric's name, direction and value. On one
    machine the whole step holds a file lock; across machines the settling makes it safe."""
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    tags = dict(tags or {})
    key = dataset_key(task, tags.get(DATA_TAG, ""), metric, mode)
    client = MlflowClient()
    name = model_name(task)
    run = mlflow.active_run()
    with store_lock(mlflow.get_registry_uri(), "registry"):
        # a rerun after a kill between registering and the aliases finds that version (same
        # run, data and score): it settles the aliases rather than register a duplicate
        done = [v for v in client.search_model_versions(f"name='{name}'")
                if run is not None and v.run_id == run.info.run_id and v.status == "READY"
                and v.tags.get(DATASET_TAG) == key
                and v.tags.get(VALUE_TAG) == repr(float(value))]
        if done:
            version = max(done, key=lambda v: int(v.version))
            log.warning("%s v%s: already registered for this run, data and score (an "
                        "interrupted evaluate?); settling its aliases", name, version.version)
        else:
            version = mlflow.register_model(model_uri, name, tags={
                metric: str(value), "primary_metric": metric, METRIC_TAG: metric,
                MODE_TAG: mode, VALUE_TAG: repr(float(value)), DATASET_TAG: key, **tags})
        kill_point("evaluate:registered")
        aliases = settle_aliases(client, name)
    versions = [v for v in client.search_model_versions(f"name='{name}'")
                if v.tags.get(DATASET_TAG) == key and str(v.version) != str(version.version)]
    previous, _, _ = decide(versions)
    previous_value = next((_score(v) for v in versions if str(v.version) == previous.get(key)),
                          None)
    champion = aliases.get(dataset_alias(key)) == str(version.version)
    return {"name": name, "version": int(version.version),
            "alias": "champion" if champion else "challenger", "metric": metric,
            "value": value, "previous_champion_value": previous_value,
            "dataset": key, "dataset_alias": dataset_alias(key)}


@contextmanager
def stage_run(run_id: str | None = None,
              tags: dict[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
    """A stage's MLflow run (a new one, or `run_id` resumed), ended by the stage itself:
    FINISHED when the block completes, KILLED on SIGTERM, Ctrl-C or exit, FAILED on an
    error. SIGTERM becomes SystemExit for the block's duration, so that it unwinds through
    Lightning (which then ends its fit) instead of killing the process with the run open.
    SIGKILL cannot be caught: `repair` ends such a run on the next start of a stage."""
    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminate) if main else None
    active = mlflow.start_run(run_id=run_id, tags=tags)
    try:
        yield active
    except (KeyboardInterrupt, SystemExit):
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def kill_point(name: str) -> None:
    """Tests of kill safety: signal this process (RNNLAB_KILL_SIGNAL, default SIGKILL) at the
    point `name` when RNNLAB_KILL_AT names it; nothing otherwise."""
    if os.environ.get("RNNLAB_KILL_AT") == name:
        os.kill(os.getpid(), getattr(signal, os.environ.get("RNNLAB_KILL_SIGNAL", "SIGKILL")))


def repair(client: MlflowClient, experiment_id: str) -> list[str]:
    """End what killed stages of this machine left behind: a RUNNING run whose process (tags
    rnnlab.host, rnnlab.pid) is gone becomes KILLED, and a PENDING logged model whose run is
    no longer running becomes FAILED. Runs of other machines are left alone (their process
    cannot be checked from here). Returns what it changed, for the log."""
    host, changed = socket.gethostname(), []
    running = client.search_runs([experiment_id], "attributes.status = 'RUNNING'",
                                 max_results=1000)
    for run in running:
        pid = run.data.tags.get(PID_TAG, "")
        if run.data.tags.get(HOST_TAG) == host and pid.isdigit() and not process_alive(int(pid)):
            client.set_terminated(run.info.run_id, "KILLED")
            changed.append(f"run {run.info.run_id} KILLED")
    live = {r.info.run_id for r in running if f"run {r.info.run_id} KILLED" not in changed}
    for model in client.search_logged_models([experiment_id], max_results=1000):
        if str(model.status) == "PENDING" and model.source_run_id not in live:
            client.finalize_logged_model(model.model_id, "FAILED")
            changed.append(f"logged model {model.model_id} FAILED")
    for line in changed:
        log.warning("repaired a killed stage's leftover: %s", line)
    return changed
