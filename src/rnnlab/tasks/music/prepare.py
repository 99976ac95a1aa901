"""prepare: the selected genres' files (or, with `genre_from: rhythm`, tunes) parsed once,
split by tune group (a tune and its versions never straddle two splits), stratified by genre.
Too few genres is not an error here: validate judges it and names the settings to change."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnlab.readers import TextFile, sources_frame
from rnnlab.tasks import SPLITS
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicConfig

# the prepared frames besides the splits: files music21 could not read, every file (or tune)
# chosen, the genres found before selection, and the ABC files decoded
SIDE_FRAMES = ("failures", "files", "genres", "sources")
NO_GENRE = "(none)"  # the `genres` frame's name for files / tunes without a genre
COLUMNS = ["tune_id", "file", "title", "group", "genre", "genre_id", "metre", "metres", "key",
           "transposed_by", "tokens", "n_notes", "n_bars", "grace_notes"]


def _normal_title(title: str) -> str:
    """Group key of a title: versions of one tune ('Old Zip Coon -- Reel' in G and in A) share
    it, so they land in the same split."""
    title = re.split(r"\s+--\s+", str(title))[0]
    return re.sub(r"[^a-z0-9]", "", title.lower())


def list_files(cfg: MusicConfig,
               sources: list[TextFile] | None = None) -> list[music.Piece]:
    """What prepare may parse: files with their genre from the file / folder name, or (genre_from
    rhythm, either source) each ABC tune with its genre from its R: field."""
    data = cfg.data
    if data.source == "corpus":
        files = music.corpus_files(data.collection, data.genre_from)
    else:
        files = music.folder_files(data.path)
    out = music.pieces(files, data.genre_from, data.encoding, sources)
    if data.genre_map:
        rename = {str(k): str(v) for k, v in data.genre_map.items()}
        out = [f._replace(genre=rename.get(f.genre, f.genre)) if f.genre else f for f in out]
    return out


def select_genres(files: list[Any], cfg: MusicConfig) -> list[str]:
    """`data.genres` as given, or the `data.max_genres` largest (by file, or with
    genre_from rhythm tune, count) with at least `data.min_files` of them, largest first
    (ties by name). `files`: (path, genre, ...) tuples."""
    given = cfg.data.genres
    if given:
        return [str(g) for g in given]
    counts = Counter(f[1] for f in files if f[1])
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
    sources: list[TextFile] = []
    files = list_files(cfg, sources)
    genres = select_genres(files, cfg)
    found = Counter(f.genre for f in files)
    # unknown genres stay in (validate names them) when reading a user's folder by sub-folder;
    # with genre_from rhythm a tune without an R: field is left out (counted in `genres`)
    keep_unknown = data.source == "folder" and data.genre_from != "rhythm"
    chosen = [f for f in files if f.genre in genres or (f.genre is None and keep_unknown)]
    if data.limit:  # at most `limit` files (tunes) per genre (quick runs, tests)
        seen: Counter[str | None] = Counter()
        kept = []
        for f in chosen:
            seen[f.genre] += 1
            if seen[f.genre] <= data.limit:
                kept.append(f)
        chosen = kept
    tunes, failures = music.parse_files(chosen, transpose=data.transpose,
                                        bar_tokens=data.bar_tokens, workers=data.workers)
    for f in failures:
        print(f"prepare[music]: skipped {f['file']} ({f['genre']}): {f['error']}")
    side = {"failures": pd.DataFrame(failures, columns=["file", "genre", "error"]),
            "files": pd.DataFrame({"file": [f.label or Path(f.path).name for f in chosen],
                                   "genre": [f.genre for f in chosen]}),
            "genres": pd.DataFrame({"genre": [g or NO_GENRE for g in found],
                                    "found": [int(n) for n in found.values()],
                                    "selected": [g in genres for g in found]}),
            "sources": sources_frame(sources)}
    frame = pd.DataFrame(tunes)
    if frame.empty:  # nothing to split: validate names the settings (genres, parsing)
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
        return {**{s: empty.copy() for s in SPLITS}, **side}
    frame["genre_id"] = [genres.index(g) if g in genres else -1 for g in frame["genre"]]
    frame["group"] = tune_groups(list(frame["title"]), [list(t) for t in frame["tokens"]])
    split_seed = data.split_seed if data.split_seed is not None else seed
    frame["split"] = split_tunes(frame, split_seed, data.split.dev, data.split.test)
    out = {}
    for s in SPLITS:
        part = frame[frame["split"] == s].reset_index(drop=True)
        part.insert(0, "tune_id", range(len(part)))
        out[s] = part[COLUMNS]
    return {**out, **side}
