"""params.yaml -> typed settings. The one place that knows the file's shape; imports no torch.

Every section is a frozen dataclass. `build` turns a YAML mapping into one, recursively, and
fails with the key's full name on an unknown key, a missing one, or a value of the wrong type
or outside its `Literal`. The generic sections live here; each task types its own section in
`rnnlab/tasks/<task>/params.py` (a `TaskConfig` subclass named `CONFIG`), which imports nothing
but this module.
"""

from __future__ import annotations

import dataclasses
import importlib
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """params.yaml is missing a key, has an unknown one, or a value out of range."""


# ---------------------------------------------------------------- shared sections


@dataclass(frozen=True)
class VocabConfig:
    """A word vocabulary, fitted on the training split only."""

    max_size: int = 10000
    min_freq: int = 1
    lowercase: bool = False
    # map out-of-vocabulary words to shape classes (<unk:Xx>, <unk:d>, ...) instead of one <unk>
    unk_signatures: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """The recurrent layer every task's network has (tasks add their own fields)."""

    cell: Literal["simple", "rnn", "lstm", "gru"] = "gru"
    hidden_size: int = 64
    embedding_dim: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    dropout: float = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """What the one training loop reads (tasks add what their loss or batches read)."""

    max_epochs: int = 15
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    patience: int = 3
    log_every_n_steps: int = 10
    # optional, off by default (training unchanged): the learning rate per epoch.
    # plateau: times lr_factor after lr_patience epochs without a better dev monitor;
    # cosine: from lr down to lr * lr_factor over max_epochs
    lr_schedule: Literal["none", "plateau", "cosine"] = "none"
    lr_factor: float = 0.5
    lr_patience: int = 1
    # optional, 0 = off: an exponential moving average of the weights (decay per step) is what
    # dev scores, early stopping picks and the model keeps
    ema_decay: float = 0.0


@dataclass(frozen=True)
class TrainerConfig:
    """Lightning's Trainer, the same for every task and every fit (pipeline, CV, baselines)."""

    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    # CPU threads for torch and BLAS. Fixed, because the weights depend on it (float sums are
    # split across threads); 1 is also the fastest for small RNN batches on a shared machine.
    threads: int = 1


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    register: bool = True


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 2 * * *"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Target:
    """A goal for one metric of metrics/<task>.json (the run report marks it met or not)."""

    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ConfigError("a target needs min, max or both")


@dataclass(frozen=True)
class ReportConfig:
    """The run report (rnnlab report): per task, {metric of metrics/<task>.json: target}."""

    targets: dict[str, dict[str, Target]] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskConfig:
    """The generic part of a task's section; a task's CONFIG adds its typed `data`,
    `validation`, `vocab`, `model`, `train`, `baselines` and `decode` sections."""

    name: str
    primary_metric: str
    encoding: Literal["onehot", "embedding"] = "embedding"
    train: TrainConfig = field(default_factory=TrainConfig)
    # params.yaml's top-level trainer section, copied in by load (never set in a task's section)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


@dataclass(frozen=True)
class EmbeddingConfig:
    """encoding: embedding, initialised from word vectors (a task's CONFIG opts in with an
    `embedding` field). Words missing from the file are drawn at random and learnt."""

    pretrained: str | None = None  # a word2vec / GloVe text file; null: random initialisation
    freeze: bool = False  # true: the pretrained rows are not learnt
    export: bool = True  # train writes the learnt vectors (word2vec text, projector TSV)


@dataclass(frozen=True)
class Config:
    seed: int
    tasks: tuple[str, ...]
    mlflow: MlflowConfig
    trainer: TrainerConfig
    schedule: ScheduleConfig
    task_configs: dict[str, TaskConfig]
    report: ReportConfig = field(default_factory=ReportConfig)

    def task(self, name: str) -> Any:
        if name not in self.task_configs:
            known = ", ".join(sorted(self.task_configs)) or "none"
            raise ConfigError(f"params.yaml has no section for task {name!r} (sections: {known})")
        return self.task_configs[name]


# ---------------------------------------------------------------- the typed reader


