"""Every registered task honours the TaskSpec contract (one parametrised test per task).

A task that lacks something the stages, serving or dvc.yaml need fails here: a missing or
mistyped SPEC field, a params section that does not load, a decode knob that serving would
drop (no matching predict_params), a plot outside the task's folders, a requirement that is
not installed."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml

from helpers import REPO, frames, tiny_params
from rnnlab import config, tasks
from rnnlab.config import TaskConfig
from rnnlab.tasks import STAGE_PARAMS, TaskSpec

TASKS = tasks.available()
# how many positional arguments each SPEC function is called with (by the stages / serving)
ARITY = {"prepare": 2, "raw_inputs": 1, "checks": 2, "build_vocabs": 2, "load_vocab": 1,
         "vocab_metrics": 2, "encode": 2, "net_config": 2, "build_net": 1, "objective": 3,
         "loaders": 3, "evaluate": 6, "model_input": 1, "predict": 4, "predict_params": 1,
         "input_example": 3}


def _tiny(task: str, tmp_path: Path) -> TaskConfig:
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), [task])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return config.load(path).task(task)


def test_every_configured_task_has_a_package():
    assert set(config.load(REPO / "params.yaml").tasks) <= set(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_spec_is_complete_and_callable_as_the_stages_call_it(task):
    spec = tasks.get(task)
    assert isinstance(spec, TaskSpec) and spec.name == task
    for name, arity in ARITY.items():
        fn = getattr(spec, name)
        assert callable(fn), f"{task}: SPEC.{name} is not callable"
        # a deferred one (rnnlab.tasks.deferred) names a function its module really has
        assert inspect.isfunction(inspect.unwrap(fn)), f"{task}: SPEC.{name} is {fn!r}"
        inspect.signature(fn).bind(*range(arity))  # TypeError if it takes other arguments
    if spec.fit is not None:  # train calls it with 9 arguments, then evaluate passes fit=
        inspect.signature(spec.fit).bind(*range(9))
        inspect.signature(spec.evaluate).bind(*range(6), fit={})
    assert spec.primary_mode in ("max", "min")
    assert set(spec.reads) <= set(STAGE_PARAMS), f"{task}: reads names an unknown stage"
    for requirement in spec.requirements:
        try:
            version(requirement)
        except PackageNotFoundError:
            pytest.fail(f"{task}: requirement {requirement!r} is not installed")


def test_specs_and_the_data_stages_load_no_torch(good_rows, tmp_path):
    """prepare, validate and vocab never need torch: every SPEC defers the modules that import
    it (a second or so of each such process)."""
    code = ("import sys; from rnnlab import tasks; from rnnlab.stages import prepare, validate, "
            "vocab; [tasks.get(t) for t in tasks.available()]; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert out.stdout.split() == ["False"], out.stdout + out.stderr
    spec = tasks.get("entity")
    assert repr(spec.build_net) == "<deferred rnnlab.tasks.entity.model.build_net>"
    cfg = _tiny("entity", tmp_path)
    vocabs = spec.build_vocabs(frames(good_rows)["train"], cfg.vocab)
    net = spec.build_net(spec.net_config(cfg, vocabs))  # the call goes through
    assert sum(p.numel() for p in net.parameters()) > 0


@pytest.mark.parametrize("task", TASKS)
def test_params_module_is_torch_free_typed_and_has_tiny_overrides(task):
    module = importlib.import_module(f"rnnlab.tasks.{task}.params")
    assert issubclass(module.CONFIG, TaskConfig)
    fields = {f.name for f in dataclasses.fields(module.CONFIG)}
    assert {"data", "vocab", "model", "train"} <= fields, "the stages read these sections"
    assert isinstance(module.TINY, dict)
    source = Path(module.__file__).read_text()
    assert "import torch" not in source and "from torch" not in source
    package_init = Path(module.__file__).with_name("__init__.py").read_text()
    assert "import " not in package_init, f"{task}/__init__.py must not import anything"


@pytest.mark.parametrize("task", TASKS)
def test_every_decode_knob_is_a_served_param(task, tmp_path):
    """What evaluate decodes with, serving must accept (MLflow drops undeclared params)."""
    cfg = _tiny(task, tmp_path)
    spec = tasks.get(task)
    defaults = spec.predict_params(cfg)
    assert all(isinstance(v, bool | int | float | str) for v in defaults.values())
    decode = getattr(cfg, "decode", None)
    for f in dataclasses.fields(decode) if decode is not None else ():
        assert f.name in defaults, f"{task}: decode.{f.name} is not a served param"
        assert defaults[f.name] == getattr(decode, f.name), \
            f"{task}: predict_params' {f.name} default is not decode.{f.name}"


@pytest.mark.parametrize("task", TASKS)
def test_stage_params_exist_in_the_task_config(task):
    spec, cls = tasks.get(task), config.task_config_class(task)
    own = {f.name for f in dataclasses.fields(cls)}
    for stage, keys in spec.reads.items():
        for key in set(keys) - set(STAGE_PARAMS[stage]):
            assert key in own or key in ("seed", "trainer", "mlflow"), \
                f"{task}: reads[{stage!r}] names {key!r}, not a section of {cls.__name__}"
    assert "decode" not in spec.stage_params("train", cls), "train must not read decode"


@pytest.mark.parametrize("task", TASKS)
def test_plots_point_into_the_task_outputs(task):
    for entry in tasks.get(task).plots:
        if isinstance(entry, str):  # an image
            assert entry.startswith(f"plots/{task}/"), f"{task}: plot {entry} outside its folder"
            continue
        for key, value in entry.items():
            files = list(value.get("y", {})) if isinstance(value.get("y"), dict) else [key]
            for path in files:
                assert path.startswith(f"plots/{task}/"), f"{task}: plot {path} outside its folder"
