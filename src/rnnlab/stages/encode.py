"""encode: prepared text -> padded index tensors, lengths, masks and targets
(data/encoded/<task>/<split>.pt, loadable with weights_only=True)."""

from __future__ import annotations

import torch

from rnnlab import tasks
from rnnlab.config import Config
from rnnlab.io import atomic_dir
from rnnlab.stages import Paths
from rnnlab.stages.common import read_frames, read_vocabs, require_valid


def run(task: str, cfg: Config) -> None:
    paths = Paths(task)
    require_valid(paths)
    module, vocabs = tasks.get(task), read_vocabs(paths)
    frames = read_frames(paths)
    if hasattr(module, "encode_splits"):  # a split that reads the others (history windows)
        encoded = module.encode_splits(frames, vocabs)
    else:
        encoded = {split: module.encode(frame, vocabs) for split, frame in frames.items()}
    with atomic_dir(paths.encoded) as out:
        for split, tensors in encoded.items():
            torch.save(tensors, out / f"{split}.pt")
            print(f"encode[{task}] {split}: " + ", ".join(
                f"{k}{list(v.shape)}" for k, v in tensors.items()))
