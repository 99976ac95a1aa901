"""The Prefect flow (flows/pipeline.py) on tiny params in a temporary copy of the repository,
under prefect_test_harness (PREFECT_HOME is a temporary folder, see conftest.py), and
flows/schedule.py against a real Prefect server on loopback."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
import yaml

from helpers import REPO, clean_env, make_repo, sh, write_conll
from helpers import client as store
from rnnlab.stages import STAGES as STAGE_NAMES

STAGES = list(STAGE_NAMES)  # the flow reports lists


@pytest.fixture(scope="module")
def pipeline():
    """flows/pipeline.py as a module (flows/ is not a package)."""
    spec = importlib.util.spec_from_file_location("rnnlab_flow", REPO / "flows" / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith(("MLFLOW_", "DVC_"))]:
            mp.delenv(key)  # the stages use the repo copy's own MLflow store and DVC cache
        with prefect_test_harness(server_startup_timeout=90):
            yield


@pytest.fixture(scope="module")
def flow_repo(tmp_path_factory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("rnnlab-flow"))
    with pytest.MonkeyPatch.context() as mp:  # its stages run the copy's own code
        mp.setenv("PYTHONPATH", str(root / "src"))
        yield root


def task_runs(flow_run_id: str) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
    return {run.name: run for run in runs}


def flow_logs(flow_run_id: str, expect: str, wait_s: float = 20) -> str:
    """The flow run's log messages on the server, once `expect` has arrived (logs are sent in
    batches)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline, text = time.monotonic() + wait_s, ""
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)])))
        text = "\n".join(log.message for log in logs)
        if expect in text:
            break
        time.sleep(0.5)
    return text


def registry(root: Path) -> dict[str, object]:
    """The repo copy's MLflow store: @champion of rnnlab-entity, every version, every run's tags
    (queried in this process: one MLflow import instead of one per question)."""
    client = store(root)
    champion = client.get_model_version_by_alias("rnnlab-entity", "champion")
    versions = client.search_model_versions("name='rnnlab-entity'")
    experiment = client.get_experiment_by_name("rnnlab-entity")
    return {"champion": str(champion.version), "champion_run": champion.run_id,
            "versions": sorted(str(v.version) for v in versions),
            "runs": [r.data.tags for r in client.search_runs([experiment.experiment_id])]}


def test_stage_graph_is_dvc_yaml_one_independent_chain_per_task(pipeline, tmp_path: Path):
    from rnnlab import dag

    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc/config").write_text((REPO / ".dvc/config").read_text())
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(dict(raw, tasks=["entity", "review"])))
    (tmp_path / "dvc.yaml").write_text(dag.render(tmp_path / "params.yaml"))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)

    graph = pipeline.stage_graph(tmp_path)
    assert sorted(graph) == sorted([*(f"{t}-{s}" for s in STAGES for t in ("entity", "review")),
                                    "report"])
    order = list(graph)
    assert order[-1] == "report" and sorted(graph["report"]) == [
        f"{t}-{s}" for t in ("entity", "review") for s in ("evaluate", "validate")]
    for stage, upstream in graph.items():
        if stage == "report":  # the run report reads every chain's outputs
            continue
        task = stage.partition("-")[0]
        assert all(u.startswith(f"{task}-") for u in upstream), (stage, upstream)  # independent
        assert all(order.index(u) < order.index(stage) for u in upstream)
    assert graph["review-prepare"] == []
    assert "review-encode" in graph["review-train"] and "review-train" in graph["review-evaluate"]
    # a run of some tasks leaves the report (over every task) out
    assert list(pipeline.stage_graph(tmp_path, ["review"])) == [f"review-{s}" for s in STAGES]
    with pytest.raises(ValueError, match=r"not in params\.yaml"):
        pipeline.stage_graph(tmp_path, ["nope"])


