"""The shared batches of rnnlab.nn.loop (the entity networks are tested in test_entity.py)."""

from __future__ import annotations

import torch

from rnnlab.nn.loop import BucketBatches


def test_bucket_batches_cover_every_sentence_once_and_repeat_exactly():
    lengths = torch.randint(1, 80, (1601,))
    a, b = BucketBatches(lengths, 32, seed=3), BucketBatches(lengths, 32, seed=3)
    first = list(a)
    assert len(first) == len(a)
    assert sorted(i for batch in first for i in batch) == list(range(1601))
    assert first == list(b) and list(a) != first  # same seed same order; next epoch reshuffles
    spread = sum(int(lengths[x].max() - lengths[x].min()) for x in first) / len(first)
    assert spread < 10  # batches hold similar lengths
