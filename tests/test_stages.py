"""Every registered task through the six stage functions, in process, on its tiny params: the
one smoke test of the house (no DVC: tests/test_pipeline.py runs `dvc repro`).

Also the device test: each task's network and objective run on a non-CPU device (`meta`
here, CUDA in the `gpu` twin), so a tensor made on the CPU inside a net or a loss fails on a
machine without a GPU."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from helpers import REPO, tiny_params
from rnnlab import config, tasks
from rnnlab.stages import STAGES, Paths
from rnnlab.stages import run as run_stage
from rnnlab.stages.common import read_encoded, read_vocabs

TASKS = [t for t in tasks.available() if t in config.load(REPO / "params.yaml").tasks]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder holding tiny params of every task; every stage of every task run in it."""
    root = tmp_path_factory.mktemp("stages")
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), TASKS)
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    old, saved = Path.cwd(), {k: os.environ.pop(k) for k in list(os.environ)
                              if k.startswith("MLFLOW_TRACKING")}
    os.chdir(root)
    # An absolute store: MLflow caches its SQL store by URI string, so the relative default
    # would reuse whichever folder an earlier test in this process opened first, and a server
    # started here (tests below) would not find the models.
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/mlruns/mlflow.db"
    try:
        for task in TASKS:
            for stage in STAGES:
                run_stage(stage, task, root / "params.yaml")
        yield root
    finally:
        os.chdir(old)
        os.environ.pop("MLFLOW_TRACKING_URI")
        os.environ.update(saved)


@pytest.mark.parametrize("task", TASKS)
def test_every_stage_writes_its_outputs(workdir, task):
    paths = Paths(task)
    cfg = config.load(workdir / "params.yaml").task(task)
    for split in ("train", "dev", "test"):
        assert (workdir / paths.prepared / f"{split}.parquet").is_file()
        assert (workdir / paths.encoded / f"{split}.pt").is_file()
    assert json.loads((workdir / paths.validation / "summary.json").read_text())["success"]
    assert sorted(p.name for p in (workdir / paths.model).iterdir()) == \
        ["model.pt", "net.json", "vocab"]  # nothing but the weights' own files
    metrics = json.loads((workdir / paths.metrics).read_text())
    assert cfg.primary_metric in metrics
    assert all(isinstance(v, int | float) for v in metrics.values())
    assert (workdir / paths.evaluation / "training.png").stat().st_size > 0


@pytest.mark.parametrize("task", TASKS)
def test_evaluate_logs_to_the_training_run_and_registers_a_champion(workdir, task):
    import mlflow

    from rnnlab import tracking

    cfg = config.load(workdir / "params.yaml")
    tracking.setup(cfg.mlflow, task)
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(tracking.model_name(task), "champion")
    run = client.get_run(version.run_id)
    assert run.data.tags["rnnlab.task"] == task
    assert tracking.WEIGHTS_TAG in run.data.tags  # the training's run, found by its weights
    # the corpus fingerprint on the version and its run
    data_sha = tracking.data_fingerprint(workdir / "data/prepared" / task)
    assert version.tags[tracking.DATA_TAG] == run.data.tags[tracking.DATA_TAG] == data_sha
    assert cfg.task(task).primary_metric.replace("@", "_") in run.data.metrics
    info = mlflow.models.get_model_info(f"models:/{tracking.model_name(task)}@champion")
    declared = {p.name for p in info.signature.params.params} if info.signature.params else set()
    assert declared == set(tasks.get(task).predict_params(cfg.task(task)))


def _batch_on(device: str, workdir: Path, task: str, cell: str | None = None):
    """(net, objective, first training batch, first dev batch) of the task, on `device`."""
    spec = tasks.get(task)
    cfg = config.load(workdir / "params.yaml").task(task)
    if cell is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, cell=cell))
    paths = Paths(task)
    old = Path.cwd()
    os.chdir(workdir)
    try:
        vocabs, encoded = read_vocabs(spec, paths), read_encoded(paths)
    finally:
        os.chdir(old)
    torch.manual_seed(0)
    net = spec.build_net(spec.net_config(cfg, vocabs))
    objective = spec.objective(cfg, net, vocabs)
    train, dev = (next(iter(b)) for b in spec.loaders(cfg, encoded, 0))
    return (net.to(device), objective.to(device), {k: v.to(device) for k, v in train.items()},
            {k: v.to(device) for k, v in dev.items()})


