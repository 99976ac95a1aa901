"""prepare: raw corpus or built-in generator -> data/prepared/<task>/{train,dev,test}.parquet."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from rnnlab.config import Config
from rnnlab.io import atomic_dir
from rnnlab.stages import Paths, StageError, stage_name
from rnnlab.tasks import TaskSpec


def run(spec: TaskSpec, cfg: Config) -> None:
    tc = cfg.task(spec.name)
    if os.environ.get("DVC_STAGE"):  # run by DVC: what we read must be what dvc.yaml tracks
        check_declared(spec.name, spec.raw_inputs(tc))
    frames = spec.prepare(tc, cfg.seed)
    with atomic_dir(Paths(spec.name).prepared) as out:
        for split, frame in frames.items():
            frame.to_parquet(out / f"{split}.parquet", index=False)
            print(f"prepare[{spec.name}] {split}: {len(frame)} rows")


def check_declared(task: str, inputs: list[str], dvc_yaml: str | Path = "dvc.yaml") -> None:
    """Fail, before reading anything, if dvc.yaml does not track a raw input of the configured
    source (e.g. after `-S <task>.data.source=...`): DVC would not re-run on its changes."""
    stages = (yaml.safe_load(Path(dvc_yaml).read_text()) or {}).get("stages", {})
    declared = set(stages.get(stage_name(task, "prepare"), {}).get("deps", []))
    missing = [p for p in inputs if p not in declared]
    if missing:
        raise StageError(f"dvc.yaml's {stage_name(task, 'prepare')} does not depend on "
                         f"{', '.join(missing)}, which {task}.data reads: run `rnnlab dag` "
                         "(it regenerates dvc.yaml from params.yaml), then `dvc repro`")
