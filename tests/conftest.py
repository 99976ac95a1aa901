"""Shared fixtures."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def good_rows() -> dict[str, list[tuple[list, list]]]:
    return {
        "train": [(["in", "the", "forest", "Panthera", "leo", "hunts"],
                   ["O", "O", "O", "B-Species", "I-Species", "O"]),
                  (["Panthera", "Corporation", "grew"], ["O", "O", "O"])],
        "dev": [(["we", "saw", "Gorilla", "beringei"], ["O", "O", "B-Species", "I-Species"])],
        "test": [(["Java", "is", "an", "island"], ["O", "O", "O", "O"])],
    }
