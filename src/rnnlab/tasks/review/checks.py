"""The review task's Great Expectations suites: one over every report (schema, labels, length,
leaks across splits), one over the class counts; the class balance goes into the stats."""

from __future__ import annotations

import pandas as pd

from rnnlab.readers import source_stats, text_problem
from rnnlab.tasks import SPLITS
from rnnlab.tasks.review.data import classes
from rnnlab.tasks.review.params import ReviewConfig
from rnnlab.tasks.review.readers import normalise
from rnnlab.validation import Check
from rnnlab.vocab import tokenize


def class_counts(frames: dict[str, pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """One row per declared class with its number of reports in each split."""
    return pd.DataFrame({"label": names, **{
        s: [int((frames[s]["label"] == c).sum()) if "label" in frames[s] else 0 for c in names]
        for s in frames}})


def checks(cfg: ReviewConfig, frames: dict[str, pd.DataFrame]) -> list[Check]:
    """Report-level and class-level Great Expectations suites; class balance in the stats."""
    import great_expectations.expectations as gxe

    v, names = cfg.validation, classes(cfg)
    min_tok, max_tok, min_class = v.min_tokens, v.max_tokens, v.min_per_class

    sources = source_stats(frames)
    frames = {s: frames[s] for s in SPLITS if s in frames}  # side frames: `sources`
    reports = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("text", "label", "group", "n_tokens", "truncated"):
        if col not in reports:  # keep going on a broken schema so GX can report it
            reports[col] = None
    reports["n_tokens"] = [len(tokenize(t)) if isinstance(t, str) else 0
                           for t in reports["text"]]
    reports["n_chars"] = [len(t.strip()) if isinstance(t, str) else 0 for t in reports["text"]]
    reports["text_problem"] = [text_problem(t, free_text=True) for t in reports["text"]]
    norm = reports["text"].map(normalise)
    reports["in_two_splits"] = reports.groupby(norm)["split"].transform("nunique") > 1
    group_splits = reports.groupby("group")["split"].transform("nunique")
    reports["group_in_two_splits"] = group_splits > 1

    ids = ["split", "report_id"]
    report_suite = [
        gxe.ExpectColumnToExist(column="text", description="schema: a 'text' column"),
        gxe.ExpectColumnToExist(column="label", description="schema: a 'label' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToNotBeNull(column="text", description="no missing report text"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_chars", min_value=1, description="no empty reports"),
        gxe.ExpectColumnValuesToBeNull(
            column="text_problem",
            description="no report holds a control character, NUL or U+FFFD"),
        gxe.ExpectColumnValuesToNotBeNull(column="label", description="no missing label"),
        gxe.ExpectColumnValuesToBeInSet(
            column="label", value_set=names, description=f"labels only from {names}"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=min_tok, max_value=max_tok,
            description=f"report length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_two_splits", value_set=[False],
            description="no report appears in two splits (duplicates across splits)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="group_in_two_splits", value_set=[False],
            description="no paper has reports in two splits"),
    ]
    counts = class_counts(frames, names)
    balance = ", ".join(f"{c} {n}" for c, n in zip(counts["label"], counts["train"],
                                                    strict=True))
    class_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="train", min_value=min_class,
        description=f"each class has at least {min_class} training reports ({balance})")]
    stats = {s: {"reports": int((reports["split"] == s).sum()),
                 "truncated": int(reports.loc[reports["split"] == s, "truncated"].fillna(False)
                                  .astype(bool).sum()),
                 "classes": {c: int(n) for c, n in zip(counts["label"], counts[s], strict=True)}}
             for s in frames}
    if sources:
        stats["sources"] = sources
    return [Check("reports", reports, report_suite, ids, "text", stats=stats),
            Check("classes", counts, class_suite, ["label"])]
