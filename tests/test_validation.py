"""Great Expectations catches each planted fault, names it and the offending rows."""

from __future__ import annotations

import json

import pytest

from helpers import frames
from rnnlab import config
from rnnlab.tasks import entity
from rnnlab.validation import ValidationFailed, validate

CFG = config._task_config("entity", {"primary_metric": "dev/entity_f1",
                                     "data": {"tags": ["O", "B-Species", "I-Species"]},
                                     "validation": {"max_tokens": 8}})


def run(rows, tmp_path):
    return validate("entity", entity.checks(CFG, frames(rows)), tmp_path / "out")


def test_clean_data_passes_and_writes_json_and_data_docs(good_rows, tmp_path):
    summary = run(good_rows, tmp_path)
    assert summary["success"] and summary["failed"] == 0 and summary["evaluated"] >= 12
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["success"]
    assert (tmp_path / "out" / "gx_result.json").exists()
    assert (tmp_path / "out" / "data_docs" / "index.html").exists()


@pytest.mark.parametrize(("plant", "expect"), [
    (lambda r: r["train"].append((["Panthera", "leo", "roars"], ["B-Species", "I-Species"])),
     "tokens and tags have equal length"),
    (lambda r: r["dev"].append((["Apis", "mellifera"], ["B-Species", "I-Specis"])),
     "tags only from"),
    (lambda r: r["test"].append(([], [])), "no empty sentences"),
    (lambda r: r["train"].append((["Python", "regius", "bites"], ["B-Species", None, "O"])),
     "no missing tag"),
    (lambda r: r["test"].append(r["train"][0]), "repeats a training sentence"),
    (lambda r: r["dev"].append((["w"] * 9, ["O"] * 9)), "sentence length within [1, 8]"),
])
def test_planted_fault_fails_with_message_and_rows(good_rows, tmp_path, plant, expect):
    plant(good_rows)
    with pytest.raises(ValidationFailed) as err:
        run(good_rows, tmp_path)
    message = str(err.value)
    assert "Validation failed for task 'entity'" in message
    assert expect in message
    assert '"split"' in message and '"sentence_id"' in message  # the offending row is named
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert not summary["success"]
    failed = [e for e in summary["expectations"] if not e["success"]]
    assert any(expect in e["description"] and e["examples"] for e in failed)


def test_unknown_tag_names_the_row_and_position(good_rows, tmp_path):
    good_rows["dev"].append((["Apis", "mellifera"], ["B-Species", "I-Specis"]))
    with pytest.raises(ValidationFailed) as err:
        run(good_rows, tmp_path)
    line = next(x for x in str(err.value).splitlines() if "I-Specis" in x)
    row = json.loads(line.strip())
    assert row == {"split": "dev", "sentence_id": 1, "position": 1, "tag": "I-Specis",
                   "token": "mellifera"}
