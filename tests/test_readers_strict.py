"""Readers that fail closed: strict decoding, BOMs, control characters, wrong kinds of path,
strict JSON summaries; for every task's reader (CoNLL, CSV/JSONL, Tatoeba/Anki, series CSV,
music ABC)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import REPO, merge, write_conll
from rnnlab import readers
from rnnlab.config import build
from rnnlab.readers import ReaderError, text_problem
from rnnlab.tasks.entity import data as entity_data
from rnnlab.tasks.entity.checks import checks as entity_checks
from rnnlab.tasks.entity.conll import read_conll
from rnnlab.tasks.entity.params import CONFIG as ENTITY
from rnnlab.tasks.entity.params import TINY as ENTITY_TINY
from rnnlab.tasks.forecast import series
from rnnlab.tasks.review import readers as review_readers
from rnnlab.tasks.translate.data import read_pairs
from rnnlab.validation import Check, ValidationFailed, strict_json, validate

CONLL = "Panthera\tB-Species\nleo\tI-Species\nis\tO\nbig\tO\n\nlions\tO\nroar\tO\n"


def entity_cfg(folder: Path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["entity"]
    raw = merge(merge(raw, ENTITY_TINY), {"data": {"source": "conll", "path": str(folder)}})
    return build(ENTITY, {"name": "entity", **raw}, "params.yaml:entity")


def test_undecodable_bytes_name_the_file_the_lines_and_the_count(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_bytes(b"ok\tO\n" + b"caf\xe9\tO\n" * 7)
    with pytest.raises(ReaderError) as err:
        readers.read_text(path, setting="entity.data.encoding")
    msg = str(err.value)
    assert f"{path}: not valid utf-8 at lines 2, 3, 4, 5, 6, ... (7 in all)" in msg
    assert "0xe9" in msg and "entity.data.encoding" in msg
    assert readers.read_text(path, "latin-1").lines()[1] == "caf\u00e9\tO"
    with pytest.raises(ReaderError, match="unknown encoding 'klingon'"):
        readers.read_text(path, "klingon")


def test_wrong_kinds_of_path_are_named_errors(tmp_path):
    (tmp_path / "dir.tsv").mkdir()
    with pytest.raises(ReaderError, match=r"dir\.tsv: is a folder, expected a file"):
        readers.read_text(tmp_path / "dir.tsv")
    with pytest.raises(ReaderError, match=r"nope\.tsv: no such file \(set data\.path\)"):
        readers.read_text(tmp_path / "nope.tsv")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ReaderError, match="is a file, expected a folder"):
        readers.require_folder(tmp_path / "f", "entity.data.path")


@pytest.mark.parametrize(("value", "problem"), [
    ("lion", None), ("caf\u00e9", None), ("\u4e2d\u6587", None), (None, None),
    ("", "empty"), (" ", "white space only"), ("\u00a0\u3000", "white space only"),
    ("li\x00on", "U+0000 NUL"), ("\x1b[31mred", "U+001B ESC"), ("a\x7fb", "U+007F control"),
    ("a\ufffdb", "U+FFFD REPLACEMENT CHARACTER"), ("\ufefflion", "U+FEFF BYTE ORDER MARK"),
    ("a\tb", "U+0009 control"),
])
def test_the_token_rule(value, problem):
    got = text_problem(value)
    assert got == problem or (problem and got and got.startswith(problem))


def test_free_text_may_hold_tabs_and_line_breaks_but_not_nul():
    assert text_problem("one\ttwo\nthree\r\n", free_text=True) is None
    assert text_problem("one\x00two", free_text=True) == "U+0000 NUL"


def test_conll_bom_is_stripped_and_reported_in_the_validation_summary(tmp_path):
    folder = write_conll(tmp_path, train=CONLL)
    train = folder / "train.tsv"
    train.write_bytes(b"\xef\xbb\xbf" + train.read_bytes())
    cfg = entity_cfg(folder)
    frames = entity_data.prepare(cfg, 0)
    assert frames["train"]["tokens"].iloc[0][0] == "Panthera"  # not "\ufeffPanthera"
    assert frames["sources"]["bom_stripped"].tolist() == [True, False, False]
    summary = validate("entity", entity_checks(cfg, frames), tmp_path / "v")
    assert summary["stats"]["sentences"]["sources"]["bom_stripped"] == [str(train)]
    on_disk = json.loads((tmp_path / "v" / "summary.json").read_text())
    assert on_disk["stats"]["sentences"]["sources"]["files"][str(train)]["bom_stripped"]


@pytest.mark.parametrize(("token", "rule"), [
    ("li\x00on", "control character, NUL"), ("\x1b[1mlion", "control character, NUL"),
    (" ", "white space only"), ("\u00a0", "white space only"),
    ("ro\ufeffar", "byte-order mark"),
])
def test_conll_bad_tokens_fail_validation_naming_the_file_line(tmp_path, token, rule):
    bad = CONLL.replace("roar", token)
    folder = write_conll(tmp_path, train=bad)
    cfg = entity_cfg(folder)
    frames = entity_data.prepare(cfg, 0)
    with pytest.raises(ValidationFailed) as err:
        validate("entity", entity_checks(cfg, frames), tmp_path / "v")
    msg = str(err.value)
    assert rule in msg and '"file_line": 7' in msg and '"split": "train"' in msg


def test_conll_latin1_and_a_folder_for_a_file_stop_prepare_by_name(tmp_path):
    folder = write_conll(tmp_path, train=CONLL, dev=CONLL, test=CONLL)
    (folder / "devel.tsv").write_bytes("Caf\u00e9\tO\n".encode("latin-1"))
    with pytest.raises(ReaderError, match=r"devel\.tsv: not valid utf-8 at line 1 \(1\)"):
        entity_data.prepare(entity_cfg(folder), 0)
    (folder / "devel.tsv").unlink()
    (folder / "devel.tsv").mkdir()
    with pytest.raises(ReaderError, match=r"devel\.tsv: is a folder, expected a file"):
        entity_data.prepare(entity_cfg(folder), 0)
    with pytest.raises(ReaderError, match="no such folder"):
        entity_data.prepare(entity_cfg(tmp_path / "absent"), 0)


def test_conll_lines_are_split_on_newlines_only(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\x0bb\tO\nc\tO\r\n\nd\x1cx\tO\n")  # str.splitlines would split 3 of these
    frame = read_conll(path)
    assert frame["tokens"].tolist() == [["a\x0bb", "c"], ["d\x1cx"]]
    assert frame["tags"].tolist() == [["O", "O"], ["O"]] and frame["line"].tolist() == [1, 4]


def test_review_csv_bom_header_and_nul_inside_a_field(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\nfine paper,accept\nweak paper,reject\n")
    sources: list = []
    frame = review_readers.read_table(path, sources=sources)  # "text", not "\ufefftext"
    assert frame["text"].tolist() == ["fine paper", "weak paper"] and sources[0].bom
    path.write_bytes(b"text,label\nfine paper,accept\nwe\x00ak,reject\n")
    with pytest.raises(ReaderError, match=r"U\+0000 NUL at line 3 \(1\)"):
        review_readers.read_table(path)
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"text": "fine", "label": "accept"}\n{"text": "a\\u001bb", "label": "x"}\n')
    with pytest.raises(ReaderError, match=r"column 'text' holds a U\+001B ESC at line 2"):
        review_readers.read_table(jsonl)
    jsonl.write_text('{"text": "fine", "label": "accept"}\n{"text": "broken\n')
    with pytest.raises(ReaderError, match=r"r\.jsonl: not a valid jsonl file"):
        review_readers.read_table(jsonl)


def test_tatoeba_bom_utf16_and_directory(tmp_path):
    path = tmp_path / "pairs.tsv"
    text = "eng\tita\tHello.\tCiao.\neng\tita\tYes.\tS\u00ec.\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    sources: list = []
    frame = read_pairs(path, "tatoeba", "it", "en", sources=sources)
    assert frame["target"].tolist() == ["Hello.", "Yes."] and sources[0].bom
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(ReaderError, match="not valid utf-8"):
        read_pairs(path, "tatoeba", "it", "en")
    assert read_pairs(path, "tatoeba", "it", "en", encoding="utf-16")["source"].iloc[1] == \
        "S\u00ec."
    with pytest.raises(ReaderError, match="is a folder"):
        read_pairs(tmp_path, "tatoeba", "it", "en")


def test_series_csv_bom_latin1_control_characters_and_empty(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xef\xbb\xbfdate,value\n2020-01-01,1.5\n2020-02-01,2.5\n")
    assert series.read_csv(str(path))["value"].tolist() == ["1.5", "2.5"]
    path.write_bytes(b"date,value\n2020-01-01,1.5\n2020-02-01,2\xb05\n")
    with pytest.raises(ReaderError, match=r"not valid utf-8 at line 3 \(1\).*forecast\.data"):
        series.read_csv(str(path))
    path.write_bytes(b"date,value\n2020-01-01,1.5\x00\n")
    with pytest.raises(ReaderError, match=r"U\+0000 NUL at line 2"):
        series.read_csv(str(path))
    path.write_bytes(b"")
    with pytest.raises(ReaderError, match="the file is empty"):
        series.read_csv(str(path))
    path.write_bytes(b"when;what\n2020-01-01;1\n")
    with pytest.raises(ReaderError, match=r"no column\(s\) \['date', 'value'\]"):
        series.read_csv(str(path))


def test_summary_json_is_strict_json(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0], "id": [0, 1]})
    import great_expectations.expectations as gxe

    check = Check("c", frame, [gxe.ExpectColumnValuesToBeBetween(column="x", min_value=0)],
                  ["id"], stats={"mean": float("nan"), "nested": [float("inf"), 1.0]})
    validate("t", [check], tmp_path / "v")
    text = (tmp_path / "v" / "summary.json").read_text()
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert parsed["stats"]["c"] == {"mean": None, "nested": [None, 1.0]}
    assert json.loads(strict_json({"a": math.nan})) == {"a": None}


def test_series_dates_outside_the_nanosecond_range_are_named_rows(tmp_path):
    """A bit flip turned 2000-10-01 into 3000-10-01 (found by test_fuzz_readers): the row
    fails 'every date parses' instead of pandas' OutOfBoundsDatetime."""
    dates = pd.date_range("2000-01-01", periods=84, freq="MS").strftime("%Y-%m-%d").tolist()
    dates[9] = "3000-10-01"
    path = tmp_path / "s.csv"
    pd.DataFrame({"date": dates, "value": range(84)}).to_csv(path, index=False)
    assert series.to_dates(pd.Series(dates)).isna().tolist() == [i == 9 for i in range(84)]
    raw = series.read_csv(str(path))
    rows = series.parse(raw, "MS")
    assert rows.loc[rows["date"].isna(), "row"].tolist() == [9]
    assert rows.loc[9, "date_raw"] == "3000-10-01"
