"""evaluate: score the trained RNN and the task's baselines on the same test split, write
metrics/<task>.json and plots/<task>/evaluation/ (the task's tables, figures and files, the
training curves and a few examples), log everything to the training's MLflow run, and register
the model: alias `champion` if it beats the current champion on the primary metric (on dev,
never on test), else `challenger`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytorch_lightning as pl

from rnnlab import plots, tracking
from rnnlab.config import Config
from rnnlab.io import atomic_dir, file_digest, read_json, write_json
from rnnlab.nn.loop import set_threads
from rnnlab.serving import CALIBRATION, load_model_dir, with_calibration
from rnnlab.stages import Paths
from rnnlab.stages.common import read_encoded, read_frames, require_valid
from rnnlab.tasks import TaskSpec

PYFUNC = Path(__file__).resolve().parents[1] / "pyfunc_model.py"
# the same model, typed list[str] -> MLflow infers a `string` input it enforces (the module's
# docstring): the entry point of the tasks whose request is a list of texts
PYFUNC_TEXT = Path(__file__).resolve().parents[1] / "pyfunc_text.py"
# evaluate's calibration for the served model (rnnlab.tasks.Evaluation), in plots/<task>/
# evaluation/ so that `rnnlab register` finds it after `dvc pull`
CALIBRATION_FILE = f"{CALIBRATION}.json"
PACKAGE = Path(__file__).resolve().parents[1]
# what every served model needs besides the task's own spec.requirements
CORE_REQUIREMENTS = ("torch", "mlflow", "pandas", "numpy", "pyarrow", "pytorch-lightning",
                     "pyyaml")


def run(spec: TaskSpec, cfg: Config) -> None:
    import mlflow

    task, paths, tc = spec.name, Paths(spec.name), cfg.task(spec.name)
    require_valid(paths)
    set_threads(cfg.trainer.threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    _, net, vocabs = load_model_dir(paths.model)
    frames, encoded = read_frames(paths), read_encoded(paths)
    fitted = {"fit": read_json(paths.fit / "fit.json")} if spec.fit else {}  # train's record
    result = spec.evaluate(tc, net, frames, encoded, vocabs, cfg.seed, **fitted)
    metrics = {**result.metrics, **read_json(paths.stage_metrics / "vocab.json")}
    if tc.primary_metric not in metrics:
        raise KeyError(f"{task}.primary_metric {tc.primary_metric!r} is not among the metrics: "
                       f"{sorted(metrics)}")
    write_json(paths.metrics, metrics)
    with atomic_dir(paths.evaluation) as out:  # tables (DVC plots), figures, files, examples
        for stem, table in result.tables.items():
            table.to_csv(out / f"{stem}.csv", index=False)
        for name, write in result.files.items():
            write(out / name)
        tracking.kill_point("evaluate:plots")
        plots.curves(pd.read_csv(paths.plots / "training.csv"), out / "training.png",
                     f"{task}: training")
        (out / "examples.txt").write_text("\n".join(result.examples) + "\n")
        if result.calibration:
            write_json(out / CALIBRATION_FILE, result.calibration)

    tracking.repair(mlflow.MlflowClient(), tracking.setup(cfg.mlflow, task))
    run_id = tracking.training_run(task, file_digest(paths.model / "model.pt"))
    # the training's last step: the run page and its charts then show these values last,
    # after the per-epoch curves, not as their first point
    step = final_step(run_id)
    fingerprint = {tracking.DATA_TAG: tracking.data_fingerprint(paths.prepared)}
    # ends KILLED/FAILED if interrupted; registration is its last step (tracking.register)
    with tracking.stage_run(run_id=run_id, tags={**tracking.run_tags(task, "evaluate"),
                                                 **fingerprint}):
        mlflow.log_metrics({k.replace("@", "_"): float(v) for k, v in metrics.items()},
                           step=step)
        mlflow.log_artifact(str(paths.metrics))
        mlflow.log_artifact(str(paths.plots / "training.csv"), "evaluation")
        mlflow.log_artifacts(str(paths.evaluation), "evaluation")
        tracking.kill_point("evaluate:logged")
        info = log_model(spec, tc, paths.model, frames, net, vocabs, result.calibration)
        registered = None
        if cfg.mlflow.register:
            registered = tracking.register(info.model_uri, task, tc.primary_metric,
                                           float(metrics[tc.primary_metric]), spec.primary_mode,
                                           tags=fingerprint)
            mlflow.set_tag("registry", f"{registered['name']} v{registered['version']} "
                                       f"@{registered['alias']}")
    show = [tc.primary_metric, *[k for k in metrics if k.startswith("test/")]]
    print(f"evaluate[{task}]: " + ", ".join(f"{k}={metrics[k]:.4f}" for k in dict.fromkeys(show)))
    for k in sorted(metrics):
        if "/test/" in k:
            print(f"  baseline {k} = {metrics[k]:.4f}")
    if registered:
        print(f"  registered {registered['name']} v{registered['version']} as "
              f"@{registered['alias']} ({tc.primary_metric}={registered['value']:.4f}, "
              f"previous champion {registered['previous_champion_value']})")


def _requirements(spec: TaskSpec) -> list[str]:
    """Pinned pip requirements of the logged model: the core, plus the task's requirements."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in dict.fromkeys((*CORE_REQUIREMENTS,
                                                         *spec.requirements))]


