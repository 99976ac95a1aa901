"""The one training loop: batches, a generic LightningModule, and `train()`.

A task supplies an `Objective`: its loss (the lecture's L = Σ_t L<t>, or whatever the task
sums) and its dev metric. `RNNModule` adds what every task shares: Adam, logging of
train/loss and dev/loss, one history row per epoch (the loss curves). `train()` maps the
params.yaml `train:` and `trainer:` settings onto Lightning's Trainer, in one place, for the
pipeline, cross-validation, studies and the trained baselines alike.

Torch and Lightning only; MLflow is attached from outside as a logger. Lightning is imported
only to train (`RNNModule` lives in rnnlab/nn/module.py), so serving loads torch alone.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

if TYPE_CHECKING:
    from rnnlab.nn.module import RNNModule

Batch = dict[str, torch.Tensor]

# ---------------------------------------------------------------- batches


class Sequences(Dataset):
    """Rows of an encoded split: every tensor but the mask (rebuilt per batch), indexed by
    row: ids [T], lengths, labels [T] or [], optional per-step features [T]."""

    def __init__(self, encoded: dict[str, torch.Tensor]) -> None:
        self.tensors = {k: v for k, v in encoded.items() if k != "mask"}

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, i: int) -> Batch:
        return {k: v[i] for k, v in self.tensors.items()}


def collate(batch: list[Batch]) -> Batch:
    """Stack rows, trim the split-wide padding to this batch's longest sequence, add the mask."""
    out = {k: torch.stack([row[k] for row in batch]) for k in batch[0]}
    T = int(out["lengths"].max())
    out = {k: v[:, :T] if v.dim() >= 2 else v for k, v in out.items()}
    out["mask"] = torch.arange(T)[None, :] < out["lengths"][:, None]
    return out


def ddp_worker() -> bool:
    """True in a process Lightning's DDP launcher started for rank > 0: it re-runs the same
    command, trains its shard in step with rank 0, and must leave outputs and tracking to
    rank 0."""
    import os

    return int(os.environ.get("LOCAL_RANK", 0)) > 0 or int(os.environ.get("NODE_RANK", 0)) > 0


def ddp_rank() -> tuple[int, int]:
    """(rank, world size) of this process in a torch.distributed group, (0, 1) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class BucketBatches(Sampler[list[int]]):
    """Seeded random batches of similar-length sentences: a batch is trimmed to its longest
    sentence, so grouping lengths cuts the padded steps the RNN walks through. With `weights`,
    each epoch draws len(lengths) rows with replacement in proportion to them (a balanced
    sampler) instead of a permutation.

    Under DDP (Lightning cannot swap a batch sampler for a DistributedSampler) every rank
    draws the same seeded batches and keeps every world-th one from its rank on, so each
    batch is seen once per epoch; the count is cut to a multiple of the world size, so that
    every rank takes the same number of steps (at most world - 1 batches are skipped)."""

    def __init__(self, lengths: torch.Tensor, batch_size: int, seed: int, pool: int = 50,
                 weights: torch.Tensor | None = None, rank: int | None = None,
                 world: int | None = None) -> None:
        self.lengths, self.batch_size, self.seed, self.pool = lengths, batch_size, seed, pool
        self.weights = weights
        self.rank, self.world = rank, world  # None: from torch.distributed when iterating
        self.epoch = 0

    def _shard(self) -> tuple[int, int]:
        got = ddp_rank()
        return (got[0] if self.rank is None else self.rank,
                got[1] if self.world is None else self.world)

    def _batches(self) -> int:
        chunk = self.batch_size * self.pool
        full, rest = divmod(len(self.lengths), chunk)
        return full * self.pool + -(-rest // self.batch_size)

    def __len__(self) -> int:
        return self._batches() // self._shard()[1]

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        batches: list[torch.Tensor] = []
        order = (torch.randperm(len(self.lengths), generator=gen) if self.weights is None else
                 torch.multinomial(self.weights, len(self.lengths), True, generator=gen))
        for chunk in order.split(self.batch_size * self.pool):
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk.split(self.batch_size))
        rank, world = self._shard()
        picked = torch.randperm(len(batches), generator=gen).tolist()
        for i in picked[: len(picked) // world * world][rank::world]:
            yield batches[i].tolist()


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-row sampling weight 1/count(class): every class is drawn equally often."""
    if labels.dim() != 1:
        raise ValueError("a balanced sampler needs one label per sequence (many-to-one)")
    counts = torch.bincount(labels)
    return 1.0 / counts[labels].double()


def loader(encoded: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
           seed: int = 0, bucket: bool = False, balanced: bool = False,
           dataset: Dataset | None = None, collate_fn: Any = collate) -> DataLoader:
    """Batches of an encoded split: seeded, length-bucketed when `bucket`; `balanced`
    (training only) oversamples rare classes. `dataset` / `collate_fn` replace the default
    rows and collation (e.g. two lengths per row for sentence pairs)."""
    data = dataset if dataset is not None else Sequences(encoded)
    if shuffle and (bucket or balanced):
        weights = balanced_weights(encoded["labels"]) if balanced else None
        sampler = BucketBatches(encoded["lengths"], batch_size, seed,
                                pool=50 if bucket else 1, weights=weights)
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate_fn)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn,
                      generator=gen)