def _toy_repo(root: Path, stages: dict) -> dict[str, str]:
    """A DVC repository of shell stages (no rnnlab task) for the flow's own behaviour."""
    (root / ".dvc").mkdir()
    (root / ".dvc/config").write_text("[core]\n    analytics = false\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    tasks = sorted({name.partition("-")[0] for name in stages})
    (root / "params.yaml").write_text(yaml.safe_dump({"tasks": tasks}))
    env = clean_env(root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    return env


def test_one_dvc_status_picks_the_changed_stages_and_everything_downstream(pipeline,
                                                                          tmp_path: Path):
    env = _toy_repo(tmp_path, {
        "a-first": {"cmd": "cp in_a.txt first_a.txt", "deps": ["in_a.txt"],
                    "outs": ["first_a.txt"]},
        "a-second": {"cmd": "cp first_a.txt second_a.txt", "deps": ["first_a.txt"],
                     "outs": ["second_a.txt"]},
        "b-first": {"cmd": "cp in_b.txt first_b.txt", "deps": ["in_b.txt"],
                    "outs": ["first_b.txt"]},
    })
    for name in ("in_a.txt", "in_b.txt"):
        (tmp_path / name).write_text("1\n")
    graph = pipeline.stage_graph(tmp_path)
    assert pipeline.stages_to_run(tmp_path, graph) == list(graph)  # never ran: all of them
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=tmp_path, env=env,
                   check=True)
    assert pipeline.stages_to_run(tmp_path, graph) == []  # the cheap no-op
    assert pipeline.stages_to_run(tmp_path, graph, force=True) == list(graph)
    (tmp_path / "in_a.txt").write_text("2\n")  # a-second's own deps are unchanged until
    assert pipeline.stages_to_run(tmp_path, graph) == ["a-first", "a-second"]  # a-first runs
    from dvc.repo import Repo

    with Repo(str(tmp_path)) as repo:  # the flow's way: one open Repo, one index, for both
        assert pipeline.stages_to_run(tmp_path, pipeline.stage_graph(tmp_path, repo=repo),
                                      repo=repo) == ["a-first", "a-second"]


def test_a_failed_exit_is_retried_but_a_settings_error_is_not(pipeline):
    failed = pipeline.StageFailed("entity-train", "ERROR: failed to run: x, exited with 1")
    config = pipeline.StageFailed("entity-train", "ERROR: failed to run: x, exited with 2")

    class State:
        def __init__(self, err):
            self.err = err

        def result(self):
            raise self.err

    assert pipeline._worth_retrying(None, None, State(failed))
    assert pipeline._worth_retrying(None, None, State(OSError("disk")))
    assert not pipeline._worth_retrying(None, None, State(config))


def test_summary_reads_the_store_the_stages_logged_to(pipeline, tmp_path: Path, monkeypatch,
                                                      no_tracking_uri):
    """The flow's summary finds the champion where the stages put it: the project root's
    store (rnnlab.tracking.store_uri), also when the flow's repo is a DVC experiment
    workspace inside it, and creates no store anywhere else."""
    from rnnlab import tracking
    from rnnlab.config import MlflowConfig

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"tasks": ["entity"], "entity": {"primary_metric": "dev/entity_f1"}}))
    (tmp_path / "model").mkdir()
    (tmp_path / "model/MLmodel").write_text("flavors: {}\n")
    monkeypatch.chdir(tmp_path)
    tracking.setup(MlflowConfig(), "entity")
    tracking.register((tmp_path / "model").as_uri(), "entity", "dev/entity_f1", 0.5,
                      tags={tracking.DATA_TAG: "corpus"})
    workspace = tmp_path / ".dvc/tmp/exps/tmpab12"
    workspace.mkdir(parents=True)
    (workspace / "params.yaml").write_text((tmp_path / "params.yaml").read_text())
    monkeypatch.chdir(workspace / "..")  # neither the project nor the workspace
    for repo in (str(tmp_path), str(workspace), "tmpab12"):  # "tmpab12": relative to the cwd
        summary = pipeline.summarize.fn(repo, ["entity"], {})
        assert summary["entity"]["champion"]["version"] == 1, repo
    assert sorted(p.name for p in tmp_path.rglob("mlflow.db")) == ["mlflow.db"]