MISMATCH = ("is not on the expected device", "Expected all tensors to be on the same device",
            "expected device", "found at least two devices")


@pytest.mark.parametrize("task", TASKS)
def test_net_and_loss_run_on_another_device(workdir, task):
    """On `meta` (no data): the lecture's cell, so that no packed-sequence kernel needs data.
    A meta tensor cannot be read, so a step that reads values (`.item()`, `.tolist()`) ends
    the test early; a tensor made on the CPU fails it."""
    net, objective, train, dev = _batch_on("meta", workdir, task, cell="simple")
    for step, batch in (("loss", train), ("dev_step", dev)):
        objective.train(step == "loss")
        try:
            getattr(objective, step)(net, batch)
        except (RuntimeError, NotImplementedError) as err:
            if any(m in str(err) for m in MISMATCH):
                raise AssertionError(f"{task}: {step} mixes devices: {err}") from err
            if "meta" not in str(err) and "no data" not in str(err):
                raise


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("task", TASKS)
def test_net_and_loss_run_on_cuda(workdir, task):
    net, objective, train, dev = _batch_on("cuda", workdir, task)
    objective.train()
    loss = objective.loss(net, train)
    loss.backward()
    assert loss.device.type == "cuda" and torch.isfinite(loss)
    objective.eval()
    with torch.no_grad():
        dev_loss, outputs = objective.dev_step(net, dev)
    objective.dev_metrics([outputs])
    assert torch.isfinite(dev_loss)


# ---------------------------------------------------------------- the served contract
# Each task's registered champion, served as `mlflow models serve` serves it: its own
# serving_input_example.json is answered, and the bad requests below are refused with MLflow's
# INVALID_PARAMETER_VALUE (HTTP 400) and a one-line cause. README (Serving) tabulates them.

LONG = "a " * 10_001  # 20,002 characters: over rnnlab.serving.MAX_CHARS


def _texts() -> list[tuple[str, dict, str]]:
    # null and wrong type: MLflow's own check of the `list[str]` type hint (rnnlab/pyfunc_text.py)
    hint = "Failed to validate data against type hint `list[str]`, invalid elements: "
    return [("null", {"inputs": ["fine", None]},
             hint + "[('None', 'Expected type str, but got NoneType')]"),
            ("wrong type", {"inputs": [5]}, hint + "[('5', 'Expected type str, but got int')]"),
            ("empty", {"inputs": []}, "inputs is empty; a request needs at least one input"),
            ("over the cap", {"inputs": [LONG]}, "input 0: 20002 characters; at most 20000")]


def bad_requests(task: str, example: dict) -> list[tuple[str, dict, str]]:
    """(case, request body, the cause the answer must name) for one task."""
    if task == "entity":
        return [*_texts(),
                ("negative", {"inputs": ["a leo"], "params": {"consistency_window": -1}},
                 "consistency_window must be at least 0, got -1"),
                ("over the range", {"inputs": ["a leo"], "params": {"consistency_share": 2.0}},
                 "consistency_share must be >= 0 and <= 1, got 2.0")]
    if task == "review":
        return _texts()
    if task == "translate":
        return [*_texts(), ("over the cap", {"inputs": ["ciao"], "params": {"beam_size": 1000}},
                            "beam_size must be between 1 and 64, got 1000")]
    if task == "music":
        genre = example["dataframe_split"]["data"][0][0]
        return [("null", {"dataframe_records": [{"genre": None}]},
                 "input 0: genre: expected a genre name, got null"),
                ("wrong type", {"dataframe_records": [{"genre": 5}]},
                 "input 0: genre: expected a genre name, got 5"),
                ("unknown genre", {"dataframe_records": [{"genre": "Polka"}]},
                 "input 0: unknown genre 'Polka'; the model knows"),
                ("over the cap", {**example, "params": {"count": 1000}},
                 "count must be between 1 and 100, got 1000"),
                ("wrong type", {"dataframe_records": [{"genre": genre, "count": 2.5}]},
                 "count must be a whole number, got 2.5")]
    if task == "forecast":
        split = example["dataframe_split"]
        columns, rows = split["columns"], split["data"]
        value = columns.index("value")
        nulled = [list(r) for r in rows]
        nulled[3][value] = None
        return [("too-short history", {"dataframe_split": {"columns": columns,
                                                           "data": rows[:10]}},
                 "history has 10 periods; needs at least"),
                ("empty", {"dataframe_split": {"columns": columns, "data": []}},
                 "history has 0 periods; needs at least"),
                ("null", {"dataframe_split": {"columns": columns, "data": nulled}},
                 "bad history: null date or value in rows [3]"),
                ("over the cap", {**example, "params": {"steps": 1000}},
                 "steps must be in 1..")]
    raise AssertionError(f"no bad requests listed for {task}")


