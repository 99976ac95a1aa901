"""prepare: the selected genres' files parsed once, split by tune group (a tune and its
versions never straddle two splits), stratified by genre."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.tasks import SPLITS
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicConfig

# the prepared frames besides the splits: files music21 could not read, and every file chosen
SIDE_FRAMES = ("failures", "files")


def _normal_title(title: str) -> str:
    """Group key of a title: versions of one tune ('Old Zip Coon -- Reel' in G and in A) share
    it, so they land in the same split."""
    title = re.split(r"\s+--\s+", str(title))[0]
    return re.sub(r"[^a-z0-9]", "", title.lower())


def list_files(cfg: MusicConfig) -> list[tuple[Path, str | None]]:
    data = cfg.data
    if data.source == "corpus":
        return music.corpus_files(data.collection, data.genre_from)
    return music.folder_files(data.path)


def select_genres(files: list[tuple[Path, str | None]], cfg: MusicConfig) -> list[str]:
    """`data.genres` as given, or the `data.max_genres` largest (by file count) with at least
    `data.min_files` files, largest first (ties by name)."""
    given = cfg.data.genres
    if given:
        return [str(g) for g in given]
    counts = Counter(g for _, g in files if g)
    ranked = sorted(counts, key=lambda g: (-counts[g], g))
    keep = [g for g in ranked if counts[g] >= cfg.data.min_files]
    return keep[: cfg.data.max_genres]


def tune_groups(titles: list[str], tokens: list[list[str]]) -> list[str]:
    """One group per tune and its versions: tunes that share a normalised title or have
    identical tokens (the collection repeats a few tunes under two names) are one group,
    named after its first title."""
    parent = list(range(len(titles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, key in enumerate(f"t:{_normal_title(t)}" for t in titles):
        parent[root(i)] = root(first.setdefault(key, i))
    for i, key in enumerate("c:" + " ".join(t) for t in tokens):
        parent[root(i)] = root(first.setdefault(key, i))
    return [_normal_title(titles[root(i)]) or f"tune{root(i)}" for i in range(len(titles))]


def split_tunes(frame: pd.DataFrame, seed: int, dev: float, test: float) -> pd.Series:
    """Seeded split of whole groups (a tune and its versions never straddle two splits),
    stratified by genre: a share `dev` / `test` of each genre's groups (by the group's most
    common genre) go to dev / test."""
    rng = np.random.default_rng(seed)
    genre_of = (frame.assign(genre=frame["genre"].fillna("")).groupby("group")["genre"]
                .agg(lambda g: sorted(g.value_counts().index, key=lambda x: (-(g == x).sum(),
                                                                               x))[0]))
    split = pd.Series("train", index=frame.index, dtype=object)
    for genre in sorted(genre_of.unique()):
        order = sorted(genre_of.index[genre_of == genre])
        order = [order[i] for i in rng.permutation(len(order))]
        n_dev, n_test = round(dev * len(order)), round(test * len(order))
        for name, part in (("dev", order[:n_dev]), ("test", order[n_dev:n_dev + n_test])):
            split[frame["group"].isin(part)] = name
    return split


def prepare(cfg: MusicConfig, seed: int) -> dict[str, pd.DataFrame]:
    """Parse the selected genres' files once; splits plus a `failures` frame (files music21
    could not read: reported by name, skipped, and counted by validate) and a `files` frame
    (every file chosen)."""
    data = cfg.data
    files = list_files(cfg)
    genres = select_genres(files, cfg)
    if not genres:
        raise ValueError("music: no genre found (data.genres, data.min_files)")
    # unknown genres stay in (validate names them) when reading a user's folder
    chosen = [(p, g) for p, g in files if g in genres or (g is None and
                                                          data.source == "folder")]
    if data.limit:  # at most `limit` files per genre (quick runs, tests)
        seen: Counter[str | None] = Counter()
        kept = []
        for p, g in chosen:
            seen[g] += 1
            if seen[g] <= data.limit:
                kept.append((p, g))
        chosen = kept
    tunes, failures = music.parse_files(chosen, transpose=data.transpose,
                                        bar_tokens=data.bar_tokens, workers=data.workers)
    for f in failures:
        print(f"prepare[music]: skipped {f['file']} ({f['genre']}): {f['error']}")
    frame = pd.DataFrame(tunes)
    if frame.empty:
        raise ValueError(f"music: none of {len(chosen)} files could be parsed")
    frame["genre_id"] = [genres.index(g) if g in genres else -1 for g in frame["genre"]]
    frame["group"] = tune_groups(list(frame["title"]), [list(t) for t in frame["tokens"]])
    split_seed = data.split_seed if data.split_seed is not None else seed
    frame["split"] = split_tunes(frame, split_seed, data.split.dev, data.split.test)
    cols = ["tune_id", "file", "title", "group", "genre", "genre_id", "metre", "metres", "key",
            "transposed_by", "tokens", "n_notes", "n_bars", "grace_notes"]
    out = {}
    for s in SPLITS:
        part = frame[frame["split"] == s].reset_index(drop=True)
        part.insert(0, "tune_id", range(len(part)))
        out[s] = part[cols]
    out["failures"] = pd.DataFrame(failures, columns=["file", "genre", "error"])
    out["files"] = pd.DataFrame({"file": [Path(p).name for p, _ in chosen],
                                 "genre": [g for _, g in chosen]})
    return out
