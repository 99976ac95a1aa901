"""Readers shared by the stages: prepared frames, vocabularies, encoded tensors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from rnnlab.io import read_json
from rnnlab.stages import Paths, StageError
from rnnlab.tasks import SPLITS
from rnnlab.vocab import Vocabulary


def read_frames(paths: Paths) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(paths.prepared / f"{s}.parquet") for s in SPLITS}


def require_valid(paths: Paths) -> None:
    """Refuse to build on data that did not pass validation."""
    summary = paths.validation / "summary.json"
    if not summary.exists() or not read_json(summary)["success"]:
        raise StageError(f"{summary} is missing or failed: run `rnnlab validate {paths.task}`")


def read_vocabs(paths: Paths) -> dict[str, Vocabulary]:
    return {p.stem: Vocabulary.load(p) for p in sorted(Path(paths.vocab).glob("*.json"))}


def read_encoded(paths: Paths) -> dict[str, dict[str, torch.Tensor]]:
    return {s: torch.load(paths.encoded / f"{s}.pt", weights_only=True) for s in SPLITS}
