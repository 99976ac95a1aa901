"""Readers shared by the stages: prepared frames, vocabularies, encoded tensors."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnnlab.io import read_json
from rnnlab.stages import Paths, StageError
from rnnlab.tasks import SPLITS, TaskSpec, load_vocabs


def read_frames(paths: Paths, side: bool = False) -> dict[str, pd.DataFrame]:
    """The prepared splits; with `side`, every other frame prepare wrote too (e.g. the files
    a reader could not parse), for validate to judge."""
    frames = {s: pd.read_parquet(paths.prepared / f"{s}.parquet") for s in SPLITS}
    if side:
        for path in sorted(paths.prepared.glob("*.parquet")):
            frames.setdefault(path.stem, pd.read_parquet(path))
    return frames


def require_valid(paths: Paths) -> None:
    """Refuse to build on data that did not pass validation."""
    summary = paths.validation / "summary.json"
    if not summary.exists() or not read_json(summary)["success"]:
        raise StageError(f"{summary} is missing or failed: run `rnnlab validate {paths.task}`")


def read_vocabs(spec: TaskSpec, paths: Paths) -> dict[str, Any]:
    return load_vocabs(spec, paths.vocab)


def read_encoded(paths: Paths) -> dict[str, dict[str, Any]]:
    import torch

    return {s: torch.load(paths.encoded / f"{s}.pt", weights_only=True) for s in SPLITS}
