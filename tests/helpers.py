"""Test helpers: tiny corpora written by the tests themselves (no ../shared needed), and a
temporary copy of the repository with tiny params for the pipeline tests (dvc repro, Prefect).
Each task's tiny params are its package's own (`rnnlab.tasks.<task>.params.TINY`)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from rnnlab.stages import STAGES  # noqa: F401  (re-exported for the pipeline tests)

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)


def merge(base: dict, extra: dict) -> dict:
    """`extra` merged into `base` (in place, nested mappings copied); an empty mapping
    replaces (e.g. label_map: {})."""
    for k, v in extra.items():
        base[k] = merge(dict(base.get(k) or {}), v) if isinstance(v, dict) and v else v
    return base


def tiny_params(raw: dict, tasks: tuple[str, ...] | list[str]) -> dict:
    """params.yaml's mapping with only `tasks`, each shrunk by its package's TINY overrides."""
    raw = dict(raw, tasks=list(tasks))
    for task in tasks:
        tiny = importlib.import_module(f"rnnlab.tasks.{task}.params").TINY
        raw[task] = merge(dict(raw.get(task, {})), tiny)
    return raw


def clean_env(cwd: Path) -> dict[str, str]:
    """The environment of a pipeline command: no user MLflow/DVC settings, Prefect in `cwd`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = BIN + os.pathsep + env["PATH"]
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    if (cwd / "src" / "rnnlab").is_dir():  # a copy runs its own code (e.g. a new task package)
        env["PYTHONPATH"] = str(cwd / "src")
    return env


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=clean_env(cwd), capture_output=True, text=True,
                         timeout=900)
    if check and out.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


def ran(out: subprocess.CompletedProcess | str, task: str | None = None) -> list[str]:
    """Stages `dvc repro` ran, in order (from its result or its output); with `task`, only
    that task's."""
    text = out if isinstance(out, str) else out.stdout
    stages = [line.split("'")[1] for line in text.splitlines()
              if line.startswith("Running stage")]
    return [s for s in stages if task is None or s.startswith(f"{task}-")]


def make_repo(root: Path, tasks: tuple[str, ...] = ("entity",)) -> Path:
    """Copy the repository's files (not its outputs, dvc.lock or mlruns/) into `root`, keep
    only `tasks`, shrink them to tiny params, write its dvc.yaml (`rnnlab dag`), commit it to
    a fresh git repo and give it its own DVC remote."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file() and not f.startswith(("metrics/", "dvc.lock")):
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, root / f)
    params = tiny_params(yaml.safe_load((root / "params.yaml").read_text()), tasks)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "rnnlab", "dag")
    sh(root, "git", "init", "-q")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny")
    sh(root, "dvc", "remote", "modify", "--local", "local", "url", str(root.parent / "remote"))
    return root


def client(root: Path):
    """An MlflowClient on root's own store, in this process (one MLflow import for the whole
    test run instead of one per question)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlruns/mlflow.db'}"
    return MlflowClient(uri, registry_uri=uri)


def champion(root: Path, task: str = "entity") -> tuple[str, list[str]]:
    """(version of @champion, all registered versions) of rnnlab-<task> in root's MLflow store."""
    c = client(root)
    versions = c.search_model_versions(f"name='rnnlab-{task}'")
    return (str(c.get_model_version_by_alias(f"rnnlab-{task}", "champion").version),
            sorted(str(v.version) for v in versions))

CONLL_TRAIN = """in\tO
the\tO
forest\tO
there\tO
are\tO
Panthera\tB-Species
leo\tI-Species
.\tO

Panthera\tO
Corporation\tO
grew\tO
.\tO

Loxodonta\tB-Species
africana\tI-Species
eats\tO
grass\tO
"""


def write_conll(folder: Path, train: str = CONLL_TRAIN, dev: str | None = None,
                test: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.tsv").write_text(train)
    (folder / "devel.tsv").write_text(dev if dev is not None else
                                      "we\tO\nsaw\tO\nGorilla\tB-Species\nberingei\tI-Species\n")
    (folder / "test.tsv").write_text(test if test is not None else
                                     "Java\tO\nis\tO\nan\tO\nisland\tO\n")
    return folder


def frames(rows: dict[str, list[tuple[list, list]]]) -> dict[str, pd.DataFrame]:
    """{split: [(tokens, tags), ...]} -> prepared frames as the prepare stage writes them."""
    return {split: pd.DataFrame({"sentence_id": range(len(r)), "tokens": [t for t, _ in r],
                                 "tags": [g for _, g in r]})
            for split, r in rows.items()}
