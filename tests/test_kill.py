"""Kill-safe stages: `dvc repro` of one tiny task, killed at fixed points of train and
evaluate (the stage signals itself: RNNLAB_KILL_AT, rnnlab.tracking.kill_point), then rerun.
Afterwards: no temporary outputs, no RUNNING run or PENDING model, a registry whose champion
is its best version, and the same weights as a forced retrain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import client, make_repo, ran, sh

pytestmark = pytest.mark.slow
# entity's chain up to evaluate: the run report (a stage after it, tests/test_pipeline.py)
# touches neither the weights nor the registry
TARGET = ("entity-evaluate",)

def _state(repo: Path) -> dict:
    c = client(repo)
    e = c.get_experiment_by_name("rnnlab-entity")
    versions = c.search_model_versions("name='rnnlab-entity'")
    aliases = {a: str(v) for a, v in c.get_registered_model("rnnlab-entity").aliases.items()} \
        if versions else {}
    return {
        "runs": sorted(r.info.status for r in c.search_runs([e.experiment_id])),
        "models": sorted(str(m.status) for m in c.search_logged_models([e.experiment_id])),
        "versions": {str(v.version): [v.status, float(v.tags["rnnlab.primary_value"])]
                     for v in versions},
        "aliases": aliases,
    }


def _killed(repo: Path, point: str, signal: str = "SIGKILL") -> str:
    """`dvc repro` with the stage killed at `point`; the stage that died."""
    env = ("env", f"RNNLAB_KILL_AT={point}", f"RNNLAB_KILL_SIGNAL={signal}")
    out = sh(repo, *env, "dvc", "repro", *TARGET, check=False)
    assert out.returncode != 0, f"{point}: dvc repro did not fail\n{out.stdout[-2000:]}"
    return ran(out)[-1]


def _leftovers(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for pattern in (".*.tmp", ".*.old")
                  for p in repo.rglob(pattern) if ".dvc" not in p.parts and ".git" not in p.parts)


def test_kills_in_train_and_evaluate_leave_nothing_behind_after_the_rerun(tmp_path):
    repo = make_repo(tmp_path / "rnnlab", tasks=("entity",))
    # SIGTERM (what `kill`, Prefect or a scheduler send): the run ends KILLED at once
    assert _killed(repo, "train:fit", "SIGTERM") == "entity-train"
    assert _state(repo)["runs"] == ["KILLED"]
    # SIGKILL at fixed points: nothing can run in the process, the next stage start repairs
    assert _killed(repo, "train:weights") == "entity-train"
    assert any(".entity." in p for p in _leftovers(repo))  # the half-written model folder
    assert _state(repo)["runs"] == ["KILLED", "RUNNING"]
    for point in ("evaluate:plots", "evaluate:logged", "evaluate:registered"):
        assert _killed(repo, point) == "entity-evaluate", point
    killed = _state(repo)
    assert "RUNNING" in killed["runs"] and killed["aliases"] == {}  # registered, no alias yet
    assert list(killed["versions"]) == ["1"]

    out = sh(repo, "dvc", "repro", *TARGET)
    assert ran(out) == ["entity-evaluate"]
    assert _leftovers(repo) == []
    state = _state(repo)
    assert "RUNNING" not in state["runs"] and "PENDING" not in state["models"]
    assert state["runs"].count("FINISHED") == 1  # the run of the weights in models/entity
    assert list(state["versions"]) == ["1"]  # the killed evaluate's version, not a duplicate
    assert state["versions"]["1"][0] == "READY"
    dataset_alias = next(a for a in state["aliases"] if a.startswith("champion-"))
    assert state["aliases"] == {"champion": "1", dataset_alias: "1"}
    metrics = json.loads((repo / "metrics/entity.json").read_text())
    assert state["versions"]["1"][1] == metrics["dev/entity_f1"]

    # a forced retrain from scratch gives the same weights (so evaluate, deterministic, the
    # same metrics; the registry's tie rule is tests/test_tracking.py's): the kills changed nothing
    weights = (repo / "models/entity/model.pt").read_bytes()
    assert ran(sh(repo, "dvc", "repro", "-f", "-s", "entity-train")) == ["entity-train"]
    assert (repo / "models/entity/model.pt").read_bytes() == weights
    assert _leftovers(repo) == []
