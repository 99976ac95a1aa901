"""The team store, for real: an `mlflow server` on a fresh PostgreSQL database (artifacts in a
temporary folder) and two pipelines logging to it at once; and the Prefect server of
`make schedule PREFECT_DB=...` on PostgreSQL. Skipped, saying why, where no PostgreSQL
answers on 127.0.0.1:5432 (user postgres, trust authentication) or psycopg2 is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import REPO, clean_env, make_repo, ran, sh
from rnnlab import teamstore
from rnnlab.teamstore import PG

pytestmark = pytest.mark.slow


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; its name."""
    psycopg2 = pytest.importorskip("psycopg2", reason="psycopg2 is missing: pip install "
                                   "'rnnlab[team]' (psycopg2-binary) for the team-store tests")
    try:
        teamstore.admin_connection().close()
    except psycopg2.OperationalError as err:
        pytest.skip(f"no PostgreSQL answers on {PG['host']}:{PG['port']} as {PG['user']}: "
                    f"{str(err).strip()}")
    with teamstore.fresh_database("rnnlab_test") as name:
        yield name


@pytest.fixture
def mlflow_server(database: str, tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on the fresh database, artifacts proxied into tmp_path; its URL."""
    with teamstore.mlflow_server(database, tmp_path) as url:
        yield url


def test_two_pipelines_at_once_on_the_postgresql_server(mlflow_server: str, tmp_path: Path):
    # the data stages (no MLflow) once, in one clone copied to the other: the two pipelines
    # at once are their train, evaluate and report stages, the ones that use the store
    first = make_repo(tmp_path / "clone0", tasks=("entity",))
    sh(first, "dvc", "repro", "entity-encode")
    shutil.copytree(first, tmp_path / "clone1", symlinks=True)
    repos = []
    for i, lr in enumerate((0.003, 0.03)):  # the same data (seed), different models
        repo = tmp_path / f"clone{i}"
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["entity"]["train"]["lr"] = lr
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        repos.append(repo)
    procs = [subprocess.Popen(["dvc", "repro"], cwd=repo,
                              env={**clean_env(repo), "MLFLOW_TRACKING_URI": mlflow_server},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for repo in repos]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    for out in outputs:  # the data stages were up to date in both clones
        assert ran(out) == [
            "entity-train", "entity-evaluate", "report"], out[-3000:]
    assert not (repos[0] / "mlruns").exists()  # nothing went to a local store

    import mlflow

    client = mlflow.MlflowClient(mlflow_server, mlflow_server)
    experiment = client.get_experiment_by_name("rnnlab-entity")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
    dev = {}
    by_lr = sorted(runs, key=lambda r: float(r.data.params["train.lr"]))
    for repo, run in zip(repos, by_lr, strict=True):
        metrics = json.loads((repo / "metrics/entity.json").read_text())
        assert run.data.metrics["dev/entity_f1"] == pytest.approx(metrics["dev/entity_f1"])
        assert run.data.metrics["test/entity_f1"] == pytest.approx(metrics["test/entity_f1"])
        dev[run.info.run_id] = metrics["dev/entity_f1"]
        names = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        assert "evaluation/training.csv" in names  # in the server's artifact store
    versions = client.search_model_versions("name='rnnlab-entity'")
    assert sorted(v.run_id for v in versions) == sorted(dev)
    assert all(v.status == "READY" for v in versions)
    assert len({v.tags["rnnlab.dataset"] for v in versions}) == 1  # one champion race
    best = max(dev.values())  # a tie keeps the older version
    expected = min(int(v.version) for v in versions if dev[v.run_id] == best)
    assert client.get_model_version_by_alias("rnnlab-entity", "champion").version in (
        expected, str(expected))
    for v in versions:  # every registered model's files are on the server
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_model_version_download_uri("rnnlab-entity", v.version),
            dst_path=str(tmp_path / f"v{v.version}"), tracking_uri=mlflow_server)
        assert (Path(local) / "MLmodel").is_file()
        assert any(Path(local).rglob("model.pt"))


def test_prefect_server_keeps_its_state_in_postgresql(database: str, tmp_path: Path):
    import psycopg2

    sys.path.insert(0, str(REPO / "flows"))
    from schedule import start_server, stop_server

    os.environ.setdefault("PREFECT_HOME", str(tmp_path / "prefect"))
    port = teamstore.free_port()
    server = start_server(port, wait_s=240,
                          database=f"postgresql+asyncpg://{PG['user']}@{PG['host']}:"
                                   f"{PG['port']}/{database}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
            assert r.status == 200
        with psycopg2.connect(dbname=database, **PG) as conn, conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public'")
            tables = {row[0] for row in cur.fetchall()}
        assert {"flow", "flow_run", "deployment"} <= tables, sorted(tables)
    finally:
        stop_server(server)
