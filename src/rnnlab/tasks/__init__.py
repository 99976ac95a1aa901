"""The task contract and the registry of tasks.

A task is a package `rnnlab/tasks/<name>/` holding everything about it:

    params.py   CONFIG: its typed params.yaml section (a rnnlab.config.TaskConfig subclass),
                and TINY: overrides that make it train in seconds (the tests use them).
                Imports nothing but rnnlab.config, so reading params.yaml imports no torch.
    spec.py     SPEC: a TaskSpec, below, built from the package's other modules
                (e.g. data.py, checks.py, model.py, evaluate.py, figures.py, serve.py);
                those that import torch `deferred`, so prepare, validate and vocab never
                load it (about a second of every such process).

The stages, the Prefect flow, serving and `rnnlab dag` (dvc.yaml) use only SPEC; nothing
outside the package names the task. tests/test_contract.py checks every registered task.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the contract's types; importing this module imports none of them
    import pandas as pd
    import torch
    from torch import nn
    from torch.utils.data import DataLoader

    from rnnlab.config import TaskConfig
    from rnnlab.nn.loop import Objective
    from rnnlab.validation import Check

    Frames = dict[str, pd.DataFrame]
    Encoded = dict[str, dict[str, torch.Tensor]]
    Vocabs = dict[str, Any]

SPLITS = ("train", "dev", "test")

# The params.yaml sections (of the task's own section, plus top-level keys) each stage reads,
# unless the spec says otherwise; dvc.yaml's `params:` come from these.
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "prepare": ("seed", "data"),
    "validate": ("data", "validation"),
    "vocab": ("vocab",),
    "encode": (),
    "train": ("seed", "trainer", "encoding", "model", "train"),
    "evaluate": ("seed", "trainer", "mlflow", "primary_metric", "baselines", "decode",
                 "evaluation"),
}
TOP_LEVEL = ("seed", "trainer", "mlflow")


@dataclass
class Evaluation:
    """What a task's evaluate returns: metrics (RNN and baselines, same split) and what is
    written to plots/<task>/evaluation/: tables (CSV, drawn by the task's `plots`), files
    (name -> writer(path): figures, MIDI, ...) and a few examples (examples.txt).

    calibration: JSON the served model reads besides the weights, fitted by evaluate on held-out
    data (forecast: the conformal half-widths per step and their level). Evaluate writes it to
    plots/<task>/evaluation/calibration.json and into the logged model's config; serving hands
    it to the task's predict as vocabs["calibration"] (rnnlab.serving.CALIBRATION)."""

    metrics: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Callable[[Path], None]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    calibration: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fitted:
    """What a task's `fit` hook returns to train: the fitted module (its `history` is
    plots/<task>/training.csv), metrics (train.json and the training run) and `record`: JSON
    train writes to models/<task>-fit/fit.json, which evaluate hands back to the task's
    evaluate as `fit=` (forecast: the backtest fits, so evaluate scores them without refitting)."""

    module: Any
    metrics: dict[str, float] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """Everything the stages and serving need from a task, each a plain function."""

    name: str
    # prepare: raw corpus or generator -> {split: frame}; kept as read, for validate to judge.
    # raw_inputs: the files or folders prepare reads for the configured source (dvc.yaml deps)
    prepare: Callable[[TaskConfig, int], Frames]
    raw_inputs: Callable[[TaskConfig], list[str]]
    # validate: the Great Expectations checks the frames must pass
    checks: Callable[[TaskConfig, Frames], list[Check]]
    # vocab: fitted on the training frame only -> {name: object with .save(path) and len()}
    build_vocabs: Callable[[pd.DataFrame, Any], Vocabs]
    load_vocab: Callable[[Path], Any]
    vocab_metrics: Callable[[Frames, Vocabs], dict[str, float]]
    # encode: {split: {tensor name: tensor}}, every split at once (a split may need the others)
    encode: Callable[[Frames, Vocabs], Encoded]
    # train: the architecture as JSON (rebuilt by build_net), the loss and dev metric, batches
    net_config: Callable[[TaskConfig, Vocabs], dict[str, Any]]
    build_net: Callable[[dict[str, Any]], nn.Module]
    objective: Callable[[TaskConfig, nn.Module, Vocabs], Objective]
    loaders: Callable[[TaskConfig, Encoded, int], tuple[DataLoader, DataLoader]]
    # evaluate: RNN and baselines on the same test split
    evaluate: Callable[[TaskConfig, nn.Module, Frames, Encoded, Vocabs, int], Evaluation]
    # serving: raw input -> task input; (net, vocabs, inputs, params) -> one output per input.
    # model_input and predict raise rnnlab.serving.BadInput (one line: the field and the rule)
    # for a request they refuse; the served model answers it with HTTP 400.
    # predict_params: the pyfunc params and their defaults (from the decode section); MLflow
    # drops every param the logged signature does not declare. vocabs holds the fitted
    # vocabularies and, when evaluate returned one, the Evaluation's calibration.
    model_input: Callable[[Any], list[Any]]
    predict: Callable[[nn.Module, Vocabs, list[Any], dict[str, Any]], list[Any]]
    predict_params: Callable[[TaskConfig], dict[str, bool | int | float | str]]
    # (cfg, prepared frames, vocabs) -> a small request as a client sends it (what model_input
    # reads: a list of strings, a DataFrame); evaluate logs it as the served model's input
    # example (serving_input_example.json) and infers the input / output schema from it and
    # the model's answer
    input_example: Callable[[TaskConfig, Frames, Vocabs], Any]
    # the champion rule on params.yaml's primary_metric: higher (max) or lower (min) is better
    primary_mode: Literal["max", "min"] = "max"
    # dvc.yaml top-level `plots:` entries for the task's outputs (paths relative to the repo):
    # {path or title: {template, x, y, ...}} for tables, a path for an image
    plots: tuple[dict[str, Any] | str, ...] = ()
    # extra pip packages the served model needs
    requirements: tuple[str, ...] = ()
    # per stage, the params sections it reads when they differ from STAGE_PARAMS
    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # optional: (cfg, net, vocabs, encoded, seed) -> metrics, called by train before fitting
    # (e.g. load pretrained word vectors, returning their coverage); its files: train_inputs
    init_net: Callable[[TaskConfig, nn.Module, Vocabs, Encoded, int], dict[str, float]] | None \
        = None
    train_inputs: Callable[[TaskConfig], list[str]] | None = None
    # optional: (cfg, net, vocabs, encoded) -> (words, vectors [n, d]), most frequent first, or
    # None: the learnt input embeddings train exports to models/<task>-embeddings/ (word2vec
    # text, projector TSV, nearest neighbours, a 2-D projection) and to MLflow
    embeddings: Callable[[TaskConfig, nn.Module, Vocabs, Encoded], Any] | None = None
    # optional: how train fits the net instead of rnnlab.nn.loop.train on the train and dev
    # batches (forecast: the epoch count chosen on a rolling-origin backtest): (cfg, net,
    # objective, prepared frames, vocabs, encoded, seed, trainer section, logger) -> Fitted.
    # Train then also reads data/prepared/<task> and writes models/<task>-fit/ (Paths.fit),
    # and evaluate reads it.
    fit: Callable[..., Fitted] | None = None

    def stage_params(self, stage: str, config: type) -> list[str]:
        """params.yaml keys a stage reads, as dvc.yaml names them (sections the task's CONFIG
        does not have are left out)."""
        own = {f.name for f in dataclasses.fields(config)}
        keys = self.reads.get(stage, STAGE_PARAMS[stage])
        return [k if k in TOP_LEVEL else f"{self.name}.{k}" for k in keys
                if k in TOP_LEVEL or k in own]


class _Call:
    """`module.name`, imported at its first call; `__wrapped__` is the real function, so
    inspect.signature (tests/test_contract.py) sees its parameters."""

    def __init__(self, module: str, name: str) -> None:
        self.__module__, self.__name__, self.__qualname__ = module, name, name

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return getattr(importlib.import_module(self.__module__), self.__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self.__module__}.{self.__name__}>"


class _Deferred:
    """A module imported at the first call of one of its functions (see `deferred`)."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> _Call:
        return _Call(self._module, name)


def deferred(package: str, *names: str) -> tuple[Any, ...]:
    """Stand-ins for `from package import *names` whose functions import their module when
    first called: `model.build_net` in a SPEC costs nothing until train calls it."""
    return tuple(_Deferred(f"{package}.{n}") for n in names)


def get(name: str) -> TaskSpec:
    """The task's SPEC, from rnnlab/tasks/<name>/spec.py."""
    try:
        module = importlib.import_module(f"rnnlab.tasks.{name}.spec")
    except ModuleNotFoundError as err:
        if err.name not in (f"rnnlab.tasks.{name}", f"rnnlab.tasks.{name}.spec"):
            raise
        raise ValueError(f"unknown task {name!r}: add the package src/rnnlab/tasks/{name}/ "
                         "(see README, Adding a task)") from None
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, TaskSpec) or spec.name != name:
        raise TypeError(f"rnnlab/tasks/{name}/spec.py must define SPEC = TaskSpec(name={name!r}, "
                        "...)")
    return spec


def available() -> list[str]:
    """Every task package in rnnlab/tasks/ (whether params.yaml lists it or not)."""
    root = Path(__file__).parent
    return sorted(p.parent.name for p in root.glob("*/spec.py"))


def load_vocabs(spec: TaskSpec, folder: str | Path,
                names: list[str] | None = None) -> dict[str, Any]:
    """A task's fitted vocabularies (or scalers) from JSON; `names` default to every *.json
    in `folder`."""
    folder = Path(folder)
    names = names if names is not None else [p.stem for p in sorted(folder.glob("*.json"))]
    return {name: spec.load_vocab(folder / f"{name}.json") for name in names}
