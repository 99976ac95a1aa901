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
def good_rows() -> dict[str, list[tuple[list, list]]]:
    return {
        "train": [(["in", "the", "forest", "Panthera", "leo", "hunts"],
                   ["O", "O", "O", "B-Species", "I-Species", "O"]),
                  (["Panthera", "Corporation", "grew"], ["O", "O", "O"])],
        "dev": [(["we", "saw", "Gorilla", "beringei"], ["O", "O", "B-Species", "I-Species"])],
        "test": [(["Java", "is", "an", "island"], ["O", "O", "O", "O"])],
    }
