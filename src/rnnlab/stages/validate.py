"""validate: the task's Great Expectations suites on the prepared frames; non-zero exit on
failure, with the failed expectations and offending rows printed."""

from __future__ import annotations

from rnnlab import datadocs
from rnnlab.config import Config
from rnnlab.stages import Paths
from rnnlab.stages.common import read_frames
from rnnlab.tasks import TaskSpec
from rnnlab.validation import validate


def run(spec: TaskSpec, cfg: Config) -> None:
    paths = Paths(spec.name)
    checks = spec.checks(cfg.task(spec.name), read_frames(paths, side=True))
    summary = validate(spec.name, checks, paths.validation, docs=datadocs.write)
    print(f"validate[{spec.name}]: all {summary['evaluated']} expectations passed "
          f"({paths.validation / 'data_docs' / 'index.html'})")
