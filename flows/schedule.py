"""Serve the pipeline flow as a deployment on the cron schedule of params.yaml (`schedule.cron`).

    python flows/schedule.py            # `make schedule`: a Prefect server on 127.0.0.1:4200
                                        # (unless PREFECT_API_URL names one) + serve here
    PREFECT_API_URL=http://prefect.example:4200/api python flows/schedule.py   # a team server
    python flows/schedule.py --work-pool NAME   # register for a work pool's workers, then exit
    python flows/schedule.py --apply    # register (or update) the deployment only, then exit
    python flows/schedule.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/prefect
                                        # `make schedule PREFECT_DB=...`: the server this
                                        # script starts keeps its state in PostgreSQL (team)

Served here, each scheduled run executes in this process's environment on this repository;
stop with Ctrl-C (the schedule is paused and the server this script started is stopped).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = "nightly"


def schedule_settings(root: Path = ROOT) -> dict:
    """params.yaml `schedule`: {cron, timezone}; nightly at 02:00 UTC unless set."""
    from rnnlab.config import ScheduleConfig, build

    raw = yaml.safe_load((root / "params.yaml").read_text()) or {}
    section = build(ScheduleConfig, raw.get("schedule"), "params.yaml:schedule")
    return {"cron": section.cron, "timezone": section.timezone}


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def start_server(port: int, wait_s: float = 90.0,
                 database: str | None = None) -> subprocess.Popen:
    """`prefect server start` on loopback only; returns once /api/health answers. With
    `database` (postgresql+asyncpg://user@host:port/db; asyncpg comes with Prefect), the
    server keeps flow runs, deployments and schedules there instead of SQLite under
    PREFECT_HOME, so several people or machines can share it (and it migrates the database
    itself on start)."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    if database:
        if not database.startswith("postgresql+asyncpg://"):
            raise SystemExit(f"--database {database!r}: expected postgresql+asyncpg://...")
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start",
                             "--host", "127.0.0.1", "--port", str(port)], env=env,
                            start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"prefect server exited with {proc.returncode} (port {port} busy?)")
        if healthy(api):
            return proc
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"prefect server did not answer on {api} within {wait_s:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server this script started, with whatever it started in its session."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=DEPLOYMENT, help="deployment name (default: nightly)")
    parser.add_argument("--cron", help="override params.yaml schedule.cron")
    parser.add_argument("--port", type=int, default=4200, help="port of the local server")
    parser.add_argument("--apply", action="store_true",
                        help="register the deployment and exit (no serving here)")
    parser.add_argument("--database", default=os.environ.get("PREFECT_DB"),
                        help="the started server's database, postgresql+asyncpg://... "
                        "(default $PREFECT_DB; none: SQLite under PREFECT_HOME)")
    parser.add_argument("--work-pool", help="deploy to this work pool (its workers run the "
                        "flows from this repository's path) and exit")
    args = parser.parse_args(argv)
    settings = schedule_settings()
    cron = args.cron or settings["cron"]

    server = None
    if not os.environ.get("PREFECT_API_URL"):
        local = f"http://127.0.0.1:{args.port}/api"
        if not healthy(local):
            print(f"starting a Prefect server on http://127.0.0.1:{args.port} (loopback only)")
            server = start_server(args.port, database=args.database)
        os.environ["PREFECT_API_URL"] = local  # before Prefect is imported: it reads it once
    try:
        return _deploy(args, cron, settings["timezone"])
    except KeyboardInterrupt:
        return 0
    finally:
        if server is not None:
            stop_server(server)


def _deploy(args: argparse.Namespace, cron: str, timezone: str) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT / "flows"))
    from prefect.schedules import Cron

    from pipeline import rnn_pipeline

    schedule = Cron(cron, timezone=timezone)
    parameters = {"repo": str(ROOT)}
    tags = ["rnnlab", "dvc"]
    api = os.environ["PREFECT_API_URL"]
    if args.work_pool:
        rnn_pipeline.from_source(str(ROOT), "flows/pipeline.py:rnn_pipeline").deploy(
            name=args.name, work_pool_name=args.work_pool, schedule=schedule,
            parameters=parameters, tags=tags, build=False, push=False, concurrency_limit=1,
            print_next_steps=False)
        print(f"deployment rnn-pipeline/{args.name} ({cron}, {timezone}) on {api}, work pool "
              f"{args.work_pool}: start a worker with `prefect worker start --pool "
              f"{args.work_pool}` on a machine with this repository at {ROOT}")
        return 0
    deployment = rnn_pipeline.to_deployment(name=args.name, schedule=schedule,
                                            parameters=parameters, tags=tags,
                                            concurrency_limit=1)
    if args.apply:
        deployment_id = deployment.apply()
        print(f"deployment rnn-pipeline/{args.name} ({cron}, {timezone}) on {api}: "
              f"{deployment_id}")
        return 0
    from prefect import serve

    print(f"serving rnn-pipeline/{args.name} on {cron} ({timezone}); API {api}; Ctrl-C stops")
    serve(deployment, limit=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
