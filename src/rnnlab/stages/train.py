"""train: fit the task's RNN with the one training loop (GPU when there is one), early
stopping on the task's dev metric, or by the task's own `fit` hook (forecast: epochs chosen on
a rolling-origin backtest, whose record goes to models/<task>-fit/ for evaluate). Writes
models/<task>/ (weights, architecture, vocabularies: nothing else, so the same weights hash the
same), the loss curves (plots/<task>/training.csv) and metrics/<task>/train.json (timings).
One MLflow run per training, tagged with the weights' SHA-256; evaluate finds it by that tag
and adds to it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from rnnlab import tracking
from rnnlab.config import Config
from rnnlab.io import atomic_dir, atomic_path, file_digest, write_json
from rnnlab.nn.loop import ddp_worker, set_threads, train
from rnnlab.stages import Paths
from rnnlab.stages.common import read_encoded, read_frames, read_vocabs, require_valid
from rnnlab.tasks import Fitted, TaskSpec


def run(spec: TaskSpec, cfg: Config) -> None:
    import mlflow

    task, paths, tc = spec.name, Paths(spec.name), cfg.task(spec.name)
    require_valid(paths)
    set_threads(cfg.trainer.threads)
    pl.seed_everything(cfg.seed, workers=True)
    vocabs, encoded = read_vocabs(spec, paths), read_encoded(paths)
    net_config = spec.net_config(tc, vocabs)
    net = spec.build_net(net_config)
    init_metrics = spec.init_net(tc, net, vocabs, encoded, cfg.seed) if spec.init_net else {}
    objective = spec.objective(tc, net, vocabs)
    train_batches, dev_batches = spec.loaders(tc, encoded, cfg.seed)
    frames = read_frames(paths) if spec.fit else {}

    def fit(logger: Any = False, progress: bool = True) -> Fitted:
        if spec.fit:  # the task's own procedure (e.g. forecast's backtest-chosen epochs)
            return spec.fit(tc, net, objective, frames, vocabs, encoded, cfg.seed, cfg.trainer,
                            logger)
        return Fitted(train(net, objective, train_batches, dev_batches, tc.train, cfg.trainer,
                            logger=logger, progress=progress))

    if ddp_worker():  # Lightning re-ran this command for another rank: train, write nothing
        fit(progress=False)
        return

    experiment_id = tracking.setup(cfg.mlflow, task)
    tracking.repair(mlflow.MlflowClient(), experiment_id)
    # the run wraps fit and every output: FINISHED only once they are all written, KILLED
    # on SIGTERM/Ctrl-C, FAILED on an error (tracking.stage_run)
    with tracking.stage_run(tags=tracking.run_tags(task, "train")) as active:
        run_id = active.info.run_id
        mlflow.log_params(tracking.flat_params("", {
            "seed": cfg.seed, "encoding": tc.encoding, "model": tc.model, "train": tc.train,
            "vocab": tc.vocab, "data": tc.data, "trainer": cfg.trainer}))
        # the verdict, not the Data Docs (they carry timestamps: depending on them would
        # retrain after every re-validation)
        mlflow.log_artifact(str(paths.validation / "summary.json"), "validation")
        mlflow.log_artifacts(str(paths.vocab), "vocab")
        logger = _stage_logger(task, tracking.tracking_uri(cfg.mlflow), run_id)
        if init_metrics:
            mlflow.log_metrics(init_metrics)
        tracking.kill_point("train:fit")
        start = time.perf_counter()
        fitted = fit(logger)
        module = fitted.module
        seconds = time.perf_counter() - start
        if fitted.metrics:
            mlflow.log_metrics(fitted.metrics)
        with atomic_dir(paths.model) as out:
            torch.save(net.state_dict(), out / "model.pt")
            tracking.kill_point("train:weights")
            write_json(out / "net.json", {"task": task, "config": net_config,
                                          "vocabs": sorted(vocabs)})
            shutil.copytree(paths.vocab, out / "vocab")
            digest = file_digest(out / "model.pt")
        if spec.fit:
            with atomic_dir(paths.fit) as out:
                write_json(out / "fit.json", fitted.record)
            mlflow.log_artifacts(str(paths.fit), "fit")
        mlflow.set_tag(tracking.WEIGHTS_TAG, digest)
        tracking.kill_point("train:tagged")
        exported = spec.embeddings(tc, net, vocabs, encoded) if spec.embeddings else None
        if exported is not None:
            with atomic_dir(paths.embeddings) as out:
                export_embeddings(out, *exported)
            mlflow.log_artifacts(str(paths.embeddings), "embeddings")
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
            **init_metrics, **fitted.metrics,
        })
    print(f"train[{task}]: {len(curve)} epochs in {seconds:.1f}s, best {monitor}={best:.4f}"
          f" (MLflow run {run_id})")


def _stage_logger(task: str, uri: str, run_id: str) -> Any:
    """Lightning's MLflow logger on the stage's run, except that it does not end the run
    after fit (Lightning's own would mark it FINISHED before the weights exist)."""
    from pytorch_lightning.loggers import MLFlowLogger

    class StageRunLogger(MLFlowLogger):
        def finalize(self, status: str = "success") -> None:
            pass  # tracking.stage_run ends the run

    return StageRunLogger(experiment_name=tracking.experiment_name(task), tracking_uri=uri,
                          run_id=run_id)


def export_embeddings(out: Path, words: list[str], vectors: np.ndarray, n_query: int = 12,
                      k: int = 8) -> None:
    """The learnt input embeddings, written three ways: vectors.w2v.txt (word2vec text, for
    gensim's KeyedVectors.load_word2vec_format), vectors.tsv + metadata.tsv (the TensorFlow
    Embedding Projector), and neighbours.csv / projection.png: the k nearest neighbours
    (cosine) of the first `n_query` words (the vocabulary's most frequent), and a 2-D PCA
    projection of the 300 most frequent words."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnlab.nn.encoding import write_projector_tsv, write_word2vec

    vectors = np.asarray(vectors, dtype=np.float32)
    write_word2vec(str(out / "vectors.w2v.txt"), words, vectors)
    write_projector_tsv(str(out / "vectors.tsv"), str(out / "metadata.tsv"), words, vectors)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rows = []
    for q in range(min(n_query, len(words))):
        sims = unit @ unit[q]
        sims[q] = -np.inf
        for rank, j in enumerate(np.argsort(-sims)[:k], start=1):
            rows.append({"word": words[q], "rank": rank, "neighbour": words[j],
                         "cosine": round(float(sims[j]), 4)})
    pd.DataFrame(rows, columns=["word", "rank", "neighbour", "cosine"]).to_csv(
        out / "neighbours.csv", index=False)
    top = vectors[:300] - vectors[:300].mean(0)
    xy = top @ np.linalg.svd(top, full_matrices=False)[2][:2].T if len(top) > 1 else top[:, :2]
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.4)
    for i in range(min(60, len(xy))):
        ax.annotate(words[i], xy[i], fontsize=7)
    ax.set_title("input embeddings: PCA of the 300 most frequent words")
    fig.savefig(out / "projection.png", dpi=80)
    plt.close(fig)
