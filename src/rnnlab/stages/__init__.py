"""Pipeline stages: plain functions `(task, cfg) -> None` that read files and write files.

dvc.yaml runs them through the `rnnlab` CLI; the Prefect flow calls the same functions.
Every output is written atomically (rnnlab.io), so a killed stage leaves nothing half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES = ("prepare", "validate", "vocab", "encode", "train", "evaluate")


def stage_name(task: str, stage: str) -> str:
    """A stage's name in dvc.yaml: `entity-train` (task names are Python identifiers)."""
    return f"{task}-{stage}"


def split_stage_name(name: str) -> tuple[str, str]:
    """`entity-train` -> ("entity", "train")."""
    task, _, stage = name.rpartition("-")
    return task, stage


class StageError(RuntimeError):
    """A stage cannot run: its inputs are missing or did not pass validation."""


@dataclass(frozen=True)
class Paths:
    """Where each stage of one task reads and writes (mirrored by dvc.yaml, see rnnlab.dag)."""

    task: str

    @property
    def raw(self) -> Path:
        return Path("data/raw") / self.task

    @property
    def prepared(self) -> Path:
        return Path("data/prepared") / self.task

    @property
    def validation(self) -> Path:
        return Path("data/validation") / self.task

    @property
    def vocab(self) -> Path:
        return Path("data/vocab") / self.task

    @property
    def encoded(self) -> Path:
        return Path("data/encoded") / self.task

    @property
    def model(self) -> Path:
        return Path("models") / self.task

    @property
    def embeddings(self) -> Path:
        """train's export of the learnt input embeddings (tasks with an `embeddings` hook)."""
        return Path("models") / f"{self.task}-embeddings"

    @property
    def fit(self) -> Path:
        """train's record of how it fitted (tasks with a `fit` hook; evaluate reads it)."""
        return Path("models") / f"{self.task}-fit"

    @property
    def metrics(self) -> Path:
        return Path("metrics") / f"{self.task}.json"

    @property
    def stage_metrics(self) -> Path:
        return Path("metrics") / self.task

    @property
    def plots(self) -> Path:
        return Path("plots") / self.task

    @property
    def evaluation(self) -> Path:
        return self.plots / "evaluation"


def run(stage: str, task: str, params: str | Path = "params.yaml") -> None:
    """Run one stage of one task with the settings in `params`."""
    import importlib

    from rnnlab import config, tasks

    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    _check_code_location()
    cfg = config.load(params)
    cfg.task(task)  # unknown names fail here, with the list of configured tasks
    spec = tasks.get(task)
    importlib.import_module(f"rnnlab.stages.{stage}").run(spec, cfg)


def _check_code_location() -> None:
    """Under DVC, refuse to run another checkout's code: dvc.lock records the hashes of this
    repository's src/, so the outputs must come from it (a shared venv's editable install may
    point at another clone, which is how committed metrics once drifted from a fresh clone's)."""
    import os

    import rnnlab

    root = os.environ.get("DVC_ROOT")
    if not os.environ.get("DVC_STAGE") or not root or not (Path(root) / "src/rnnlab").is_dir():
        return
    code, here = Path(rnnlab.__file__).resolve().parents[1], (Path(root) / "src").resolve()
    if code != here:
        raise StageError(f"rnnlab is imported from {code}, not from this repository's {here}: "
                         f"run `pip install -e .` here, or set PYTHONPATH={here}")
