"""`RNNModule`, the generic LightningModule of the one training loop (rnnlab.nn.loop.train).

Its own module so that importing rnnlab.nn.loop (batches, Objective: what the task networks and
serving use) does not import Lightning; `rnnlab.nn.loop.RNNModule` still names it.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from rnnlab.nn.loop import Batch, Objective, batch_size


class RNNModule(pl.LightningModule):
    """The generic LightningModule: a network, its task's objective, Adam."""

    def __init__(self, net: nn.Module, objective: Objective, lr: float = 3e-3,
                 weight_decay: float = 0.0, lr_schedule: str = "none", lr_factor: float = 0.5,
                 lr_patience: int = 1, max_epochs: int = 1, ema_decay: float = 0.0) -> None:
        super().__init__()
        self.net, self.objective, self.lr, self.weight_decay = net, objective, lr, weight_decay
        if lr_schedule not in ("none", "plateau", "cosine"):
            raise ValueError(f"lr_schedule must be none, plateau or cosine, got {lr_schedule!r}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        self.lr_schedule, self.lr_factor, self.lr_patience = lr_schedule, lr_factor, lr_patience
        self.max_epochs, self.ema_decay = max_epochs, ema_decay
        # the moving average of the weights: a frozen copy that dev scores and the checkpoint
        # keeps (part of the state dict, so the best epoch's average is what is reloaded)
        self.ema: nn.Module | None = None
        if ema_decay > 0:
            import copy

            self.ema = copy.deepcopy(net).requires_grad_(False)
            self._ema_steps = 0
        self._dev: list[Any] = []
        self.gather_dev = True  # DDP: dev is sharded across ranks (train() sets it)
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []  # one row per epoch, for the loss curves

    def on_train_start(self) -> None:
        self.objective.on_train_start(self.trainer.train_dataloader)

    def training_step(self, batch: Batch, _: int) -> torch.Tensor:
        loss = self.objective.loss(self.net, batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=batch_size(batch))
        self._losses["train/loss"].append(loss.item())
        return loss

    def on_train_batch_end(self, *_: Any) -> None:
        if self.ema is None:
            return
        # ema <- d ema + (1 - d) w, with d warmed up (min(d, (1+n)/(10+n))) so the first
        # epochs are not dominated by the random initial weights
        self._ema_steps += 1
        d = min(self.ema_decay, (1 + self._ema_steps) / (10 + self._ema_steps))
        with torch.no_grad():
            for e, w in zip(self.ema.state_dict().values(), self.net.state_dict().values(),
                            strict=True):
                if e.dtype.is_floating_point:
                    e.mul_(d).add_(w.detach(), alpha=1 - d)
                else:
                    e.copy_(w)

    def scored_net(self) -> nn.Module:
        """The network dev scores: the moving average when there is one."""
        return self.ema if self.ema is not None else self.net

    def validation_step(self, batch: Batch, _: int) -> None:
        loss, outputs = self.objective.dev_step(self.scored_net(), batch)
        self.log("dev/loss", loss, on_epoch=True, prog_bar=True, batch_size=batch_size(batch))
        self._losses["dev/loss"].append(loss.item())
        self._dev.append(outputs)

    def on_validation_epoch_end(self) -> None:
        outputs = self._dev
        if self.trainer.world_size > 1 and self.gather_dev:  # DDP: score every rank's shard
            import torch.distributed as dist

            shards: list[Any] = [None] * self.trainer.world_size
            dist.all_gather_object(shards, outputs)
            outputs = [o for shard in shards for o in shard]
        metrics = self.objective.dev_metrics(outputs) if outputs else {}
        for name, value in metrics.items():
            self.log(name, value, prog_bar=name.endswith("f1"))
        row: dict[str, float] = {"epoch": self.current_epoch + 1}
        row.update({k: sum(v) / len(v) for k, v in self._losses.items() if v})
        row.update(metrics)
        if not self.trainer.sanity_checking:
            self.history.append(row)
        self._dev.clear()
        for losses in self._losses.values():
            losses.clear()

    def on_train_epoch_end(self) -> None:
        """Without dev batches no validation ends the epoch: its row is the training loss."""
        if self._losses["train/loss"]:  # validation (which clears them) did not run
            self.history.append({"epoch": self.current_epoch + 1, "train/loss": sum(
                self._losses["train/loss"]) / len(self._losses["train/loss"])})
            self._losses["train/loss"].clear()

    def configure_optimizers(self) -> Any:
        params = (self.parameters() if self.ema is None else
                  [p for n, p in self.named_parameters() if not n.startswith("ema.")])
        optimizer = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule == "none":
            return optimizer
        if self.lr_schedule == "plateau":
            scheduler: Any = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=self.objective.mode, factor=self.lr_factor,
                patience=self.lr_patience)
            return {"optimizer": optimizer, "lr_scheduler": {
                "scheduler": scheduler, "monitor": self.objective.monitor, "interval": "epoch"}}
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, self.max_epochs), eta_min=self.lr * self.lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler,
                                                         "interval": "epoch"}}
