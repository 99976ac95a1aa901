"""PNG figures for people (MLflow artifacts); DVC renders the CSVs itself."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from rnnlab.io import atomic_path


def save(fig: plt.Figure, path: Path) -> None:
    """Write a figure as PNG (atomically) and free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def confusion(frame: pd.DataFrame, path: Path, title: str) -> None:
    table = pd.crosstab(frame["actual"], frame["predicted"])
    labels = sorted(set(table.index) | set(table.columns))
    table = table.reindex(index=labels, columns=labels, fill_value=0)
    fig, ax = plt.subplots(figsize=(3.6 + 0.4 * len(labels), 3.2 + 0.4 * len(labels)))
    ax.imshow(table.values, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    top = table.values.max()
    for i in range(len(labels)):
        for j in range(len(labels)):
            v = table.values[i, j]
            ax.text(j, i, f"{v:,}", ha="center", va="center",
                    color="white" if v > top / 2 else "black")
    ax.set_title(title)
    save(fig, path)


def curves(history: pd.DataFrame, path: Path, title: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for col in ("train/loss", "dev/loss"):
        if col in history:
            left.plot(history["epoch"], history[col], marker="o", label=col)
    left.set_xlabel("epoch")
    left.set_ylabel("loss (summed over time)")
    left.legend()
    for col in [c for c in history.columns if c.startswith("dev/") and c != "dev/loss"]:
        right.plot(history["epoch"], history[col], marker="o", label=col)
    right.set_xlabel("epoch")
    right.legend()
    fig.suptitle(title)
    save(fig, path)
