"""The task contract's extension points: a task's own settings dataclasses and vocab loaders."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rnnlab import config, tasks
from rnnlab.config import ConfigError, ModelConfig


@dataclass(frozen=True)
class _Model(ModelConfig):
    beam_size: int = 1


@dataclass(frozen=True)
class _Window:
    input_len: int = 12

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps({"input_len": self.input_len}))


@pytest.fixture
def fake_task(monkeypatch):
    module = types.ModuleType("rnnlab.tasks.fake")
    module.MODEL_CONFIG, module.VOCAB_CONFIG = _Model, _Window
    module.load_vocab = lambda path: _Window(**json.loads(Path(path).read_text()))
    monkeypatch.setitem(sys.modules, "rnnlab.tasks.fake", module)
    return module


def _params(tmp_path: Path, section: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"tasks": ["fake"], "fake": {
        "primary_metric": "dev/x", "data": {}, **section}}))
    return path


def test_a_task_types_its_own_sections(tmp_path, fake_task):
    cfg = config.load(_params(tmp_path, {"model": {"beam_size": 4, "cell": "lstm"},
                                         "vocab": {"input_len": 24}})).task("fake")
    assert cfg.model == _Model(beam_size=4, cell="lstm")
    assert cfg.vocab == _Window(input_len=24)
    assert cfg.train == config.TrainConfig()  # no TRAIN_CONFIG: the generic one


def test_unknown_keys_still_fail_in_a_task_schema(tmp_path, fake_task):
    with pytest.raises(ConfigError, match=r"fake\.model: unknown key\(s\) \['beam'\]"):
        config.load(_params(tmp_path, {"model": {"beam": 4}}))
    with pytest.raises(ConfigError, match=r"fake\.model\.cell must be one of"):
        config.load(_params(tmp_path, {"model": {"cell": "transformer"}}))


def test_vocabs_load_through_the_task_loader(tmp_path, fake_task):
    _Window(36).save(tmp_path / "window.json")
    assert tasks.load_vocabs(fake_task, tmp_path) == {"window": _Window(36)}
    assert tasks.load_vocabs(fake_task, tmp_path, ["window"])["window"].input_len == 36


def test_overrides_set_nested_values_and_are_checked(tmp_path, fake_task):
    path = _params(tmp_path, {"model": {"beam_size": 2}})
    cfg = config.load_with_overrides(path, ["fake.model.beam_size=8", "seed=7"])
    assert cfg.seed == 7 and cfg.task("fake").model.beam_size == 8
    with pytest.raises(ConfigError, match="unknown key"):
        config.load_with_overrides(path, ["fake.model.beams=8"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config.load_with_overrides(path, ["fake.model.beam_size"])
