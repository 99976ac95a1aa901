"""params.yaml -> typed settings: every key typed, unknown or misplaced keys fail by name."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from rnnlab import config
from rnnlab.config import ConfigError, TaskConfig, build

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class _Inner:
    size: int = 3
    names: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class _Section:
    kind: Literal["x", "y"] = "x"
    rate: float = 0.5
    inner: _Inner = field(default_factory=_Inner)
    optional: int | None = None
    mapping: dict[int, str] = field(default_factory=dict)


def test_build_types_nested_sections_and_coerces_lists_and_ints():
    section = build(_Section, {"kind": "y", "rate": 1, "inner": {"names": ["p", "q"]},
                               "mapping": {5: "accept"}}, "t")
    assert section == _Section("y", 1.0, _Inner(3, ("p", "q")), None, {5: "accept"})
    assert isinstance(section.rate, float)


@pytest.mark.parametrize(("values", "message"), [
    ({"knd": "x"}, r"t\.knd: unknown key; t takes inner, kind, mapping, optional, rate"),
    ({"inner": {"sise": 2}}, r"t\.inner\.sise: unknown key"),
    ({"kind": "z"}, r"t\.kind must be one of \['x', 'y'\], got 'z'"),
    ({"rate": "fast"}, r"t\.rate must be float, got 'fast'"),
    ({"inner": {"size": True}}, r"t\.inner\.size must be int, got True"),
    ({"inner": {"names": "p"}}, r"t\.inner\.names must be a list"),
    ({"optional": "3"}, r"t\.optional: '3' matches none of \['int', 'NoneType'\]"),
    ({"inner": 3}, r"t\.inner must be a mapping, got int"),
])
def test_build_names_the_offending_key(values, message):
    with pytest.raises(ConfigError, match=message):
        build(_Section, values, "t")


def test_the_project_params_load_and_each_task_is_its_own_class():
    cfg = config.load(REPO / "params.yaml")
    assert cfg.tasks and set(cfg.tasks) == set(cfg.task_configs)
    for name in cfg.tasks:
        tc = cfg.task(name)
        assert type(tc) is config.task_config_class(name) and isinstance(tc, TaskConfig)
        assert tc.trainer == cfg.trainer  # the one top-level trainer section


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    mutate(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r["review"]["data"].update(trunction="head"),
     r"params\.yaml:review\.data\.trunction: unknown key"),
    (lambda r: r["forecast"]["model"].update(pooling="max"),
     r"params\.yaml:forecast\.model\.pooling: unknown key"),
    (lambda r: r["entity"]["train"].update(accelerator="cpu"),
     r"params\.yaml:entity\.train\.accelerator: unknown key"),
    (lambda r: r["entity"].update(trainer={"threads": 2}),
     r"params\.yaml:entity\.trainer: misplaced key"),
    (lambda r: r["trainer"].update(thread=2), r"params\.yaml:trainer\.thread: unknown key"),
    (lambda r: r.update(entitty={}), r"params\.yaml:entitty: unknown key"),
    (lambda r: r["entity"]["model"].update(cell="transformer"),
     r"params\.yaml:entity\.model\.cell must be one of"),
    (lambda r: r["tasks"].append("nosuchtask") or r.update(nosuchtask={}),
     r"unknown task 'nosuchtask'"),
])
def test_a_typo_or_misplaced_key_fails_with_its_full_name(tmp_path, mutate, message):
    with pytest.raises(ConfigError, match=message):
        config.load(_write(tmp_path, mutate))


def test_overrides_set_nested_values_and_are_checked(tmp_path):
    path = _write(tmp_path, lambda r: None)
    cfg = config.load_with_overrides(path, ["entity.train.lr=0.01", "seed=7"])
    assert cfg.seed == 7 and cfg.task("entity").train.lr == 0.01
    with pytest.raises(ConfigError, match="unknown key"):
        config.load_with_overrides(path, ["entity.train.lrr=0.01"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config.load_with_overrides(path, ["entity.train.lr"])


def test_reading_params_imports_no_torch():
    code = ("import rnnlab.config, sys; rnnlab.config.load('params.yaml'); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'pytorch_lightning' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
