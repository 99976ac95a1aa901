"""The DVC pipeline as a Prefect 3 flow: scheduled and observable, still versioned by DVC.

    python flows/pipeline.py [--task entity] [-S entity.train.lr=0.01] [--force] [--push]

The stage graph is dvc.yaml's, read through DVC itself (its stages, one chain per task of
params.yaml `tasks` and the `report` stage after them, and the dependencies between them; the
run report, reports/index.html, is the result's `report`); nothing here lists the stages. Each
Prefect task runs one stage through DVC, `dvc repro --single-item <task>-<stage>`, so the flow
runs the same `rnnlab <stage> <task>` command as `dvc repro`, and DVC decides what changed,
restores from its run cache, caches the outputs and records dvc.lock exactly as `dvc repro`
does. When nothing changed, no stage runs, nothing is trained and the result says so.

A cheap no-op: before submitting anything, the flow asks DVC once for the whole pipeline's
status (`Repo.status()`, what `dvc status --json` prints) and submits a Prefect task only for
the stages DVC reports changed and every stage downstream of one of them (an upstream stage that
runs may change their dependencies). The others are reported `unchanged` without a subprocess,
so a flow with nothing to do costs one DVC status, not one `dvc repro` per stage. `--force`
submits every stage, as before.

Concurrency: the tasks' chains share nothing, so their stages run at the same time on Prefect's
thread pool. DVC holds its repository lock only while it checks and records a stage, not while
the stage command runs; `--wait-for-lock` makes those short sections queue instead of failing.

Retries: every stage touches I/O (the DVC cache, the MLflow store, the raw data), so each is
retried with backoff, except `validate`: a failed validation is a verdict on the data. It fails
the flow run at once with the validation message in the Prefect logs, and nothing downstream
(training, registration) runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

import rnnlab  # noqa: F401  (its import sets the offline defaults: no telemetry, no analytics)
from rnnlab import config as rnnlab_config
from rnnlab.stages import Paths, split_stage_name

VALIDATE = "validate"  # the data gate of every chain: its failure is never retried
REPORT = "report"  # dvc.yaml's stage writing the run report (rnnlab.report) over every task
RETRIES = 2
RETRY_DELAYS = [10, 60]  # seconds: backoff between the tries of a stage
ENV_FLOW_RUN_ID = "PREFECT__FLOW_RUN_ID"  # rnnlab.tracking.run_tags tags MLflow runs with it


class StageFailed(RuntimeError):
    """`dvc repro` of one stage failed; the message carries the stage's own output."""

    def __init__(self, stage: str, output: str):
        self.stage, self.output = stage, output
        # rnnlab exits 2 on a settings error (ConfigError, ...): retrying cannot help
        self.permanent = re.search(r"exited with 2\b", output) is not None
        super().__init__(f"stage {stage} failed:\n{_stage_message(output)}")


DVC_CHATTER = ("Running stage", "> ", "Updating lock", "Generating lock", "Use `dvc push`",
               "To track the changes with git", "git add ", "To enable auto staging",
               "dvc config core.autostage", "Stage '")


def _stage_message(output: str, lines: int = 60) -> str:
    """The stage command's own words, DVC's banner and hints left out: the last `lines`."""
    keep = [line for line in output.splitlines()
            if line.strip() and not line.strip().startswith(DVC_CHATTER)]
    return "\n".join(keep[-lines:])


def _stage_report(output: str) -> list[str]:
    """The lines a stage prints about itself (`<stage>[<task>]: ...` and their indented
    follow-ups), without progress bars."""
    report: list[str] = []
    for line in output.splitlines():
        if re.match(r"\w+\[[^\]]+\]", line) or (report and re.match(r"  \S", line)):
            report.append(line.rstrip())
    return report


def _worth_retrying(task, task_run, state) -> bool:  # Prefect's retry_condition_fn
    try:
        state.result()
    except StageFailed as err:
        return not err.permanent
    except Exception:
        return True
    return True


def read_params(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "params.yaml").read_text()) or {}


