"""Shared fixtures."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Prefect reads its settings once, on import: a throwaway home, never ~/.prefect or a team's API
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="rnnlab-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], True)
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

# The longest test files, longest first (serial seconds measured on the 2-core machine: 350,
# 270, 250, 190, 160, 145, 100, 70, 60, 50, 30). `make test` hands out whole files in
# collection order (--dist loadfile --no-loadscope-reorder), so both workers start on the
# long ones and the many short files fill in at the end; xdist's default order (most tests
# first) left the long one-test files for last, where one worker ran them while the other
# idled.
LONGEST_FIRST = ("test_pipeline.py", "test_flow.py", "test_team.py", "test_stages.py",
                 "test_kill.py", "test_sixth_task.py", "test_tracking.py", "test_repro.py",
                 "test_fuzz_readers.py", "test_ddp.py", "test_dag.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: the order of the tests inside a file (module fixtures) is kept
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One CPU thread, as params.yaml's trainer.threads: the small nets of the tests run
    fastest so, and extra threads spin on a shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLFLOW_TRACKING_URI unset during the test and as before afterwards, also when the test
    called mlflow.set_tracking_uri (which exports it for subprocesses): a plain delenv of an
    unset variable records nothing to restore, and the store leaks into later tests."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")


@pytest.fixture
def good_rows() -> dict[str, list[tuple[list, list]]]:
    return {
        "train": [(["in", "the", "forest", "Panthera", "leo", "hunts"],
                   ["O", "O", "O", "B-Species", "I-Species", "O"]),
                  (["Panthera", "Corporation", "grew"], ["O", "O", "O"])],
        "dev": [(["we", "saw", "Gorilla", "beringei"], ["O", "O", "B-Species", "I-Species"])],
        "test": [(["Java", "is", "an", "island"], ["O", "O", "O", "O"])],
    }