@pytest.mark.slow
def test_a_flaky_stage_is_retried_and_a_failed_validate_is_not(pipeline, harness,
                                                               tmp_path: Path, monkeypatch):
    # the same task with a one-second backoff (the flow's is 10 s, then 60 s): the retry is
    # what is checked, not the wait
    monkeypatch.setattr(pipeline, "run_stage",
                        pipeline.run_stage.with_options(retry_delay_seconds=[1, 1]))
    flaky = "if [ -f tried ]; then echo ok > flaky.txt; else touch tried; exit 1; fi"
    _toy_repo(tmp_path, {
        "a-train": {"cmd": flaky, "outs": ["flaky.txt"]},
        "b-validate": {"cmd": "exit 1", "outs": ["never.txt"]},
    })
    state = pipeline.rnn_pipeline(repo=str(tmp_path), tasks=["a"], return_state=True)
    assert state.is_completed(), state.message
    runs = task_runs(str(state.state_details.flow_run_id))
    assert runs["a-train"].run_count == 2  # failed once, retried after the first delay
    assert (tmp_path / "flaky.txt").read_text() == "ok\n"
    state = pipeline.rnn_pipeline(repo=str(tmp_path), tasks=["b"], return_state=True)
    assert state.is_failed()
    runs = task_runs(str(state.state_details.flow_run_id))
    assert runs["b-validate"].run_count == 1  # a verdict on the data: never retried


@pytest.mark.slow
def test_flow_runs_every_stage_through_dvc_and_tags_mlflow(pipeline, harness, flow_repo: Path):
    state = pipeline.rnn_pipeline(repo=str(flow_repo), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    run_id = result["flow_run_id"]
    info = result["tasks"]["entity"]
    assert result["trained"] is True
    assert result["ran"] == [*(f"entity-{s}" for s in STAGES), "report"]
    assert result["report"] == str(flow_repo / "reports/index.html")
    assert info["ran"] == STAGES
    assert info["metrics"] == json.loads((flow_repo / "metrics/entity.json").read_text())
    assert 0 <= info["metrics"]["test/entity_f1"] <= 1
    assert info["champion"]["version"] == 1 and info["champion"]["name"] == "rnnlab-entity"

    runs = task_runs(run_id)
    assert {name: run.state.type.value for name, run in runs.items()} == {
        **{f"entity-{s}": "COMPLETED" for s in STAGES}, "report": "COMPLETED",
        "summary": "COMPLETED"}
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(run_id))
    commit = sh(flow_repo, "git", "rev-parse", "--short=8", "HEAD").stdout.strip()
    assert flow_run.name == f"rnn-entity@{commit}"

    store = registry(flow_repo)
    assert store["champion"] == "1" and store["versions"] == ["1"]
    assert len(store["runs"]) == 1 and store["runs"][0]["prefect.flow_run_id"] == run_id
    assert store["runs"][0]["dvc.stage"] == "entity-evaluate"
    assert info["champion"]["run_id"] == store["champion_run"]

    assert "up to date" in sh(flow_repo, "dvc", "status").stdout
    lock = yaml.safe_load((flow_repo / "dvc.lock").read_text())["stages"]
    assert sorted(lock) == sorted([*(f"entity-{s}" for s in STAGES), "report"])


@pytest.mark.slow
def test_second_flow_run_with_nothing_changed_trains_nothing_then_pushes(pipeline, harness,
                                                                        flow_repo: Path):
    before = registry(flow_repo)
    result = pipeline.rnn_pipeline(repo=str(flow_repo), push=True)
    assert result["trained"] is False and result["ran"] == []
    assert "nothing changed" in result["message"]
    assert result["tasks"]["entity"]["stages"] == {s: "unchanged" for s in STAGES}
    assert not [n for n in task_runs(result["flow_run_id"]) if n.startswith("entity-")]
    assert result["tasks"]["entity"]["champion"]["version"] == int(before["champion"])
    assert registry(flow_repo) == before  # no new run, no new version
    assert "up to date" in sh(flow_repo, "dvc", "status").stdout
    assert result["pushed"]  # the push option: the outputs are in the copy's own DVC remote
    assert "in sync" in sh(flow_repo, "dvc", "status", "--cloud").stdout


