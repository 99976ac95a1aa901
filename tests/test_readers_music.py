"""Music collections as they come: genres from each ABC tune's R: field, multi-tune files
split into tunes, at least two genres before anything trains, strict decoding of ABC files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlab.readers import ReaderError
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music import prepare
from rnnlab.tasks.music.checks import checks
from rnnlab.validation import ValidationFailed, validate
from test_music import JIG, REEL, abc, task_config


def tune(x: int, rhythm: str | None, kind: str, seed: int) -> str:
    metre, lengths = ("6/8", JIG) if kind == "jig" else ("2/2", REEL)
    body = abc(f"Tune {x}", metre, lengths, seed=seed).replace("X:1\n", f"X:{x}\n")
    return body if rhythm is None else body.replace("M:", f"R:{rhythm}\nM:", 1)


def collection(folder: Path, n_jig: int = 5, n_reel: int = 5) -> Path:
    """Two multi-tune files, dance types spelt as collections spell them, and a tune with no
    R: field (left out)."""
    folder.mkdir(parents=True, exist_ok=True)
    jigs = "\n".join(tune(i, ["double jig", "Jig", "jig "][i % 3], "jig", i)
                     for i in range(1, n_jig + 1))
    reels = "\n".join(tune(100 + i, ["Reel", "reel"][i % 2], "reel", 50 + i)
                      for i in range(n_reel))
    (folder / "book1.abc").write_text("% a collection\nL:1/8\n\n" + jigs + "\n"
                                      + tune(99, None, "jig", 99))
    (folder / "book2.abc").write_text(reels)
    return folder


def rhythm_config(folder: Path, **data):
    return task_config(data={"path": str(folder), "genre_from": "rhythm", "min_files": 2,
                             "genre_map": {"Doublejig": "Jig"}, **data})


def test_abc_text_splits_into_tunes_and_rhythms_become_genres():
    header, tunes = music.split_abc("%hdr\nR:reel\n\nX:1\nT:a\nK:G\nABc|\n\nX:2\nR:jig\nK:G\nA|\n")
    assert header == "%hdr\nR:reel\n\n" and len(tunes) == 2 and tunes[1].startswith("X:2")
    assert music.abc_field(tunes[1], "R") == "jig" and music.abc_field(tunes[0], "R") is None
    assert music.abc_field(header, "R") == "reel"
    assert [music.rhythm_genre(r) for r in ["double jig", "Slip-Jig", "slipjig", "", None]] == \
        ["Doublejig", "Slipjig", "Slipjig", None, None]
    assert music.split_abc("") == ("", [])


def test_genre_from_rhythm_reads_a_folder_of_multi_tune_files(tmp_path):
    cfg = rhythm_config(collection(tmp_path / "abc"))
    frames = prepare.prepare(cfg, seed=0)
    tunes = [frames[s] for s in ("train", "dev", "test")]
    genres = sorted({g for f in tunes for g in f["genre"]})
    assert genres == ["Jig", "Reel"]  # "double jig" counted as Jig by genre_map
    files = sorted(f for t in tunes for f in t["file"])
    assert files[0] == "book1.abc#1" and len(files) == 10 and "book1.abc#6" not in files
    found = dict(zip(frames["genres"]["genre"], frames["genres"]["found"], strict=True))
    assert found == {"Jig": 5, "Reel": 5, "(none)": 1}  # the tune without R: is left out
    summary = validate("music", checks(cfg, frames), tmp_path / "v")
    assert summary["stats"]["tunes"]["genres_found"]["Jig"] == 5


def test_one_genre_fails_validation_naming_the_settings(tmp_path):
    folder = collection(tmp_path / "abc", n_jig=5, n_reel=1)
    cfg = rhythm_config(folder, min_files=2)
    frames = prepare.prepare(cfg, seed=0)
    with pytest.raises(ValidationFailed) as err:
        validate("music", checks(cfg, frames), tmp_path / "v")
    msg = str(err.value)
    assert "at least 2 genres with 2+ training tunes" in msg
    assert "music.data.genre_from" in msg and "music.data.genres / max_genres / min_files" in msg
    assert "Reel 1" in msg  # what was found, so the user sees what to lower


def test_no_genre_at_all_reaches_validation_instead_of_crashing(tmp_path):
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / "t.abc").write_text(tune(1, None, "jig", 1))  # no R: anywhere
    cfg = rhythm_config(folder)
    frames = prepare.prepare(cfg, seed=0)
    assert all(frames[s].empty for s in ("train", "dev", "test"))
    with pytest.raises(ValidationFailed, match="at least 2 genres"):
        validate("music", checks(cfg, frames), tmp_path / "v")


def test_abc_files_are_decoded_strictly(tmp_path):
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / "latin.abc").write_bytes(tune(1, "jig", "jig", 1).replace("Tune", "Caf\u00e9")
                                       .encode("latin-1"))
    with pytest.raises(ReaderError, match=r"latin\.abc: not valid utf-8 at line 2 \(1\)"):
        prepare.prepare(rhythm_config(folder), seed=0)
    assert prepare.list_files(rhythm_config(folder, encoding="latin-1"))[0].genre == "Jig"
    (folder / "latin.abc").write_bytes(b"\xef\xbb\xbf" + tune(1, "jig", "jig", 1).encode())
    sources: list = []
    (piece,) = prepare.list_files(rhythm_config(folder), sources)
    assert piece.abc.startswith("X:1") and sources[0].bom
    with pytest.raises(ReaderError, match="no such folder"):
        prepare.prepare(rhythm_config(tmp_path / "absent"), seed=0)


def test_oneills_1850_lists_its_tunes_by_rhythm():
    """music21 ships O'Neill's 1850 collection: 2,009 tunes in 39 files, the dance type in R:
    for 888 of them (listing only: no parsing)."""
    cfg = task_config(data={"source": "corpus", "collection": "oneills1850",
                            "genre_from": "rhythm", "genre_map": {"Doublejig": "Jig"}})
    pieces = prepare.list_files(cfg)
    assert len(pieces) == 2009 and len({p.path for p in pieces}) == 39
    assert prepare.select_genres(pieces, cfg) == ["Jig", "Reel", "Hornpipe", "Slipjig"]
