"""CoNLL/IOB reader: `token<TAB>tag` per line, a blank line between sentences.

The reader never drops or repairs a bad line: a line without exactly one tab keeps its token
with a missing tag, so validation can name the file position and stop the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_conll(path: str | Path) -> pd.DataFrame:
    """One row per sentence: sentence_id, tokens, tags, line (1-based line of the first token)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CoNLL file not found: {path}")
    rows: list[dict] = []
    tokens: list[str] = []
    tags: list[str | None] = []
    start = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
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
