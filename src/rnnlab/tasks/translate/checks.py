"""translate's Great Expectations suite over the sentence pairs of every split."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnnlab.readers import source_stats, text_problem
from rnnlab.tasks import SPLITS
from rnnlab.tasks.translate.data import FORMATS, normalise

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateConfig
    from rnnlab.validation import Check


def checks(cfg: TranslateConfig, frames: dict[str, pd.DataFrame]) -> list[Check]:
    """Pair-level Great Expectations suite: fields, clean characters, both sides non-empty,
    lengths and length ratio within bounds, no pair (or source sentence) in two splits."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v = cfg.validation
    min_tok, max_tok, max_ratio = v.min_tokens, v.max_tokens, v.max_length_ratio
    kind = cfg.data.source

    sources = source_stats(frames)
    frames = {s: frames[s] for s in SPLITS if s in frames}  # side frames: `sources`
    pairs = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("source", "target", "source_tokens", "target_tokens"):
        if col not in pairs:  # keep going on a broken schema so GX can report it
            pairs[col] = None

    def n_tokens(col: str) -> list[int]:
        return [len(x) if isinstance(x, list | np.ndarray) else 0 for x in pairs[col]]

    pairs["source_len"], pairs["target_len"] = n_tokens("source_tokens"), n_tokens("target_tokens")
    pairs["source_chars"] = [len(str(t).strip()) if isinstance(t, str) else 0
                             for t in pairs["source"]]
    pairs["target_chars"] = [len(str(t).strip()) if isinstance(t, str) else 0
                             for t in pairs["target"]]
    a, b = pairs["source_len"] + 1, pairs["target_len"] + 1
    pairs["length_ratio"] = np.maximum(a / b, b / a).round(3)
    pairs["text"] = [f"{s} ||| {t}" for s, t in zip(pairs["source"], pairs["target"],
                                                     strict=True)]
    src_key = pairs["source"].map(lambda t: normalise(str(t)).lower())
    pair_key = src_key + "\t" + pairs["target"].map(lambda t: normalise(str(t)).lower())
    pairs["pair_in_two_splits"] = pairs.groupby(pair_key)["split"].transform("nunique") > 1
    pairs["source_in_two_splits"] = pairs.groupby(src_key)["split"].transform("nunique") > 1

    # a test pair (both sides, case and spacing ignored) that also occurs in train
    train_pairs = set(pair_key[pairs["split"] == "train"])
    pairs["test_pair_in_train"] = (pairs["split"] == "test") & pair_key.isin(train_pairs)

    ids = ["split", "pair_id"]
    if "file" in pairs and pairs["file"].notna().any():
        ids.append("file")
    if "file_line" in pairs and pairs["file_line"].notna().any():
        ids.append("file_line")
    suite = [
        gxe.ExpectColumnToExist(column="source", description="schema: a 'source' column"),
        gxe.ExpectColumnToExist(column="target", description="schema: a 'target' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
    ]
    if "n_fields" in pairs:
        allowed = list(FORMATS.get(kind, (4,)))
        suite.append(gxe.ExpectColumnValuesToBeInSet(
            column="n_fields", value_set=allowed,
            description=f"every line has {' or '.join(map(str, allowed))} tab-separated fields "
                        f"({kind} format)"))
    pairs["source_problem"] = [text_problem(t, allow_empty=True) for t in pairs["source"]]
    pairs["target_problem"] = [text_problem(t, allow_empty=True) for t in pairs["target"]]
    for side in ("source", "target"):
        suite.append(gxe.ExpectColumnValuesToBeNull(
            column=f"{side}_problem",
            description=f"no {side} sentence is white space only or holds a control "
                        "character, NUL, U+FFFD or a byte-order mark"))
    suite += [
        gxe.ExpectColumnValuesToBeBetween(
            column="source_chars", min_value=1, description="no empty source sentence"),
        gxe.ExpectColumnValuesToBeBetween(
            column="target_chars", min_value=1, description="no empty target sentence"),
        gxe.ExpectColumnValuesToBeBetween(
            column="source_len", min_value=min_tok, max_value=max_tok,
            description=f"source length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeBetween(
            column="target_len", min_value=min_tok, max_value=max_tok,
            description=f"target length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeBetween(
            column="length_ratio", max_value=max_ratio,
            description=f"length ratio (longer+1)/(shorter+1) at most {max_ratio}"),
        gxe.ExpectColumnValuesToBeInSet(
            column="test_pair_in_train", value_set=[False],
            description="no test pair occurs in train"),
        gxe.ExpectColumnValuesToBeInSet(
            column="pair_in_two_splits", value_set=[False],
            description="no pair identical on both sides appears in two splits"),
        gxe.ExpectColumnValuesToBeInSet(
            column="source_in_two_splits", value_set=[False],
            description="no source sentence appears in two splits"),
    ]
    stats = {s: {"pairs": int((pairs["split"] == s).sum()),
                 "source_tokens": int(pairs.loc[pairs["split"] == s, "source_len"].sum()),
                 "target_tokens": int(pairs.loc[pairs["split"] == s, "target_len"].sum())}
             for s in SPLITS}
    if sources:
        stats["sources"] = sources
    return [Check("pairs", pairs, suite, ids, "text", stats=stats)]
