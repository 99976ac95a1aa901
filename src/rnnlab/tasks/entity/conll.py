"""CoNLL/IOB reader: `token<TAB>tag` per line, a blank line between sentences.

The file is decoded strictly (rnnlab.readers: undecodable bytes, a missing file or a folder in
its place stop prepare naming the file and lines; a leading UTF-8 BOM is stripped, not glued
to the first token). The reader never drops or repairs a bad line: a line without exactly one
tab keeps its token with a missing tag, and a token with a control character or only white
space is kept as it is, so validation can name the file line and stop the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnlab.readers import TextFile, read_text


def read_conll(path: str | Path, encoding: str = "utf-8",
               sources: list[TextFile] | None = None) -> pd.DataFrame:
    """One row per sentence: sentence_id, tokens, tags, line (1-based line of the first token).
    The file read is appended to `sources`."""
    tf = read_text(path, encoding, "entity.data.encoding", "entity.data.path / entity.data.files")
    if sources is not None:
        sources.append(tf)
    rows: list[dict] = []
    tokens: list[str] = []
    tags: list[str | None] = []
    start = 0
    for lineno, line in enumerate(tf.lines(), 1):
        if not line.strip(" \t"):  # a blank line ends a sentence
            if tokens:
                rows.append({"tokens": tokens, "tags": tags, "line": start})
                tokens, tags = [], []
            continue
        if not tokens:
            start = lineno
        fields = line.split("\t")
        tokens.append(fields[0])
        tags.append(fields[1].strip() if len(fields) == 2 and fields[1].strip() else None)
    if tokens:
        rows.append({"tokens": tokens, "tags": tags, "line": start})
    frame = pd.DataFrame(rows, columns=["tokens", "tags", "line"])
    frame.insert(0, "sentence_id", range(len(frame)))
    return frame