def build(cls: type, values: Any, where: str) -> Any:
    """`values` (a YAML mapping) -> a `cls` dataclass, every field checked against its type."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(str(k) for k in set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; {where} takes "
                          f"{', '.join(sorted(fields))}")
    missing = [n for n, f in fields.items() if n not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing required key")
    built = {k: _value(hints[k], v, f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**built)
    except ConfigError as err:  # the dataclass's own check (__post_init__)
        raise ConfigError(f"{where}: {err}") from None


def _value(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _value(option, value, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[-1] if len(errors) == 1 else
                          f"{where}: {value!r} matches none of {[_name(a) for a in args]}")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        items = [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        key_t, val_t = args or (Any, Any)
        return {_value(key_t, k, f"{where}.{k}"): _value(val_t, v, f"{where}.{k}")
                for k, v in value.items()}
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where} must be null, got {value!r}")
        return None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{where} must be {_name(tp)}, got {value!r}")
        return value
    raise ConfigError(f"{where}: rnnlab.config cannot read type {tp!r}")  # a bug in a CONFIG


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def task_config_class(name: str) -> type[TaskConfig]:
    """The task's typed section: `CONFIG` in rnnlab/tasks/<name>/params.py (torch-free)."""
    try:
        module = importlib.import_module(f"rnnlab.tasks.{name}.params")
    except ModuleNotFoundError as err:
        if err.name not in (f"rnnlab.tasks.{name}", f"rnnlab.tasks.{name}.params"):
            raise
        raise ConfigError(f"unknown task {name!r}: add the package src/rnnlab/tasks/{name}/ "
                          "with params.py (see README, Adding a task)") from None
    return module.CONFIG


def load(path: str | Path = "params.yaml") -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: run rnnlab from the repository root")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping")
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise ConfigError("params.yaml: 'tasks' must be a non-empty list of task names")
    top = {"seed", "tasks", "mlflow", "trainer", "schedule", "report"}
    packages = Path(__file__).parent / "tasks"  # a section of a task left out of `tasks` is kept
    unknown = sorted(k for k in set(raw) - top - set(tasks)
                     if not (packages / str(k) / "params.py").is_file())
    if unknown:
        raise ConfigError(f"params.yaml:{unknown[0]}: unknown key (neither a setting nor a task "
                          f"in 'tasks': {', '.join(tasks)})")
    trainer = build(TrainerConfig, raw.get("trainer"), "params.yaml:trainer")
    task_configs = {}
    for name in tasks:
        section = raw.get(name)
        if not isinstance(section, dict):
            raise ConfigError(f"params.yaml:{name}: missing section for task {name!r}")
        for key in ("name", "trainer"):
            if key in section:
                raise ConfigError(f"params.yaml:{name}.{key}: misplaced key (the trainer "
                                  "section is top-level, the name is the section's)")
        task_configs[name] = build(task_config_class(name),
                                   {"name": name, **section, "trainer": {}},
                                   f"params.yaml:{name}")
        task_configs[name] = dataclasses.replace(task_configs[name], trainer=trainer)
    seed = raw.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"params.yaml:seed must be an integer, got {seed!r}")
    return Config(
        seed=seed, tasks=tuple(tasks),
        mlflow=build(MlflowConfig, raw.get("mlflow"), "params.yaml:mlflow"),
        trainer=trainer,
        schedule=build(ScheduleConfig, raw.get("schedule"), "params.yaml:schedule"),
        task_configs=task_configs,
        report=build(ReportConfig, raw.get("report"), "params.yaml:report"))


def override(raw: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """`a.b.c=value` overrides (values parsed as YAML) applied to a params mapping in place,
    as `dvc exp run -S` would set them."""
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}")
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return raw


def load_with_overrides(path: str | Path, assignments: list[str],
                        tasks: list[str] | None = None) -> Config:
    """params.yaml with `a.b.c=value` overrides, for the measurement CLIs that run outside
    DVC; `tasks` narrows the list."""
    raw = override(yaml.safe_load(Path(path).read_text()) or {}, assignments)
    if tasks is not None:  # the other tasks' sections go too (they would be unknown keys)
        others = set(raw.get("tasks") or []) - set(tasks)
        raw = {k: v for k, v in raw.items() if k not in others}
        raw["tasks"] = list(tasks)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "params.yaml"
        copy.write_text(yaml.safe_dump(raw, sort_keys=False))
        return load(copy)
