"""Seeded random bit strings and their parity."""

from __future__ import annotations

import random

import pandas as pd


def generate(n: int, max_bits: int, seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    bits = ["".join(rng.choice("01") for _ in range(rng.randint(1, max_bits))) for _ in range(n)]
    return pd.DataFrame({"id": range(n), "bits": bits,
                         "label": [b.count("1") % 2 for b in bits]})
