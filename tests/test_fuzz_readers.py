"""Fuzzing every reader with malformed corpora (hypothesis): random bytes, bit flips, other
encodings (latin-1, cp1252, utf-16), wrong separators, truncations, control characters, BOMs,
empty and huge inputs, each applied to one file of a small valid corpus.

Every case runs the task's own prepare and its Great Expectations checks (in an ephemeral GX
context: no Data Docs, so a case costs well under a second) and must end in one of two ways:
  fine   prepare and validation pass, and no bad character (U+FFFD, NUL, control characters,
         a byte-order mark, white-space-only tokens) is in the prepared splits;
  named  a ReaderError naming the file, a ValidationFailed (failed expectations with their
         rows) or a ConfigError.
Anything else is a traceback and fails the test; passing data that holds a bad character is a
silent accept and fails it too.

The default profile is short (RNNLAB_FUZZ unset: 10 cases a reader, derandomised, so `make
test` is deterministic); `RNNLAB_FUZZ=long` runs 200 random cases a reader, and with
`RNNLAB_FUZZ_REPORT=<file.json>` writes the outcome counts per reader there.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO, merge
from rnnlab import config as rconfig
from rnnlab import validation
from rnnlab.config import ConfigError
from rnnlab.readers import ReaderError, text_problem
from rnnlab.tasks import SPLITS
from rnnlab.validation import ValidationFailed

LONG = os.environ.get("RNNLAB_FUZZ") == "long"
FUZZ = settings(max_examples=200 if LONG else 10, deadline=None, derandomize=not LONG,
                database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
OUTCOMES: dict[str, Counter[str]] = {}


# ---------------------------------------------------------------- judging one case


def judge(task: str, checks: list[validation.Check]) -> None:
    """The task's suites in an ephemeral GX context; ValidationFailed as the stage raises it,
    and the summary must be strict JSON."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    results = [validation._run_suite(context, task, c) for c in checks]
    summary = validation.summarise(task, checks, results)
    json.loads(validation.strict_json(summary),
               parse_constant=lambda c: pytest.fail(f"summary.json holds {c}"))
    if not summary["success"]:
        raise ValidationFailed(validation.failure_message(summary))


