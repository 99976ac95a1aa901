"""One module per lecture task. The stages look a task up here by name and call, duck-typed:

    prepare(cfg, seed) -> {split: DataFrame}         read or generate the raw data
    checks(cfg, frames) -> [validation.Check]         what the data must satisfy (GX)
    build_vocabs(train, vocab_cfg) -> {name: Vocabulary}
    encode(frame, vocabs) -> {name: Tensor}           padded indices, lengths, masks, targets
    build_net(net_config) / net_config(cfg, vocabs)   the architecture, rebuilt from JSON
    lightning_module(cfg, net, vocabs)                loss + dev metric for training
    evaluate(cfg, net, frames, encoded, vocabs, seed) -> (metrics, plots)   RNN and baselines
    predict(net, vocabs, inputs)                      raw input -> task output (serving)
"""

from __future__ import annotations

import importlib
from types import ModuleType

SPLITS = ("train", "dev", "test")


def get(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"rnnlab.tasks.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"rnnlab.tasks.{name}":
            raise
        raise ValueError(f"unknown task {name!r}: add src/rnnlab/tasks/{name}.py") from err
