"""Parallel corpora for the translate task: tokenising and detokenising, the Tatoeba and Anki
tab-separated readers, a deterministic split of one file into train/dev/test, and `prepare`
(the configured source, built-in grammar or file, as tokenised split frames).

Readers never drop or repair a bad line. A line with the wrong number of fields keeps what it
has (a missing side is empty), and a field with a control character stays as it is, so
validation can name the file line and stop the pipeline. The file is decoded strictly
(rnnlab.readers, `data.encoding`): undecodable bytes stop prepare naming the file and lines,
and a leading UTF-8 BOM is stripped (the validation summary says so).

Tokens are words and punctuation, with the clitics that carry a word of their own split off:
Italian elisions ("l'uomo" -> "l'" "uomo", "dell'anno" -> "dell'" "anno") and English
contractions ("don't" -> "do" "n't", "Tom's" -> "Tom" "'s"). `detokenize` inverts it, so BLEU
and chrF are computed on plain text, the way the references are written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rnnlab.readers import TextFile, read_text, sources_frame
from rnnlab.tasks import SPLITS

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateConfig

# ISO 639-1 (params) -> ISO 639-3 (the language columns of a Tatoeba Challenge file)
ISO3 = {"en": "eng", "it": "ita", "fr": "fra", "de": "deu", "es": "spa", "pt": "por",
        "nl": "nld", "ro": "ron"}
FORMATS = {"tatoeba": (4,), "anki": (2, 3)}  # allowed numbers of tab-separated fields

_WORD = re.compile(r"\d+(?:[.,:]\d+)+|\w+(?:['-]\w+)*'?|\.\.\.|[^\w\s]")
_EN_NT = re.compile(r"(?i)^(\w+)(n't)$")
_EN_CLITIC = re.compile(r"(?i)^(\w+)('(?:s|m|re|ve|ll|d))$")
# Italian words that end in an apostrophe but are not elided articles/prepositions
_IT_WHOLE = {"po'", "be'", "mo'", "di'", "fa'", "va'", "sta'", "da'"}
_NO_SPACE_BEFORE = set(".,!?;:%)]}»…") | {"..."}
_NO_SPACE_AFTER = set("([{«¿¡")


def normalise(text: str) -> str:
    """NFC, typographic apostrophes as ', runs of white space as one space."""
    text = unicodedata.normalize("NFC", str(text)).replace("\u2019", "'").replace("\u02bc", "'")
    return " ".join(text.split())


def tokenize(text: str, lang: str = "en") -> list[str]:
    """Words and punctuation; Italian elisions and English contractions split off."""
    out: list[str] = []
    for word in _WORD.findall(normalise(text)):
        if lang == "it" and "'" in word[:-1]:
            parts = word.split("'")  # "dell'anno" -> "dell'" "anno"; a final "'" stays attached
            out.extend(p + "'" for p in parts[:-2])
            out.append(parts[-2] + "'")
            if parts[-1]:
                out.append(parts[-1])
        elif lang == "en" and (m := _EN_NT.match(word) or _EN_CLITIC.match(word)):
            out.extend(m.groups())
        else:
            out.append(word)
    return out


def _attaches_right(token: str, lang: str) -> bool:
    return (token in _NO_SPACE_AFTER
            or (lang == "it" and len(token) > 1 and token.endswith("'")
                and token.lower() not in _IT_WHOLE))


def detokenize(tokens: Sequence[str], lang: str = "en") -> str:
    """Inverse of `tokenize`: punctuation and clitics rejoined, one space elsewhere."""
    out, prev, open_quote, after_open = "", None, False, False
    for token in tokens:
        space = prev is not None and not _attaches_right(prev, lang) and not after_open
        if token in _NO_SPACE_BEFORE or token.lower() == "n't" or (
                lang == "en" and token.startswith("'") and len(token) > 1):
            space = False
        after_open = False
        if token == '"':
            if open_quote:
                space = False  # a closing quote
            else:
                after_open = True
            open_quote = not open_quote
        out += (" " if space else "") + token
        prev = token
    return out


# ---------------------------------------------------------------- readers


def read_pairs(path: str | Path, fmt: str, source: str, target: str,
               anki_languages: Sequence[str] = ("en", "it"), encoding: str = "utf-8",
               sources: list[TextFile] | None = None) -> pd.DataFrame:
    """Every line of a Tatoeba (`eng<TAB>ita<TAB>English<TAB>Italian`) or Anki
    (`English<TAB>Italian[<TAB>attribution]`) file -> pair_id, source, target, line (1-based),
    n_fields. The file read is appended to `sources`."""
    if fmt not in FORMATS:
        raise ValueError(f"translate.data.source must be one of builtin, {', '.join(FORMATS)}; "
                         f"got {fmt!r}")
    if fmt == "anki":
        langs = [str(x) for x in anki_languages]
        for lang in (source, target):
            if lang not in langs:
                raise ValueError(f"anki_languages {langs} has no column for {lang!r}")
        col = {source: langs.index(source), target: langs.index(target)}
    tf = read_text(path, encoding, "translate.data.encoding",
                   "translate.data.path / translate.data.files")
    if sources is not None:
        sources.append(tf)
    rows = []
    for lineno, line in enumerate(tf.lines(), 1):
        fields = line.split("\t")
        if fmt == "tatoeba":
            codes = fields[:2]
            src_i = _column(codes, source)
            tgt_i = _column(codes, target)
        else:
            src_i, tgt_i = col[source], col[target]
        rows.append({"source": fields[src_i] if src_i < len(fields) else "",
                     "target": fields[tgt_i] if tgt_i < len(fields) else "",
                     "line": lineno, "n_fields": len(fields)})
    frame = pd.DataFrame(rows, columns=["source", "target", "line", "n_fields"])
    frame.insert(0, "pair_id", range(len(frame)))
    return frame


