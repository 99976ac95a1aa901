"""Test helpers: tiny corpora written by the tests themselves (no ../shared needed), and a
temporary copy of the repository with tiny params for the pipeline tests (dvc repro, Prefect)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
TINY = {
    "data": {"builtin": {"n_train": 160, "n_dev": 40, "n_test": 40}},
    "model": {"hidden_size": 16, "embedding_dim": 16},
    "train": {"max_epochs": 2, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"dense": {"enabled": True, "hidden_size": 16, "max_epochs": 1}},
}
TINY_REVIEW = {
    "data": {"builtin": {"n_train": 160, "n_dev": 40, "n_test": 40}, "max_len": 80},
    "model": {"hidden_size": 8, "embedding_dim": 8},
    "train": {"max_epochs": 1, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"tfidf_lr": {"C": 1.0}},
}
TINY_MUSIC = {  # 8 corpus files per genre (~3 s of parsing), a tiny GRU, a few samples
    "data": {"limit": 8, "workers": 1},
    "validation": {"min_train_per_genre": 2},
    "model": {"hidden_size": 16, "embedding_dim": 8, "genre_dim": 4, "clock_dim": 4,
              "max_len": 120, "samples_per_genre": 3, "midi_per_genre": 1},
    "train": {"max_epochs": 1, "batch_size": 16, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"bigram": {"k": 0.05}, "classifier": {"C": 1.0}},
}
TINY_TRANSLATE = {
    "data": {"builtin": {"n_train": 300, "n_dev": 60, "n_test": 60}},
    "model": {"hidden_size": 16, "embedding_dim": 8, "beam_size": 2, "max_len": 20},
    "train": {"max_epochs": 1, "batch_size": 32, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"word_by_word": {"iterations": 2}},
}
TINY_FORECAST = {  # the test writes data/raw/forecast/series.csv (150 months) itself
    "data": {"source": "csv", "horizon_test": 6, "horizon_dev": 6},
    "validation": {"min_value": 250, "max_value": 450, "min_train_windows": 5},
    "vocab": {"input_len": 12, "horizon": 6},
    "model": {"hidden_size": 8},
    "train": {"max_epochs": 2, "patience": 1, "log_every_n_steps": 1},
    "baselines": {"sarima": {"enabled": False}},
}
STAGES = ("prepare", "validate", "vocab", "encode", "train", "evaluate")


def _merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        base[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return base


def clean_env(cwd: Path) -> dict[str, str]:
    """The environment of a pipeline command: no user MLflow/DVC settings, Prefect in `cwd`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = BIN + os.pathsep + env["PATH"]
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    return env


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=clean_env(cwd), capture_output=True, text=True,
                         timeout=900)
    if check and out.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


def ran(out: subprocess.CompletedProcess, task: str | None = None) -> list[str]:
    """Stages `dvc repro` ran, in order; with `task`, only that task's."""
    stages = [line.split("'")[1] for line in out.stdout.splitlines()
              if line.startswith("Running stage")]
    return [s for s in stages if task is None or s.endswith(f"@{task}")]


def make_repo(root: Path, tasks: tuple[str, ...] = ("entity",)) -> Path:
    """Copy the repository's files (not its outputs, dvc.lock or mlruns/) into `root`, keep
    only `tasks`, shrink them to tiny params, commit it to a fresh git repo and give it its own
    DVC remote."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file() and not f.startswith(("metrics/", "dvc.lock")):
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, root / f)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["tasks"] = list(tasks)
    tiny = {"entity": TINY, "review": TINY_REVIEW, "music": TINY_MUSIC,
            "translate": TINY_TRANSLATE, "forecast": TINY_FORECAST}
    for task in tasks:
        _merge(params[task], tiny[task])
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "init", "-q")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny")
    sh(root, "dvc", "remote", "modify", "--local", "local", "url", str(root.parent / "remote"))
    return root


def champion(root: Path, task: str = "entity") -> tuple[str, list[str]]:
    """(version of @champion, all registered versions) of rnnlab-<task> in root's MLflow store."""
    code = ("import mlflow; mlflow.set_tracking_uri('sqlite:///mlruns/mlflow.db'); "
            "c = mlflow.MlflowClient(); "
            f"print(c.get_model_version_by_alias('rnnlab-{task}', 'champion').version); "
            f"vs = c.search_model_versions(\"name='rnnlab-{task}'\"); "
            "print(' '.join(str(v.version) for v in vs))")
    out = sh(root, sys.executable, "-c", code).stdout.split("\n")
    return out[0], sorted(out[1].split())

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
