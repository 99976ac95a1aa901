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


def test_bucket_batches_shard_by_rank_under_ddp():
    """Two ranks draw the same seeded batches and keep alternate ones: disjoint, the same
    count each, and together every batch of the single-process epoch but at most one."""
    lengths = torch.randint(1, 80, (1601,))
    whole = list(BucketBatches(lengths, 32, seed=3))
    ranks = [BucketBatches(lengths, 32, seed=3, rank=r, world=2) for r in (0, 1)]
    shards = [list(r) for r in ranks]
    assert len(shards[0]) == len(shards[1]) == len(ranks[0]) == len(whole) // 2
    seen = [tuple(b) for shard in shards for b in shard]
    assert len(set(seen)) == len(seen) and set(seen) <= {tuple(b) for b in whole}
    assert len(whole) - len(seen) <= 1
