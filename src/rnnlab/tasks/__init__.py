"""One module per lecture task. The stages look a task up here by name and call, duck-typed:

    prepare(cfg, seed) -> {split: DataFrame}          read or generate the raw data
    checks(cfg, frames) -> [validation.Check]          what the data must satisfy (GX)
    build_vocabs(train, vocab_cfg) -> {name: obj}      fitted on the training split only; each
                                                       obj has .save(path) (JSON)
    load_vocab(path) -> obj                            optional; default Vocabulary.load
    vocab_metrics(frames, vocabs) -> {name: float}     e.g. OOV rates -> metrics/<task>/vocab.json
    encode(frame, vocabs) -> {name: Tensor}            padded indices, lengths, masks, targets
    encode_splits(frames, vocabs) -> {split: {...}}    optional, instead of encode, when a split
                                                       needs the others (history windows)
    net_config(cfg, vocabs) -> dict / build_net(dict)  the architecture, rebuilt from JSON
    lightning_module(cfg, net, vocabs)                 loss + dev metric for training
    MONITOR, MONITOR_MODE ("max" or "min")             the dev metric for early stopping
    PRIMARY_MODE ("max" or "min")                      is a higher or lower `primary_metric`
                                                       better (the champion rule); default max
    loaders(cfg, encoded, seed) -> (train, dev)        optional DataLoaders; default: the
                                                       length-bucketed rnnlab.lightning.loader
    evaluate(cfg, net, frames, encoded, vocabs, seed) -> (metrics, extra)   RNN and baselines;
        extra = {"tables": {stem: DataFrame}, "files": {filename: writer(path)},
                 "examples": [str]}, written to plots/<task>/evaluation/ (dvc.yaml's top-level
        `plots:` says how DVC draws each table)
    predict(net, vocabs, inputs, params=None)          raw input -> task output (serving)
    model_input(raw) -> inputs                         optional; default: a list of strings
    predict_params(cfg) -> {name: default}             optional pyfunc `params` (count, seed...):
                                                       the logged signature declares them, or
                                                       MLflow drops them
    REQUIREMENTS = ("pkg", ...)                        optional extra pip packages for serving
    VOCAB_CONFIG, MODEL_CONFIG, TRAIN_CONFIG           optional frozen dataclasses typing the
                                                       task's vocab / model / train sections
                                                       (subclasses of rnnlab.config's, with the
                                                       task's own fields)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

SPLITS = ("train", "dev", "test")


def get(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"rnnlab.tasks.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"rnnlab.tasks.{name}":
            raise
        raise ValueError(f"unknown task {name!r}: add src/rnnlab/tasks/{name}.py") from err


def load_vocabs(module: ModuleType, folder: str | Path,
                names: list[str] | None = None) -> dict[str, Any]:
    """A task's fitted vocabularies (or scalers) from JSON, read by its `load_vocab` when it has
    one; `names` default to every *.json in `folder`."""
    from rnnlab.vocab import Vocabulary

    load = getattr(module, "load_vocab", Vocabulary.load)
    folder = Path(folder)
    names = names if names is not None else [p.stem for p in sorted(folder.glob("*.json"))]
    return {name: load(folder / f"{name}.json") for name in names}
