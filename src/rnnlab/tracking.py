"""MLflow: where the store is, one run per training, registry with champion/challenger aliases.

Default store: sqlite:///mlruns/mlflow.db with artifacts under mlruns/artifacts. Set
MLFLOW_TRACKING_URI to use a shared tracking server instead.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from rnnlab.config import MlflowConfig
from rnnlab.stages import stage_name

log = logging.getLogger(__name__)
WEIGHTS_TAG = "rnnlab.weights_sha256"  # set by train; evaluate finds its training run by it
# on each registered version (and its run): SHA-256 of the prepared data it was trained and
# scored on, so versions from different corpora can be told apart
DATA_TAG = "rnnlab.data_sha256"


def tracking_uri(cfg: MlflowConfig) -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def model_name(task: str) -> str:
    return f"rnnlab-{task}"


def experiment_name(task: str) -> str:
    return f"rnnlab-{task}"


def setup(cfg: MlflowConfig, task: str) -> str:
    """Point MLflow at the store and select the task's experiment; returns the experiment id."""
    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = experiment_name(task)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        mlflow.set_experiment(name)
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:"):  # a local store keeps its artifacts next to the database
        location = (Path(cfg.artifact_root) / task).resolve().as_uri()
    experiment_id = mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)
    return experiment_id


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_tags(task: str, stage: str) -> dict[str, str]:
    tags = {"rnnlab.task": task, "dvc.stage": stage_name(task, stage),
            "mlflow.source.git.commit": git_commit()}
    flow_run = os.environ.get("PREFECT__FLOW_RUN_ID")
    if flow_run:
        tags["prefect.flow_run_id"] = flow_run
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
    """The latest training run whose weights have this SHA-256 (None, e.g. after `dvc pull`
    into a fresh store: evaluate then opens a run of its own)."""
    experiment = mlflow.get_experiment_by_name(experiment_name(task))
    if experiment is None:
        return None
    runs = MlflowClient().search_runs(
        [experiment.experiment_id], f"tags.`{WEIGHTS_TAG}` = '{digest}'",
        order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def is_better(value: float, champion: float | None, mode: str) -> bool:
    """The champion rule: a new version beats the champion if there is none, or if its
    primary metric is higher (`mode` max) or lower (`mode` min); a tie keeps the champion."""
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    if champion is None:
        return True
    return value > champion if mode == "max" else value < champion


def champion_metric(client: MlflowClient, name: str, metric: str) -> float | None:
    try:
        version = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        return None
    value = version.tags.get(metric)
    return float(value) if value is not None else None


def data_fingerprint(folder: str | Path) -> str:
    """SHA-256 over the names and SHA-256s of every file in a folder (e.g. the prepared data)."""
    import hashlib

    from rnnlab.io import file_digest

    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(folder).as_posix()}\0{file_digest(path)}\n".encode())
    return h.hexdigest()


def register(model_uri: str, task: str, metric: str, value: float,
             mode: str = "max", tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Register a version; it becomes `champion` only if it beats the current champion on the
    primary metric (`is_better`), otherwise it is the `challenger`. `tags` go on the version
    too (e.g. DATA_TAG)."""
    client = MlflowClient()
    name = model_name(task)
    previous = champion_metric(client, name, metric)
    version = mlflow.register_model(model_uri, name,
                                    tags={metric: str(value), "primary_metric": metric,
                                          **(tags or {})})
    alias = "champion" if is_better(value, previous, mode) else "challenger"
    client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": int(version.version), "alias": alias,
            "metric": metric, "value": value, "previous_champion_value": previous}
