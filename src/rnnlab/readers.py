"""Strict text input shared by every task's reader: fail closed, name the file and the lines.

A corpus file is decoded strictly in its declared encoding (`<task>.data.encoding`): bytes
that do not decode stop prepare with a `ReaderError` (a `ValidationFailed`, so the CLI reports
it like any failed validation and nothing downstream runs) naming the file, the first line
numbers and how many; there is no `errors="replace"`, so no U+FFFD is ever invented. A leading
UTF-8 byte-order mark is stripped and recorded (`sources` side frame -> validation summary).
A missing path, or a folder where a file is expected (or the other way round), is a
`ReaderError` naming the path and the setting, not a traceback.

`text_problem` is the rule for one token or field: no control character (NUL, ESC, ... : any
Unicode Cc other than the tab / line breaks free text may hold), no U+FFFD (a decoder upstream
already lost bytes), no byte-order mark inside the text (files concatenated with their marks),
and not empty or white space only. The tasks' Great Expectations suites
apply it per token / field and name the rows and file lines.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rnnlab.validation import ValidationFailed

MAX_LINES = 5
BOM = "\ufeff"
# what free text (a review, a sentence) may hold that a token may not
TEXT_WHITESPACE = frozenset("\t\n\r")


class ReaderError(ValidationFailed):
    """A corpus file that cannot be read as declared (kind of path, encoding, bad characters,
    missing or non-text values): the message names the file, the rule and the first offending
    lines, and prepare stops, so nothing downstream runs and nothing is registered."""


def line_list(numbers: list[int]) -> str:
    """'line 3 (1)', 'lines 3, 5 (2)', 'lines 1, 2, 3, 4, 5, ... (9 in all)'."""
    shown = ", ".join(str(n) for n in numbers[:MAX_LINES])
    more = f", ... ({len(numbers)} in all)" if len(numbers) > MAX_LINES else f" ({len(numbers)})"
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{more}"


def require_file(path: str | Path, setting: str) -> Path:
    """`path` as a Path if it is a readable regular file, else a ReaderError naming it."""
    path = Path(path)
    if not path.exists():
        raise ReaderError(f"{path}: no such file (set {setting})")
    if path.is_dir():
        raise ReaderError(f"{path}: is a folder, expected a file (set {setting})")
    if not path.is_file():
        raise ReaderError(f"{path}: not a regular file (set {setting})")
    return path


def require_folder(path: str | Path, setting: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise ReaderError(f"{path}: no such folder (set {setting})")
    if not path.is_dir():
        raise ReaderError(f"{path}: is a file, expected a folder (set {setting})")
    return path


@dataclass(frozen=True)
class TextFile:
    """A strictly decoded file: its text (BOM stripped) and what the reader noticed."""

    path: Path
    text: str
    encoding: str
    bom: bool

    def lines(self) -> list[str]:
        """The text's lines, split on \\n only (str.splitlines would also split on \\x0b,
        \\x1c, \\x85, ... and shift every later line number); a final \\r is dropped."""
        out = self.text.split("\n")
        if out and out[-1] == "":
            out.pop()
        return [ln[:-1] if ln.endswith("\r") else ln for ln in out]

    def source_row(self) -> dict[str, Any]:
        return {"file": str(self.path), "encoding": self.encoding, "bom_stripped": self.bom,
                "lines": len(self.lines())}


def _check_encoding(encoding: str, setting: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ReaderError(f"unknown encoding {encoding!r} ({setting})") from None


def decode(raw: bytes, path: Path, encoding: str = "utf-8",
           setting: str = "data.encoding") -> TextFile:
    """Strictly decode `raw` (read from `path`); a ReaderError names the undecodable lines."""
    name = _check_encoding(encoding, setting)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as first:
        bad = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                bad.append(number)
        where = line_list(bad) if bad else "the whole file"  # e.g. utf-16 split mid-character
        raise ReaderError(
            f"{path}: not valid {encoding} at {where}: {first.reason} "
            f"(byte 0x{raw[first.start]:02x} at file offset {first.start}); "
            f"declare the file's encoding with {setting} (e.g. cp1252, latin-1)") from None
    # utf-8-sig (and utf-16) consume their mark themselves; plain utf-8 keeps it as U+FEFF
    bom = text.startswith(BOM) or (name == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8))
    return TextFile(path, text[1:] if text.startswith(BOM) else text, encoding, bom)


def read_text(path: str | Path, encoding: str = "utf-8", setting: str = "data.encoding",
              path_setting: str = "data.path") -> TextFile:
    """A file's whole text, strictly decoded (see `decode`); the path must be a file."""
    path = require_file(path, path_setting)
    return decode(path.read_bytes(), path, encoding, setting)


