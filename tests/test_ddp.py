"""DDP on the CPU: `trainer.strategy: ddp`, `devices: 2` (gloo) runs the entity train stage as
two processes. Lightning re-runs the stage command for rank 1 (nn.loop.ddp_worker: it trains
its shard, rank 0 writes the outputs and the one MLflow run), each rank takes every other
length bucket (BucketBatches shards itself), and with the per-process batch halved (the same
effective batch) the run is close to the single-process one."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import yaml

from helpers import REPO, client, merge, sh, tiny_params

pytestmark = pytest.mark.slow

# the data stages in one process (the test is about train): a folder holding params.yaml is
# a project (rnnlab.tracking.project_root), no git or DVC needed
DATA = ("from rnnlab.stages import run; "
        "[run(s, 'entity') for s in ('prepare', 'validate', 'vocab', 'encode')]")
SIZE = {"entity": {"data": {"builtin": {"n_train": 640, "n_dev": 80}},
                   "model": {"hidden_size": 32},
                   "train": {"max_epochs": 8, "patience": 8}}}


def _latest_run(root) -> tuple[int, int]:
    """(runs in the entity experiment, train/loss_step points of the latest run)."""
    c = client(root)
    runs = c.search_runs([c.get_experiment_by_name("rnnlab-entity").experiment_id],
                         order_by=["attributes.start_time DESC"])
    return len(runs), len(c.get_metric_history(runs[0].info.run_id, "train/loss_step"))


def _train(root, trainer: dict, batch_size: int) -> pd.DataFrame:
    params = yaml.safe_load((root / "params.yaml").read_text())
    merge(params, {"trainer": trainer, "entity": {"train": {"batch_size": batch_size}}})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "rnnlab", "train", "entity")
    return pd.read_csv(root / "plots/entity/training.csv")


def test_ddp_on_two_cpu_processes_shards_the_data_and_matches_one_process(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    params = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), ["entity"])
    (root / "params.yaml").write_text(yaml.safe_dump(merge(params, SIZE), sort_keys=False))
    sh(root, sys.executable, "-c", DATA)

    single = _train(root, {"accelerator": "cpu", "devices": 1, "strategy": "auto"}, 32)
    assert _latest_run(root) == (1, 20 * 8)  # 640 sentences, 20 batches of 32 an epoch
    ddp = _train(root, {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}, 16)
    # 40 batches of 16, every other one per rank: 20 steps an epoch, as one process with 32
    # (unsharded, each rank would take all 40); rank 1 opened no MLflow run of its own
    assert _latest_run(root) == (2, 20 * 8)
    assert len(ddp) == len(single) == 8
    best_one, best_two = single["dev/entity_f1"].max(), ddp["dev/entity_f1"].max()
    assert best_one > 0.5 and best_two > 0.5 and abs(best_one - best_two) < 0.2, \
        (best_one, best_two)
