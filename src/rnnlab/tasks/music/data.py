"""Melodies from music21: the package's own corpus (e.g. Ryan's Mammoth Collection, 1,059 ABC
dance tunes, shipped with music21, no download) or a folder of the user's MIDI / MusicXML / ABC
files with the genre taken from the sub-folder name, or, for collections whose file names say
nothing (O'Neill's 1850: 39 files of 50-100 tunes each), from each ABC tune's `R:` (rhythm)
field: `genre_from: rhythm` splits every ABC file into its tunes (`X:` starts one) and files
each under its dance type ("R:double jig" -> Doublejig, "R:slip jig" / "R:slipjig" -> Slipjig).

ABC files are decoded strictly (rnnlab.readers, `data.encoding`): undecodable bytes or control
characters stop prepare naming the file and lines; a leading UTF-8 BOM is stripped.

A tune becomes one token sequence, read off its first part measure by measure:

    <pitch>_<duration>   a note: MIDI pitch as a name (sharps), duration in quarter notes
                         ("A4_1/2" is an eighth-note A4; chords keep their top note)
    R_<duration>         a rest
    |                    a bar line (between measures: the metre can be measured)
    (the end-of-tune token is added by the task's vocabulary, not stored here)

Grace notes (zero duration) are dropped and counted; ties are not merged, so a tied note is
two tokens. Optionally the tune is transposed so that its key signature has no sharps or flats
(C major / A minor / D dorian ...: the relative-major tonic moves to C by the smaller interval).
Parsing is slow (~70-90 ms a tune), so it runs once in `prepare` with a progress bar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

from rnnlab.readers import ReaderError, TextFile, read_text, reject_bad_lines, require_folder

BAR = "|"
REST = "R"
SUFFIXES = (".abc", ".mid", ".midi", ".xml", ".musicxml", ".mxl", ".krn")
# the dance type ends a Ryan's Mammoth file name: "AcrobatsHornpipe.abc", "OldZipCoonReel_G.abc"
_GENRE = re.compile(r"([A-Z][a-z]+)(?:_[A-Za-z0-9]+)?$")
# quarter-note length of one bar for a time signature "n/d"
_METRE = re.compile(r"^(\d+)/(\d+)$")


def genre_from_filename(path: str | Path) -> str | None:
    """The trailing capitalised word of the file stem (`...Reel_G.abc` -> Reel)."""
    hit = _GENRE.search(Path(path).stem)
    return hit.group(1) if hit else None


def bar_length(metre: str) -> float | None:
    """Quarter notes per bar: 6/8 -> 3.0, 2/2 -> 4.0, 4/4 -> 4.0; None if unreadable."""
    hit = _METRE.match(str(metre).strip())
    if not hit:
        return None
    num, den = int(hit.group(1)), int(hit.group(2))
    return 4.0 * num / den if den else None


def duration_text(ql: float | Fraction) -> str:
    """Quarter-note length as an exact short fraction: 0.5 -> '1/2', 1.5 -> '3/2', 1/3 -> '1/3'."""
    return str(Fraction(ql).limit_denominator(48))


def duration_value(text: str) -> float:
    return float(Fraction(text))


def pitch_name(midi: int) -> str:
    """MIDI number -> name with octave, sharps only (61 -> 'C#4'), so one pitch is one token."""
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return f"{names[midi % 12]}{midi // 12 - 1}"


def pitch_midi(name: str) -> int:
    hit = re.fullmatch(r"([A-G]#?)(-?\d+)", name)
    if not hit:
        raise ValueError(f"not a pitch name: {name!r}")
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    return names.index(hit.group(1)) + 12 * (int(hit.group(2)) + 1)


def note_token(midi: int | None, ql: float | Fraction) -> str:
    return f"{REST if midi is None else pitch_name(midi)}_{duration_text(ql)}"


def parse_token(token: str) -> tuple[int | None, float] | None:
    """'A4_1/2' -> (69, 0.5); 'R_1' -> (None, 1.0); bar lines and specials -> None."""
    head, sep, dur = token.partition("_")
    if not sep or token.startswith("<"):
        return None
    return (None if head == REST else pitch_midi(head)), duration_value(dur)


def _key_shift(score: Any) -> tuple[str, int]:
    """(key as written, semitones that move the key signature to no sharps or flats)."""
    from music21 import key as m21key

    sigs = list(score.recurse().getElementsByClass(m21key.KeySignature))
    if not sigs:
        return "", 0
    first = sigs[0]
    name = str(first) if isinstance(first, m21key.Key) else f"{first.sharps} sharps"
    tonic = (7 * first.sharps) % 12  # the relative-major tonic as a pitch class (G = 7 ...)
    shift = -tonic if tonic <= 6 else 12 - tonic  # the smaller move to C: D -> -2, G -> +5
    return name, shift


def tune_record(score: Any, transpose: bool = False, bar_tokens: bool = True) -> dict[str, Any]:
    """One parsed music21 Score -> tokens and what the task keeps about the tune."""
    from music21 import chord, meter, note, stream

    key_name, shift = _key_shift(score)
    shift = shift if transpose else 0
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    part = parts[0]
    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:  # e.g. a MIDI file without measures: bar lines from its time signature
        measures = list(part.makeMeasures().getElementsByClass(stream.Measure))
    sigs = list(score.recurse().getElementsByClass(meter.TimeSignature))
    metres = list(dict.fromkeys(s.ratioString for s in sigs))
    tokens: list[str] = []
    pitches: list[int] = []
    durations: list[float] = []
    graces = 0
    for i, measure in enumerate(measures):
        if i and bar_tokens:
            tokens.append(BAR)
        for el in measure.flatten().notesAndRests:
            ql = el.duration.quarterLength
            if ql <= 0 or el.duration.isGrace:
                graces += 1
                continue
            if isinstance(el, chord.Chord):
                midi = max(p.midi for p in el.pitches) + shift if el.pitches else None
            elif isinstance(el, note.Note):
                midi = el.pitch.midi + shift
            else:
                midi = None
            tokens.append(note_token(midi, ql))
            pitches.append(-1 if midi is None else int(midi))
            durations.append(float(ql))
    title = (score.metadata.title if score.metadata is not None else None) or ""
    return {"title": str(title), "metre": metres[0] if metres else "", "metres": metres,
            "key": key_name, "transposed_by": int(shift), "tokens": tokens,
            "pitches": pitches, "durations": durations,
            "n_notes": sum(p >= 0 for p in pitches), "n_bars": len(measures),
            "grace_notes": graces}


def _scores(parsed: Any) -> list[Any]:
    from music21 import stream

    if isinstance(parsed, stream.Opus):  # an ABC file holding several tunes
        return list(parsed.scores)
    return [parsed]


class Piece(NamedTuple):
    """What prepare parses: a file, its genre, and for ABC the (strictly decoded) text of the
    file or of one tune of it; `label` names it in the frames (`file.abc`, `file.abc#3`)."""

    path: Path
    genre: str | None
    label: str = ""
    abc: str | None = None


def _piece(item: Piece | tuple[Path, str | None]) -> Piece:
    if isinstance(item, Piece):
        return item
    path, genre = item
    return Piece(Path(path), genre, Path(path).name, None)


def _parse_one(job: tuple[Piece, bool, bool]) -> tuple[list[dict], dict | None]:
    from music21 import converter

    piece, transpose, bar_tokens = job
    name = piece.label or Path(piece.path).name
    try:
        parsed = (converter.parse(str(piece.path)) if piece.abc is None
                  else converter.parseData(piece.abc, format="abc"))
        records = [tune_record(s, transpose, bar_tokens) for s in _scores(parsed)]
        if not records:
            raise ValueError("no tune in it")
    except Exception as err:
        return [], {"file": name, "genre": piece.genre,
                    "error": f"{type(err).__name__}: {err}"[:300]}
    for i, rec in enumerate(records):
        rec.update(file=name if len(records) == 1 else f"{name}#{i + 1}", genre=piece.genre)
        rec["title"] = rec["title"] or Path(piece.path).stem
    return records, None


def parse_files(files: Iterable[Piece | tuple[Path, str | None]], transpose: bool = False,
                bar_tokens: bool = True, workers: int = 1, progress: bool = True,
                label: str = "parse") -> tuple[list[dict], list[dict]]:
    """Parse every piece (or (path, genre)) with music21, in `workers` processes (results in
    file order, so the output does not depend on it). Returns (tunes, failures): a file
    music21 cannot read is skipped and reported as {file, genre, error} instead of stopping
    the run."""
    from tqdm import tqdm

    jobs = [(_piece(f), transpose, bar_tokens) for f in files]
    bar = tqdm(total=len(jobs), desc=label, unit="tune", disable=not progress, mininterval=1.0)
    tunes: list[dict] = []
    failures: list[dict] = []
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.imap(_parse_one, jobs, chunksize=8)
            for records, failure in results:
                tunes.extend(records)
                failures.extend([failure] if failure else [])
                bar.update()
    else:
        for job in jobs:
            records, failure = _parse_one(job)
            tunes.extend(records)
            failures.extend([failure] if failure else [])
            bar.update()
    bar.close()
    return tunes, failures


# ---------------------------------------------------------------- ABC text

_X = re.compile(r"^X:", re.MULTILINE)


def split_abc(text: str) -> tuple[str, list[str]]:
    """(file header, the tunes): a tune starts at an `X:` line; what precedes the first one
    (default fields such as `L:` or `R:`) belongs to every tune."""
    starts = [m.start() for m in _X.finditer(text)]
    if not starts:
        return "", [text] if text.strip() else []
    header = text[:starts[0]]
    return header, [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def abc_field(text: str, name: str) -> str | None:
    """The first `name:` field of an ABC text (header or tune), stripped; None if absent or
    empty."""
    hit = re.search(rf"^{name}:[ \t]*(.*?)[ \t]*\r?$", text, re.MULTILINE)
    return hit.group(1) if hit and hit.group(1) else None


def rhythm_genre(rhythm: str | None) -> str | None:
    """An `R:` value as a genre name: letters only, capitalised ('double jig' -> Doublejig,
    'slip-jig' / 'slip jig' / 'Slipjig' -> Slipjig); None if it holds no letter."""
    letters = re.sub(r"[^a-z]", "", str(rhythm or "").lower())
    return letters.capitalize() or None


def read_abc(path: Path, encoding: str = "utf-8") -> TextFile:
    """An ABC file's text, strictly decoded, BOM stripped, no control characters."""
    tf = read_text(path, encoding, "music.data.encoding", "music.data.path")
    reject_bad_lines(tf, "ABC text")
    return tf


