"""train: fit the task's RNN with Lightning (GPU when there is one), early stopping on the dev
metric. Writes models/<task>/ (weights, config, vocabularies, checkpoints, MLflow run id), the
loss curves (plots/<task>/training.csv) and metrics/<task>/train.json. One MLflow run per
training; evaluate adds to the same run."""

from __future__ import annotations

import shutil
import time
from typing import Any

import pandas as pd
import pytorch_lightning as pl
import torch

from rnnlab import tasks, tracking
from rnnlab.config import Config, TaskConfig
from rnnlab.io import atomic_dir, atomic_path, write_json
from rnnlab.lightning import fit, loader, set_threads
from rnnlab.stages import Paths
from rnnlab.stages.common import read_encoded, read_vocabs, require_valid


def run(task: str, cfg: Config) -> None:
    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    paths, tc = Paths(task), cfg.task(task)
    require_valid(paths)
    module = tasks.get(task)
    set_threads(tc.train.threads)
    pl.seed_everything(cfg.seed, workers=True)
    vocabs, encoded = read_vocabs(paths), read_encoded(paths)
    net_config = module.net_config(tc, vocabs)
    net = module.build_net(net_config)
    lit = module.lightning_module(tc, net, vocabs)

    tracking.setup(cfg.mlflow, task)
    with mlflow.start_run(tags=tracking.run_tags(task, "train")) as active:
        run_id = active.info.run_id
        mlflow.log_params(tracking.flat_params("", {
            "seed": cfg.seed, "encoding": tc.encoding, "model": vars(tc.model),
            "train": vars(tc.train), "vocab": vars(tc.vocab), "data": tc.data}))
        mlflow.log_artifacts(str(paths.validation), "validation")
        mlflow.log_artifacts(str(paths.vocab), "vocab")
    logger = MLFlowLogger(experiment_name=f"rnnlab-{task}",
                          tracking_uri=tracking.tracking_uri(cfg.mlflow), run_id=run_id)
    t = tc.train
    mode = getattr(module, "MONITOR_MODE", "max")
    train_loader, dev_loader = _loaders(module, tc, encoded, cfg.seed)
    start = time.perf_counter()
    with atomic_dir(paths.model) as out:
        fit(lit, train_loader, dev_loader, max_epochs=t.max_epochs, patience=t.patience,
            monitor=module.MONITOR, mode=mode, grad_clip=t.grad_clip, accelerator=t.accelerator,
            devices=t.devices, strategy=t.strategy, precision=t.precision,
            log_every_n_steps=t.log_every_n_steps, ckpt_dir=str(out / "checkpoints"),
            logger=logger)
        seconds = time.perf_counter() - start
        torch.save(net.cpu().state_dict(), out / "model.pt")
        write_json(out / "net.json", {"task": task, "config": net_config,
                                      "vocabs": sorted(vocabs)})
        shutil.copytree(paths.vocab, out / "vocab")
        write_json(out / "run.json", {"run_id": run_id,
                                      "tracking_uri": tracking.tracking_uri(cfg.mlflow)})
    curve = pd.DataFrame(lit.history)
    with atomic_path(paths.plots / "training.csv") as tmp:
        curve.to_csv(tmp, index=False)
    best = float("nan")
    if module.MONITOR in curve:
        best = float(curve[module.MONITOR].max() if mode == "max" else curve[module.MONITOR].min())
    write_json(paths.stage_metrics / "train.json", {
        f"best_{module.MONITOR}": best, "epochs": len(curve), "train_seconds": round(seconds, 2),
        "examples_per_second": round(len(curve) * len(train_loader.dataset) / seconds, 1),
    })
    print(f"train[{task}]: {len(curve)} epochs in {seconds:.1f}s, best {module.MONITOR}={best:.4f}"
          f" (MLflow run {run_id})")


def _loaders(module: Any, tc: TaskConfig, encoded: dict, seed: int) -> tuple[Any, Any]:
    """The task's own DataLoaders, or length-bucketed batches of padded sequences."""
    if hasattr(module, "loaders"):
        return module.loaders(tc, encoded, seed)
    t = tc.train
    return (loader(encoded["train"], t.batch_size, shuffle=True, seed=seed, bucket=t.bucket,
                   balanced=t.imbalance == "sampler"),
            loader(encoded["dev"], 256))
