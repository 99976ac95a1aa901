"""vocab and encode: the scaling and differencing fitted on the training part only (a
`Scaler`, the task's "vocabulary", saved as JSON), the windows cut from the series, and their
batches."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, default_collate

from rnnlab.nn.loop import loader
from rnnlab.tasks import SPLITS
from rnnlab.tasks.forecast import series as ts
from rnnlab.tasks.forecast.data import calendar_ids, calendar_period, meta, series, train_windows
from rnnlab.tasks.forecast.metrics import mase_scale
from rnnlab.tasks.forecast.params import ForecastConfig, WindowConfig

SCALINGS = ("standard", "none")


@dataclass
class Scaler:
    """The fitted transformation: z<t> = (y<t> - y<t-k> - mean) / std, with mean and std of the
    training part only, plus the window settings and the grid it was fitted on."""

    input_len: int
    horizon: int
    difference: int
    scale: str
    mean: float
    std: float
    n_fit: int
    freq: str
    aggregate: str
    season_length: int
    period: int
    stride: int = 1

    @classmethod
    def fit(cls, values: np.ndarray, window: WindowConfig, freq: str, aggregate: str,
            season_length: int) -> Scaler:
        if window.scale not in SCALINGS:
            raise ValueError(f"forecast.vocab.scale must be one of {SCALINGS}")
        if window.input_len is None or window.horizon is None:
            raise ValueError("forecast.vocab: input_len / horizon are auto (null), but the "
                             "prepared data carries no derived values: rerun prepare")
        if window.input_len < 1 or window.horizon < 1 or window.difference < 0:
            raise ValueError("forecast.vocab: input_len and horizon >= 1, difference >= 0")
        z = cls._diff(np.asarray(values, dtype=np.float64), window.difference)
        z = z[np.isfinite(z)]
        mean, std = (float(z.mean()), float(z.std())) if window.scale == "standard" and len(z) \
            else (0.0, 1.0)
        return cls(window.input_len, window.horizon, window.difference, window.scale, mean,
                   std if std > 0 else 1.0, len(values), freq, aggregate, season_length,
                   calendar_period(freq), window.stride)

    @staticmethod
    def _diff(y: np.ndarray, k: int) -> np.ndarray:
        if k <= 0:
            return y.copy()
        out = np.full_like(y, np.nan)
        out[k:] = y[k:] - y[:-k]
        return out

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (self._diff(np.asarray(values, dtype=np.float64), self.difference)
                - self.mean) / self.std

    @property
    def keep(self) -> int:
        """History levels the inversion needs (the last k, at least 1)."""
        return max(self.difference, 1)

    def __len__(self) -> int:
        return self.n_fit

    def save(self, path: str | Path) -> None:
        from rnnlab.io import write_json

        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> Scaler:
        return cls(**json.loads(Path(path).read_text()))


def load_vocab(path: str | Path) -> Scaler:
    return Scaler.load(path)


def build_vocabs(train: pd.DataFrame, vocab_cfg: WindowConfig) -> dict[str, Scaler]:
    """The Scaler fitted on the training part, with the window settings (auto ones as
    prepare derived them)."""
    from dataclasses import replace

    freq, aggregate, m = meta(train)
    if "input_len" in train and len(train):
        first = train.iloc[0]
        vocab_cfg = replace(vocab_cfg, input_len=vocab_cfg.input_len or int(first["input_len"]),
                            horizon=vocab_cfg.horizon or int(first["horizon"]))
    y = ts.regular(train, freq, aggregate)["value"].to_numpy()
    return {"scaler": Scaler.fit(y, vocab_cfg, freq, aggregate, m)}


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Scaler]) -> dict[str, float]:
    s = vocabs["scaler"]
    full = series(frames)
    out = {f"{split}/periods": int((full["split"] == split).sum()) for split in SPLITS}
    out.update({f"{split}/missing_periods": int(full.loc[full["split"] == split,
                                                         "observed"].isna().sum())
                for split in SPLITS})
    out.update({"scaler/mean": s.mean, "scaler/std": s.std,
                "train/windows": train_windows(s.n_fit, s.input_len, s.horizon, s.difference,
                                               s.stride)})
    return out


def origin(history: pd.DataFrame, scaler: Scaler, actual: np.ndarray | None = None,
           m: int | None = None) -> dict[str, torch.Tensor]:
    """One forecast origin: the last window of `history` (date, value), the levels the
    inversion needs, and (when given) the actual block and the MASE scale."""
    y = history["value"].to_numpy(dtype=np.float64)
    L = scaler.input_len
    if len(y) < L + scaler.difference:
        raise ValueError(f"a history of {len(y)} periods is shorter than one window "
                         f"({scaler.difference} + {L})")
    z = scaler.transform(y)
    cal = calendar_ids(history["date"], scaler.period)
    out = {"x": torch.tensor(z[-L:], dtype=torch.float32)[None],
           "cal": torch.tensor(cal[-L:], dtype=torch.long)[None],
           "last": torch.tensor(y[-scaler.keep:], dtype=torch.float32)[None]}
    if actual is not None:
        out["actual"] = torch.tensor(np.asarray(actual), dtype=torch.float32)[None]
        out["scale"] = torch.tensor([mase_scale(y, m or scaler.season_length)],
                                    dtype=torch.float32)
    return out


def windows(history: pd.DataFrame, s: Scaler) -> dict[str, torch.Tensor]:
    """Every window inside `history` (date, value): x [N, L], cal [N, L], target [N, H]
    (scaled, differenced)."""
    y, cal = history["value"].to_numpy(), calendar_ids(history["date"], s.period)
    z = s.transform(y)
    L, H, k = s.input_len, s.horizon, s.difference
    starts = range(k + L, len(z) - H + 1, max(s.stride, 1))
    return {
        "x": torch.tensor(np.stack([z[o - L:o] for o in starts]) if len(starts) else
                          np.zeros((0, L)), dtype=torch.float32),
        "cal": torch.tensor(np.stack([cal[o - L:o] for o in starts]) if len(starts) else
                            np.zeros((0, L)), dtype=torch.long),
        "target": torch.tensor(np.stack([z[o:o + H] for o in starts]) if len(starts) else
                               np.zeros((0, H)), dtype=torch.float32)}


def encode(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Scaler]) -> dict[str, dict[str, torch.Tensor]]:
    """train: every window inside the training part, x [N, L], cal [N, L], target [N, H]
    (scaled, differenced); dev / test: one origin each (the history before the block), with
    the block's actual levels [1, H_block] and the MASE scale of that history."""
    s = vocabs["scaler"]
    out = {"train": windows(series(frames, "train"), s)}
    for split, before in (("dev", "train"), ("test", "dev")):
        history = series(frames, before)
        block = series(frames, split)
        actual = block.loc[block["split"] == split, "value"].to_numpy()
        out[split] = origin(history, s, actual)
    return out


def loaders(cfg: ForecastConfig, encoded: dict[str, dict[str, torch.Tensor]],
            seed: int) -> tuple[DataLoader, DataLoader]:
    """Seeded batches of fixed-length windows (no padding, so no length bucketing); dev is
    one batch of its one origin."""
    return train_loader(cfg, encoded["train"], seed), block_loader(encoded["dev"])


def train_loader(cfg: ForecastConfig, windows: dict[str, torch.Tensor], seed: int) -> DataLoader:
    return loader(windows, cfg.train.batch_size, shuffle=True, seed=seed,
                  collate_fn=default_collate)


def block_loader(origin: dict[str, torch.Tensor]) -> DataLoader:
    """One batch: a block's one origin (scored every epoch)."""
    return loader(origin, 256, collate_fn=default_collate)
