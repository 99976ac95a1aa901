"""Robust review readers: encodings, missing and non-text values, split columns, label maps."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from helpers import REPO
from rnnlab import cli
from rnnlab.tasks.review import generator, readers
from rnnlab.tasks.review.checks import checks
from rnnlab.tasks.review.data import prepare
from rnnlab.validation import ValidationFailed, validate
from test_review import task_config


def _bad_utf8_csv(path, bad_rows=(1, 3)):
    rows = [f"report number {i} is fine,accept".encode() for i in range(8)]
    for i in bad_rows:
        rows[i] = f"report n\u00famero {i} is caf\u00e9,accept".encode("cp1252")
    path.write_bytes(b"text,label\n" + b"\n".join(rows) + b"\n")
    return path


def test_invalid_utf8_names_file_lines_and_count_and_cp1252_reads_it(tmp_path):
    path = _bad_utf8_csv(tmp_path / "r.csv", bad_rows=range(1, 8))
    with pytest.raises(readers.ReaderError) as err:
        readers.read_table(path)
    msg = str(err.value)
    assert str(path) in msg and "not valid utf-8" in msg
    assert "lines 3, 4, 5, 6, 7, ... (7 in all)" in msg  # header is line 1, rows from line 2
    assert "0xfa" in msg and "review.data.encoding" in msg
    assert isinstance(err.value, ValidationFailed)
    frame = readers.read_table(path, encoding="cp1252")
    assert frame.loc[1, "text"] == "report n\u00famero 1 is caf\u00e9"
    assert frame["line"].tolist() == list(range(2, 10))


def test_invalid_utf8_stops_prepare_as_a_validation_failure(tmp_path, monkeypatch, capsys):
    path = _bad_utf8_csv(tmp_path / "r.csv")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["tasks"] = ["review"]
    raw = {k: v for k, v in raw.items() if k not in ("entity", "music", "translate",
                                                      "forecast")}
    raw["review"]["data"].update(source="csv", path=str(path), label_map=None)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["prepare", "review"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: not valid utf-8 at lines 3, 5 (2)" in err
    assert "no model is registered" in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(("fmt", "body", "expect"), [
    ("jsonl", [{"text": "fine paper", "label": "accept"}, {"text": None, "label": "minor"}],
     "column 'text' is missing (null or empty) at line 2 (1)"),
    ("jsonl", [{"text": "fine paper", "label": None}, {"text": "ok", "label": "minor"}],
     "column 'label' is missing (null or empty) at line 1 (1)"),
    ("jsonl", [{"text": {"title": "x", "body": "y"}, "label": "accept"}],
     "column 'text' must hold plain text, found dict at line 1 (1)"),
    ("jsonl", [{"text": 42, "label": "accept"}], "found int at line 1"),
    ("csv", "text,label\ngood paper,accept\n\"multi\nline\",\nthird,reject\n",
     "column 'label' is missing (null or empty) at line 3 (1)"),
])
def test_null_and_non_text_values_are_rejected_by_name(tmp_path, fmt, body, expect):
    path = tmp_path / f"r.{fmt}"
    path.write_text(body if isinstance(body, str)
                    else "\n".join(json.dumps(r) for r in body) + "\n")
    with pytest.raises(readers.ReaderError) as err:
        readers.read_table(path)
    assert expect in str(err.value) and str(path) in str(err.value)


def test_label_map_null_keeps_numeric_labels_as_they_are(tmp_path):
    rows = generator.generate(80, 1, 1, seed=3)["train"]
    names = list(generator.CLASSES)
    path = tmp_path / "r.csv"
    # numeric labels 1..4 that the default (PeerRead) map would silently turn into decisions
    pd.DataFrame({"text": [t for t, _ in rows],
                  "label": [names.index(y) + 1 for _, y in rows]}).to_csv(path, index=False)
    cfg = task_config(data={"source": "csv", "path": str(path), "label_map": None,
                            "tags": ["1", "2", "3", "4"]})
    assert cfg.data.label_map is None
    frames = prepare(cfg, seed=0)
    labels = pd.concat(frames[s] for s in ("train", "dev", "test"))["label"]
    assert sorted(set(labels)) == ["1", "2", "3", "4"]
    assert (pd.concat(frames[s] for s in ("train", "dev", "test"))["label_id"] >= 0).all()
    mapped = task_config(data={"source": "csv", "path": str(path), "tags": ["1", "2", "3", "4"]})
    assert set(pd.concat(prepare(mapped, seed=0).values())["label"]) - {"1", "2", "3", "4"}


def _split_corpus(tmp_path):
    rows = generator.generate(200, 1, 60, seed=4)
    frame = pd.DataFrame(
        [{"text": t, "label": y, "origin": "dev"} for t, y in rows["train"]]
        + [{"text": t, "label": y, "origin": "test"} for t, y in rows["test"]]
        + [{"text": "an extra unlabelled row", "label": "accept", "origin": "junk"}])
    # one text in both origins: it must end up in one split only
    frame.loc[0, "text"] = frame.loc[len(rows["train"]), "text"]
    path = tmp_path / "news.csv"
    frame.to_csv(path, index=False)
    return path


def test_split_column_with_a_value_map_carves_dev_from_train(tmp_path):
    path = _split_corpus(tmp_path)
    data = {"source": "csv", "path": str(path), "label_map": None, "split": "original",
            "split_column": "origin", "split_map": {"dev": "train", "test": "test"},
            "resplit": {"dev": 0.2}}
    cfg = task_config(data=data)
    frames = prepare(cfg, seed=0)
    assert len(frames["test"]) == 60
    assert len(frames["train"]) + len(frames["dev"]) == 200  # junk dropped
    assert 30 <= len(frames["dev"]) <= 50  # about a fifth of train, held out
    again = prepare(cfg, seed=0)
    assert frames["dev"]["text"].tolist() == again["dev"]["text"].tolist()
    # the duplicate across origins fails validation ...
    with pytest.raises(ValidationFailed, match="no report appears in two splits"):
        validate("review", checks(cfg, frames), tmp_path / "v")
    # ... or, declared, leaves train and the rest passes
    cfg = task_config(data={**data, "drop_cross_split_duplicates": True})
    frames = prepare(cfg, seed=0)
    assert len(frames["train"]) + len(frames["dev"]) == 199
    assert validate("review", checks(cfg, frames), tmp_path / "v2")["success"]
    with pytest.raises(ValueError, match="may map to"):
        readers.original_split(readers.read_table(path, split_column="origin"),
                               {"dev": "training"})
