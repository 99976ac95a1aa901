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

import csv
import dataclasses
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.readers import (
    ReaderError,
    TextFile,
    line_list,
    read_text,
    reject_bad_lines,
    remove_control,
    text_problem,
)

SPLITS = ("train", "dev", "test")

# PeerRead (ACL 2017) field names and the default recommendation -> decision mapping
PEERREAD = {"text_column": "comments", "label_column": "recommendation",
            "group_column": "paper_id", "split_column": "split"}
PEERREAD_LABELS = {5: "accept", 4: "minor", 3: "major", 2: "reject", 1: "reject"}


def read_table(path: str | Path, text_column: str = "text", label_column: str = "label",
               group_column: str | None = None, split_column: str | None = None,
               fmt: str | None = None, encoding: str = "utf-8",
               sources: list[TextFile] | None = None,
               control_characters: str = "reject") -> pd.DataFrame:
    """A CSV or JSON Lines file (by `fmt`, else by suffix) -> text, raw_label, group, split.

    Read strictly as `encoding` (a leading UTF-8 BOM is stripped; the file read is appended
    to `sources`). A line holding a control character, a missing (null / empty / white space)
    text or label, or a text that is not a plain string (a JSON object or list, a number),
    fails naming the file and lines; so does a file pandas cannot parse. With
    `control_characters="remove"` control characters are deleted from the texts instead
    (counted on stdout) and only the rest fails."""
    fmt = fmt or ("jsonl" if Path(path).suffix in (".jsonl", ".json", ".ndjson") else "csv")
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"review format must be csv or jsonl, got {fmt!r}")
    tf = read_text(path, encoding, "review.data.encoding", "review.data.path")
    path, text = tf.path, tf.text
    if control_characters == "remove":
        text, removed = remove_control(text)
        if removed:
            print(f"prepare[review] removed {removed} control character(s) from {path} "
                  "(review.data.control_characters: remove)")
    reject_bad_lines(dataclasses.replace(tf, text=text))
    if sources is not None:
        sources.append(tf)
    if not text.strip():
        raise ReaderError(f"{path}: the file is empty (review.data.path)")
    try:
        if fmt == "jsonl":
            raw = pd.read_json(io.StringIO(text), lines=True, dtype=False)
            # file line of each record (blank lines are skipped by the reader)
            line_of = [i for i, ln in enumerate(text.split("\n"), start=1) if ln.strip()]
        else:
            raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                              na_values=[])
            # a quoted field may span lines: count them (header is line 1)
            line_of = _csv_record_lines(text, len(raw))
    except (ValueError, pd.errors.ParserError, UnicodeError, csv.Error) as err:
        # pandas' own message names the line (CSV) or the JSON error
        raise ReaderError(f"{path}: not a valid {fmt} file (review.data.source): "
                          f"{str(err).strip()[:300]}") from None
    if fmt == "jsonl" and len(line_of) != len(raw):
        line_of = list(range(1, len(raw) + 1))
    for col in (text_column, label_column):
        if col not in raw:
            raise ReaderError(f"{path}: no column {col!r} (columns: {list(raw.columns)[:20]}; "
                              f"set review.data.{'text' if col == text_column else 'label'}"
                              "_column)")
    if group_column and group_column not in raw:
        raise ReaderError(f"{path}: no group column {group_column!r} "
                          "(review.data.group_column)")
    if control_characters == "remove" and len(raw):  # JSON escapes such as \u001f
        cleaned = [remove_control(v) if isinstance(v, str) else (v, 0)
                   for v in raw[text_column]]
        if sum(n for _, n in cleaned):
            print(f"prepare[review] removed {sum(n for _, n in cleaned)} control character(s) "
                  f"from {sum(n > 0 for _, n in cleaned)} text(s) of {path} "
                  "(review.data.control_characters: remove)")
        raw[text_column] = pd.Series([v for v, _ in cleaned], index=raw.index, dtype=object)
    _require(path, raw[text_column], line_of, text_column, text=True)
    _require(path, raw[label_column], line_of, label_column, text=False)
    frame = pd.DataFrame({
        "text": raw[text_column].astype(str),
        "raw_label": raw[label_column].map(_plain),
        "group": (raw[group_column].astype(str) if group_column
                  else pd.Series([f"row{i}" for i in range(len(raw))], dtype=str)),
        "split": (raw[split_column].astype(str) if split_column and split_column in raw
                  else None),
        "line": line_of,
    })
    return frame


