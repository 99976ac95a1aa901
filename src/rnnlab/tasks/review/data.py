"""Reports -> prepared frames (tokenised, truncated, numbered), the vocabulary, the tensors.

prepare generates the built-in reports (generator.py) or reads a real corpus (readers.py) and
re-splits it by paper or keeps its own split; every split is then tokenised and cut to
`data.max_len` tokens (`data.truncation`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnnlab.readers import TextFile, sources_frame
from rnnlab.tasks import SPLITS
from rnnlab.tasks.review import readers
from rnnlab.tasks.review.params import TRUNCATIONS, ReviewConfig, ReviewVocabConfig
from rnnlab.vocab import Vocabulary, oov_rates, tokenize

if TYPE_CHECKING:  # torch only where encode runs: prepare, validate and vocab never load it
    import torch


def classes(cfg: ReviewConfig) -> list[str]:
    """The declared label set (softmax order). It lives in `data.tags`, the key the validate
    stage tracks for every task."""
    return list(cfg.data.tags)


def truncate(tokens: list[str], max_len: int, strategy: str = "head+tail") -> list[str]:
    """At most `max_len` tokens (0 = no limit). head keeps the opening (the summary), tail the
    end (the verdict), head+tail the first ceil(max_len/2) and the last floor(max_len/2)."""
    if strategy not in TRUNCATIONS:
        raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {strategy!r}")
    if max_len <= 0 or len(tokens) <= max_len:
        return list(tokens)
    if strategy == "head":
        return list(tokens[:max_len])
    if strategy == "tail":
        return list(tokens[len(tokens) - max_len:])
    head = (max_len + 1) // 2
    return list(tokens[:head]) + list(tokens[len(tokens) - (max_len - head):])


def raw_inputs(cfg: ReviewConfig) -> list[str]:
    """The file prepare reads: none for the generator (its code is a code dependency)."""
    return [] if cfg.data.source == "builtin" else [cfg.data.path]


def read_reports(cfg: ReviewConfig,
                 sources: list[TextFile] | None = None) -> pd.DataFrame:
    """Every report of a real corpus: text, raw_label, label (mapped), group, split; the
    file read goes to `sources`."""
    data = cfg.data
    if data.source == "peerread":
        frame = readers.read_peerread(data.path, data.control_characters, sources)
        label_map = data.label_map or readers.PEERREAD_LABELS
    elif data.source in ("csv", "jsonl"):
        frame = readers.read_table(data.path, data.text_column, data.label_column,
                                   data.group_column, data.split_column, fmt=data.source,
                                   encoding=data.encoding, sources=sources,
                                   control_characters=data.control_characters)
        label_map = data.label_map
    else:
        raise ValueError(f"review.data.source {data.source!r} is not a corpus file")
    frame["label"] = readers.map_labels(frame["raw_label"], label_map)
    return frame


def finish(frame: pd.DataFrame, cfg: ReviewConfig) -> pd.DataFrame:
    """Tokenise, truncate and number the reports of one split (the prepared frame's columns:
    report_id, text, label, label_id, group, tokens (what the RNN reads), n_tokens (before
    truncation), truncated)."""
    names = classes(cfg)
    max_len, strategy = cfg.data.max_len, cfg.data.truncation
    full = [tokenize(t) for t in frame["text"]]
    return pd.DataFrame({
        "report_id": range(len(frame)),
        "text": frame["text"].tolist(),
        "label": frame["label"].tolist(),
        "label_id": [names.index(y) if y in names else -1 for y in frame["label"]],
        "group": frame["group"].astype(str).tolist(),
        "tokens": [truncate(t, max_len, strategy) for t in full],
        "n_tokens": [len(t) for t in full],
        "truncated": [0 < max_len < len(t) for t in full],
    })


def prepare(cfg: ReviewConfig, seed: int) -> dict[str, pd.DataFrame]:
    data = cfg.data
    if data.source == "builtin":
        from rnnlab.tasks.review.generator import generate

        b = data.builtin
        rows = generate(b.n_train, b.n_dev, b.n_test,
                        seed=b.seed if b.seed is not None else seed, priors=b.priors)
        splits = {s: pd.DataFrame({"text": [t for t, _ in r], "label": [y for _, y in r],
                                   "group": [f"{s}-{i}" for i in range(len(r))]})
                  for s, r in rows.items()}
    else:
        sources: list[TextFile] = []
        frame = read_reports(cfg, sources)
        if data.split == "grouped":
            splits = readers.grouped_split(
                frame, data.split_seed if data.split_seed is not None else seed,
                data.resplit.dev, data.resplit.test)
        else:
            splits = readers.original_split(
                frame, data.split_map, data.resplit.dev,
                data.split_seed if data.split_seed is not None else seed)
        if data.drop_cross_split_duplicates:
            splits, dropped = readers.drop_cross_split_duplicates(splits)
            if any(dropped.values()):
                print(f"prepare[review] dropped texts also in a later split: {dropped}")
        return {**{s: finish(splits[s], cfg) for s in SPLITS},
                "sources": sources_frame(sources)}
    return {s: finish(splits[s], cfg) for s in SPLITS}


def all_reports(cfg: ReviewConfig, seed: int) -> pd.DataFrame:
    """Every report of the configured source in one frame, prepared as for the pipeline (the
    cross-validation's input); labels outside `data.tags` fail."""
    if cfg.data.source == "builtin":
        return pd.concat(prepare(cfg, seed).values(), ignore_index=True)
    frame = finish(read_reports(cfg), cfg)
    bad = sorted(set(frame.loc[frame["label_id"] < 0, "label"].astype(str)))
    if bad:
        raise ValueError(f"labels outside {classes(cfg)}: {bad} (see review.data.label_map)")
    return frame


# ---------------------------------------------------------------- representation


def build_vocabs(train: pd.DataFrame, vocab_cfg: ReviewVocabConfig) -> dict[str, Vocabulary]:
    return {"tokens": Vocabulary.build(
        (list(t) for t in train["tokens"]), vocab_cfg.max_size, vocab_cfg.min_freq,
        vocab_cfg.lowercase, vocab_cfg.unk_signatures)}


def load_vocab(path: Path) -> Vocabulary:
    return Vocabulary.load(path)


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def encode_split(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """Padded ids [N, T], lengths, mask, and one class index per report: labels [N]."""
    import torch

    from rnnlab.nn.encoding import pad

    out = pad([vocabs["tokens"].encode(list(t)) for t in frame["tokens"]])
    out["labels"] = torch.tensor(frame["label_id"].to_numpy(dtype=np.int64))
    return out


def encode(frames: dict[str, pd.DataFrame],
           vocabs: dict[str, Vocabulary]) -> dict[str, dict[str, torch.Tensor]]:
    return {s: encode_split(f, vocabs) for s, f in frames.items()
            if s != "sources"}  # prepare's side frame: the files read