def pieces(files: Iterable[tuple[Path, str | None]], genre_from: str,
           encoding: str = "utf-8", sources: list[TextFile] | None = None) -> list[Piece]:
    """(path, genre from the file or folder name) -> what prepare parses. ABC files are
    decoded strictly (and appended to `sources`); with genre_from `rhythm` each tune of an
    ABC file is one piece, its genre from its `R:` field (else the file header's; None
    without one)."""
    out: list[Piece] = []
    for path, genre in files:
        if path.suffix.lower() != ".abc":
            out.append(Piece(path, None if genre_from == "rhythm" else genre, path.name, None))
            continue
        tf = read_abc(path, encoding)
        if sources is not None:
            sources.append(tf)
        text = tf.text
        if genre_from != "rhythm":
            # music21 reads the file itself (and caches it) unless a BOM had to go
            out.append(Piece(path, genre, path.name, text if tf.bom else None))
            continue
        header, tunes = split_abc(text)
        for i, tune in enumerate(tunes, 1):
            rhythm = abc_field(tune, "R") or abc_field(header, "R")
            label = path.name if len(tunes) == 1 else f"{path.name}#{i}"
            out.append(Piece(path, rhythm_genre(rhythm), label, header + tune))
    return out


def corpus_files(collection: str, genre_from: str = "filename") -> list[tuple[Path, str | None]]:
    """The files of one music21 corpus collection (shipped with the package) and their genre:
    `filename` (the trailing word, Ryan's Mammoth), `folder` (the parent folder's name), or
    `rhythm` (None here: `pieces` reads each tune's R: field)."""
    from music21 import corpus

    paths = sorted(Path(p) for p in corpus.getComposer(collection))
    if not paths:
        raise ReaderError(f"music21's corpus has no collection {collection!r} "
                          "(music.data.collection; e.g. ryansMammoth, oneills1850)")
    return [(p, _genre(p, genre_from)) for p in paths]


