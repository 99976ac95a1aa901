"""Lightning wrapper: loss summed over time, backprop through time by autograd, dev metric.

Torch and Lightning only; tracking (MLflow) is attached from outside as a logger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from rnnlab.nn.architectures import level_matrix


class Sequences(Dataset):
    """Rows of an encoded split: every tensor but the mask (rebuilt per batch), indexed by row:
    ids [T], lengths, labels [T] or [], optional per-step features [T]."""

    def __init__(self, encoded: dict[str, torch.Tensor]) -> None:
        self.tensors = {k: v for k, v in encoded.items() if k != "mask"}

    def __len__(self) -> int:
        return len(self.tensors["lengths"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}


def collate(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    out = {k: torch.stack([row[k] for row in batch]) for k in batch[0]}
    T = int(out["lengths"].max())  # trim the split-wide padding to this batch's longest sentence
    out = {k: v[:, :T] if v.dim() >= 2 else v for k, v in out.items()}
    out["mask"] = torch.arange(T)[None, :] < out["lengths"][:, None]
    return out


def net_inputs(batch: dict[str, torch.Tensor], device: str | torch.device | None = None
               ) -> tuple[torch.Tensor, ...]:
    """(ids, lengths[, features]) for a network's forward."""
    ids, lengths = batch["ids"], batch["lengths"]
    if device is not None:
        ids = ids.to(device)
    if "features" in batch:
        features = batch["features"].float()
        return ids, lengths, features.to(device) if device is not None else features
    return ids, lengths


class BucketBatches(Sampler[list[int]]):
    """Seeded random batches of similar-length sentences: a batch is trimmed to its longest
    sentence, so grouping lengths cuts the padded steps the RNN walks through. With `weights`,
    each epoch draws len(lengths) rows with replacement in proportion to them (a balanced
    sampler) instead of a permutation."""

    def __init__(self, lengths: torch.Tensor, batch_size: int, seed: int, pool: int = 50,
                 weights: torch.Tensor | None = None) -> None:
        self.lengths, self.batch_size, self.seed, self.pool = lengths, batch_size, seed, pool
        self.weights = weights
        self.epoch = 0

    def __len__(self) -> int:
        chunk = self.batch_size * self.pool
        full, rest = divmod(len(self.lengths), chunk)
        return full * self.pool + -(-rest // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        batches: list[torch.Tensor] = []
        order = (torch.randperm(len(self.lengths), generator=gen) if self.weights is None else
                 torch.multinomial(self.weights, len(self.lengths), True, generator=gen))
        for chunk in order.split(
                self.batch_size * self.pool):
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=gen).tolist():
            yield batches[i].tolist()


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-row sampling weight 1/count(class): every class is drawn equally often."""
    if labels.dim() != 1:
        raise ValueError("a balanced sampler needs one label per sequence (many-to-one)")
    counts = torch.bincount(labels)
    return 1.0 / counts[labels].double()


def loader(encoded: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
           seed: int = 0, bucket: bool = False, balanced: bool = False) -> DataLoader:
    """Batches of an encoded split; `balanced` (training only) oversamples rare classes."""
    if shuffle and (bucket or balanced):
        weights = balanced_weights(encoded["labels"]) if balanced else None
        sampler = BucketBatches(encoded["lengths"], batch_size, seed,
                                pool=50 if bucket else 1, weights=weights)
        return DataLoader(Sequences(encoded), batch_sampler=sampler, collate_fn=collate)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(Sequences(encoded), batch_size=batch_size, shuffle=shuffle,
                      collate_fn=collate, generator=gen)


def summed_bce(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
               positive_weight: float = 1.0) -> torch.Tensor:
    """L = Σ_t L<t>(ŷ<t>, y<t>) over each sentence's real steps, averaged over sentences.
    `positive_weight` > 1 counts missed 1-labels more (entities are rare words)."""
    pos = None if positive_weight == 1.0 else logits.new_tensor(positive_weight)
    per_step = nn.functional.binary_cross_entropy_with_logits(
        logits, labels.float(), reduction="none", pos_weight=pos)
    return (per_step * mask).sum() / logits.shape[0]


def close_epoch(module: pl.LightningModule, metrics: dict[str, float]) -> None:
    """End of a validation epoch: log the dev metrics, keep one history row (the epoch's mean
    losses and the metrics) for the loss curves, reset the module's per-epoch buffers."""
    for name, value in metrics.items():
        module.log(name, value, prog_bar=name.endswith("f1"))
    row = {"epoch": module.current_epoch + 1}
    row.update({k: sum(v) / len(v) for k, v in module._losses.items() if v})
    row.update(metrics)
    if not module.trainer.sanity_checking:
        module.history.append(row)
    module._dev.clear()
    for losses in module._losses.values():
        losses.clear()