def git_commit(root: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=root,
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "nogit"


def stage_graph(root: Path, tasks: list[str] | None = None,
                repo=None) -> dict[str, list[str]]:
    """{"<task>-<stage>": [the stages it depends on]} in an order that runs dependencies first.

    Read from dvc.yaml by DVC (its stages and output -> dependency edges), restricted
    to the chains of `tasks` (default: every task in params.yaml). The `report` stage (the run
    report over every task's outputs) comes last, when every task runs; a run of some tasks
    leaves it out (`rnnlab report` writes one over the current outputs). `repo`: an open DVC
    Repo of `root` to reuse (its index is built once), else one is opened here."""
    import networkx as nx

    known = list(read_params(root).get("tasks") or [])
    tasks = known if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ValueError(f"task(s) {unknown} are not in params.yaml tasks {known}: add them there")
    left_out = set(known) - set(tasks)
    with _open(root, repo) as repo:
        graph = repo.index.graph  # an edge goes from a stage to a stage it depends on
        position = {s: i for i, s in enumerate(repo.index.stages)}  # dvc.yaml order
        keep = [s for s in graph if s.cmd and split_stage_name(s.name)[0] not in left_out
                and not (left_out and s.name == REPORT)]
        sub = graph.subgraph(keep)
        order = nx.lexicographical_topological_sort(sub.reverse(copy=True),
                                                    key=lambda s: position.get(s, 0))
        return {_target(root, s): [_target(root, u) for u in sub.successors(s)] for s in order}


def stages_to_run(root: Path, graph: dict[str, list[str]], force: bool = False,
                  repo=None) -> list[str]:
    """The stages of `graph` (stage_graph's order) that need a `dvc repro`: those one DVC status
    of the whole pipeline reports changed, and everything downstream of them; all with `force`."""
    if force:
        return list(graph)
    with _open(root, repo) as repo:
        changed = _changed(root, repo, graph)
    run: list[str] = []
    for stage, upstream in graph.items():  # dependencies come first
        if stage in changed or any(u in run for u in upstream):
            run.append(stage)
    return run


def _open(root: Path, repo=None):
    """A context manager over `repo` when given (left open for the caller), else a new Repo."""
    from contextlib import nullcontext

    from dvc.repo import Repo

    return nullcontext(repo) if repo is not None else Repo(str(root))


def _changed(root: Path, repo, graph: dict[str, list[str]]) -> set[str]:
    status = repo.status()  # {addressing: [what changed]}: one pass over the whole pipeline
    by_target = {s.addressing: _target(root, s) for s in repo.index.stages}
    return {by_target.get(name, name) for name, changes in status.items() if changes} & set(graph)


def _target(root: Path, stage) -> str:
    """What `dvc repro` in `root` calls the stage: `name`, `sub/dvc.yaml:name` elsewhere."""
    dvcfile = os.path.relpath(stage.dvcfile.path, root)
    return stage.name if dvcfile == "dvc.yaml" else f"{dvcfile}:{stage.name}"


def apply_overrides(root: Path, overrides: dict[str, Any]) -> None:
    """Write {"entity.train.lr": 0.01, ...} into params.yaml, comments kept, as
    `dvc exp run -S` does in the workspace: DVC then sees (and versions) the changed params.
    The file is checked with rnnlab's config loader before it is written."""
    from dvc.utils.serialize import modify_yaml

    def put(data: dict, key: str, value: Any) -> None:
        *parents, last = key.split(".")
        for part in parents:
            data = data.setdefault(part, {})
        data[last] = value

    params = read_params(root)
    for key, value in overrides.items():
        put(params, key, value)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "params.yaml").write_text(yaml.safe_dump(params))
        rnnlab_config.load(Path(tmp) / "params.yaml")  # raises ConfigError on a bad override
    with modify_yaml(root / "params.yaml") as data:
        for key, value in overrides.items():
            put(data, key, value)


def _stage_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if current_flow_run.id:
        env[ENV_FLOW_RUN_ID] = str(current_flow_run.id)
    return env


@task(cache_policy=NO_CACHE, retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
      retry_condition_fn=_worth_retrying)