def _bad_cells(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Every bad character in the prepared splits: free text may hold tabs and line breaks,
    a token (a list element) nothing but printable characters and not only white space."""
    out = []
    for split in SPLITS:
        frame = frames.get(split, pd.DataFrame())
        for col in frame.columns:
            for i, value in enumerate(frame[col]):
                if isinstance(value, str):
                    problem = text_problem(value, free_text=True, allow_empty=True)
                    if problem and problem != "white space only":
                        out.append(f"{split}[{i}].{col}: {problem} in {value[:40]!r}")
                elif isinstance(value, list | np.ndarray):
                    for tok in value:
                        problem = isinstance(tok, str) and text_problem(tok)
                        if problem:
                            out.append(f"{split}[{i}].{col}: token {tok[:40]!r}: {problem}")
    return out


def outcome(task: str, root: Path, run: Callable[[], tuple[Any, dict[str, pd.DataFrame]]]
            ) -> str:
    """'fine' or 'named'; a traceback or a silent accept fails the test."""
    try:
        cfg, frames = run()
        judge(task, _checks(task)(cfg, frames))
    except ReaderError as err:
        assert str(root) in str(err) or "encoding" in str(err), f"unnamed reader error: {err}"
        kind = "named"
    except ValidationFailed as err:
        assert str(err).startswith("Validation failed"), str(err)
        kind = "named"
    except ConfigError:
        kind = "named"
    else:
        bad = _bad_cells(frames)
        assert not bad, "silent accept: " + "; ".join(bad[:5])
        kind = "fine"
    OUTCOMES.setdefault(task, Counter())[kind] += 1
    return kind


def _checks(task: str) -> Callable:
    from rnnlab import tasks

    return tasks.get(task).checks


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    path = os.environ.get("RNNLAB_FUZZ_REPORT")
    if path:
        old = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        old.update({t: dict(c) for t, c in OUTCOMES.items()})
        Path(path).write_text(json.dumps(old, indent=2) + "\n")


def task_config(task: str, *overrides: dict) -> Any:
    from rnnlab.tasks import get

    raw = yaml.safe_load((REPO / "params.yaml").read_text())[task]
    tiny = __import__(f"rnnlab.tasks.{task}.params", fromlist=["TINY"])
    raw = merge(raw, tiny.TINY)
    for extra in overrides:
        raw = merge(raw, extra)
    cls = rconfig.task_config_class(task)
    assert get(task).name == task
    return rconfig.build(cls, {"name": task, **raw}, f"params.yaml:{task}")


# ---------------------------------------------------------------- mutations

CONTROL = ["\x00", "\x1b[31m", "\x07", "\x7f", "\x0b", "\x85", "\ufeff", "\ufffd", " ", "\t",
           "\u00a0", "\r"]


@st.composite
def mutated(draw: st.DrawFn, base: bytes, separator: bytes) -> bytes:
    """One malformed variant of a valid file."""
    kind = draw(st.sampled_from(["bytes", "flip", "encode", "separator", "truncate", "empty",
                                 "huge", "insert", "bom", "long_line", "as_is"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "flip":
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "encode":
        text = base.decode()
        enc = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32"]))
        return text.encode(enc, errors="ignore")
    if kind == "separator":
        other = draw(st.sampled_from([b",", b";", b" ", b"\t", b"|", b""]))
        return base.replace(separator, other)
    if kind == "truncate":
        return base[:draw(st.integers(0, len(base)))]
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b"\n\n\n", b"\xef\xbb\xbf", b" \t \n"]))
    if kind == "huge":
        return base * draw(st.integers(20, 60))
    if kind == "long_line":
        return base + b"x" * draw(st.integers(10_000, 200_000)) + b"\n"
    if kind == "insert":
        text = base.decode()
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(CONTROL)) + text[i:]
        return text.encode()
    if kind == "bom":
        return b"\xef\xbb\xbf" + base
    return base


# ---------------------------------------------------------------- the five readers


def _entity_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    genera = ["Panthera", "Gorilla", "Canis", "Felis", "Ursus", "Homo", "Mus", "Rattus"]
    words = ["the", "big", "a", "saw", "we", "near", "river", "forest", "ran", "slept"]

    def sentences(n: int, start: int) -> str:
        out = []
        for i in range(n):
            g = genera[(start + i) % len(genera)]
            w = [words[j] for j in rng.integers(0, len(words), 3)]
            out.append(f"{w[0]}\tO\n{g}\tB-Species\nsp{start + i}\tI-Species\n{w[1]}\tO\n"
                       f"{w[2]}{start + i}\tO\n")
        return "\n".join(out)

    return {"train.tsv": sentences(12, 0).encode(), "devel.tsv": sentences(4, 100).encode(),
            "test.tsv": sentences(4, 200).encode()}


def _run_entity(root: Path, files: dict[str, bytes]):
    from rnnlab.tasks.entity import data

    for name, body in files.items():
        (root / name).write_bytes(body)
    cfg = task_config("entity", {"data": {"source": "conll", "path": str(root)}})
    return cfg, data.prepare(cfg, 0)


def _review_files() -> dict[str, bytes]:
    from rnnlab.tasks.review import generator

    rows = generator.generate(90, 1, 1, seed=4)["train"]
    frame = pd.DataFrame({"text": [t for t, _ in rows], "label": [y for _, y in rows]})
    return {"reviews.csv": frame.to_csv(index=False).encode()}


def _run_review(root: Path, files: dict[str, bytes]):
    from rnnlab.tasks.review import data

    (root / "reviews.csv").write_bytes(files["reviews.csv"])
    cfg = task_config("review", {"data": {"source": "csv", "path": str(root / "reviews.csv"),
                                          "label_map": None}},
                      {"validation": {"min_per_class": 1}})
    return cfg, data.prepare(cfg, 0)


def _translate_files() -> dict[str, bytes]:
    lines = [f"eng\tita\tThe cat {i} sleeps.\tIl gatto {i} dorme." for i in range(60)]
    lines += ["eng\tita\tYes, it's caf\u00e9 time.\tS\u00ec, \u00e8 l'ora del caff\u00e8."]
    return {"pairs.tsv": ("\n".join(lines) + "\n").encode()}


def _run_translate(root: Path, files: dict[str, bytes]):
    from rnnlab.tasks.translate import data

    (root / "pairs.tsv").write_bytes(files["pairs.tsv"])
    cfg = task_config("translate", {"data": {"source": "tatoeba",
                                             "path": str(root / "pairs.tsv")}})
    return cfg, data.prepare(cfg, 0)


def _forecast_files() -> dict[str, bytes]:
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    values = 10 + np.sin(np.arange(120) * 2 * np.pi / 12) + np.arange(120) * 0.05
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "value": values.round(3)})
    return {"series.csv": frame.to_csv(index=False).encode()}


def _run_forecast(root: Path, files: dict[str, bytes]):
    from rnnlab.tasks.forecast import data

    (root / "series.csv").write_bytes(files["series.csv"])
    cfg = task_config("forecast", {"data": {"source": "csv", "path": str(root / "series.csv"),
                                            "horizon_test": 12, "horizon_dev": 12}},
                      {"validation": {"max_gap": 2, "min_train_windows": 5},
                       "vocab": {"input_len": 24, "horizon": 12}})
    return cfg, data.prepare(cfg, 0)


def _music_files() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    notes = "GABcdefg"

    def tune(x: int, rhythm: str, metre: str, lengths: tuple[int, ...]) -> str:
        body = " | ".join("".join(f"{rng.choice(list(notes))}{n if n > 1 else ''}"
                                  for n in lengths) for _ in range(8))
        return f"X:{x}\nT:Tune {x}\nR:{rhythm}\nM:{metre}\nL:1/8\nK:G\n{body} |]\n\n"

    jigs = "".join(tune(i, "jig", "6/8", (2, 1, 2, 1)) for i in range(1, 5))
    reels = "".join(tune(i, "reel", "2/2", (1,) * 8) for i in range(5, 9))
    return {"jigs.abc": jigs.encode(), "reels.abc": reels.encode()}


def _run_music(root: Path, files: dict[str, bytes]):
    from rnnlab.tasks.music import prepare

    for name, body in files.items():
        (root / name).write_bytes(body)
    cfg = task_config("music", {"data": {"source": "folder", "path": str(root),
                                         "genre_from": "rhythm", "min_files": 1, "limit": 0,
                                         "split": {"dev": 0.25, "test": 0.25}}},
                      {"validation": {"min_train_per_genre": 1, "max_failed_fraction": 0.0}})
    return cfg, prepare.prepare(cfg, 0)


READERS = {
    "entity": (_entity_files, _run_entity, b"\t"),
    "review": (_review_files, _run_review, b","),
    "translate": (_translate_files, _run_translate, b"\t"),
    "forecast": (_forecast_files, _run_forecast, b","),
    "music": (_music_files, _run_music, b"|"),
}


@pytest.mark.parametrize("task", list(READERS))
def test_the_valid_corpus_is_fine(task: str):
    """The base every mutation starts from validates, so 'fine' outcomes are reachable."""
    make, run, _ = READERS[task]
    with tempfile.TemporaryDirectory() as tmp:
        assert outcome(task, Path(tmp), lambda: run(Path(tmp), make())) == "fine"


# one test for the five readers; derandomised, hypothesis seeds it from the function, so each
# task runs the same random stream of draws, on its own corpus
@pytest.mark.parametrize("task", list(READERS))
@FUZZ
@given(data=st.data())
def test_fuzz(task: str, data: st.DataObject):
    """One file of the task's valid corpus, mutated; the reader and the checks judge it."""
    make, run, sep = READERS[task]
    files = make()
    name = data.draw(st.sampled_from(sorted(files)), label="file")
    files[name] = data.draw(mutated(files[name], sep), label="content")
    with tempfile.TemporaryDirectory() as tmp:
        outcome(task, Path(tmp), lambda: run(Path(tmp), files))