class TaggerModule(pl.LightningModule):
    """Many-to-many binary tagging: ŷ<t> = σ(logit<t>), loss summed over time."""

    def __init__(self, net: nn.Module, lr: float = 3e-3, weight_decay: float = 0.0,
                 word_dropout: float = 0.0, fallback: list[int] | None = None,
                 positive_weight: float = 1.0,
                 dev_metric: Callable[[list[list[int]], list[list[int]]], dict[str, float]]
                 | None = None) -> None:
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.word_dropout, self.positive_weight = word_dropout, positive_weight
        self.register_buffer("fallback", torch.tensor(fallback or [], dtype=torch.long),
                             persistent=False)
        self.dev_metric = dev_metric
        self._dev: list[tuple[list[int], list[int]]] = []
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []  # one row per epoch, for the loss curves

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                *features: torch.Tensor) -> torch.Tensor:
        return self.net(ids, lengths, *features).squeeze(-1)

    def _drop_words(self, ids: torch.Tensor) -> torch.Tensor:
        # replace random known words by their unknown-word class, so unseen names can be tagged
        if not self.training or self.word_dropout <= 0 or len(self.fallback) == 0:
            return ids
        drop = torch.rand(ids.shape, device=ids.device) < self.word_dropout
        return torch.where(drop, self.fallback[ids], ids)

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        ids, *rest = net_inputs(batch)
        logits = self(self._drop_words(ids), *rest)
        loss = summed_bce(logits, batch["labels"], batch["mask"], self.positive_weight)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(batch["lengths"]))
        self._losses["train/loss"].append(loss.item())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        logits = self(*net_inputs(batch))
        loss = summed_bce(logits, batch["labels"], batch["mask"])
        self.log("dev/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["lengths"]))
        self._losses["dev/loss"].append(loss.item())
        pred = (logits > 0).long()
        for p, g, n in zip(pred.tolist(), batch["labels"].tolist(), batch["lengths"].tolist(),
                           strict=True):
            self._dev.append((p[:n], g[:n]))

    def on_validation_epoch_end(self) -> None:
        metrics = {}
        if self.dev_metric and self._dev:
            preds, golds = zip(*self._dev, strict=True)
            metrics = {f"dev/{k}": v for k, v in self.dev_metric(list(preds), list(golds)).items()}
        close_epoch(self, metrics)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@torch.no_grad()
def predict_labels(net: nn.Module, encoded: dict[str, torch.Tensor], batch_size: int = 256,
                   device: str | torch.device = "cpu") -> list[list[int]]:
    """Binary label per real token for every sentence of an encoded split."""
    net.eval().to(device)
    out: list[list[int]] = []
    for batch in loader(encoded, batch_size):
        logits = net(*net_inputs(batch, device)).squeeze(-1)
        for row, n in zip((logits > 0).long().tolist(), batch["lengths"].tolist(), strict=True):
            out.append(row[:n])
    return out


def fit(module: pl.LightningModule, train: DataLoader, dev: DataLoader, *, max_epochs: int,
        patience: int, monitor: str, grad_clip: float = 0.0, accelerator: str = "auto",
        devices: str | int = "auto", strategy: str = "auto", precision: str = "32-true",
        log_every_n_steps: int = 10, ckpt_dir: str | None = None, logger: object = False,
        progress: bool = True, callbacks: list[pl.Callback] | None = None,
        mode: str = "max") -> str | None:
    """Train with early stopping on the dev metric (`mode` max: higher is better, min: lower);
    reload the best weights. Returns the best checkpoint's path (when `ckpt_dir` is given)."""
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    callbacks = [*(callbacks or []), EarlyStopping(monitor=monitor, mode=mode, patience=patience)]
    best = ModelCheckpoint(dirpath=ckpt_dir, monitor=monitor, mode=mode, filename="best",
                           save_top_k=1, enable_version_counter=False)
    callbacks.append(best)
    trainer = pl.Trainer(
        max_epochs=max_epochs, accelerator=accelerator, devices=devices, strategy=strategy,
        precision=precision, gradient_clip_val=grad_clip or None, deterministic=True,
        callbacks=callbacks, logger=logger, log_every_n_steps=log_every_n_steps,
        enable_progress_bar=progress, enable_model_summary=False,
        enable_checkpointing=True, default_root_dir=ckpt_dir,
    )
    trainer.fit(module, train, dev)
    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
    return best.best_model_path or None




# ---------------------------------------------------------------- many-to-one


def macro_f1(pred: torch.Tensor, gold: torch.Tensor, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all `n_classes` (a class never predicted nor seen
    counts 0), so rare classes weigh as much as frequent ones."""
    scores = []
    for c in range(n_classes):
        tp = int(((pred == c) & (gold == c)).sum())
        wrong = int(((pred == c) != (gold == c)).sum())  # false positives + false negatives
        scores.append(2 * tp / (2 * tp + wrong) if tp else 0.0)
    return sum(scores) / n_classes


class ClassifierModule(pl.LightningModule):
    """Many-to-one: ŷ = softmax(net(x<1..T>)) over c classes, cross-entropy loss.

    `class_weights`: None, "balanced" (n / (c * count) from the training labels, computed when
    training starts), or one weight per class. The dev loss is always unweighted. Logs
    train/loss, dev/loss, dev/macro_f1 and dev/accuracy, and keeps one row per epoch in
    `history` for the loss curves.
    """

    def __init__(self, net: nn.Module, n_classes: int, lr: float = 3e-3,
                 weight_decay: float = 0.0, word_dropout: float = 0.0,
                 fallback: list[int] | None = None,
                 class_weights: str | list[float] | None = None) -> None:
        super().__init__()
        self.net, self.n_classes, self.lr, self.weight_decay = net, n_classes, lr, weight_decay
        self.word_dropout, self.class_weights = word_dropout, class_weights
        self.register_buffer("fallback", torch.tensor(fallback or [], dtype=torch.long),
                             persistent=False)
        weight = (torch.tensor(class_weights, dtype=torch.float)
                  if isinstance(class_weights, list | tuple) else torch.ones(n_classes))
        self.register_buffer("weight", weight, persistent=False)
        self._dev: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(ids, lengths)  # [B, c] logits

    def on_train_start(self) -> None:
        if self.class_weights == "balanced":
            labels = self.trainer.train_dataloader.dataset.tensors["labels"]
            counts = torch.bincount(labels, minlength=self.n_classes).float().clamp(min=1)
            self.weight = (len(labels) / (self.n_classes * counts)).to(self.device)

    def _drop_words(self, ids: torch.Tensor) -> torch.Tensor:
        # as TaggerModule: random known words become their unknown-word class, so <unk> is learnt
        if not self.training or self.word_dropout <= 0 or len(self.fallback) == 0:
            return ids
        drop = torch.rand(ids.shape, device=ids.device) < self.word_dropout
        return torch.where(drop, self.fallback[ids], ids)

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        logits = self(self._drop_words(batch["ids"]), batch["lengths"])
        loss = nn.functional.cross_entropy(logits, batch["labels"], weight=self.weight)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(batch["lengths"]))
        self._losses["train/loss"].append(loss.item())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        logits = self(batch["ids"], batch["lengths"])
        loss = nn.functional.cross_entropy(logits, batch["labels"])
        self.log("dev/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["lengths"]))
        self._losses["dev/loss"].append(loss.item())
        self._dev.append((logits.argmax(-1).cpu(), batch["labels"].cpu()))

    def on_validation_epoch_end(self) -> None:
        metrics = {}
        if self._dev:
            pred, gold = (torch.cat(x) for x in zip(*self._dev, strict=True))
            metrics = {"dev/macro_f1": macro_f1(pred, gold, self.n_classes),
                       "dev/accuracy": float((pred == gold).float().mean())}
        close_epoch(self, metrics)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@torch.no_grad()
def predict_proba(net: nn.Module, encoded: dict[str, torch.Tensor], batch_size: int = 256,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """Class probabilities [N, c] for every sequence of an encoded split, in row order."""
    net.eval().to(device)
    out = [torch.softmax(net(b["ids"].to(device), b["lengths"]), -1).cpu()
           for b in loader(encoded, batch_size)]
    return torch.cat(out) if out else torch.empty(0, 0)


def set_threads(n: int) -> None:
    """Use `n` CPU threads for torch and for the BLAS / OpenMP pools that numpy, scipy and
    scikit-learn use (0 leaves the defaults). On a shared machine, idle pool threads spin and
    can slow small workloads down by an order of magnitude."""
    if n <= 0:
        return
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it only torch is limited
        return
    threadpool_limits(limits=n)


# ---------------------------------------------------------------- one-to-many


def token_nll(logits: torch.Tensor, targets: torch.Tensor,
              mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Σ_t -log ŷ<t>[y<t>] over the real steps (summed) and how many steps that is."""
    nll = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                      reduction="none").view_as(targets)
    return (nll * mask).sum(), int(mask.sum())


class SequenceModelModule(pl.LightningModule):
    """One-to-many sequence model (a melody from a genre id), trained with teacher forcing:
    the input at step t is the true y<t-1>, the loss is -log ŷ<t>[y<t>] at every real step.

    The training loss is the mean over tokens (the lecture's Σ_t L<t> divided by the number of
    steps in the batch: tunes differ ten-fold in length, and a per-token loss keeps gradient
    clipping and the learning rate independent of it). Logs train/loss, dev/loss and the dev
    per-token NLL and perplexity (dev/nll, dev/perplexity: what early stopping watches).
    """

    def __init__(self, net: nn.Module, lr: float = 3e-3, weight_decay: float = 0.0) -> None:
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self._dev: list[tuple[float, int]] = []
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []

    def forward(self, genres: torch.Tensor, ids: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        return self.net(genres, ids, lengths)

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        logits = self(batch["genres"], batch["ids"], batch["lengths"])
        total, n = token_nll(logits, batch["targets"], batch["mask"])
        loss = total / max(n, 1)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(batch["lengths"]))
        self._losses["train/loss"].append(loss.item())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        logits = self(batch["genres"], batch["ids"], batch["lengths"])
        total, n = token_nll(logits, batch["targets"], batch["mask"])
        self.log("dev/loss", total / max(n, 1), on_epoch=True, prog_bar=True,
                 batch_size=len(batch["lengths"]))
        self._losses["dev/loss"].append(total.item() / max(n, 1))
        self._dev.append((total.item(), n))

    def on_validation_epoch_end(self) -> None:
        metrics = {}
        if self._dev:
            total = sum(t for t, _ in self._dev)
            n = sum(k for _, k in self._dev)
            nll = total / max(n, 1)
            metrics = {"dev/nll": nll, "dev/perplexity": float(torch.tensor(nll).exp())}
        close_epoch(self, metrics)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@torch.no_grad()
def sequence_nll(net: nn.Module, encoded: dict[str, torch.Tensor], batch_size: int = 64,
                 device: str | torch.device = "cpu") -> torch.Tensor:
    """-log ŷ<t>[y<t>] at every step of every sequence, [N, T] (0 past each length), teacher
    forced, in row order."""
    net.eval().to(device)
    rows = []
    for batch in loader(encoded, batch_size):
        logits = net(batch["genres"].to(device), batch["ids"].to(device), batch["lengths"])
        nll = nn.functional.cross_entropy(logits.flatten(0, 1), batch["targets"].to(device)
                                          .flatten(), reduction="none").view(logits.shape[:2])
        rows.append(nn.functional.pad(nll * batch["mask"].to(device),
                                      (0, encoded["ids"].shape[1] - nll.shape[1])).cpu())
    return torch.cat(rows) if rows else torch.empty(0, 0)


# ---------------------------------------------------------------- encoder–decoder

PAIR_KEYS = ("ids", "lengths", "target_in", "target_out", "target_lengths")


def collate_pairs(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Two lengths per row: source tensors are trimmed to the batch's longest source, target
    tensors to its longest target (the default `collate` knows only one length)."""
    out = {k: torch.stack([row[k] for row in batch]) for k in batch[0]}
    Tx, Ty = int(out["lengths"].max()), int(out["target_lengths"].max())
    out["ids"] = out["ids"][:, :Tx]
    out["target_in"], out["target_out"] = out["target_in"][:, :Ty], out["target_out"][:, :Ty]
    out["mask"] = torch.arange(Tx)[None, :] < out["lengths"][:, None]
    out["target_mask"] = torch.arange(Ty)[None, :] < out["target_lengths"][:, None]
    return out


def pair_loader(encoded: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
                seed: int = 0, bucket: bool = False) -> DataLoader:
    """Batches of sentence pairs; `bucket` groups similar source lengths (seeded)."""
    data = Sequences({k: encoded[k] for k in PAIR_KEYS})
    if shuffle and bucket:
        sampler = BucketBatches(encoded["lengths"], batch_size, seed)
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate_pairs)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_pairs,
                      generator=gen)


def summed_ce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L = Σ_t -log ŷ<t>[y<t>] over each target's real steps (its <eos> included), averaged
    over sentences."""
    per_step = nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return (per_step * mask).sum() / logits.shape[0]


class Seq2SeqModule(pl.LightningModule):
    """Encoder–decoder training: loss summed over the target's steps, teacher forcing with
    probability `teacher_forcing` per step (1.0: always the gold previous word). Each dev epoch
    also decodes the dev split greedily (at most `max_len` words) and logs
    `dev_metric(hypotheses, references)` (token ids, without <bos>/<eos>), e.g. BLEU."""

    def __init__(self, net: nn.Module, lr: float = 3e-3, weight_decay: float = 0.0,
                 teacher_forcing: float = 1.0, max_len: int = 50,
                 dev_metric: Callable[[list[list[int]], list[list[int]]], dict[str, float]]
                 | None = None) -> None:
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.teacher_forcing, self.max_len, self.dev_metric = teacher_forcing, max_len, dev_metric
        self._dev: list[tuple[list[int], list[int]]] = []
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []

    def forward(self, batch: dict[str, torch.Tensor], teacher_forcing: float = 1.0
                ) -> torch.Tensor:
        return self.net(batch["ids"], batch["lengths"], batch["target_in"],
                        batch["target_lengths"], teacher_forcing)

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        logits = self(batch, self.teacher_forcing)
        loss = summed_ce(logits, batch["target_out"], batch["target_mask"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(batch["lengths"]))
        self._losses["train/loss"].append(loss.item())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        loss = summed_ce(self(batch), batch["target_out"], batch["target_mask"])
        self.log("dev/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch["lengths"]))
        self._losses["dev/loss"].append(loss.item())
        if self.dev_metric is not None:
            hyps = self.net.greedy(batch["ids"], batch["lengths"], self.max_len)
            refs = [row[:n - 1] for row, n in zip(batch["target_out"].tolist(),
                                                  batch["target_lengths"].tolist(), strict=True)]
            self._dev.extend(zip(hyps, refs, strict=True))

    def on_validation_epoch_end(self) -> None:
        metrics = {}
        if self.dev_metric is not None and self._dev:
            hyps, refs = zip(*self._dev, strict=True)
            metrics = {f"dev/{k}": v for k, v in self.dev_metric(list(hyps), list(refs)).items()}
        close_epoch(self, metrics)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@torch.no_grad()
def translate_ids(net: nn.Module, encoded: dict[str, torch.Tensor], beam_size: int = 1,
                  max_len: int = 50, length_penalty: float = 1.0, batch_size: int = 128,
                  device: str | torch.device = "cpu") -> list[list[int]]:
    """Target token ids (no <bos>/<eos>) for every source sentence of an encoded split, in
    row order: greedy for beam_size 1, else beam search."""
    net.eval().to(device)
    out: list[list[int]] = []
    n = len(encoded["lengths"])
    for start in range(0, n, batch_size):
        lengths = encoded["lengths"][start:start + batch_size]
        ids = encoded["ids"][start:start + batch_size, :max(1, int(lengths.max()))]
        out.extend(net.translate(ids.to(device), lengths, beam_size, max_len, length_penalty))
    return out


# ---------------------------------------------------------------- forecasting


class Windows(Dataset):
    """Rows of an encoded forecasting split: every tensor indexed by window."""

    def __init__(self, encoded: dict[str, torch.Tensor]) -> None:
        self.tensors = encoded

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}


def window_loader(encoded: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
                  seed: int = 0) -> DataLoader:
    """Seeded batches of fixed-length windows (no padding, so no length bucketing)."""
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(Windows(encoded), batch_size=batch_size, shuffle=shuffle, generator=gen)


def mase(forecast: torch.Tensor, actual: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean absolute scaled error per series: MAE / the in-sample seasonal-naive MAE."""
    return (forecast - actual).abs().mean(-1) / scale


def smape(forecast: torch.Tensor, actual: torch.Tensor) -> torch.Tensor:
    """Symmetric MAPE in percent per series: mean 200 |f - y| / (|f| + |y|)."""
    denom = (forecast.abs() + actual.abs()).clamp(min=1e-12)
    return (200 * (forecast - actual).abs() / denom).mean(-1)


class ForecastModule(pl.LightningModule):
    """Direct multi-output forecasting: every member of the net's ensemble predicts H scaled
    (differenced) values per window, with its own loss (the members train independently).

    loss `level`: the MSE of the level errors those values imply (errors of a differenced
    forecast add up over the horizon, so the loss sees what the metric sees); `step`: the plain
    MSE of the H predicted values. The dev metric is the MASE (and sMAPE) of the forecast of the
    dev block from the history before it, in levels, exactly as the test block is forecast.
    """

    def __init__(self, net: nn.Module, lr: float = 3e-3, weight_decay: float = 0.0,
                 loss: str = "level") -> None:
        super().__init__()
        if loss not in ("level", "step"):
            raise ValueError(f"loss must be 'level' or 'step', got {loss!r}")
        self.net, self.lr, self.weight_decay, self.loss_kind = net, lr, weight_decay, loss
        A = level_matrix(net.horizon, net.difference if loss == "level" else 0)
        self.register_buffer("A", A, persistent=False)
        self._dev: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._losses: dict[str, list[float]] = {"train/loss": [], "dev/loss": []}
        self.history: list[dict[str, float]] = []

    def _loss(self, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # z [B, members, H], target [B, H]: each member's MSE, summed over members
        err = (z - target[:, None, :]) @ self.A.T
        return (err ** 2).mean(dim=(0, 2)).sum()

    def training_step(self, batch: dict[str, torch.Tensor], _: int) -> torch.Tensor:
        loss = self._loss(self.net(batch["x"], batch["cal"]), batch["target"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=len(batch["x"]))
        self._losses["train/loss"].append(loss.item())
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], _: int) -> None:
        steps = batch["actual"].shape[1]
        levels = self.net.forecast(batch["x"], batch["cal"], batch["last"], steps)
        # dev/loss: MSE of the levels in units of the training std (comparable across epochs)
        loss = (((levels - batch["actual"]) / self.net.std) ** 2).mean()
        self.log("dev/loss", loss, on_epoch=True, batch_size=len(batch["x"]))
        self._losses["dev/loss"].append(loss.item())
        self._dev.append((mase(levels, batch["actual"], batch["scale"]).cpu(),
                          smape(levels, batch["actual"]).cpu()))

    def on_validation_epoch_end(self) -> None:
        metrics = {}
        if self._dev:
            m, s = (torch.cat(x) for x in zip(*self._dev, strict=True))
            metrics = {"dev/mase": float(m.mean()), "dev/smape": float(s.mean())}
        close_epoch(self, metrics)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
