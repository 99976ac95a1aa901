"""params.yaml -> typed settings. The one place that knows the file's shape."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

CELLS = ("simple", "rnn", "lstm", "gru")
ENCODINGS = ("onehot", "embedding")
POOLINGS = ("last", "mean", "max")
IMBALANCE = ("none", "weights", "sampler")


class ConfigError(ValueError):
    """params.yaml is missing a key, has an unknown one, or a value out of range."""


@dataclass(frozen=True)
class VocabConfig:
    max_size: int = 10000
    min_freq: int = 1
    lowercase: bool = False
    # map out-of-vocabulary words to shape classes (<unk:Xx>, <unk:d>, ...) instead of one <unk>
    unk_signatures: bool = True


@dataclass(frozen=True)
class ModelConfig:
    cell: Literal["simple", "rnn", "lstm", "gru"] = "gru"
    hidden_size: int = 64
    embedding_dim: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    dropout: float = 0.1
    # entity task: also feed "this word is part of a name listed in training" as an input
    dictionary_feature: bool = False
    # many-to-one only: summarise a<1..T> by the final state, or masked mean / max over time
    pooling: Literal["last", "mean", "max"] = "last"


@dataclass(frozen=True)
class TrainConfig:
    max_epochs: int = 15
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    patience: int = 3
    # probability of replacing a training word by its unknown-word class, so <unk> is learnt
    word_dropout: float = 0.1
    # weight of the rare 1-labels in the loss (BCE pos_weight); 1.0 is the lecture's plain loss
    positive_weight: float = 1.0
    # batches of similar-length sentences (much less padding on real corpora)
    bucket: bool = True
    # many-to-one class imbalance: none | weights (loss weights n/(c*count)) | sampler
    # (training batches drawn with replacement, every class equally often)
    imbalance: Literal["none", "weights", "sampler"] = "none"
    # CPU threads (torch and BLAS) in train/evaluate; 0 keeps the defaults (one per core). Small
    # RNN batches gain little from more, and on a busy machine extra threads spin and stall.
    threads: int = 0
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    log_every_n_steps: int = 10


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    register: bool = True


@dataclass(frozen=True)
class TaskConfig:
    name: str
    primary_metric: str
    data: dict[str, Any]
    validation: dict[str, Any] = field(default_factory=dict)
    vocab: Any = field(default_factory=VocabConfig)  # VocabConfig or the task's VOCAB_CONFIG
    encoding: Literal["onehot", "embedding"] = "embedding"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    baselines: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    seed: int
    tasks: list[str]
    mlflow: MlflowConfig
    task_configs: dict[str, TaskConfig]
    raw: dict[str, Any]

    def task(self, name: str) -> TaskConfig:
        if name not in self.task_configs:
            known = ", ".join(sorted(self.task_configs)) or "none"
            raise ConfigError(f"params.yaml has no section for task {name!r} (sections: {known})")
        return self.task_configs[name]


def _build(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(names)}")
    return cls(**values)


def _schemas(name: str) -> dict[str, type]:
    """The dataclasses that type a task's vocab / model / train sections: the generic ones, or
    the task module's VOCAB_CONFIG / MODEL_CONFIG / TRAIN_CONFIG (its own fields added)."""
    import importlib

    try:
        module = importlib.import_module(f"rnnlab.tasks.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"rnnlab.tasks.{name}":
            raise
        module = None  # an unknown task fails later, with the list of task modules
    return {"vocab": getattr(module, "VOCAB_CONFIG", VocabConfig),
            "model": getattr(module, "MODEL_CONFIG", ModelConfig),
            "train": getattr(module, "TRAIN_CONFIG", TrainConfig)}


def _task_config(name: str, section: dict[str, Any]) -> TaskConfig:
    where = f"params.yaml:{name}"
    if not isinstance(section, dict):
        raise ConfigError(f"{where} must be a mapping")
    section = dict(section)
    for key in ("primary_metric", "data"):
        if key not in section:
            raise ConfigError(f"{where}: missing required key {key!r}")
    for key, schema in _schemas(name).items():
        section[key] = _build(schema, section.get(key), f"{where}.{key}")
    cfg = _build(TaskConfig, {"name": name, **section}, where)
    if cfg.model.cell not in CELLS:
        raise ConfigError(f"{where}.model.cell must be one of {CELLS}, got {cfg.model.cell!r}")
    if cfg.encoding not in ENCODINGS:
        raise ConfigError(f"{where}.encoding must be one of {ENCODINGS}, got {cfg.encoding!r}")
    if cfg.model.nonlinearity not in ("tanh", "relu"):
        raise ConfigError(f"{where}.model.nonlinearity must be tanh or relu")
    if cfg.model.pooling not in POOLINGS:
        raise ConfigError(f"{where}.model.pooling must be one of {POOLINGS}")
    if cfg.train.imbalance not in IMBALANCE:
        raise ConfigError(f"{where}.train.imbalance must be one of {IMBALANCE}")
    return cfg


def load(path: str | Path = "params.yaml") -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found: run rnnlab from the repository root")
    raw = yaml.safe_load(path.read_text()) or {}
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("params.yaml: 'tasks' must be a non-empty list of task names")
    task_configs = {name: _task_config(name, raw.get(name)) for name in tasks}
    return Config(
        seed=int(raw.get("seed", 42)),
        tasks=list(tasks),
        mlflow=_build(MlflowConfig, raw.get("mlflow"), "params.yaml:mlflow"),
        task_configs=task_configs,
        raw=raw,
    )


def load_with_overrides(path: str | Path, assignments: list[str],
                        tasks: list[str] | None = None) -> Config:
    """params.yaml with `a.b.c=value` overrides (values parsed as YAML), as `dvc exp run -S`
    would set them, for the measurement CLIs that run outside DVC; `tasks` narrows the list."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}")
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    if tasks is not None:
        raw["tasks"] = list(tasks)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "params.yaml"
        copy.write_text(yaml.safe_dump(raw, sort_keys=False))
        return load(copy)
