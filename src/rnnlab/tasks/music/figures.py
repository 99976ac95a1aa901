"""Figures of the evaluation: metre and conditioning next to the baselines, piano rolls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.tasks.music import data as music


def metre(metre: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    x = np.arange(len(metre))
    for i, (name, label) in enumerate((("real", "real test tunes"), ("rnn", "RNN, generated"),
                                       ("bigram", "bigram, generated"))):
        ax.bar(x + (i - 1) * 0.27, metre[name], 0.27, label=label)
    ax.set_xticks(x, [f"{g}\n({m})" for g, m in zip(metre["genre"], metre["metres"],
                                                     strict=True)])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of whole bars in the genre's metre")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("music: do generated bars keep the genre's metre?")
    save(fig, path)


def conditioning(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(table))
    for i, (name, label) in enumerate((("real", "real test tunes"), ("rnn", "RNN, generated"),
                                       ("bigram", "bigram, generated"))):
        ax.bar(x + (i - 1) * 0.27, table[name], 0.27, label=label)
    ax.set_xticks(x, list(table["genre"]))
    ax.set_ylim(0, 1)
    ax.set_ylabel("classified as the genre")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("music: genre classifier on real and generated tunes")
    save(fig, path)


def pianoroll(generated: list[list[str]], real: list[list[str]], genre: str,
               path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    rows = [(f"generated {i + 1}", t) for i, t in enumerate(generated)] + \
        [(f"real (test): {i + 1}", t) for i, t in enumerate(real)]
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.9 * len(rows)), squeeze=False)
    for ax, (label, tokens) in zip(axes[:, 0], rows, strict=True):
        t = 0.0
        for tok in tokens:
            if tok == music.BAR:
                ax.axvline(t, color="0.85", lw=0.6, zorder=0)
                continue
            parsed = music.parse_token(tok)
            if not parsed:
                continue
            midi, ql = parsed
            if midi is not None:
                ax.broken_barh([(t, ql)], (midi - 0.4, 0.8), color="tab:blue")
            t += ql
        ax.set_xlim(0, max(t, 1))
        ax.set_ylabel("MIDI pitch")
        ax.set_title(f"{genre}: {label}", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (quarter notes)")
    fig.tight_layout()
    save(fig, path)
