"""vocab: vocabularies (or, for series, scalers) fitted on the training split only ->
data/vocab/<task>/<name>.json, and their metrics (e.g. the OOV rate of dev and test) ->
metrics/<task>/vocab.json."""

from __future__ import annotations

from rnnlab.config import Config
from rnnlab.io import atomic_dir, write_json
from rnnlab.stages import Paths
from rnnlab.stages.common import read_frames, require_valid
from rnnlab.tasks import TaskSpec


def run(spec: TaskSpec, cfg: Config) -> None:
    paths = Paths(spec.name)
    require_valid(paths)
    frames = read_frames(paths)
    vocabs = spec.build_vocabs(frames["train"], cfg.task(spec.name).vocab)
    with atomic_dir(paths.vocab) as out:
        for name, vocab in vocabs.items():
            vocab.save(out / f"{name}.json")
    metrics = spec.vocab_metrics(frames, vocabs)
    metrics.update({f"vocab/{name}_size": len(v) for name, v in vocabs.items()})
    write_json(paths.stage_metrics / "vocab.json", metrics)
    print(f"vocab[{spec.name}]: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