# ---------------------------------------------------------------- what a task supplies


class Objective(nn.Module):
    """A task's loss and dev metric. An nn.Module, so its buffers (class weights, index
    tables) follow the network to its device; `self.training` says train or dev.

    `monitor` is the dev metric early stopping and checkpointing watch, `mode` whether higher
    (max) or lower (min) is better."""

    monitor: str = "dev/loss"
    mode: str = "min"

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        """The training loss of one batch."""
        raise NotImplementedError

    def dev_step(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, Any]:
        """(dev loss, what dev_metrics needs from this batch); net and objective in eval."""
        return self.loss(net, batch), None

    def dev_metrics(self, outputs: list[Any]) -> dict[str, float]:
        """The dev metrics, named `dev/...`, from every dev batch's outputs."""
        return {}

    def on_train_start(self, train: DataLoader) -> None:
        """Called once before the first epoch (e.g. class weights from the training labels)."""


def batch_size(batch: Batch) -> int:
    return len(next(iter(batch.values())))


def __getattr__(name: str) -> Any:
    """`RNNModule` is defined in rnnlab.nn.module and imported on first use (PEP 562): the
    batches and the Objective serve the served models too, which never train, and importing
    Lightning costs seconds (`rnnlab predict`'s start-up)."""
    if name == "RNNModule":
        from rnnlab.nn.module import RNNModule

        return RNNModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- the loop


def set_threads(n: int) -> None:
    """Use `n` CPU threads for torch and for the BLAS / OpenMP pools that numpy, scipy and
    scikit-learn use (0 leaves the defaults: one per core). The weights depend on the count,
    so params.yaml fixes it."""
    if n <= 0:
        return
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it only torch is limited
        return
    threadpool_limits(limits=n)


def train(net: nn.Module, objective: Objective, train_batches: DataLoader,
          dev_batches: DataLoader | None, settings: Any, trainer: Any, *,
          max_epochs: int | None = None, logger: Any = False, progress: bool = True,
          select: bool = True) -> RNNModule:
    """Fit `net` with early stopping on `objective.monitor` and reload the best epoch's
    weights. `settings`: a task's train section (max_epochs, lr, weight_decay, grad_clip,
    patience, log_every_n_steps); `trainer`: params.yaml's trainer section. Checkpoints go to
    a temporary folder, so nothing of a path ends up next to the weights.

    `select=False`: no early stopping and no checkpoint: exactly `max_epochs` epochs, and the
    last epoch's weights are the result (an epoch count chosen elsewhere, e.g. on a backtest);
    dev (optional then) is still scored every epoch into the history."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from rnnlab.nn.module import RNNModule

    epochs = max_epochs if max_epochs is not None else settings.max_epochs
    module = RNNModule(net, objective, lr=settings.lr, weight_decay=settings.weight_decay,
                       lr_schedule=getattr(settings, "lr_schedule", "none"),
                       lr_factor=getattr(settings, "lr_factor", 0.5),
                       lr_patience=getattr(settings, "lr_patience", 1), max_epochs=epochs,
                       ema_decay=getattr(settings, "ema_decay", 0.0))
    monitor, mode = objective.monitor, objective.mode
    # DDP: Lightning shards plain loaders with a DistributedSampler (dev too, so the dev
    # outputs are gathered); it cannot do so for a batch sampler, so BucketBatches shards
    # itself and dev is then scored whole on every rank
    bucketed = isinstance(getattr(train_batches, "batch_sampler", None), BucketBatches)
    module.gather_dev = not bucketed
    with tempfile.TemporaryDirectory(prefix="rnnlab-ckpt-") as ckpt_dir:
        best = ModelCheckpoint(dirpath=ckpt_dir, monitor=monitor, mode=mode, filename="best",
                               save_top_k=1, enable_version_counter=False)
        callbacks = [EarlyStopping(monitor=monitor, mode=mode, patience=settings.patience),
                     best] if select else []
        fitter = pl.Trainer(
            max_epochs=epochs,
            accelerator=trainer.accelerator, devices=trainer.devices, strategy=trainer.strategy,
            precision=trainer.precision, gradient_clip_val=settings.grad_clip or None,
            deterministic=True, logger=logger, log_every_n_steps=settings.log_every_n_steps,
            callbacks=callbacks, enable_progress_bar=progress, enable_model_summary=False,
            enable_checkpointing=select, default_root_dir=ckpt_dir,
            use_distributed_sampler=not bucketed)
        with warnings.catch_warnings():  # no dev batches: no val loop, as asked
            warnings.filterwarnings("ignore", ".*`validation_step` but have no `val_dataloader`")
            fitter.fit(module, train_batches, dev_batches)
        if select and best.best_model_path:
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
            module.load_state_dict(state["state_dict"])
    if module.ema is not None:  # the model is the best epoch's moving average
        net.load_state_dict(module.ema.state_dict())
    module.cpu()
    return module


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)

