"""Readers for real reviewer reports and the grouped (by paper) splits.

Every reader returns one row per report with the columns `text`, `raw_label`, `group` (the
paper a report belongs to; the row number when the corpus names none) and `split` (train / dev /
test from the corpus, or None). Labels are mapped to decisions by `map_labels`; values outside
the mapping are kept as they are, so validation can name them instead of silently dropping rows.

Splits: `original` keeps the corpus' own split column; `grouped` re-splits with a seeded
StratifiedGroupKFold, so no paper has reviews in two splits and each split keeps roughly the
class balance. `grouped_folds` gives the same kind of folds for k-fold cross-validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SPLITS = ("train", "dev", "test")

# PeerRead (ACL 2017) field names and the default recommendation -> decision mapping
PEERREAD = {"text_column": "comments", "label_column": "recommendation",
            "group_column": "paper_id", "split_column": "split"}
PEERREAD_LABELS = {5: "accept", 4: "minor", 3: "major", 2: "reject", 1: "reject"}


def read_table(path: str | Path, text_column: str = "text", label_column: str = "label",
               group_column: str | None = None, split_column: str | None = None,
               fmt: str | None = None) -> pd.DataFrame:
    """A CSV or JSON Lines file (by `fmt`, else by suffix) -> text, raw_label, group, split."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"review corpus not found: {path}")
    fmt = fmt or ("jsonl" if path.suffix in (".jsonl", ".json", ".ndjson") else "csv")
    if fmt == "jsonl":
        raw = pd.read_json(path, lines=True, dtype=False)
    elif fmt == "csv":
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise ValueError(f"review format must be csv or jsonl, got {fmt!r}")
    for col in (text_column, label_column):
        if col not in raw:
            raise ValueError(f"{path}: no column {col!r} (columns: {list(raw.columns)})")
    frame = pd.DataFrame({
        "text": raw[text_column].map(lambda t: "" if _missing(t) else str(t)),
        "raw_label": raw[label_column].map(_plain),
        "group": (raw[group_column].astype(str) if group_column and group_column in raw
                  else pd.Series([f"row{i}" for i in range(len(raw))], dtype=str)),
        "split": (raw[split_column].astype(str) if split_column and split_column in raw
                  else None),
    })
    if group_column and group_column not in raw:
        raise ValueError(f"{path}: no group column {group_column!r}")
    return frame


def read_peerread(path: str | Path) -> pd.DataFrame:
    """PeerRead reviews.jsonl (see its SOURCE.md): comments, recommendation 1-5, paper_id."""
    return read_table(path, fmt="jsonl", **PEERREAD)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    # 4.0 read from a CSV or JSON means the integer label 4
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def map_labels(raw: pd.Series, label_map: Mapping[Any, str] | None) -> pd.Series:
    """Raw labels -> decisions; unmapped values are kept (as strings) for validation to flag."""
    lookup = {str(_plain(k)): v for k, v in (label_map or {}).items()}
    return raw.map(lambda v: lookup.get(str(_plain(v)), None if v is None else str(v)))


def _stratified_group_folds(labels: np.ndarray, groups: np.ndarray, k: int,
                            seed: int) -> list[np.ndarray]:
    """k disjoint test-index sets: no group in two, class balance kept where groups allow."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(set(groups))
    if n_groups < k:
        raise ValueError(f"{n_groups} groups cannot make {k} folds")
    # folds need every class at least k times for the stratifier; rarer ones are just grouped
    counts = pd.Series(labels).value_counts()
    strata = np.where(pd.Series(labels).map(counts).to_numpy() >= k, labels, "_rare")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(labels)), strata, groups)]


def grouped_holdout(frame: pd.DataFrame, share: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) row indices: about `share` of the rows (one of round(1/share) grouped,
    stratified folds), no group on both sides."""
    if not 0 < share < 1:
        raise ValueError(f"a held-out share must be in (0, 1), got {share}")
    held = _stratified_group_folds(frame["label"].astype(str).to_numpy(),
                                   frame["group"].astype(str).to_numpy(),
                                   max(2, round(1 / share)), seed)[0]
    return np.setdiff1d(np.arange(len(frame)), held), np.sort(held)


def grouped_split(frame: pd.DataFrame, seed: int, dev: float = 0.15,
                  test: float = 0.2) -> dict[str, pd.DataFrame]:
    """Seeded re-split by group (paper), stratified by label. Shares are rounded: test is one
    of round(1/test) folds, dev one of round((1-test)/dev) folds of the rest."""
    if not (0 < dev < 1 and 0 < test < 1 and dev + test < 1):
        raise ValueError("resplit dev and test must be in (0, 1) and sum to less than 1")
    rest, test_idx = grouped_holdout(frame, test, seed)
    keep, dev_local = grouped_holdout(frame.iloc[rest], dev / (1 - test), seed + 1)
    parts = (rest[keep], rest[dev_local], test_idx)
    return {name: frame.iloc[idx].reset_index(drop=True)
            for name, idx in zip(SPLITS, parts, strict=True)}


def grouped_folds(frame: pd.DataFrame, k: int, seed: int) -> list[np.ndarray]:
    """k-fold cross-validation test folds: grouped by paper, stratified by label."""
    return _stratified_group_folds(frame["label"].astype(str).to_numpy(),
                                   frame["group"].astype(str).to_numpy(), k, seed)


def original_split(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The corpus' own split column (train / dev / test; 'devel' and 'validation' mean dev)."""
    if frame["split"].isna().all():
        raise ValueError("split: original needs a split column (data.split_column); "
                         "use split: grouped to re-split")
    names = frame["split"].astype(str).str.lower().replace({"devel": "dev", "validation": "dev",
                                                            "val": "dev"})
    return {s: frame[names == s].reset_index(drop=True) for s in SPLITS}
