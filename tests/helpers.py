"""Test helpers: tiny corpora written by the tests themselves (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]

CONLL_TRAIN = """in\tO
the\tO
forest\tO
there\tO
are\tO
Panthera\tB-Species
leo\tI-Species
.\tO

Panthera\tO
Corporation\tO
grew\tO
.\tO

Loxodonta\tB-Species
africana\tI-Species
eats\tO
grass\tO
"""


def write_conll(folder: Path, train: str = CONLL_TRAIN, dev: str | None = None,
                test: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.tsv").write_text(train)
    (folder / "devel.tsv").write_text(dev if dev is not None else
                                      "we\tO\nsaw\tO\nGorilla\tB-Species\nberingei\tI-Species\n")
    (folder / "test.tsv").write_text(test if test is not None else
                                     "Java\tO\nis\tO\nan\tO\nisland\tO\n")
    return folder


def frames(rows: dict[str, list[tuple[list, list]]]) -> dict[str, pd.DataFrame]:
    """{split: [(tokens, tags), ...]} -> prepared frames as the prepare stage writes them."""
    return {split: pd.DataFrame({"sentence_id": range(len(r)), "tokens": [t for t, _ in r],
                                 "tags": [g for _, g in r]})
            for split, r in rows.items()}