def _csv_record_lines(text: str, n: int) -> list[int]:
    """The file line on which each CSV record starts (csv module, same quoting as pandas)."""
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    starts, line = [], reader.line_num + 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts[:n] if len(starts) >= n else list(range(2, n + 2))


def _require(path: Path, values: pd.Series, line_of: list[int], column: str,
             text: bool) -> None:
    missing = [line_of[i] for i, v in enumerate(values)
               if _missing(v) or (isinstance(v, str) and not v.strip())]
    if missing:
        raise ReaderError(f"{path}: column {column!r} is missing (null or empty) at "
                          f"{line_list(missing)}")
    # JSON escapes (\u0000) reach here past the raw line scan
    bad = [(line_of[i], p) for i, v in enumerate(values)
           if isinstance(v, str) and (p := text_problem(v, free_text=True))]
    if bad:
        raise ReaderError(f"{path}: column {column!r} holds a {bad[0][1]} at "
                          f"{line_list([n for n, _ in bad])}: control characters and NUL "
                          "are not text; clean the file, or set "
                          "review.data.control_characters: remove")
    if text:
        wrong = [(line_of[i], type(v).__name__) for i, v in enumerate(values)
                 if not isinstance(v, str)]
        if wrong:
            kinds = sorted({k for _, k in wrong})
            raise ReaderError(f"{path}: column {column!r} must hold plain text, found "
                              f"{'/'.join(kinds)} at {line_list([n for n, _ in wrong])}")
    else:
        wrong = [line_of[i] for i, v in enumerate(values) if isinstance(v, dict | list)]
        if wrong:
            raise ReaderError(f"{path}: column {column!r} must hold a label, found a JSON "
                              f"object or list at {line_list(wrong)}")


def read_peerread(path: str | Path, control_characters: str = "reject",
                  sources: list[TextFile] | None = None) -> pd.DataFrame:
    """PeerRead reviews.jsonl (see its SOURCE.md): comments, recommendation 1-5, paper_id."""
    return read_table(path, fmt="jsonl", sources=sources,
                      control_characters=control_characters, **PEERREAD)


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


def original_split(frame: pd.DataFrame, split_map: Mapping[str, str] | None = None,
                   dev_share: float = 0.15, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The corpus' own split column. `split_map` maps its values to train / dev / test (e.g.
    {dev: train, test: test}); without one, train / dev / test are read as they are ('devel',
    'validation' and 'val' mean dev). Values the map leaves out are dropped. When no row is
    dev, a grouped, stratified `dev_share` of train becomes dev (seeded)."""
    if frame["split"].isna().all():
        raise ValueError("split: original needs a split column (data.split_column); "
                         "use split: grouped to re-split")
    values = frame["split"].astype(str)
    if split_map:
        bad = sorted(set(split_map.values()) - set(SPLITS))
        if bad:
            raise ValueError(f"data.split_map may map to {list(SPLITS)} only, got {bad}")
        lookup = {str(k): v for k, v in split_map.items()}
        names = values.map(lambda v: lookup.get(v, ""))
        if not (names != "").any():
            raise ValueError(f"data.split_map {dict(split_map)} matches none of the split "
                             f"column's values {sorted(set(values))[:10]}")
    else:
        names = values.str.lower().replace({"devel": "dev", "validation": "dev", "val": "dev"})
    parts = {s: frame[names == s].reset_index(drop=True) for s in SPLITS}
    if len(parts["dev"]) == 0 and len(parts["train"]) > 0:
        keep, held = grouped_holdout(parts["train"], dev_share, seed)
        parts["dev"] = parts["train"].iloc[held].reset_index(drop=True)
        parts["train"] = parts["train"].iloc[keep].reset_index(drop=True)
    return parts


def normalise(text: str) -> str:
    """The form two texts are compared in for duplicates: whitespace collapsed, case folded."""
    return re.sub(r"\s+", " ", str(text).strip().lower())


def drop_cross_split_duplicates(parts: dict[str, pd.DataFrame]
                                ) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Keep every text in one split: a text also in test leaves train and dev, a text also in
    dev leaves train. Returns the parts and how many rows each split lost."""
    out, dropped, seen = dict(parts), {}, set()
    for name in ("test", "dev", "train"):
        frame = parts[name]
        norm = frame["text"].map(normalise)
        keep = ~norm.isin(seen)
        out[name], dropped[name] = frame[keep].reset_index(drop=True), int((~keep).sum())
        seen |= set(norm)
    return out, dropped