@pytest.mark.slow
def test_planted_validation_failure_fails_the_flow_and_keeps_the_champion(pipeline, harness,
                                                                          flow_repo: Path):
    before = registry(flow_repo)
    write_conll(flow_repo / "data/raw/entity/bad",
                train="Panthera\tB-Species\nleo\tI-Specis\nroars\n\nJava\tO\n")
    state = pipeline.rnn_pipeline(
        repo=str(flow_repo), return_state=True,
        overrides={"entity.data.source": "conll", "entity.data.path": "data/raw/entity/bad"})
    assert state.is_failed()
    assert "Validation failed for task 'entity'" in state.message
    params = yaml.safe_load((flow_repo / "params.yaml").read_text())
    assert params["entity"]["data"]["source"] == "conll"  # the override went through DVC

    run_id = str(state.state_details.flow_run_id)
    runs = task_runs(run_id)
    assert runs["entity-prepare"].state.is_completed()
    assert runs["entity-validate"].state.is_failed()
    assert runs["entity-validate"].run_count == 1  # a failed validation is not retried
    for stage in STAGES[2:]:
        assert f"entity-{stage}" not in runs or not runs[f"entity-{stage}"].state.is_completed()
    logs = flow_logs(run_id, "I-Specis")
    assert "Validation failed for task 'entity'" in logs
    assert "tags only from" in logs and "I-Specis" in logs
    assert registry(flow_repo) == before  # nothing trained, nothing registered


@pytest.mark.slow
def test_independent_chains_run_at_the_same_time_safely_under_dvc(pipeline, harness,
                                                                  tmp_path: Path):
    """Two tasks' chains of sleeping stages: their stages overlap in time, and DVC's repository
    lock (held by each `dvc repro` only around its bookkeeping) records all of them."""
    stamp = "python -c \"import time; print(time.time())\""
    stages = {}
    for t in ("a", "b"):
        stages[f"{t}-first"] = {
            "cmd": f"{stamp} > first_{t}.txt && sleep 3 && {stamp} >> first_{t}.txt",
            "outs": [f"first_{t}.txt"]}
        stages[f"{t}-second"] = {"cmd": f"cp first_{t}.txt second_{t}.txt",
                                 "deps": [f"first_{t}.txt"], "outs": [f"second_{t}.txt"]}
    env = _toy_repo(tmp_path, stages)

    result = pipeline.rnn_pipeline(repo=str(tmp_path))
    assert result["tasks"]["a"]["ran"] == ["first", "second"]
    assert result["tasks"]["b"]["ran"] == ["first", "second"]
    (a0, a1), (b0, b1) = ([float(x) for x in (tmp_path / f"first_{t}.txt").read_text().split()]
                          for t in ("a", "b"))
    assert a0 < b1 and b0 < a1, "the two chains' first stages did not overlap"
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]
    assert sorted(lock) == ["a-first", "a-second", "b-first", "b-second"]
    status = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout + status.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_schedule_creates_the_cron_deployment_on_a_real_local_server(tmp_path: Path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_UI_ENABLED="false", DO_NOT_TRACK="1")
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                               "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        spec = importlib.util.spec_from_file_location("rnnlab_schedule",
                                                      REPO / "flows" / "schedule.py")
        schedule = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(schedule)
        deadline = time.monotonic() + 90
        while not schedule.healthy(api):
            assert server.poll() is None, "prefect server exited"
            assert time.monotonic() < deadline, "prefect server did not start within 90 s"
            time.sleep(0.5)
        out = subprocess.run([sys.executable, str(REPO / "flows/schedule.py"), "--apply"],
                             env={**env, "PREFECT_API_URL": api}, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

        code = ("import json; from prefect import get_client\n"
                "with get_client(sync_client=True) as c:\n"
                "    d = c.read_deployment_by_name('rnn-pipeline/nightly')\n"
                "    print(json.dumps({'cron': [s.schedule.cron for s in d.schedules],"
                " 'tz': [s.schedule.timezone for s in d.schedules], 'active': "
                "[s.active for s in d.schedules], 'repo': d.parameters['repo'],"
                " 'limit': d.global_concurrency_limit.limit if d.global_concurrency_limit "
                "else None}))\n")
        got = subprocess.run([sys.executable, "-c", code], env={**env, "PREFECT_API_URL": api},
                             capture_output=True, text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        deployment = json.loads(got.stdout.strip().splitlines()[-1])
        expected = schedule.schedule_settings(REPO)
        assert deployment["cron"] == [expected["cron"]] == ["0 2 * * *"]
        assert deployment["tz"] == [expected["timezone"]] and deployment["active"] == [True]
        assert deployment["repo"] == str(REPO) and deployment["limit"] == 1
    finally:
        import signal

        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
