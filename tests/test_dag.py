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


# One process for every (task, stage): it imports the third-party stack once, then forks a
# child per pair; each child starts with no rnnlab module loaded, imports the stage and the
# task and reports the rnnlab modules it then holds (what a fresh process would load: only
# rnnlab imports load rnnlab modules). Ten fresh processes cost ten imports of torch,
# Lightning and MLflow.
LOADED = """
import json, os, sys
for name in ("torch", "pytorch_lightning", "mlflow", "pandas", "matplotlib.pyplot", "yaml",
             "music21", "statsmodels.api", "sacrebleu", "sentencepiece", "torchmetrics"):
    try:
        __import__(name)
    except ImportError:
        pass
assert not [n for n in sys.modules if n.startswith("rnnlab")]
result = {}
for task in json.loads(sys.argv[1]):
    for stage in ("prepare", "train"):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            import importlib
            importlib.import_module(f"rnnlab.stages.{stage}")
            from rnnlab import config, tasks
            tasks.get(task)
            config.task_config_class(task)
            files = sorted(m.__file__ for n, m in sys.modules.items()
                           if n.startswith("rnnlab") and getattr(m, "__file__", None))
            with os.fdopen(write, "w") as out:
                json.dump(files, out)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as got:
            text = got.read()
        _, status = os.waitpid(pid, 0)
        assert status == 0 and text, f"{task}-{stage}: the child failed ({status})"
        result[f"{task}-{stage}"] = json.loads(text)
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """{task-stage: the repo-relative rnnlab files its process loads}."""
    out = subprocess.run([sys.executable, "-c", LOADED, json.dumps(CFG.tasks)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return {name: {str(Path(f).resolve().relative_to(REPO)) for f in files}
            for name, files in found.items()}


@pytest.mark.parametrize("task", CFG.tasks)
def test_every_module_a_stage_loads_is_a_dep(task, loaded):
    """What the process really imports (sys.modules after importing the stage and the task)
    is covered by the declared deps: the static closure may add, never miss."""
    for stage in ("prepare", "train"):
        declared = deps(task, stage)
        missing = [f for f in loaded[f"{task}-{stage}"] if f not in declared
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
