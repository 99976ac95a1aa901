"""validate: tune-level, genre-level and file-level Great Expectations suites."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rnnlab.readers import source_stats
from rnnlab.tasks import SPLITS
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music.params import MusicConfig
from rnnlab.validation import Check


def _side_frame(cfg: MusicConfig, frames: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """failures / files (prepare.SIDE_FRAMES): validate hands over every prepared frame."""
    return frames.get(name, pd.DataFrame(columns=["file", "genre"]))


def token_stats(tokens: list[str]) -> dict[str, Any]:
    """What validate checks on one tune's token list: pitch range, durations, malformed
    tokens."""
    pitches, durations, bad = [], [], []
    for tok in tokens:
        if tok == music.BAR:
            continue
        try:
            parsed = music.parse_token(tok)
        except (ValueError, ZeroDivisionError):
            parsed = None
        if parsed is None:
            bad.append(tok)
            continue
        midi, ql = parsed
        durations.append(ql)
        if midi is not None:
            pitches.append(midi)
    return {"min_pitch": min(pitches) if pitches else 0,
            "max_pitch": max(pitches) if pitches else 0,
            "min_duration": min(durations) if durations else 0.0,
            "n_notes": len(pitches), "bad_tokens": len(bad),
            "first_bad_token": bad[0] if bad else ""}


def checks(cfg: MusicConfig, frames: dict[str, pd.DataFrame]) -> list[Check]:
    """Tune-level, genre-level and file-level Great Expectations suites."""
    import great_expectations.expectations as gxe

    v, d = cfg.validation, cfg.data
    min_notes, max_failed, min_train = v.min_notes, v.max_failed_fraction, v.min_train_per_genre
    splits = {s: frames[s] for s in SPLITS if s in frames}
    tunes = pd.concat([f.assign(split=s) for s, f in splits.items()], ignore_index=True)
    for col in ("genre", "title", "file", "tokens", "group"):
        if col not in tunes:
            tunes[col] = None
    stats = pd.DataFrame([token_stats(list(t) if t is not None else []) for t in tunes["tokens"]],
                         columns=list(token_stats([])))
    tunes = pd.concat([tunes.drop(columns=[c for c in stats if c in tunes]), stats], axis=1)
    content = tunes["tokens"].map(lambda t: " ".join(t) if t is not None else "")
    tunes["in_two_splits"] = tunes.groupby(content)["split"].transform("nunique") > 1
    tunes["group_in_two_splits"] = tunes.groupby("group")["split"].transform("nunique") > 1
    genres = [str(g) for g in cfg.data.genres or
              sorted(frames["train"]["genre"].dropna().unique())] if "train" in frames else []
    ids = ["split", "tune_id"]
    tune_suite = [
        gxe.ExpectColumnToExist(column="tokens", description="schema: a 'tokens' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToNotBeNull(column="genre", description="every tune has a genre"),
        gxe.ExpectColumnValuesToBeInSet(column="genre", value_set=genres,
                                        description=f"genres only from {genres}"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_notes", min_value=min_notes,
            description=f"every tune has at least {min_notes} notes"),
        gxe.ExpectColumnValuesToBeBetween(
            column="min_duration", min_value=0, strict_min=True,
            description="every duration is positive"),
        gxe.ExpectColumnValuesToBeBetween(
            column="min_pitch", min_value=0, description="pitches within MIDI 0-127 (low)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="max_pitch", max_value=127, description="pitches within MIDI 0-127 (high)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="bad_tokens", max_value=0,
            description="every token is a note, a rest or a bar line"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_two_splits", value_set=[False],
            description="no tune is in two splits (identical tokens)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="group_in_two_splits", value_set=[False],
            description="no title is in two splits (versions of one tune)"),
    ]
    train = splits.get("train", pd.DataFrame({"genre": []}))
    counts = pd.DataFrame({"genre": genres, "train": [int((train["genre"] == g).sum())
                                                      for g in genres]})
    genre_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="train", min_value=min_train,
        description=f"each genre has at least {min_train} training tunes "
                    "(music.validation.min_train_per_genre; or leave the genre out: "
                    "music.data.genres)")]
    # the genres found before selection (prepare's `genres` frame): what the message offers
    found = frames.get("genres", pd.DataFrame(columns=["genre", "found", "selected"]))
    found = found.sort_values(["found", "genre"], ascending=[False, True])
    offer = ", ".join(f"{g} {int(n)}" for g, n in list(zip(found["genre"], found["found"],
                                                            strict=True))[:8]) or "none"
    enough = int((counts["train"] >= min_train).sum())
    need = v.min_genres
    overall = pd.DataFrame({"check": ["genres"], "genres_with_enough_tunes": [enough]})
    overall_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="genres_with_enough_tunes", min_value=need,
        description=f"at least {need} genres with {min_train}+ training tunes each, so genre "
                    f"accuracy means something (selected: {genres or 'none'}; found "
                    f"({d.genre_from}): {offer}). Change music.data.genre_from (filename | "
                    "folder | rhythm), music.data.genres / max_genres / min_files, or "
                    "music.validation.min_train_per_genre / min_genres")]
    files = _side_frame(cfg, frames, "files").copy()
    failed = set(_side_frame(cfg, frames, "failures")["file"])
    files["parsed"] = [f not in failed for f in files["file"]]
    file_suite = [gxe.ExpectColumnValuesToBeInSet(
        column="parsed", value_set=[True], mostly=1 - max_failed,
        description=f"music21 parses all but at most {max_failed:.0%} of the files")]
    stats_out = {s: {"tunes": int((tunes["split"] == s).sum()),
                     "genres": {g: int(((tunes["split"] == s) & (tunes["genre"] == g)).sum())
                                for g in genres}} for s in splits}
    stats_out["files"] = {"selected": len(files), "failed": sorted(failed)}
    stats_out["genres_found"] = {str(g): int(n) for g, n in zip(found["genre"], found["found"],
                                                                  strict=True)}
    sources = source_stats(frames)
    if sources:
        stats_out["sources"] = {"bom_stripped": sources["bom_stripped"],
                                "files": len(sources["files"])}
    return [Check("tunes", tunes, tune_suite, ids, "title", stats=stats_out),
            Check("genres", counts, genre_suite, ["genre"]),
            Check("genre_count", overall, overall_suite, ["check"]),
            Check("files", files, file_suite, ["file"])]
