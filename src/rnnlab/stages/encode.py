"""encode: prepared text -> padded index tensors, lengths, masks and targets
(data/encoded/<task>/<split>.pt, loadable with weights_only=True)."""

from __future__ import annotations

import torch

from rnnlab.config import Config
from rnnlab.io import atomic_dir
from rnnlab.stages import Paths
from rnnlab.stages.common import read_frames, read_vocabs, require_valid
from rnnlab.tasks import TaskSpec


def run(spec: TaskSpec, cfg: Config) -> None:
    paths = Paths(spec.name)
    require_valid(paths)
    encoded = spec.encode(read_frames(paths), read_vocabs(spec, paths))
    with atomic_dir(paths.encoded) as out:
        for split, tensors in encoded.items():
            torch.save(tensors, out / f"{split}.pt")
            print(f"encode[{spec.name}] {split}: " + ", ".join(
                f"{k}{list(v.shape)}" for k, v in tensors.items()))