def _served(workdir: Path, task: str) -> tuple[str, dict]:
    """(champion URI, its serving_input_example.json)."""
    import mlflow

    from rnnlab import tracking

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])  # the workdir's store
    mlflow.set_registry_uri(os.environ["MLFLOW_TRACKING_URI"])
    uri = f"models:/{tracking.model_name(task)}@champion"
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(workdir / "served" / task)))
    return uri, json.loads((local / "serving_input_example.json").read_text())


@pytest.mark.parametrize("task", TASKS)
def test_served_model_declares_its_contract_and_answers_its_example(workdir, task):
    import mlflow

    from rnnlab.serving import load_model_dir, resolve_params
    from rnnlab.stages.evaluate import CALIBRATION_FILE

    uri, example = _served(workdir, task)
    info = mlflow.models.get_model_info(uri)
    assert info.signature.inputs is not None and info.signature.outputs is not None
    inputs = info.signature.inputs.to_dict()
    if isinstance(example.get("inputs"), list):  # texts: typed string, enforced by MLflow
        mlmodel = yaml.safe_load((workdir / "served" / task / "MLmodel").read_text())
        assert [c["type"] for c in inputs] == ["string"] and \
            mlmodel["is_signature_from_type_hint"] is True
    calibration = workdir / Paths(task).evaluation / CALIBRATION_FILE  # forecast's widths
    assert calibration.is_file() == (task == "forecast")
    spec, net, vocabs = load_model_dir(workdir / Paths(task).model, json.loads(
        calibration.read_text()) if calibration.is_file() else None)
    defaults = spec.predict_params(config.load(workdir / "params.yaml").task(task))
    declared = {p.name: p.default for p in info.signature.params.params} \
        if info.signature.params else {}
    assert declared == defaults
    assert example.get("params", {}) == defaults
    answer = mlflow.models.validate_serving_input(uri, example)
    # what the server answers is what the task's own predict says on the example
    body = example.get("inputs", example.get("dataframe_split"))
    raw = (pd.DataFrame(body["data"], columns=body["columns"]) if "columns" in body else body)
    expected = spec.predict(net, vocabs, spec.model_input(raw), resolve_params(spec, defaults, {}))
    got = answer.to_dict("records") if hasattr(answer, "to_dict") else answer
    want = expected.to_dict("records") if hasattr(expected, "to_dict") else expected
    assert len(got) == len(want) > 0
    if task != "music":  # music samples: its seeds make it repeatable, not the in-process call
        assert json.loads(json.dumps(got, default=str)) == json.loads(json.dumps(want,
                                                                                default=str))


@pytest.mark.parametrize("task", TASKS)
def test_served_model_refuses_bad_requests_with_a_one_line_cause(workdir, task):
    import mlflow
    from mlflow.exceptions import MlflowException

    uri, example = _served(workdir, task)
    for case, body, cause in bad_requests(task, example):
        with pytest.raises(MlflowException) as err:
            mlflow.models.validate_serving_input(uri, body)
        message = err.value.message
        assert cause in message, f"{task} {case}: {message}"
        assert err.value.get_http_status_code() == 400, f"{task} {case}: {message}"
        assert "Traceback" not in message
    # an unknown param never reaches the model: MLflow's _enforce_params_schema drops it
    # (README, Serving); rnnlab predict refuses it (test_rnnlab_predict_reads_arguments_...)
    dropped = mlflow.models.validate_serving_input(uri, {**example, "params": {"no_such": 1}})
    plain = mlflow.models.validate_serving_input(uri, example)
    if task != "music":  # music samples
        assert _plain(dropped) == _plain(plain)


def _plain(answer: object) -> object:
    """A served answer as JSON values (a DataFrame as its records)."""
    records = answer.to_dict("records") if hasattr(answer, "to_dict") else answer
    return json.loads(json.dumps(records, default=str))


