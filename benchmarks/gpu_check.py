"""GPU check: every task of params.yaml trained for a fixed number of steps on CUDA and on CPU.

    python benchmarks/gpu_check.py [--device auto|cpu|cuda] [--steps 40] [--tasks entity,review]
    make gpu-check            (DEVICE=cpu for the CPU-only run)

Each task's data is its built-in data on params.yaml's settings (prepare, vocab and encode run in
memory, nothing is written), its net, objective and batches exactly as the train stage builds
them, trained by Lightning (RNNModule, the one loop's module) for `--steps` optimiser steps, no
validation. Prints per task: examples/s on each device and the speed-up, peak GPU memory, the
recurrent path (cuDNN for rnn / lstm / gru on CUDA; the `simple` cell is plain tensor ops),
and whether bf16-mixed trains (finite loss). --device cpu runs the CPU half only, so the same
command checks itself on a machine without a GPU; on one GPU it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def task_parts(name: str, cfg: Any) -> dict[str, Any]:
    """Everything the train stage builds for `name`, from its built-in data, in memory."""
    from rnnlab import tasks

    spec, tc = tasks.get(name), cfg.task(name)
    frames = spec.prepare(tc, cfg.seed)
    vocabs = spec.build_vocabs(frames["train"], tc.vocab)
    encoded = spec.encode(frames, vocabs)
    return {"spec": spec, "tc": tc, "vocabs": vocabs, "encoded": encoded,
            "net_config": spec.net_config(tc, vocabs)}


def fit(parts: dict[str, Any], cfg: Any, device: str, steps: int,
        precision: str = "32-true") -> dict[str, Any]:
    import pytorch_lightning as pl
    import torch

    from rnnlab.nn.loop import RNNModule, batch_size

    spec, tc = parts["spec"], parts["tc"]
    pl.seed_everything(cfg.seed, workers=True)
    net = spec.build_net(parts["net_config"])
    objective = spec.objective(tc, net, parts["vocabs"])
    train_batches, _ = spec.loaders(tc, parts["encoded"], cfg.seed)
    module = RNNModule(net, objective, lr=tc.train.lr)
    seen = {"examples": 0, "losses": []}

    class Count(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen["examples"] += batch_size(batch)
            seen["losses"].append(float(outputs["loss"]))

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = pl.Trainer(accelerator="gpu" if device == "cuda" else "cpu", devices=1,
                         precision=precision, max_steps=steps, max_epochs=-1,
                         limit_val_batches=0, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False,
                         gradient_clip_val=tc.train.grad_clip or None, callbacks=[Count()])
    start = time.perf_counter()
    trainer.fit(module, train_batches)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    out = {"steps": trainer.global_step, "examples_per_s": round(seen["examples"] / seconds, 1),
           "seconds": round(seconds, 2),
           "last_loss": seen["losses"][-1] if seen["losses"] else None,
           "finite": all(math.isfinite(x) for x in seen["losses"])}
    if device == "cuda":
        out["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--tasks", default="", help="comma-separated (default: params.yaml's)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--out", default="", help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    import torch

    from rnnlab import config
    from rnnlab.nn.loop import set_threads

    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        print("gpu_check: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    devices = (["cuda"] if cuda and args.device != "cpu" else []) + (
        ["cpu"] if args.device != "cuda" else [])
    cfg = config.load(args.params)
    set_threads(cfg.trainer.threads)
    names = [t for t in args.tasks.split(",") if t] or list(cfg.tasks)
    print(f"torch {torch.__version__}; CUDA: "
          f"{torch.cuda.get_device_name(0) if cuda else 'none'}; cuDNN: "
          f"{torch.backends.cudnn.version() if cuda else 'n/a'}; devices: {', '.join(devices)}; "
          f"{args.steps} steps per task; CPU threads {cfg.trainer.threads}", flush=True)
    report: dict[str, Any] = {}
    total = time.perf_counter()
    for name in names:
        parts = task_parts(name, cfg)
        cell = getattr(parts["tc"].model, "cell", "?")
        row: dict[str, Any] = {"cell": cell}
        for device in devices:
            row[device] = fit(parts, cfg, device, args.steps)
        if "cuda" in devices:
            row["recurrent_path"] = ("cuDNN" if cell in ("rnn", "lstm", "gru")
                                     and torch.backends.cudnn.enabled else "plain tensor ops")
            try:
                bf16 = fit(parts, cfg, "cuda", args.steps, precision="bf16-mixed")
                row["bf16_mixed"] = {"works": bf16["finite"], **bf16}
            except Exception as err:  # reported, not fatal: the fp32 figures still stand
                row["bf16_mixed"] = {"works": False, "error": str(err)[:300]}
        else:
            row["recurrent_path"] = "CPU (no CUDA device)"
            row["bf16_mixed"] = "not checked: needs CUDA"
        if "cuda" in row and "cpu" in row:
            row["speed_up"] = round(row["cuda"]["examples_per_s"] / row["cpu"]["examples_per_s"], 2)
        report[name] = row
        line = f"{name:>9} ({cell}): " + ", ".join(
            f"{d} {row[d]['examples_per_s']} ex/s" for d in devices)
        if "speed_up" in row:
            line += (f", speed-up {row['speed_up']}x, peak GPU {row['cuda']['peak_gpu_memory_mb']}"
                     f" MB, {row['recurrent_path']}, bf16-mixed "
                     f"{'works' if row['bf16_mixed']['works'] else 'FAILS'}")
        print(line, flush=True)
    seconds = round(time.perf_counter() - total, 1)
    print(f"gpu_check: {len(names)} tasks in {seconds} s")
    if args.out:
        Path(args.out).write_text(json.dumps({"devices": devices, "steps": args.steps,
                                              "seconds": seconds, "tasks": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
