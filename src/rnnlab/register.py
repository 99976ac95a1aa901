"""`rnnlab register <task>`: register models/<task> from the DVC outputs, without retraining.

After `dvc pull` in a fresh clone the outputs are there (models/<task>, metrics/<task>.json,
data/prepared/<task>) but the MLflow store is empty. This logs the folder as the pyfunc model
(rnnlab.stages.evaluate.log_model, the code evaluate uses) in a run of the task's experiment,
with the metrics of metrics/<task>.json, and registers it under the champion rule on the
task's primary metric. Weights already registered (same SHA-256) are not registered twice.
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.config import Config


def run(task: str, cfg: Config) -> dict:
    import mlflow
    from mlflow.tracking import MlflowClient

    from rnnlab import tasks, tracking
    from rnnlab.io import file_digest, read_json
    from rnnlab.stages import Paths
    from rnnlab.stages.common import read_frames
    from rnnlab.stages.evaluate import CALIBRATION_FILE, log_model

    spec, paths, tc = tasks.get(task), Paths(task), cfg.task(task)
    needed = [paths.model / "model.pt", paths.model / "net.json", paths.metrics,
              Path(paths.prepared)]
    missing = [str(p) for p in needed if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"register {task} needs the DVC outputs {missing}: run "
                                "`dvc pull` (or `dvc repro`) first")
    metrics = read_json(paths.metrics)
    if tc.primary_metric not in metrics:
        raise KeyError(f"{paths.metrics} has no {task}.primary_metric {tc.primary_metric!r}")
    digest = file_digest(paths.model / "model.pt")
    tracking.setup(cfg.mlflow, task)
    name = tracking.model_name(task)
    run_id = tracking.training_run(task, digest)  # None in a fresh store
    for version in MlflowClient().search_model_versions(f"name='{name}'"):
        if version.tags.get(tracking.WEIGHTS_TAG) == digest or \
                (run_id is not None and version.run_id == run_id):
            aliases = ", ".join(f"@{a}" for a in version.aliases) or "no alias"
            print(f"register[{task}]: these weights are {name} v{version.version} ({aliases})")
            return {"name": name, "version": int(version.version), "alias": None}
    fingerprint = {tracking.DATA_TAG: tracking.data_fingerprint(paths.prepared),
                   tracking.WEIGHTS_TAG: digest}
    with mlflow.start_run(run_id=run_id, tags={**tracking.run_tags(task, "evaluate"),
                                               **fingerprint, "rnnlab.registered_by":
                                               "rnnlab register"}):
        if run_id is None:  # a run of its own: the DVC outputs' metrics
            mlflow.log_metrics({k.replace("@", "_"): float(v) for k, v in metrics.items()})
            mlflow.log_artifact(str(paths.metrics))
        # evaluate's calibration (forecast's interval widths) is a DVC output of evaluate
        calibration_file = paths.evaluation / CALIBRATION_FILE
        calibration = read_json(calibration_file) if calibration_file.is_file() else None
        info = log_model(spec, tc, paths.model, read_frames(paths), calibration=calibration)
        registered = tracking.register(info.model_uri, task, tc.primary_metric,
                                       float(metrics[tc.primary_metric]), spec.primary_mode,
                                       tags=fingerprint)
    print(f"register[{task}]: {registered['name']} v{registered['version']} as "
          f"@{registered['alias']} ({tc.primary_metric}={registered['value']:.4f}, from "
          f"{paths.model} and {paths.metrics}; nothing retrained)")
    return registered