@pytest.mark.slow
def test_mlflow_models_serve_answers_the_example_and_refuses_bad_requests(workdir):
    """Every task's champion behind `mlflow models serve --env-manager local` on 127.0.0.1,
    the five servers started at once (each imports MLflow's stack: seconds on a busy CI): the
    example is answered as validate_serving_input answers it, each bad request gets a 400
    whose message ends in the cause. The table goes to served_bad_requests.md (README)."""
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    import mlflow

    from helpers import clean_env

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    env = {**clean_env(workdir), "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]}
    servers, rows = {}, ["| task | case | request | HTTP | cause (the message's last line) |",
                         "|---|---|---|---|---|"]
    try:
        for task in TASKS:
            uri, example = _served(workdir, task)
            log = open(workdir / f"serve-{task}.log", "wb")  # noqa: SIM115 (closed below)
            p = port()
            servers[task] = (subprocess.Popen(
                ["mlflow", "models", "serve", "-m", uri, "--env-manager", "local", "-h",
                 "127.0.0.1", "-p", str(p)], cwd=workdir, env=env, stdout=log,
                stderr=subprocess.STDOUT), log, f"http://127.0.0.1:{p}", uri, example)
        deadline = time.monotonic() + 300
        for task, (server, _, base, _, _) in servers.items():
            while True:
                tail = (workdir / f"serve-{task}.log").read_text(errors="replace")[-3000:]
                assert server.poll() is None, f"{task}: mlflow models serve exited:\n{tail}"
                try:
                    urllib.request.urlopen(f"{base}/ping", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"{task}: no server in 300 s:\n{tail}"
                    time.sleep(0.5)

        def ask(base: str, body: dict) -> tuple[int, dict]:
            request = urllib.request.Request(f"{base}/invocations", json.dumps(body).encode(),
                                             {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        for task, (_, _, base, uri, example) in servers.items():
            status, answer = ask(base, example)
            assert status == 200, f"{task}: {answer}"
            local = mlflow.models.validate_serving_input(uri, example)
            local = local.to_dict("records") if hasattr(local, "to_dict") else local
            if task != "music":  # sampling: same seeds, but not compared across processes
                assert answer["predictions"] == json.loads(json.dumps(local, default=str))
            for case, body, cause in bad_requests(task, example):
                status, answer = ask(base, body)
                last = answer.get("message", "").splitlines()[-1]
                assert status == 400 and cause in last, f"{task} {case}: {status} {answer}"
                assert "stack_trace" not in answer, f"{task} {case}: a traceback"
                shown = json.dumps(body)[:70].replace("|", "\\|")
                rows.append(f"| {task} | {case} | `{shown}` | {status} | "
                            f"{last.removeprefix('Error: ')[:130].replace('|', '/')} |")
            # MLflow drops a param the signature does not declare before the model sees it
            # (README, Serving: no supported way to refuse it); a 400 here means it now can
            status, _ = ask(base, {**example, "params": {"no_such_param": 1}})
            assert status == 200, f"{task}: MLflow now refuses unknown params: update README"
            rows.append(f"| {task} | unknown param | `{{..., \"params\": "
                        f"{{\"no_such_param\": 1}}}}` | {status} | dropped by MLflow's "
                        "`_enforce_params_schema` (a warning in the server log; below) |")
    finally:
        for server, *_ in servers.values():
            server.terminate()
        for server, log, *_ in servers.values():
            server.wait(timeout=30)
            log.close()
    (workdir / "served_bad_requests.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def _cli(workdir: Path, capsys, *argv: str, stdin: str | None = None,
         monkeypatch=None) -> tuple[int, list, str]:
    import io

    from rnnlab import cli

    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    return rc, [json.loads(line) for line in lines] if argv[0] == "predict" else lines, err


@pytest.mark.parametrize("task", TASKS)
def test_rnnlab_predict_reads_arguments_stdin_and_files(workdir, task, capsys, monkeypatch,
                                                        tmp_path):
    _, example = _served(workdir, task)
    if task == "forecast":
        split = example["dataframe_split"]
        lines = [",".join(str(x) for x in row) for row in split["data"]]
        args, param = lines, "steps=2"
        (tmp_path / "h.csv").write_text("date,value\n" + "\n".join(lines) + "\n")
        file, per_call = tmp_path / "h.csv", 2
    elif task == "music":
        genre = example["dataframe_split"]["data"][0][0]
        args, param, lines = [genre], "count=2", [genre]
        (tmp_path / "g.jsonl").write_text(json.dumps({"genre": genre, "count": 1}) + "\n")
        file, per_call = tmp_path / "g.jsonl", 1
    else:
        args = lines = example["inputs"]
        param = next((f"{k}={v}" for k, v in example.get("params", {}).items()), None)
        (tmp_path / "t.txt").write_text("\n".join(lines) + "\n\n")  # a blank line: no input
        file, per_call = tmp_path / "t.txt", len(lines)
    params = ["--param", param] if param else []
    rc, from_args, err = _cli(workdir, capsys, "predict", task, *args, *params)
    assert rc == 0, err
    rc, from_stdin, err = _cli(workdir, capsys, "predict", task, "-", *params,
                               stdin="\n".join(lines) + "\n", monkeypatch=monkeypatch)
    assert rc == 0 and from_stdin == from_args, err
    rc, from_file, err = _cli(workdir, capsys, "predict", task, "--file", str(file), *params)
    assert rc == 0 and len(from_file) == per_call, err
    if task == "music":  # the row's own count wins over the param
        assert len(from_args[0]["tunes"]) == 2 and len(from_file[0]["tunes"]) == 1
    if task == "forecast":
        assert len(from_args) == 2 and set(from_args[0]) == {"date", "forecast", "lower",
                                                             "upper", "level", "calibrated"}
        assert all(r["lower"] <= r["forecast"] <= r["upper"] for r in from_args)
    rc, _, err = _cli(workdir, capsys, "predict", task, *args, "--param", "no_such=1")
    assert rc == 2 and "unknown param" in err


def test_rnnlab_predict_fails_on_an_unknown_task_or_alias_without_writing(workdir, capsys):
    db = workdir / "mlruns" / "mlflow.db"
    before = (db.stat().st_mtime_ns, db.stat().st_size)
    rc, _, err = _cli(workdir, capsys, "predict", "nosuch", "x")
    assert rc == 2 and "unknown task 'nosuch'" in err
    rc, _, err = _cli(workdir, capsys, "predict", TASKS[0], "x", "--alias", "nope")
    assert rc == 2 and "has no alias @nope" in err and "@champion" in err
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before


def test_rnnlab_register_after_dvc_pull_makes_predict_work(workdir, capsys, monkeypatch,
                                                           tmp_path):
    """A fresh clone after `dvc pull`: the outputs without the MLflow store."""
    import shutil

    task = "review"
    for part in ("params.yaml", "metrics", f"models/{task}", f"data/prepared/{task}"):
        src = workdir / part
        (shutil.copy2 if src.is_file() else shutil.copytree)(src, tmp_path / part)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    rc, _, err = _cli(tmp_path, capsys, "predict", task, "a fine paper")
    assert rc == 2 and f"rnnlab register {task}" in err
    assert not (tmp_path / "mlruns").exists()  # the failed call created no store
    rc, _, err = _cli(tmp_path, capsys, "register", task)
    assert rc == 0, err
    rc, out, err = _cli(tmp_path, capsys, "predict", task, "a fine paper")
    assert rc == 0 and len(out) == 1 and "label" in out[0], err
    rc, _, _ = _cli(tmp_path, capsys, "register", task)  # the same weights: no second version
    import mlflow

    versions = mlflow.MlflowClient().search_model_versions(f"name='rnnlab-{task}'")
    assert rc == 0 and len(versions) == 1
    assert versions[0].tags["primary_metric"] == config.load("params.yaml").task(
        task).primary_metric


@pytest.mark.parametrize("task", TASKS)
def test_evaluate_logs_its_metrics_at_the_last_training_step(workdir, task):
    """The MLflow run page and charts show evaluate's dev / test values after the per-epoch
    curves (at the training's last step), not as their first point at step 0."""
    import mlflow

    from rnnlab import tracking

    tc = config.load(workdir / "params.yaml").task(task)
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])  # the workdir's store
    mlflow.set_registry_uri(os.environ["MLFLOW_TRACKING_URI"])
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(tracking.model_name(task), "champion")
    last = max(m.step for m in client.get_metric_history(version.run_id, "epoch"))
    assert last > 0
    key = next(k for k in client.get_run(version.run_id).data.metrics if k.startswith("test/"))
    assert [m.step for m in client.get_metric_history(version.run_id, key)] == [last]
    primary = client.get_metric_history(version.run_id, tc.primary_metric.replace("@", "_"))
    assert primary[-1].step == last
