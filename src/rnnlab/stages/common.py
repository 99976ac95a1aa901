"""Readers shared by the stages: prepared frames, vocabularies, encoded tensors."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from rnnlab import tasks
from rnnlab.io import read_json
from rnnlab.stages import Paths, StageError
from rnnlab.tasks import SPLITS


def read_frames(paths: Paths) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(paths.prepared / f"{s}.parquet") for s in SPLITS}


def require_valid(paths: Paths) -> None:
    """Refuse to build on data that did not pass validation."""
    summary = paths.validation / "summary.json"
    if not summary.exists() or not read_json(summary)["success"]:
        raise StageError(f"{summary} is missing or failed: run `rnnlab validate {paths.task}`")


def read_vocabs(paths: Paths) -> dict[str, Any]:
    return tasks.load_vocabs(tasks.get(paths.task), paths.vocab)


def read_encoded(paths: Paths) -> dict[str, dict[str, torch.Tensor]]:
    return {s: torch.load(paths.encoded / f"{s}.pt", weights_only=True) for s in SPLITS}
