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


def _has_avx2() -> bool:
    import platform

    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return platform.machine().lower() in ("x86_64", "amd64") and " avx2" in flags


PROBE = ("import os, torch, rnnlab; print(torch.backends.cpu.get_cpu_capability(), "
         "os.environ.get('MKL_CBWR'), os.environ.get('ONEDNN_MAX_CPU_ISA'))")
ISA_KEYS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")


@pytest.mark.skipif(not _has_avx2(), reason="the instruction-set pin is for x86-64 with AVX2")
def test_kernels_are_pinned_to_avx2_unless_the_user_chose_a_path():
    """Another CPU (AVX-512 against AVX2) trained other weights from the same commit; importing
    rnnlab pins torch, MKL and oneDNN to AVX2, even when torch was imported first."""
    env = {k: v for k, v in os.environ.items() if k not in ISA_KEYS}
    env["PYTHONPATH"] = str(REPO / "src")
    out = subprocess.run([sys.executable, "-c", PROBE.replace("torch, rnnlab", "rnnlab, torch")],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["AVX2", "AVX2", "AVX2"]
    late = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, check=True).stdout.split()
    assert late == out  # read at the first computation, not at torch's import
    mine = subprocess.run([sys.executable, "-c", PROBE],
                          env={**env, "ATEN_CPU_CAPABILITY": "default"},
                          capture_output=True, text=True, check=True).stdout.split()
    assert mine[0] == "DEFAULT"  # the user's choice is kept
