"""train: fit the task's RNN with the one training loop (GPU when there is one), early
stopping on the task's dev metric. Writes models/<task>/ (weights, architecture, vocabularies:
nothing else, so the same weights hash the same), the loss curves (plots/<task>/training.csv)
and metrics/<task>/train.json (timings). One MLflow run per training, tagged with the weights'
SHA-256; evaluate finds it by that tag and adds to it."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytorch_lightning as pl
import torch

from rnnlab import tracking
from rnnlab.config import Config
from rnnlab.io import atomic_dir, atomic_path, file_digest, write_json
from rnnlab.nn.loop import set_threads, train
from rnnlab.stages import Paths
from rnnlab.stages.common import read_encoded, read_vocabs, require_valid
from rnnlab.tasks import TaskSpec


def run(spec: TaskSpec, cfg: Config) -> None:
    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    task, paths, tc = spec.name, Paths(spec.name), cfg.task(spec.name)
    require_valid(paths)
    set_threads(cfg.trainer.threads)
    pl.seed_everything(cfg.seed, workers=True)
    vocabs, encoded = read_vocabs(spec, paths), read_encoded(paths)
    net_config = spec.net_config(tc, vocabs)
    net = spec.build_net(net_config)
    objective = spec.objective(tc, net, vocabs)
    train_batches, dev_batches = spec.loaders(tc, encoded, cfg.seed)

    tracking.setup(cfg.mlflow, task)
    with mlflow.start_run(tags=tracking.run_tags(task, "train")) as active:
        run_id = active.info.run_id
        mlflow.log_params(tracking.flat_params("", {
            "seed": cfg.seed, "encoding": tc.encoding, "model": tc.model, "train": tc.train,
            "vocab": tc.vocab, "data": tc.data, "trainer": cfg.trainer}))
        # the verdict, not the Data Docs (they carry timestamps: depending on them would
        # retrain after every re-validation)
        mlflow.log_artifact(str(paths.validation / "summary.json"), "validation")
        mlflow.log_artifacts(str(paths.vocab), "vocab")
        logger = MLFlowLogger(experiment_name=tracking.experiment_name(task),
                              tracking_uri=tracking.tracking_uri(cfg.mlflow), run_id=run_id)
        start = time.perf_counter()
        module = train(net, objective, train_batches, dev_batches, tc.train, cfg.trainer,
                       logger=logger)
        seconds = time.perf_counter() - start
        with atomic_dir(paths.model) as out:
            torch.save(net.state_dict(), out / "model.pt")
            write_json(out / "net.json", {"task": task, "config": net_config,
                                          "vocabs": sorted(vocabs)})
            shutil.copytree(paths.vocab, out / "vocab")
            digest = file_digest(out / "model.pt")
        mlflow.set_tag(tracking.WEIGHTS_TAG, digest)
    curve = pd.DataFrame(module.history)
    with atomic_path(paths.plots / "training.csv") as tmp:
        curve.to_csv(tmp, index=False)
    monitor, mode = objective.monitor, objective.mode
    best = float("nan")
    if monitor in curve:
        best = float(curve[monitor].max() if mode == "max" else curve[monitor].min())
    write_json(paths.stage_metrics / "train.json", {
        f"best_{monitor}": best, "epochs": len(curve), "train_seconds": round(seconds, 2),
        "examples_per_second": round(len(curve) * len(train_batches.dataset) / seconds, 1),
    })
    print(f"train[{task}]: {len(curve)} epochs in {seconds:.1f}s, best {monitor}={best:.4f}"
          f" (MLflow run {run_id})")