def final_step(run_id: str | None) -> int:
    """The last step the training run logged at (0 without a training run): Lightning logs
    `epoch` with every metric it writes."""
    if run_id is None:
        return 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    steps = [m.step for key in ("epoch", "dev/loss") for m in client.get_metric_history(run_id,
                                                                                        key)]
    return max(steps, default=0)


def log_model(spec: TaskSpec, tc: Any, model_dir: Path, frames: dict[str, pd.DataFrame],
              net: Any = None, vocabs: dict[str, Any] | None = None,
              calibration: dict[str, Any] | None = None) -> Any:
    """Log models/<task> as the pyfunc model of the active run (evaluate and `rnnlab
    register` both call this); see model_kwargs. Returns MLflow's ModelInfo."""
    import mlflow

    return mlflow.pyfunc.log_model(name="model", **model_kwargs(spec, tc, model_dir, frames,
                                                                net, vocabs, calibration))


def model_kwargs(spec: TaskSpec, tc: Any, model_dir: Path, frames: dict[str, pd.DataFrame],
                 net: Any = None, vocabs: dict[str, Any] | None = None,
                 calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """mlflow.pyfunc.log_model's (and save_model's) arguments for a model folder:
    model-from-code, the folder as its artifact, the task's params with their defaults and
    evaluate's calibration in the model config, its input example (MLflow writes
    serving_input_example.json from it) and the signature built from them and the model's
    answer to the example."""
    if net is None or vocabs is None:
        _, net, vocabs = load_model_dir(model_dir)
    vocabs = with_calibration(vocabs, calibration)
    defaults = spec.predict_params(tc)
    example = spec.input_example(tc, frames, vocabs)
    output = spec.predict(net, vocabs, spec.model_input(example), defaults)
    config: dict[str, Any] = {"predict_params": defaults}
    if calibration:
        config[CALIBRATION] = calibration
    texts = is_texts(example)
    if texts:  # which typed model pyfunc_text.py sets
        config["output"] = "text" if all(isinstance(o, str) for o in output) else "objects"
    kwargs: dict[str, Any] = dict(
        code_paths=[str(PACKAGE)], artifacts={"model_dir": str(model_dir)},
        pip_requirements=_requirements(spec), model_config=config,
        input_example=(example, defaults) if defaults else example)
    if texts:
        # MLflow infers the signature from pyfunc_text.py's type hints and the example's
        # params (a signature given as well would be overridden, with a warning)
        return {**kwargs, "python_model": str(PYFUNC_TEXT)}
    return {**kwargs, "python_model": str(PYFUNC),
            "signature": signature(defaults, example, output)}


def is_texts(example: Any) -> bool:
    """Whether a task's input example is a list of texts (entity, review, translate)."""
    return isinstance(example, list) and bool(example) and \
        all(isinstance(x, str) for x in example)


def signature(defaults: dict[str, Any], example: Any, output: Any) -> Any:
    """The served contract of a task whose request is a table (music, forecast; texts get
    theirs from pyfunc_text.py's type hints): every pyfunc param with its default (MLflow
    drops undeclared ones), the input schema inferred from the task's input example and the
    output schema from the model's answer to it (Any where MLflow cannot infer one, e.g.
    music's mixed note triples).

    String columns (music's genre, forecast's date) are declared Any: under a `string` column
    MLflow's JSON parser casts a null to the word 'None' and a number to its digits before the
    model sees them (mlflow.utils.proto_json_utils.convert_data_type), so the model checks the
    values itself and says which row is wrong."""
    import logging

    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, DataType, ParamSchema, ParamSpec, Schema

    kinds = {bool: "boolean", int: "long", float: "double", str: "string"}
    specs = [ParamSpec(name, kinds[type(default)], default) for name, default in defaults.items()]
    quiet = logging.getLogger("mlflow.models.signature")
    level, quiet.level = quiet.level, logging.ERROR  # "failed to infer" is expected for music
    try:
        inferred = infer_signature(example, output)
    finally:
        quiet.setLevel(level)
    inputs = Schema([ColSpec(AnyType(), c.name, c.required)
                     if isinstance(c, ColSpec) and c.type == DataType.string else c
                     for c in inferred.inputs.inputs])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs,
                          params=ParamSchema(specs) if specs else None)
