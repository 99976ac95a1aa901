"""benchmarks/gpu_check.py's training on tiny params: on CPU here (the script's own check), and
each task on CUDA, bf16-mixed included, when there is a GPU (`gpu` tests, skipped otherwise)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
import yaml

from helpers import REPO, tiny_params
from rnnlab import config

TASKS = ["entity", "review", "music", "translate", "forecast"]
NO_CUDA = "needs CUDA: torch.cuda.is_available() is False here (run `make gpu-check` on a GPU)"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks/gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_config(tmp_path: Path, task: str):
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), [task])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return config.load(tmp_path / "params.yaml")


def test_gpu_check_trains_a_fixed_number_of_steps_on_cpu(gpu_check, tmp_path: Path):
    cfg = tiny_config(tmp_path, "review")
    out = gpu_check.fit(gpu_check.task_parts("review", cfg), cfg, "cpu", steps=3)
    assert out["steps"] == 3 and out["finite"] and out["examples_per_s"] > 0
    assert "peak_gpu_memory_mb" not in out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("task", TASKS)
def test_each_task_trains_on_cuda(gpu_check, tmp_path: Path, task: str, precision: str):
    cfg = tiny_config(tmp_path, task)
    out = gpu_check.fit(gpu_check.task_parts(task, cfg), cfg, "cuda", steps=3,
                        precision=precision)
    assert out["steps"] == 3 and out["finite"] and math.isfinite(out["last_loss"])
    assert out["peak_gpu_memory_mb"] > 0