def _column(codes: list[str], lang: str) -> int:
    """Field index of `lang`'s sentence in a Tatoeba line (codes are the first two fields)."""
    wanted = {lang, ISO3.get(lang, lang)}
    for i, code in enumerate(codes):
        if code.strip() in wanted:
            return i + 2
    return 2 if lang == "en" else 3  # unknown codes: validation reports the line


# ---------------------------------------------------------------- split


def _key(text: str) -> str:
    return normalise(text).lower()


def groups(frame: pd.DataFrame) -> np.ndarray:
    """Connected components of pairs that share a source or a target sentence (case and
    spacing ignored): every duplicate of a sentence, on either side, lands in one group."""
    parent = list(range(len(frame)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for side in ("source", "target"):
        first: dict[str, int] = {}
        for i, text in enumerate(frame[side]):
            k = _key(text)
            if not k:
                continue
            if k in first:
                a, b = find(i), find(first[k])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first[k] = i
    return np.array([find(i) for i in range(len(frame))])


def split_pairs(frame: pd.DataFrame, seed: int, dev: float = 0.1,
                test: float = 0.1) -> dict[str, pd.DataFrame]:
    """Deterministic train/dev/test split by group (see `groups`): each group goes to the split
    chosen by a seeded hash of its smallest pair, so the split does not depend on line order
    and adding an unrelated line never moves an old pair."""
    group = groups(frame)
    rep: dict[int, str] = {}
    for g, src, tgt in zip(group.tolist(), frame["source"], frame["target"], strict=True):
        text = _key(src) + "\t" + _key(tgt)  # the group's smallest pair names it
        rep[g] = min(rep.get(g, text), text)
    share = {}
    for g, text in rep.items():
        h = hashlib.sha256(f"{seed}\t{text}".encode()).digest()
        share[g] = int.from_bytes(h[:8], "big") / 2 ** 64
    u = np.array([share[g] for g in group])
    which = np.where(u < test, "test", np.where(u < test + dev, "dev", "train"))
    return {s: frame[which == s].reset_index(drop=True) for s in ("train", "dev", "test")}


# ---------------------------------------------------------------- prepare


def finish(frame: pd.DataFrame, src: str, tgt: str) -> pd.DataFrame:
    """Tokenise one split: pair_id, source, target (raw text), source_tokens, target_tokens,
    and the reader's file_line / n_fields when the pairs came from a file."""
    out = frame.reset_index(drop=True).copy()
    out["pair_id"] = out.get("pair_id", pd.Series(range(len(out)))).astype(int)
    out["source_tokens"] = [tokenize(str(t), src) for t in out["source"]]
    out["target_tokens"] = [tokenize(str(t), tgt) for t in out["target"]]
    if "line" in out:
        out = out.rename(columns={"line": "file_line"})
    return out


def prepare(cfg: TranslateConfig, seed: int) -> dict[str, pd.DataFrame]:
    """{split: frame} from the built-in grammar or the configured parallel corpus file."""
    data = cfg.data
    src, tgt = data.direction.source, data.direction.target
    if data.source == "builtin":
        from rnnlab.tasks.translate.grammar import generate

        if {src, tgt} != {"it", "en"}:
            raise ValueError(f"the built-in grammar is Italian/English; direction {src}->{tgt}")
        b = data.builtin
        rows = generate(b.n_train, b.n_dev, b.n_test, seed=seed if b.seed is None else b.seed)
        first = 0 if src == "it" else 1
        splits = {s: pd.DataFrame({"pair_id": range(len(r)),
                                   "source": [p[first] for p in r],
                                   "target": [p[1 - first] for p in r]})
                  for s, r in rows.items()}
    else:
        sources: list[TextFile] = []
        if data.files is not None:
            splits = read_files(data, seed if data.split_seed is None else data.split_seed,
                                sources)
        else:
            frame = read_pairs(data.path, data.source, src, tgt, data.anki_languages,
                               data.encoding, sources)
            splits = split_pairs(frame, seed if data.split_seed is None else data.split_seed,
                                 data.split.dev, data.split.test)
        return {**{s: finish(splits[s], src, tgt) for s in SPLITS},
                "sources": sources_frame(sources)}
    return {s: finish(splits[s], src, tgt) for s in SPLITS}


def read_files(data: Any, seed: int,
               sources: list[TextFile] | None = None) -> dict[str, pd.DataFrame]:
    """Separate train / dev / test files, each read whole (its own pair ids and file lines,
    plus a `file` column naming it). Without a dev file, dev is carved from the train file by
    `split_pairs` (share `split.dev`, duplicates grouped), and keeps the train file's lines.
    That no test pair occurs in train is validation's job (it names both lines)."""
    src, tgt, files = data.direction.source, data.direction.target, data.files

    def read(path: str) -> pd.DataFrame:
        frame = read_pairs(path, data.source, src, tgt, data.anki_languages, data.encoding,
                           sources)
        frame["file"] = Path(path).name
        return frame

    train = read(files.train)
    if files.dev is None:
        carved = split_pairs(train, seed, dev=data.split.dev, test=0.0)
        return {"train": carved["train"], "dev": carved["dev"], "test": read(files.test)}
    return {"train": train, "dev": read(files.dev), "test": read(files.test)}


def raw_inputs(cfg: Any) -> list[str]:
    """What prepare reads: nothing for the built-in grammar, else the pairs file(s)."""
    data = cfg.data
    if data.source == "builtin":
        return []
    if data.files is not None:
        return [p for p in (data.files.train, data.files.dev, data.files.test) if p]
    return [data.path]