def bad_character(text: str, allow: Iterable[str] = ()) -> str | None:
    """The first character a corpus value must not hold, described ('U+0000 NUL'), or None."""
    allowed = set(allow)
    for ch in text:
        if ch in allowed:
            continue
        if ch in "\ufffd\ufeff" or unicodedata.category(ch) in ("Cc", "Cs"):
            name = {"\x00": "NUL", "\x1b": "ESC", "\ufffd": "REPLACEMENT CHARACTER",
                    "\ufeff": "BYTE ORDER MARK"}.get(ch, "")
            return f"U+{ord(ch):04X}" + (f" {name}" if name else " control character")
    return None


def text_problem(value: Any, free_text: bool = False, allow_empty: bool = False) -> str | None:
    """Why a token (or, with `free_text`, a sentence / report that may hold tabs and line
    breaks) is unusable, or None: not a string, empty (unless `allow_empty`: another check
    names it), white space only, a control character, U+FFFD or a byte-order mark. None
    passes (a missing value is another check's job)."""
    if not isinstance(value, str):
        return None if value is None else f"not text ({type(value).__name__})"
    if not value:
        return None if allow_empty else "empty"
    if not value.strip():
        return "white space only"
    return bad_character(value, TEXT_WHITESPACE if free_text else ())


def remove_control(text: str) -> tuple[str, int]:
    """`text` without its control characters (tabs and line breaks kept), and how many went."""
    kept = [ch for ch in text if ch in TEXT_WHITESPACE or bad_character(ch) is None]
    return "".join(kept), len(text) - len(kept)


def bad_text_lines(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """(file line, problem) of every line holding a control character or U+FFFD (tabs and
    line breaks allowed): for readers that parse a whole file (CSV, JSON Lines)."""
    out = []
    for number, line in enumerate(text.split("\n"), start=first_line):
        problem = bad_character(line, TEXT_WHITESPACE)
        if problem:
            out.append((number, problem))
    return out


def reject_bad_lines(tf: TextFile, what: str = "") -> None:
    """ReaderError if any line of the file holds a control character or U+FFFD."""
    bad = bad_text_lines(tf.text)
    if bad:
        raise ReaderError(f"{tf.path}: {what + ' ' if what else ''}{bad[0][1]} at "
                          f"{line_list([n for n, _ in bad])}: control characters and NUL "
                          "are not text; clean the file")


def sources_frame(files: Iterable[TextFile]) -> pd.DataFrame:
    """The prepared `sources` side frame: one row per file read (validate reports it)."""
    return pd.DataFrame([f.source_row() for f in files],
                        columns=["file", "encoding", "bom_stripped", "lines"])


def source_stats(frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What the validation summary says about the files read (the `sources` side frame):
    each file's encoding and line count, and which had a UTF-8 BOM stripped."""
    src = frames.get("sources")
    if src is None or src.empty:
        return {}
    return {"files": {str(r.file): {"encoding": str(r.encoding), "lines": int(r.lines),
                                    "bom_stripped": bool(r.bom_stripped)}
                      for r in src.itertuples()},
            "bom_stripped": [str(f) for f in src.loc[src["bom_stripped"].astype(bool), "file"]]}