def run_stage(root: str, stage: str, force: bool = False) -> dict[str, Any] | State:
    """`dvc repro --single-item <stage>`; returns what DVC did: ran, unchanged or restored.
    A failed validation returns a Failed state carrying the validation message."""
    logger = get_run_logger()
    cmd = [sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item",
           *(["--force"] if force else []), stage]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=_stage_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    seconds = round(time.perf_counter() - start, 1)
    if proc.returncode:
        err = StageFailed(stage, proc.stdout)
        logger.error("%s", err)
        if split_stage_name(stage)[1] == VALIDATE:
            return Failed(message=str(err))  # a verdict on the data: no retry, no traceback
        raise err
    if f"Running stage '{stage}'" in proc.stdout:
        outcome = "ran"
        for line in _stage_report(proc.stdout):
            logger.info("%s", line)
        logger.debug("%s output:\n%s", stage, proc.stdout)
    elif "is cached - skipping run" in proc.stdout:
        outcome = "restored"  # from DVC's run cache: these exact inputs ran before
    else:
        outcome = "unchanged"
    logger.info("%s: %s (%.1f s)", stage, outcome, seconds)
    return {"stage": stage, "outcome": outcome, "seconds": seconds}


@task(cache_policy=NO_CACHE, retries=RETRIES, retry_delay_seconds=RETRY_DELAYS)
def push_outputs(root: str, stages: list[str]) -> str:
    """`dvc push` of the stages' outputs to the default DVC remote."""
    proc = subprocess.run([sys.executable, "-m", "dvc", "--wait-for-lock", "push", *stages],
                          cwd=root, env=_stage_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode:
        raise RuntimeError(f"dvc push failed:\n{proc.stdout[-3000:]}")
    get_run_logger().info("dvc push: %s", proc.stdout.strip().splitlines()[-1:])
    return proc.stdout.strip()


@task(cache_policy=NO_CACHE, retries=RETRIES, retry_delay_seconds=RETRY_DELAYS)
def summarize(root: str, tasks: list[str], outcomes: dict[str, dict]) -> dict[str, Any]:
    """Each task's metrics (metrics/<task>.json, the file DVC tracks) and its champion."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from rnnlab.tracking import model_name, sqlite_path, store_uri

    base = Path(root)
    raw = read_params(base)  # only the keys it reads: the stages have checked the whole file
    # the store the stages logged to: resolved as they resolve it (the project root, also from
    # a DVC experiment workspace), not against this process's current directory
    uri = store_uri(rnnlab_config.build(rnnlab_config.MlflowConfig, raw.get("mlflow"),
                                        "params.yaml:mlflow"), base)
    store = sqlite_path(uri)
    client = None if store and not store.exists() else MlflowClient(uri, registry_uri=uri)
    result: dict[str, Any] = {}
    for name in tasks:
        stages = {split_stage_name(s)[1]: o["outcome"] for s, o in outcomes.items()
                  if split_stage_name(s)[0] == name}
        metrics_path = base / Paths(name).metrics
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        champion = None
        try:
            if client is not None:
                version = client.get_model_version_by_alias(model_name(name), "champion")
                metric = (raw.get(name) or {}).get("primary_metric")
                champion = {"name": model_name(name), "version": int(version.version),
                            "run_id": version.run_id, metric: version.tags.get(metric)}
        except MlflowException:  # no model registered yet
            pass
        result[name] = {"stages": stages, "ran": [s for s, o in stages.items() if o == "ran"],
                        "metrics": metrics, "champion": champion}
    return result


def _flow_run_name() -> str:
    params = current_flow_run.parameters
    root = Path(params.get("repo") or ".").resolve()
    tasks = params.get("tasks") or read_params(root).get("tasks") or []
    return f"rnn-{'+'.join(tasks)}@{git_commit(root)}"


@flow(name="rnn-pipeline", flow_run_name=_flow_run_name, task_runner=ThreadPoolTaskRunner(),
      persist_result=False)
def rnn_pipeline(tasks: list[str] | None = None, overrides: dict[str, Any] | None = None,
                 force: bool = False, push: bool = False,
                 repo: str = ".") -> dict[str, Any] | State:
    """Run the DVC pipeline of `tasks` (default: every task in params.yaml).

    overrides: {"entity.train.lr": 0.01} written into params.yaml first (like dvc exp run -S).
    force: rerun every stage even if unchanged (dvc repro --force). push: dvc push afterwards.
    repo: the repository root (default: the current directory).
    """
    logger = get_run_logger()
    root = Path(repo).resolve()
    if overrides:
        apply_overrides(root, overrides)
        logger.info("params.yaml overrides: %s", overrides)
        # dvc.yaml follows params.yaml: a new data source brings new raw-input deps
        proc = subprocess.run(["rnnlab", "dag"], cwd=root, env=_stage_env(),
                              capture_output=True, text=True)
        if proc.returncode:
            return Failed(message=f"rnnlab dag failed:\n{proc.stderr.strip()}")
        logger.info(proc.stdout.strip())
    tasks = list(tasks or read_params(root).get("tasks") or [])
    from dvc.repo import lock_repo

    # one DVC index for the graph and the status: under one repository lock, as `dvc status`
    # holds it, DVC keeps the index it built instead of resetting it after each call
    with _open(root) as dvc_repo, lock_repo(dvc_repo):
        graph = stage_graph(root, tasks, dvc_repo)
        logger.info("stages (from dvc.yaml): %s", ", ".join(graph))
        todo = stages_to_run(root, graph, force, dvc_repo)
    logger.info("DVC status: %d of %d stages to run%s", len(todo), len(graph),
                f" ({', '.join(todo)})" if todo else "")

    futures = {}
    for stage in todo:  # one Prefect task per stage that runs, in dependency order
        options: dict[str, Any] = {"task_run_name": stage}
        if split_stage_name(stage)[1] == VALIDATE:
            options["retries"] = 0
        futures[stage] = run_stage.with_options(**options).submit(
            str(root), stage, force, wait_for=[futures[u] for u in graph[stage] if u in futures])
    wait(list(futures.values()))
    failed = [f.state for f in futures.values() if f.state.is_failed()]
    if failed:  # the flow run fails with the (first) failed stage's message
        return Failed(message=failed[0].message)
    outcomes = {stage: futures[stage].result() if stage in futures else
                {"stage": stage, "outcome": "unchanged", "seconds": 0.0} for stage in graph}

    pushed = push_outputs(str(root), list(graph)) if push else None
    per_task = summarize.with_options(task_run_name="summary")(str(root), tasks, outcomes)
    ran = [stage for stage, o in outcomes.items() if o["outcome"] == "ran"]
    trained = [stage for stage in ran if split_stage_name(stage)[1] == "train"]
    if ran:
        message = (f"ran {len(ran)} of {len(outcomes)} stages ({', '.join(ran)}); "
                   f"trained: {', '.join(trained) or 'nothing'}")
    else:
        message = ("nothing changed since the last run: every stage is up to date, "
                   "nothing was trained or registered")
    logger.info(message)
    for name, info in per_task.items():
        logger.info("%s: champion %s", name, info["champion"])
    report = _report(root, graph)
    if report:
        logger.info("run report: %s", report)
    return {"flow_run_id": str(current_flow_run.id), "commit": git_commit(root),
            "ran": ran, "trained": bool(trained), "message": message, "tasks": per_task,
            "pushed": pushed is not None, "report": report}


def _report(root: Path, graph: dict[str, list[str]]) -> str | None:
    """The run report's path when this run's graph holds the report stage and it exists."""
    from rnnlab.report import OUT

    return str(root / OUT) if REPORT in graph and (root / OUT).is_file() else None


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="append", help="a task of params.yaml (repeatable; "
                        "default: all)")
    parser.add_argument("-S", "--set", action="append", type=_override, default=[],
                        metavar="KEY=VALUE", help="override params.yaml, e.g. entity.train.lr=0.01")
    parser.add_argument("--force", action="store_true", help="rerun every stage (dvc repro -f)")
    parser.add_argument("--push", action="store_true", help="dvc push the outputs afterwards")
    parser.add_argument("--repo", default=".", help="repository root (default: .)")
    args = parser.parse_args(argv)
    state = rnn_pipeline(tasks=args.task, overrides=dict(args.set) or None, force=args.force,
                         push=args.push, repo=args.repo, return_state=True)
    if not state.is_completed():
        print(f"\nrnn_pipeline {state.name}: {state.message}", file=sys.stderr)
        return 1
    print(json.dumps(state.result(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
