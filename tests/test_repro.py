"""Reproducible outputs: the same tiny training, run in two processes from two folders (other
absolute paths, another hash seed), writes bit-identical model folders."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, clean_env, tiny_params

pytestmark = pytest.mark.slow
RUN = ("from rnnlab.stages import run; "
       "[run(s, '{task}') for s in ('prepare', 'validate', 'vocab', 'encode', 'train')]")


def _train(root: Path, task: str, hash_seed: str) -> dict[str, str]:
    root.mkdir(parents=True)
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), [task])
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**clean_env(root), "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", RUN.format(task=task)], cwd=root, env=env,
                   check=True, capture_output=True, text=True)
    model = root / "models" / task
    return {str(p.relative_to(model)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(model.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("task", ["review"])  # the task whose committed metrics once drifted
def test_training_twice_in_separate_processes_gives_identical_model_folders(tmp_path, task):
    first = _train(tmp_path / "a", task, "1")
    second = _train(tmp_path / "elsewhere" / "b", task, "2")
    assert "model.pt" in first
    assert first == second, {k for k in first if first[k] != second.get(k)}
    assert not os.path.exists(tmp_path / "a" / "models" / task / "checkpoints")
