"""The champion rule, a pure function: higher wins for `max`, lower for `min`, ties keep."""

from __future__ import annotations

import pytest

from rnnlab.tracking import is_better


@pytest.mark.parametrize(("value", "champion", "mode", "better"), [
    (0.8, None, "max", True),     # no champion yet: the first version is it
    (0.8, None, "min", True),
    (0.9, 0.8, "max", True),
    (0.7, 0.8, "max", False),
    (0.8, 0.8, "max", False),     # a tie keeps the current champion
    (0.7, 0.8, "min", True),      # e.g. dev/nll, dev/mase: lower is better
    (0.9, 0.8, "min", False),
    (0.8, 0.8, "min", False),
])
def test_champion_rule(value, champion, mode, better):
    assert is_better(value, champion, mode) is better


def test_champion_rule_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="'max' or 'min'"):
        is_better(0.5, 0.4, "maximum")


# ---------------------------------------------------------------- the store and the registry

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from rnnlab import tracking  # noqa: E402
from rnnlab.config import MlflowConfig  # noqa: E402


@pytest.fixture
def store(tmp_path, monkeypatch, no_tracking_uri):
    """A fresh local store in a project folder of its own (the current directory)."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    experiment_id = tracking.setup(MlflowConfig(), "entity")
    yield mlflow.MlflowClient(), experiment_id, (tmp_path / "model").as_uri()


def _register(source: str, value: float, data: str = "corpus-a", mode: str = "max") -> dict:
    return tracking.register(source, "entity", "dev/entity_f1", value, mode,
                             tags={tracking.DATA_TAG: data})


def test_store_and_artifacts_resolve_against_the_project_not_a_dvc_workspace(tmp_path,
                                                                             monkeypatch):
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    workspace = tmp_path / ".dvc" / "tmp" / "exps" / "tmpab12" / "src"
    workspace.mkdir(parents=True)
    (workspace.parent / "params.yaml").write_text("seed: 1\n")  # the experiment's own copy
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(workspace)
    assert tracking.project_root() == tmp_path
    cfg = MlflowConfig()
    assert tracking.tracking_uri(cfg) == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert tracking.artifact_root(cfg) == tmp_path / "mlruns" / "artifacts"
    monkeypatch.chdir(tmp_path / ".dvc")
    assert tracking.project_root() == tmp_path  # the nearest params.yaml above
    # from anywhere, with the project given (the flow's summary): the same store, none made
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert tracking.store_uri(cfg, workspace) == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert tracking.sqlite_path(tracking.store_uri(cfg, tmp_path)) == \
        tmp_path / "mlruns" / "mlflow.db"
    assert not (elsewhere / "mlruns").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri(cfg) == "http://127.0.0.1:5000"


def test_experiment_is_tagged_for_the_model_training_view(store):
    client, experiment_id, _ = store
    experiment = client.get_experiment(experiment_id)
    assert experiment.tags[tracking.KIND_TAG] == "custom_model_development"
    assert experiment.artifact_location == (Path.cwd() / "mlruns/artifacts/entity").as_uri()
    assert tracking.setup(MlflowConfig(), "entity") == experiment_id  # got, not created again


def test_evaluate_finds_the_training_of_its_own_workspace(store, tmp_path, monkeypatch):
    # two pipelines, same params and seed: identical weights, one SHA-256; each evaluate
    # resumes its own workspace's training, not merely the newest run with those weights
    import mlflow

    runs = {}
    for name in ("clone0", "clone1", "elsewhere"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        with mlflow.start_run(tags=tracking.run_tags("entity", "train")) as run:
            mlflow.set_tag(tracking.WEIGHTS_TAG, "same-digest" if name != "elsewhere"
                           else "other-digest")
        runs[name] = run.info.run_id
    for name in ("clone0", "clone1"):
        monkeypatch.chdir(tmp_path / name)
        assert tracking.training_run("entity", "same-digest") == runs[name]
    monkeypatch.chdir(tmp_path / "elsewhere")  # none of these weights here: the newest (of
    # two started in the same millisecond, perhaps: either)
    assert tracking.training_run("entity", "same-digest") in (runs["clone0"], runs["clone1"])
    assert tracking.training_run("entity", "no-such-digest") is None


def test_same_data_a_better_version_replaces_the_champion(store):
    client, _, source = store
    first = _register(source, 0.50)
    assert (first["alias"], first["previous_champion_value"]) == ("champion", None)
    assert _register(source, 0.40)["alias"] == "challenger"
    assert _register(source, 0.50)["alias"] == "challenger"  # a tie keeps the champion
    better = _register(source, 0.60)
    assert (better["alias"], better["previous_champion_value"]) == ("champion", 0.50)
    aliases = client.get_registered_model("rnnlab-entity").aliases
    assert aliases == {"champion": 4, "challenger": 3, first["dataset_alias"]: 4}
    version = client.get_model_version("rnnlab-entity", "4")
    assert version.tags[tracking.DATA_TAG] == "corpus-a"
    assert version.tags[tracking.METRIC_TAG] == "dev/entity_f1"
    assert float(version.tags[tracking.VALUE_TAG]) == 0.60
    assert version.tags[tracking.DATASET_TAG] == first["dataset"]


def test_new_data_has_its_own_champion_and_the_old_one_keeps_its_alias(store):
    client, _, source = store
    old = _register(source, 0.90, data="nile")
    new = _register(source, 0.10, data="el-nino")  # far worse a number, but other data
    assert new["alias"] == "champion" and new["previous_champion_value"] is None
    assert new["dataset"] != old["dataset"]
    assert _register(source, 0.05, data="el-nino")["alias"] == "challenger"
    aliases = client.get_registered_model("rnnlab-entity").aliases
    # @champion follows the data of the newest version; each data keeps its own champion
    assert aliases == {"champion": 2, "challenger": 3, new["dataset_alias"]: 2,
                       old["dataset_alias"]: 1}
    back = _register(source, 0.80, data="nile")  # back to the first data: judged against it
    assert (back["alias"], back["previous_champion_value"]) == ("challenger", 0.90)
    aliases = client.get_registered_model("rnnlab-entity").aliases
    assert aliases["champion"] == 1 and aliases["challenger"] == 4


def test_lower_is_better_and_the_direction_is_part_of_the_dataset(store):
    client, _, source = store
    assert tracking.register(source, "entity", "dev/nll", 2.0, "min",
                             tags={tracking.DATA_TAG: "d"})["alias"] == "champion"
    assert tracking.register(source, "entity", "dev/nll", 1.5, "min",
                             tags={tracking.DATA_TAG: "d"})["alias"] == "champion"
    assert tracking.register(source, "entity", "dev/nll", 1.7, "min",
                             tags={tracking.DATA_TAG: "d"})["alias"] == "challenger"
    assert client.get_registered_model("rnnlab-entity").aliases["champion"] == 2


def test_settling_corrects_a_stale_writer(store):
    """Two processes on a server without a common lock: the one that read the versions
    before the other registered may move @champion back to the worse version. Whoever
    settles next (any registration) puts it right, from all versions."""
    client, _, source = store
    _register(source, 0.3)
    _register(source, 0.7)
    client.set_registered_model_alias("rnnlab-entity", "champion", "1")  # the stale write
    assert tracking.settle_aliases(client, "rnnlab-entity")["champion"] == "2"
    assert client.get_registered_model("rnnlab-entity").aliases["champion"] == 2


def test_repair_ends_a_dead_process_run_and_its_pending_model(store):
    client, experiment_id, _ = store
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tags = {**tracking.run_tags("entity", "evaluate"), tracking.PID_TAG: str(dead.pid)}
    killed = client.create_run(experiment_id, tags=tags)
    alive = client.create_run(experiment_id, tags=tracking.run_tags("entity", "train"))
    other_host = client.create_run(experiment_id, tags={**tags, tracking.HOST_TAG: "elsewhere"})
    pending = client.create_logged_model(experiment_id, source_run_id=killed.info.run_id)
    working = client.create_logged_model(experiment_id, source_run_id=alive.info.run_id)
    changed = tracking.repair(client, experiment_id)
    assert len(changed) == 2
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"  # this process's
    assert client.get_run(other_host.info.run_id).info.status == "RUNNING"  # can't tell
    assert str(client.get_logged_model(pending.model_id).status) == "FAILED"
    assert str(client.get_logged_model(working.model_id).status) == "PENDING"
    assert tracking.repair(client, experiment_id) == []


RACER = textwrap.dedent("""
    import sys
    from rnnlab import tracking
    from rnnlab.config import MlflowConfig
    tracking.setup(MlflowConfig(), "entity")
    tracking.register(sys.argv[1], "entity", "dev/entity_f1", float(sys.argv[2]), "max",
                      tags={tracking.DATA_TAG: "same"})
""")


@pytest.mark.slow
def test_four_processes_open_a_new_store_and_register_at_once(tmp_path):
    """The races of a fresh store: table creation and migration, the experiment's creation,
    the registered model's, and read champion -> register -> move alias. All four finish and
    the best of the four is the champion."""
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "model").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env["PYTHONPATH"] = str(Path(tracking.__file__).parents[1])
    values = [0.41, 0.77, 0.52, 0.63]
    procs = [subprocess.Popen([sys.executable, "-c", RACER, (tmp_path / "model").as_uri(),
                               str(v)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for v in values]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(o[-2000:] for o in outputs)
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db",
                                 f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    assert len(client.search_experiments()) == 2  # Default and rnnlab-entity
    versions = client.search_model_versions("name='rnnlab-entity'")
    assert sorted(float(v.tags[tracking.VALUE_TAG]) for v in versions) == sorted(values)
    champion = client.get_model_version_by_alias("rnnlab-entity", "champion")
    assert float(champion.tags[tracking.VALUE_TAG]) == max(values)