def folder_files(root: str | Path) -> list[tuple[Path, str | None]]:
    """Music files under root/<genre>/ (any depth below it): the genre is the first sub-folder."""
    root = require_folder(root, "music.data.path")
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            rel = p.relative_to(root).parts
            out.append((p, rel[0] if len(rel) > 1 else None))
    return out


def _genre(path: Path, how: str) -> str | None:
    if how == "filename":
        return genre_from_filename(path)
    if how == "folder":
        return path.parent.name
    if how == "rhythm":
        return None
    raise ValueError(f"genre_from must be filename, folder or rhythm, got {how!r}")


def notes(tokens: Iterable[str]) -> list[list[Any]]:
    """Tokens -> [[MIDI pitch or None (rest), quarter notes, bar number], ...]."""
    out, bar = [], 1
    for tok in tokens:
        if tok == BAR:
            bar += 1
            continue
        parsed = parse_token(tok)
        if parsed:
            out.append([parsed[0], parsed[1], bar])
    return out


def to_stream(tokens: Iterable[str], metre: str | None = None, title: str = "") -> Any:
    """Tokens -> a music21 Stream (one part, the time signature `metre`), ready to show, play
    or write: `to_stream(tokens, "6/8").write("midi", fp="tune.mid")`."""
    from music21 import metadata, meter, note, stream

    part = stream.Part()
    if metre:
        part.append(meter.TimeSignature(metre))
    for tok in tokens:
        parsed = parse_token(tok) if tok != BAR else None
        if not parsed:
            continue
        midi, ql = parsed
        el = note.Rest(quarterLength=ql) if midi is None else note.Note(midi, quarterLength=ql)
        part.append(el)
    score = stream.Score([part])
    score.metadata = metadata.Metadata(title=title)
    return score


def write_midi(tokens: Iterable[str], path: str | Path, metre: str | None = None,
               title: str = "") -> Path:
    """Write tokens as a MIDI file (atomically); returns the path."""
    from rnnlab.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        to_stream(list(tokens), metre, title).write("midi", fp=str(tmp))
    return path
