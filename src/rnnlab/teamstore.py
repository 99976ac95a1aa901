"""A throw-away team store: `mlflow server` on a fresh PostgreSQL database, artifacts proxied
into a local folder. For the team-store tests (tests/test_team.py) and the concurrency
benchmark (benchmarks/concurrency.py); no stage imports it (so it is no DVC dependency).

Needs psycopg2 (`pip install -e '.[team]'`) and a PostgreSQL that lets `PG["user"]` in
without a password (trust authentication), on `PG["host"]:PG["port"]`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def admin_connection(connect_timeout: int = 3) -> Any:
    """An autocommit connection to the `postgres` database (CREATE/DROP DATABASE need one);
    raises psycopg2.OperationalError where no PostgreSQL answers."""
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", connect_timeout=connect_timeout, **PG)
    conn.autocommit = True
    return conn


@contextmanager
def fresh_database(prefix: str = "rnnlab") -> Iterator[str]:
    """A new, empty PostgreSQL database `<prefix>_<12 hex digits>`, dropped afterwards (with
    FORCE, so a server still connected does not keep it); yields its name."""
    admin = admin_connection()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def database_uri(database: str) -> str:
    """SQLAlchemy URI of a database on PG; `postgresql+psycopg2://` because SQLAlchemy 2.1
    reads a bare `postgresql://` as psycopg 3."""
    return f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{database}"


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, wait_s: float = 240.0) -> None:
    """Until `url` answers 200; RuntimeError (with the log's tail) if the process exits or
    nothing answers within wait_s."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no answer from {url} in {wait_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server and its workers), SIGKILL after 20 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def mlflow_server(database: str, folder: Path, wait_s: float = 240.0) -> Iterator[str]:
    """`mlflow server` (this Python's) on `database`, artifacts proxied into
    `folder/artifacts`, its log in `folder/mlflow-server.log`, one worker on a free loopback
    port, without the caller's MLFLOW_* settings; yields its URL once /health answers, and
    stops it afterwards."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), folder / "mlflow-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri",
           database_uri(database), "--artifacts-destination", str(folder / "artifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/health", proc, log, wait_s)
        yield url
    finally:
        stop(proc)


@contextmanager
def team_store(folder: Path, prefix: str = "rnnlab") -> Iterator[str]:
    """`mlflow_server` on a `fresh_database`: both gone afterwards; yields the URL."""
    with fresh_database(prefix) as database, mlflow_server(database, folder) as url:
        yield url
