"""The Great Expectations suites of the entity frames: one row per sentence (schema, lengths,
tokens and tags aligned, no dev/test sentence repeating a training one) and one row per token
(no malformed line, tags from the declared set), each failure named by split, sentence and,
for CoNLL files, file line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.readers import source_stats, text_problem
from rnnlab.tasks import SPLITS
from rnnlab.tasks.entity.params import EntityConfig
from rnnlab.validation import Check


def checks(cfg: EntityConfig, frames: dict[str, pd.DataFrame]) -> list[Check]:
    """Sentence-level and token-level Great Expectations suites."""
    import great_expectations.expectations as gxe

    v = cfg.validation
    allowed = list(cfg.data.tags)
    min_tok, max_tok = v.min_tokens, v.max_tokens
    dup_min, dup_frac = v.duplicate_min_tokens, v.max_duplicate_fraction

    sources = source_stats(frames)
    frames = {s: frames[s] for s in SPLITS if s in frames}  # side frames: `sources`
    sentences = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("tokens", "tags"):  # keep going on a broken schema so GX can report it
        if col not in sentences:
            sentences[col] = None
    as_list = [x if isinstance(x, list | np.ndarray) else [] for x in sentences["tokens"]]
    sentences["n_tokens"] = [len(x) for x in as_list]
    sentences["n_tags"] = [len(x) if isinstance(x, list | np.ndarray) else 0
                           for x in sentences["tags"]]
    sentences["text"] = [" ".join(str(t) for t in x) for x in as_list]
    train_texts = set(sentences.loc[sentences["split"] == "train", "text"])
    sentences["dup_in_train"] = [
        s != "train" and n >= dup_min and t in train_texts
        for s, n, t in zip(sentences["split"], sentences["n_tokens"], sentences["text"],
                           strict=True)]

    # CoNLL frames carry the file line of each sentence's first token; built-in ones do not
    has_lines = "line" in sentences and sentences["line"].notna().any()
    if has_lines:
        sentences["file_line"] = sentences["line"]
    ids = ["split", "sentence_id", *(["file_line"] if has_lines else [])]
    longest = ""
    if len(sentences):
        top = sentences.loc[sentences["n_tokens"].idxmax()]
        where = f"{top['split']}"
        if has_lines and not pd.isna(top["line"]):
            where += f" file line {int(top['line'])}"
        longest = f"; the corpus' longest sentence has {int(top['n_tokens'])} tokens ({where})"
    sentence_suite = [
        gxe.ExpectColumnToExist(column="tokens", description="schema: a 'tokens' column"),
        gxe.ExpectColumnToExist(column="tags", description="schema: a 'tags' column"),
        gxe.ExpectColumnValuesToNotBeNull(column="tokens", description="no null token lists"),
        gxe.ExpectColumnValuesToNotBeNull(column="tags", description="no null tag lists"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=1, description="no empty sentences"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_tokens", min_value=min_tok, max_value=max_tok,
            description=f"sentence length within [{min_tok}, {max_tok}] tokens "
                        f"(validation.min_tokens/max_tokens{longest})"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="n_tokens", column_B="n_tags",
            description="tokens and tags have equal length in every sentence"),
        gxe.ExpectColumnValuesToBeInSet(
            column="dup_in_train", value_set=[False], mostly=1.0 - dup_frac,
            description=f"no dev/test sentence of >= {dup_min} tokens repeats a training "
                        f"sentence (tolerance {dup_frac:.1%})"),
    ]

    lines = sentences["line"] if "line" in sentences else [None] * len(sentences)
    rows = []
    for s, sid, toks, tags, line in zip(
            sentences["split"], sentences["sentence_id"], as_list, sentences["tags"],
            lines, strict=True):
        tags = list(tags) if isinstance(tags, list | np.ndarray) else []
        for pos in range(max(len(toks), len(tags))):
            rows.append((s, sid, pos, toks[pos] if pos < len(toks) else None,
                         tags[pos] if pos < len(tags) else None,
                         None if line is None or pd.isna(line) else int(line) + pos))
    tokens = pd.DataFrame(rows, columns=["split", "sentence_id", "position", "token", "tag",
                                         "file_line"])
    tokens["token_problem"] = [text_problem(t, allow_empty=True) for t in tokens["token"]]
    tokens["tag_problem"] = [text_problem(t, allow_empty=True) for t in tokens["tag"]]
    token_ids = ["split", "sentence_id", "position"]
    if tokens["file_line"].notna().any():
        token_ids.append("file_line")
    token_suite = [
        gxe.ExpectColumnValuesToNotBeNull(
            column="token", description="no missing token (malformed line)"),
        gxe.ExpectColumnValuesToNotBeNull(
            column="tag", description="no missing tag (malformed line: expected token<TAB>tag)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="tag", value_set=allowed, description=f"tags only from {allowed}"),
        gxe.ExpectColumnValueLengthsToBeBetween(
            column="token", min_value=1, description="no empty tokens"),
        gxe.ExpectColumnValuesToBeNull(
            column="token_problem",
            description="no token is white space only or holds a control character, NUL, "
                        "U+FFFD or a byte-order mark"),
        gxe.ExpectColumnValuesToBeNull(
            column="tag_problem",
            description="no tag holds a control character, NUL, U+FFFD or a byte-order mark"),
    ]
    entity = tokens["tag"].fillna("O") != "O"
    stats = {split: {"sentences": int((sentences["split"] == split).sum()),
                     "tokens": int((tokens["split"] == split).sum()),
                     "entity_tokens": int((entity & (tokens["split"] == split)).sum())}
             for split in SPLITS}
    if sources:
        stats["sources"] = sources
    return [Check("sentences", sentences, sentence_suite, ids, "text", stats=stats),
            Check("tokens", tokens, token_suite, token_ids, "token")]
