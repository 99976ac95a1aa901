"""prepare: raw corpus or built-in generator -> data/prepared/<task>/{train,dev,test}.parquet."""

from __future__ import annotations

from rnnlab import tasks
from rnnlab.config import Config
from rnnlab.io import atomic_dir
from rnnlab.stages import Paths


def run(task: str, cfg: Config) -> None:
    frames = tasks.get(task).prepare(cfg.task(task), cfg.seed)
    with atomic_dir(Paths(task).prepared) as out:
        for split, frame in frames.items():
            frame.to_parquet(out / f"{split}.parquet", index=False)
            print(f"prepare[{task}] {split}: {len(frame)} rows")
