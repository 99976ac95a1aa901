"""validate: the task's Great Expectations suites on the prepared frames; non-zero exit on
failure, with the failed expectations and offending rows printed."""

from __future__ import annotations

from rnnlab import tasks
from rnnlab.config import Config
from rnnlab.stages import Paths
from rnnlab.stages.common import read_frames
from rnnlab.validation import validate


def run(task: str, cfg: Config) -> None:
    paths = Paths(task)
    checks = tasks.get(task).checks(cfg.task(task), read_frames(paths))
    summary = validate(task, checks, paths.validation)
    print(f"validate[{task}]: all {summary['evaluated']} expectations passed "
          f"({paths.validation / 'data_docs' / 'index.html'})")
