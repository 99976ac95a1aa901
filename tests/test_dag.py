"""dvc.yaml is generated from the task registry, and each stage depends on what it imports.

`rnnlab dag --check` is the committed-file test; the others pin the graph's exactness: a
task's stages depend on its own package only, a shared file only where it is imported, and
every rnnlab module a stage's process loads is among its deps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO
from rnnlab import config, dag, tasks
from rnnlab.stages import STAGES

CFG = config.load(REPO / "params.yaml")
STAGES_YAML = yaml.safe_load(dag.render(REPO / "params.yaml"))["stages"]


def deps(task: str, stage: str) -> list[str]:
    return STAGES_YAML[f"{task}-{stage}"]["deps"]


def test_committed_dvc_yaml_is_what_the_registry_generates():
    assert (REPO / "dvc.yaml").read_text() == dag.render(REPO / "params.yaml"), \
        "dvc.yaml is stale: run `rnnlab dag` and commit it"


@pytest.mark.parametrize("task", CFG.tasks)
def test_a_task_s_stages_depend_on_its_own_package_and_no_other(task):
    others = [f"src/rnnlab/tasks/{t}" for t in tasks.available() if t != task]
    for stage in STAGES:
        d = deps(task, stage)
        assert f"src/rnnlab/tasks/{task}" in d
        assert not [p for p in d if any(p == o or p.startswith(o + "/") for o in others)]
        assert "src/rnnlab/cli.py" not in d  # argument parsing shapes no output


@pytest.mark.parametrize("task", CFG.tasks)
def test_shared_files_are_deps_exactly_where_imported(task):
    for stage in STAGES:
        d = deps(task, stage)
        assert f"src/rnnlab/stages/{stage}.py" in d
        assert ("src/rnnlab/tracking.py" in d) == (stage in ("train", "evaluate"))
        assert ("src/rnnlab/pyfunc_model.py" in d) == (stage == "evaluate")
        others = {f"src/rnnlab/stages/{s}.py" for s in STAGES if s != stage}
        assert not others & set(d), f"{task}-{stage} depends on another stage's module"


@pytest.mark.parametrize("task", CFG.tasks)
def test_every_module_a_stage_loads_is_a_dep(task):
    """What the process really imports (sys.modules after importing the stage and the task)
    is covered by the declared deps: the static closure may add, never miss."""
    for stage in ("prepare", "train"):
        code = (f"import sys, json, rnnlab.stages.{stage}, rnnlab.config; "
                f"from rnnlab import tasks; tasks.get({task!r}); "
                "rnnlab.config.task_config_class(" + repr(task) + "); "
                "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
                "if n.startswith('rnnlab') and getattr(m, '__file__', None))))")
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        loaded = {str(Path(f).resolve().relative_to(REPO))
                  for f in json.loads(out.strip().splitlines()[-1])}
        declared = deps(task, stage)
        missing = [f for f in loaded if f not in declared
                   and not f.startswith(f"src/rnnlab/tasks/{task}/")]
        assert not missing, f"{task}-{stage} imports {missing} but does not depend on them"


def test_raw_inputs_follow_the_configured_source():
    for task in CFG.tasks:
        prepare = deps(task, "prepare")
        for path in tasks.get(task).raw_inputs(CFG.task(task)):
            assert path in prepare
        assert f"data/raw/{task}" not in prepare  # never a whole folder of corpora


def test_params_are_per_stage_and_decode_never_retrains():
    for task in CFG.tasks:
        train = STAGES_YAML[f"{task}-train"].get("params", [])
        assert f"{task}.decode" not in train
        assert "trainer" in train and "seed" in train
        assert f"{task}.data" in STAGES_YAML[f"{task}-prepare"]["params"]
