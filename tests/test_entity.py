"""Entity recognition: the typed params, the built-in generator and the CoNLL reader, the Great
Expectations checks, the networks and their objective, evaluate's baselines, and serving."""

from __future__ import annotations

import itertools
import json
import random

import pandas as pd
import pytest
import torch
import yaml

from helpers import REPO, frames, merge, tiny_params, write_conll
from rnnlab import config, datadocs, serving, tasks
from rnnlab.config import ConfigError, TrainerConfig, VocabConfig
from rnnlab.nn import loop
from rnnlab.nn.encoding import pad
from rnnlab.readers import ReaderError
from rnnlab.stages import STAGES, Paths
from rnnlab.stages import run as run_stage
from rnnlab.tasks.entity import data, evaluate, model, serve
from rnnlab.tasks.entity.checks import checks
from rnnlab.tasks.entity.conll import read_conll
from rnnlab.tasks.entity.data import Gazetteer
from rnnlab.tasks.entity.generator import SPECIES, generate, genus
from rnnlab.tasks.entity.metrics import score
from rnnlab.tasks.entity.model import (
    DenseTagger,
    ManyToMany,
    TaggerObjective,
    summed_bce,
    summed_ce,
)
from rnnlab.tasks.entity.params import CONFIG, TINY
from rnnlab.validation import ValidationFailed, validate

SPEC = tasks.get("entity")




def section(*overrides: dict) -> dict:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["entity"]
    for extra in overrides:
        merge(raw, extra)
    return raw


def build(*overrides: dict):
    return config.build(CONFIG, {"name": "entity", **section(*overrides)}, "params.yaml:entity")


# ---------------------------------------------------------------- params


def test_params_yaml_section_equals_the_defaults_and_tiny_builds():
    cfg = build()
    assert cfg == CONFIG(name="entity", primary_metric="dev/entity_f1")
    assert cfg.data.files.dev == "devel.tsv" and cfg.data.tags == ("O", "B-Species", "I-Species")
    tiny = build(TINY)
    assert tiny.data.builtin.n_train == 160 and tiny.baselines.dense.max_epochs == 1
    assert cfg.decode.consistency_window == 0  # label consistency is off by default
    assert SPEC.predict_params(cfg) == {"dictionary": False, "consistency_window": 0,
                                        "consistency_share": 0.34, "abbreviations": True}


@pytest.mark.parametrize(("override", "message"), [
    ({"data": {"source": "csv"}}, r"entity\.data\.source must be one of \['builtin', 'conll'\]"),
    ({"data": {"files": {"devel": "x.tsv"}}}, r"entity\.data\.files\.devel: unknown key"),
    ({"data": {"builtin": {"n_train": "many"}}}, r"entity\.data\.builtin\.n_train must be int"),
    ({"baselines": {"dense": {"layers": 2}}}, r"entity\.baselines\.dense\.layers: unknown key"),
    ({"train": {"accelerator": "cpu"}}, r"entity\.train\.accelerator: unknown key"),
])
def test_params_fail_with_the_key_name(override, message):
    with pytest.raises(ConfigError, match=message):
        build(override)


def test_evaluate_declares_what_the_dense_baseline_reads():
    keys = SPEC.stage_params("evaluate", CONFIG)
    assert {"entity.model", "entity.train", "entity.encoding", "trainer", "seed"} <= set(keys)
    assert "entity.decode" in keys  # after the tagger: evaluate reads it
    assert "entity.decode" not in SPEC.stage_params("train", CONFIG)  # train does not


# ---------------------------------------------------------------- data


def _names(sentences):
    out = set()
    for tokens, tags in sentences:
        for i, t in enumerate(tags):
            if t == "B-Species":
                out.add((tokens[i], tokens[i + 1]))
    return out


def test_builtin_generator_is_seeded_and_tests_unseen_species():
    assert len(SPECIES) >= 150
    a, b = generate(300, 60, 80, seed=7), generate(300, 60, 80, seed=7)
    assert a == b
    assert a != generate(300, 60, 80, seed=8)
    assert {k: len(v) for k, v in a.items()} == {"train": 300, "dev": 60, "test": 80}
    test_names = _names(a["test"])
    assert test_names
    full_train = {(g, e) for g, e in _names(a["train"]) if not g.endswith(".")}
    full_test = {(g, e) for g, e in test_names if not g.endswith(".")}
    assert not full_train & full_test
    assert not {genus(" ".join(n)) for n in full_train} & {genus(" ".join(n)) for n in full_test}
    assert all(len(t) == len(g) > 0 for s in a.values() for t, g in s)


def test_builtin_generator_has_capitalised_distractors():
    train = generate(500, 10, 10, seed=1)["train"]
    outside = {w for tokens, tags in train for w, t in zip(tokens, tags, strict=True) if t == "O"}
    assert {"Panthera", "Corporation", "Python"} <= outside
    # the same genus word opens a training species in one sentence and is O in another
    genera = {tokens[i] for tokens, tags in train for i, t in enumerate(tags) if t == "B-Species"}
    assert len(genera & outside) >= 5


def test_conll_reader_keeps_malformed_lines_for_validation(tmp_path):
    folder = write_conll(tmp_path, train="Panthera\tB-Species\nleo\nis\tO\n\n\nbig\tO\n")
    frame = read_conll(folder / "train.tsv")
    assert frame["tokens"].tolist() == [["Panthera", "leo", "is"], ["big"]]
    assert frame["tags"].tolist() == [["B-Species", None, "O"], ["O"]]
    assert frame["line"].tolist() == [1, 6]
    with pytest.raises(ReaderError, match=r"missing\.tsv: no such file"):
        read_conll(tmp_path / "missing.tsv")


def test_prepare_reads_builtin_and_conll(tmp_path):
    cfg = build(TINY)
    out = SPEC.prepare(cfg, 42)
    assert {s: len(f) for s, f in out.items()} == {"train": 160, "dev": 40, "test": 40}
    assert out["train"].equals(SPEC.prepare(build(TINY, {"data": {"builtin": {"seed": 42}}}),
                                            0)["train"])  # builtin.seed wins over the global
    folder = write_conll(tmp_path / "corpus")
    (folder / "devel.tsv").rename(folder / "dev.conll")
    cfg = build({"data": {"source": "conll", "path": str(folder),
                          "files": {"dev": "dev.conll"}}})
    out = SPEC.prepare(cfg, 42)
    assert out["dev"]["tokens"].tolist() == [["we", "saw", "Gorilla", "beringei"]]
    assert out["train"]["tags"][0][5:7] == ["B-Species", "I-Species"]


# ---------------------------------------------------------------- validation

CFG = build({"validation": {"max_tokens": 8}})


def run(rows, tmp_path):
    return validate("entity", checks(CFG, frames(rows)), tmp_path / "out")


def test_clean_data_passes_and_writes_json_and_data_docs(good_rows, tmp_path):
    summary = validate("entity", checks(CFG, frames(good_rows)), tmp_path / "out",
                       docs=datadocs.write)
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


def test_malformed_conll_line_is_named_by_its_file_line(tmp_path):
    folder = write_conll(tmp_path / "corpus", train="in\tO\nthe\tO\n\nPanthera\tB-Species\nleo\n")
    cfg = build({"data": {"source": "conll", "path": str(folder)}})
    with pytest.raises(ValidationFailed) as err:
        validate("entity", checks(cfg, SPEC.prepare(cfg, 0)), tmp_path / "out")
    line = next(x for x in str(err.value).splitlines() if '"leo"' in x)
    assert json.loads(line.strip())["file_line"] == 5


def test_too_long_sentence_names_its_file_line_and_the_longest_sentence(tmp_path):
    folder = write_conll(tmp_path / "corpus",
                         train="a\tO\n\n" + "".join(f"w{i}\tO\n" for i in range(12)))
    cfg = build({"data": {"source": "conll", "path": str(folder)},
                 "validation": {"max_tokens": 10}})
    with pytest.raises(ValidationFailed) as err:
        validate("entity", checks(cfg, SPEC.prepare(cfg, 0)), tmp_path / "out")
    message = str(err.value)
    assert "longest sentence has 12 tokens (train file line 3)" in message
    line = next(x for x in message.splitlines() if '"n_tokens"' in x)
    assert json.loads(line.strip())["file_line"] == 3


def test_vocabulary_cap_reports_the_types_it_cut(caplog):
    train = pd.DataFrame({"tokens": [["a", "a", "b", "c", "d"]], "tags": [["O"] * 5]})
    with caplog.at_level("WARNING", logger="rnnlab.vocab"):
        vocabs = SPEC.build_vocabs(train, VocabConfig(max_size=2))
    assert vocabs["tokens"].cut == 2
    assert "max_size=2 cut 2 of 4 types" in caplog.text
    frames_ = {"train": train, "dev": train, "test": train}
    assert SPEC.vocab_metrics(frames_, vocabs)["vocab/tokens_cut"] == 2


# ---------------------------------------------------------------- networks and objective


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("encoding", ["onehot", "embedding"])
def test_shapes(cell: str, encoding: str):
    net = ManyToMany(30, 3, encoding, 8, cell, 6, num_layers=2, bidirectional=True)
    batch = pad([[3, 4, 5], [6]])
    assert net(batch["ids"], batch["lengths"]).shape == (2, 3, 3)


@pytest.mark.parametrize(("chars", "cell"), [("rnn", "simple"), ("rnn", "gru"), ("cnn", "gru")])
def test_char_features_give_unknown_words_a_representation(chars, cell):
    torch.manual_seed(0)
    net = ManyToMany(10, 3, "embedding", 8, cell, 6, chars=chars, n_chars=12, char_dim=4,
                     char_hidden=5, decoder="crf").eval()
    batch = pad([[1, 1, 3], [1]])  # the same unknown-word id at positions 0 and 1
    c = torch.zeros(2, 3, 4, dtype=torch.long)
    c[0, 0, :3], c[0, 1, :4], c[0, 2, :2], c[1, 0, :1] = (torch.tensor([2, 3, 4]),
                                                          torch.tensor([5, 6, 7, 8]),
                                                          torch.tensor([2, 9]), torch.tensor([4]))
    assert net.chars(c).shape == (2, 3, net.chars.n_out)
    assert net.chars.n_out == 10
    feats = net.chars(c)
    assert not torch.allclose(feats[0, 0], feats[0, 1])  # two unknown words now differ
    assert torch.all(feats[1, 1:] == 0)  # padded words have no characters, no features
    out = net(batch["ids"], batch["lengths"], chars=c)
    assert out.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="chars must be none, rnn or cnn"):
        ManyToMany(10, 3, chars="lstm", n_chars=4)


def _train(net, batch, labels, steps=150, lr=0.05):
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        logits = net(batch["ids"], batch["lengths"])
        if logits.shape[-1] == 1:
            loss = summed_bce(logits.squeeze(-1), labels, batch["mask"])
        else:
            loss = model.tag_loss(net, logits, labels, batch["mask"])
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize(("cell", "decoder"), [("simple", "softmax"), ("gru", "crf")])
def test_overfits_one_batch(cell: str, decoder: str):
    torch.manual_seed(0)
    batch = pad([[2, 3, 4, 5], [6, 2, 3], [7, 8]])
    labels = pad([[0, 1, 2, 0], [0, 1, 2], [1, 1]])["ids"]  # O B I O; ...; two adjacent B
    net = ManyToMany(10, 3, "embedding", 8, cell, 16, bidirectional=True, decoder=decoder)
    assert _train(net, batch, labels) < 0.05
    pred = model.decode(net, net(batch["ids"], batch["lengths"]), batch["lengths"])
    assert pred == [[0, 1, 2, 0], [0, 1, 2], [1, 1]]


def test_bidirectional_rnn_needs_the_next_word():
    # "Panthera leo" (entity) vs "Panthera Corporation" (not): the first word's label is
    # decided by the word after it, which only the backward direction has read.
    vocab = {"Panthera": 1, "leo": 2, "Corporation": 3, "grew": 4, "roars": 5}
    sents = [["Panthera", "leo", "roars"], ["Panthera", "Corporation", "grew"]] * 4
    batch = pad([[vocab[w] for w in s] for s in sents])
    labels = pad([[1, 1, 0] if s[1] == "leo" else [0, 0, 0] for s in sents])["ids"]
    results = {}
    for bidirectional in (False, True):
        torch.manual_seed(0)
        net = ManyToMany(6, 1, "embedding", 8, "gru", 16, bidirectional=bidirectional)
        _train(net, batch, labels)
        first = (net(batch["ids"], batch["lengths"]).squeeze(-1)[:, 0] > 0).long()
        results[bidirectional] = (first == labels[:, 0]).float().mean().item()
    assert results[True] == 1.0
    assert results[False] <= 0.5  # a forward-only RNN can only guess


def test_dense_network_sees_fixed_positions_only():
    net = DenseTagger(20, 1, max_len=4, hidden_size=8)
    batch = pad([[1, 2, 3, 4, 5, 6], [1]])
    out = net(batch["ids"], batch["lengths"])
    assert out.shape == (2, 6, 1)
    assert torch.all(out[:, 4:] < 0)  # past T_max it cannot tag anything
    # it sees the words only: a changed word moves the output, padding past T does not exist
    other = pad([[1, 2, 7, 4, 5, 6], [1]])
    assert not torch.allclose(net.eval()(other["ids"], other["lengths"])[0, :4],
                              net(batch["ids"], batch["lengths"])[0, :4])


def test_summed_bce_sums_over_real_steps_and_weighs_positives():
    logits = torch.tensor([[0.0, 0.0, 5.0], [0.0, 9.0, 9.0]])
    labels = torch.tensor([[1, 0, 0], [1, 0, 0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    ln2 = torch.log(torch.tensor(2.0)).item()
    assert summed_bce(logits, labels, mask).item() == pytest.approx(3 * ln2 / 2)
    assert summed_bce(logits, labels, mask, positive_weight=3.0).item() == pytest.approx(
        (3 * ln2 + ln2 + 3 * ln2) / 2)


def test_summed_ce_sums_over_real_steps_and_weighs_entity_tags():
    logits = torch.zeros(2, 3, 3)  # uniform: -log(1/3) per step
    labels = torch.tensor([[1, 0, 0], [2, 0, 0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    ln3 = torch.log(torch.tensor(3.0)).item()
    assert summed_ce(logits, labels, mask).item() == pytest.approx(3 * ln3 / 2)
    assert summed_ce(logits, labels, mask, positive_weight=2.0).item() == pytest.approx(
        (2 * ln3 + ln3 + 2 * ln3) / 2)


def test_word_dropout_only_in_training_and_the_fallback_is_no_weight():
    objective = TaggerObjective(["O", "B-X"], word_dropout=1.0, fallback=[0, 1, 1, 1, 2])
    batch = {"ids": torch.tensor([[3, 4, 0]]), "lengths": torch.tensor([2]),
             "labels": torch.tensor([[1, 0, 0]]), "mask": torch.tensor([[True, True, False]])}
    seen: list = []

    def net(ids, lengths, **rest):  # records what the network is shown
        seen.append(ids.tolist())
        return torch.stack([ids.float(), -ids.float()], -1)

    objective.train().loss(net, batch)
    objective.eval().loss(net, batch)
    TaggerObjective(["O", "B-X"], word_dropout=1.0).train().loss(net, batch)  # no fallback
    assert seen == [[[1, 2, 0]], [[3, 4, 0]], [[3, 4, 0]]]  # every word its unknown class
    assert "fallback" not in objective.state_dict()  # rebuilt from the vocabulary, not saved
    assert TaggerObjective.monitor == "dev/entity_f1" and TaggerObjective.mode == "max"


@pytest.mark.parametrize("decoder", ["softmax", "crf"])
def test_dev_step_and_metrics_score_real_tokens_only(decoder):
    net = ManyToMany(10, 3, "embedding", 4, "gru", 4, decoder=decoder)
    batch = pad([[2, 3, 4], [5]])
    batch["labels"] = torch.tensor([[1, 2, 0], [0, 0, 0]])
    batch["features"] = torch.zeros(2, 3, dtype=torch.uint8)
    objective = TaggerObjective(["O", "B-Species", "I-Species"]).eval()
    loss, pairs = objective.dev_step(net.eval(), batch)
    assert loss.dim() == 0 and [len(p) for p, _ in pairs] == [3, 1]
    assert [g for _, g in pairs] == [[1, 2, 0], [0]]
    perfect = [[([1, 2, 0], [1, 2, 0])], [([0], [0])]]
    assert objective.dev_metrics(perfect) == {"dev/entity_f1": 1.0}
    merged = [[([1, 2, 2], [1, 2, 1])]]  # adjacent gold names, one merged prediction: no credit
    assert objective.dev_metrics(merged) == {"dev/entity_f1": 0.0}


def test_spans_gazetteer_and_per_type_scores():
    assert data.spans(["B-S", "I-S", "B-S", "O", "I-G", "I-S"]) == [
        ("S", 0, 2), ("S", 2, 3), ("G", 4, 5), ("S", 5, 6)]  # as seqeval reads them
    train = pd.DataFrame({"tokens": [["Panthera", "leo", "and", "yeast", "Panthera"]],
                          "tags": [["B-Species", "I-Species", "O", "B-Species", "B-Genus"]]})
    gaz = Gazetteer.from_frame(train)
    # one entity per match, longest first: adjacent names stay apart
    assert gaz.tag(["yeast", "Panthera", "leo", "Panthera", "x"]) == [
        "B-Species", "B-Species", "I-Species", "B-Genus", "O"]
    test = pd.DataFrame({"tokens": [["Panthera", "leo", "yeast", "Panthera"]],
                         "tags": [["B-Species", "I-Species", "B-Species", "B-Genus"]]})
    s = score([["B-Species", "I-Species", "I-Species", "O"]], test)
    assert s["entity_f1"] == 0.0 and s["token_f1"] == pytest.approx(6 / 7)
    s = score([gaz.tag(test["tokens"][0])], test)
    assert s["entity_f1"] == 1.0 and s["type/Genus/support"] == 1.0
    s = score([["B-Species", "I-Species", "B-Species", "B-Species"]], test)  # wrong type
    assert s["type/Species/entity_precision"] == pytest.approx(2 / 3)
    assert s["type/Genus/entity_recall"] == 0.0 and s["entity_f1"] == pytest.approx(2 / 3)


def test_dictionary_feature_is_an_extra_input_per_step():
    train = pd.DataFrame({"tokens": [["Panthera", "leo", "roars"]],
                          "tags": [["B-Species", "I-Species", "O"]]})
    vocabs = SPEC.build_vocabs(train, VocabConfig())
    assert vocabs["entities"].itos[2:] == ["Panthera leo\tSpecies"]  # its type kept
    assert Gazetteer.from_vocab(vocabs["entities"]).names == {("Panthera", "leo"): "Species"}
    enc = SPEC.encode({"test": pd.DataFrame({"tokens": [["a", "Panthera", "leo"]],
                                             "tags": [["O", "B-Species", "I-Species"]]})},
                      vocabs)["test"]
    assert enc["features"].tolist() == [[0, 1, 1]] and enc["labels"].tolist() == [[0, 1, 2]]
    assert data.tag_names(vocabs) == ["O", "B-Species", "I-Species"]
    assert enc["chars"].shape == (1, 3, data.MAX_WORD_CHARS) and enc["chars"].dtype == torch.uint8
    assert enc["chars"][0, 0].tolist()[:2] == [vocabs["chars"].stoi["a"], 0]
    cfg = build({"model": {"dictionary_feature": True, "hidden_size": 4, "embedding_dim": 4}})
    net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
    assert net.features == 1
    with_hit = net(enc["ids"], enc["lengths"], enc["features"].float())
    without = net(enc["ids"], enc["lengths"], torch.zeros(1, 3))
    assert with_hit.shape == (1, 3, 3) and not torch.allclose(with_hit, without)


# ---------------------------------------------------------------- training and evaluate


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The task on TINY through the spec: prepared frames, vocabularies, tensors, a net
    trained for one epoch by the one loop."""
    cfg = build(TINY, {"train": {"max_epochs": 1}})
    frames_ = SPEC.prepare(cfg, 42)
    vocabs = SPEC.build_vocabs(frames_["train"], cfg.vocab)
    folder = tmp_path_factory.mktemp("vocab")
    for name, vocab in vocabs.items():
        vocab.save(folder / f"{name}.json")
    vocabs = tasks.load_vocabs(SPEC, folder)  # what evaluate and serving read back
    encoded = SPEC.encode(frames_, vocabs)
    torch.manual_seed(42)
    net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
    train, dev = SPEC.loaders(cfg, encoded, 42)
    module = loop.train(net, SPEC.objective(cfg, net, vocabs), train, dev, cfg.train,
                        TrainerConfig(accelerator="cpu"), progress=False)
    return cfg, frames_, vocabs, encoded, module


def test_one_loop_trains_the_tagger_and_keeps_a_history(tiny):
    _, _, _, _, module = tiny
    assert len(module.history) == 1
    assert {"train/loss", "dev/loss", "dev/entity_f1"} <= set(module.history[0])


def test_training_and_evaluate_compute_one_dev_f1(tiny):
    cfg, frames_, vocabs, encoded, module = tiny
    objective = SPEC.objective(cfg, module.net, vocabs).eval()
    _, dev = SPEC.loaders(cfg, encoded, 42)
    with torch.no_grad():
        outputs = [objective.dev_step(module.net.eval(), batch)[1] for batch in dev]
    trained = objective.dev_metrics(outputs)["dev/entity_f1"]
    tags = data.tag_names(vocabs)
    pred = [[tags[i] for i in p] for p in model.predict_tags(module.net, encoded["dev"])]
    assert trained == score(pred, frames_["dev"])["entity_f1"]


def test_evaluate_scores_the_rnn_and_trains_the_dense_baseline_with_its_epochs(
        tiny, monkeypatch):
    cfg, frames_, vocabs, encoded, module = tiny
    calls = []
    real = loop.train

    def spy(net, objective, train, dev, settings, trainer, **kwargs):
        calls.append((type(net).__name__, settings, trainer, kwargs["max_epochs"]))
        return real(net, objective, train, dev, settings, trainer, **kwargs)

    monkeypatch.setattr(evaluate.loop, "train", spy)
    result = SPEC.evaluate(cfg, module.net, frames_, encoded, vocabs, 42)
    assert calls == [("DenseTagger", cfg.train, cfg.trainer, 1)]
    for key in ("dev/entity_f1", "test/entity_f1", "test/entity_precision", "test/entity_recall",
                "test/token_f1", "model/params", "gazetteer/test/entity_f1",
                "dense/test/entity_f1", "dense/params"):
        assert key in result.metrics
    assert all(0 <= result.metrics[k] <= 1 for k in result.metrics if "f1" in k)
    assert set(result.tables["confusion"]) == {"actual", "predicted"}
    assert len(result.tables["confusion"]) == sum(len(t) for t in frames_["test"]["tokens"])
    assert len(result.examples) == 5 and set(result.files) == {"confusion.png"}

    calls.clear()
    off = build(TINY, {"baselines": {"dense": {"enabled": False}}})
    assert "dense/params" not in SPEC.evaluate(off, module.net, frames_, encoded, vocabs,
                                               42).metrics
    assert calls == []


# ---------------------------------------------------------------- serving


def test_predict_tags_raw_sentences(tiny):
    _, _, vocabs, _, module = tiny
    inputs = SPEC.model_input(pd.DataFrame({"text": ["Populations of Panthera leo grew.", ""]}))
    out = SPEC.predict(module.net, vocabs, inputs, {})
    assert out[0]["tokens"] == ["Populations", "of", "Panthera", "leo", "grew", "."]
    assert len(out[0]["labels"]) == 6 and set(out[0]["labels"]) <= {0, 1}
    assert all(e["text"] in inputs[0] for e in out[0]["entities"])
    assert out[1] == {"tokens": [], "offsets": [], "tags": [], "labels": [], "entities": []}
    assert serve.model_input("one sentence") == ["one sentence"]


def test_a_request_is_one_neighbourhood_for_label_consistency(tiny, monkeypatch):
    """The texts of one request, in order, are the sentences label consistency looks across:
    a name the tagger found in the first is found in the second (and abbreviated)."""
    _, _, vocabs, _, module = tiny
    tags = vocabs["tags"].itos[2:]
    first = [tags.index(t) for t in ("B-Species", "I-Species", "O")]
    # the tagger finds the name in the first text only
    monkeypatch.setattr(serve, "predict_tags", lambda net, enc: [first, [0] * 6])
    inputs = ["Lutzomyia whitmani bites", "later L. whitmani and Lutzomyia whitmani"]
    out = SPEC.predict(module.net, vocabs, inputs, {"consistency_window": 1})
    assert [e["text"] for e in out[1]["entities"]] == ["L. whitmani", "Lutzomyia whitmani"]
    # "L." is one token or two, as the training corpus tokenised it; "later" and "and" stay O
    assert out[1]["labels"] == [int(w not in ("later", "and")) for w in out[1]["tokens"]]
    off = SPEC.predict(module.net, vocabs, inputs, {"consistency_window": 0})
    assert off[1]["entities"] == [] and off[0]["entities"][0]["text"] == "Lutzomyia whitmani"
    # the training dictionary (decode.dictionary): a training name the tagger left O
    known = vocabs["entities"].itos[2].split("\t")[0]
    monkeypatch.setattr(serve, "predict_tags", lambda net, enc: [[0] * len(known.split())])
    assert SPEC.predict(module.net, vocabs, [known], {"dictionary": False})[0]["entities"] == []
    hit = SPEC.predict(module.net, vocabs, [known], {"dictionary": True})[0]["entities"]
    assert hit == [{"text": known, "start": 0, "end": len(known), "type": "Species"}]
    with pytest.raises(serving.BadInput, match="consistency_window must be at least 0"):
        SPEC.predict(module.net, vocabs, inputs, {"consistency_window": -1})
    with pytest.raises(serving.BadInput, match="consistency_share must be"):
        SPEC.predict(module.net, vocabs, inputs, {"consistency_share": 1.5})


def test_serving_refuses_bad_requests():
    with pytest.raises(serving.BadInput, match="expected a string"):
        SPEC.model_input(["fine", None])
    with pytest.raises(serving.BadInput, match="unknown param"):
        serving.resolve_params(SPEC, SPEC.predict_params(build()), {"beam_size": 3})


def test_spec_is_complete():
    assert SPEC.name == "entity" and SPEC.primary_mode == "max"
    assert SPEC.load_vocab is data.load_vocab  # model.py (torch) is deferred until train calls it
    assert (SPEC.objective.__module__, SPEC.objective.__name__) == (model.__name__, "objective")
    paths = {entry if isinstance(entry, str) else k for entry in SPEC.plots for k in entry}
    assert {"plots/entity/evaluation/confusion.csv", "plots/entity/evaluation/confusion.png"} \
        <= paths
    conll = build({"data": {"source": "conll", "path": "data/raw/entity/linnaeus"}})
    assert SPEC.raw_inputs(conll) == [f"data/raw/entity/linnaeus/{f}"
                                      for f in ("train.tsv", "devel.tsv", "test.tsv")]
    assert SPEC.raw_inputs(build()) == []


# ---------------------------------------------------------------- the CRF


def test_crf_matches_brute_force_on_tiny_inputs():

    from rnnlab.nn.crf import CRF

    torch.manual_seed(0)
    K, T = 3, 4
    crf = CRF(K)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(2, T, K)
    lengths = [4, 2]
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    best = crf.decode(emissions, mask)
    log_z = crf.log_partition(emissions, mask)
    for b, n in enumerate(lengths):
        scores = {}
        for path in itertools.product(range(K), repeat=n):
            tags = torch.tensor([list(path) + [0] * (T - n)])
            scores[path] = crf.score(emissions[b:b + 1], tags, mask[b:b + 1]).item()
            by_hand = (crf.start[path[0]] + crf.end[path[-1]]
                       + sum(emissions[b, t, k] for t, k in enumerate(path))
                       + sum(crf.transitions[i, j] for i, j in itertools.pairwise(path)))
            assert scores[path] == pytest.approx(by_hand.item(), abs=1e-5)
        assert tuple(best[b]) == max(scores, key=scores.get)  # Viterbi = the best of all K^n
        assert log_z[b].item() == pytest.approx(
            torch.logsumexp(torch.tensor(list(scores.values())), 0).item(), abs=1e-5)
    gold = torch.tensor([[0, 1, 2, 0], [1, 2, 0, 0]])
    nll = crf.nll(emissions, gold, mask)
    assert torch.all(nll > 0)  # -log p(y | x), p < 1
    nll.sum().backward()
    assert crf.transitions.grad is not None


# ---------------------------------------------------------------- served offsets

TRICKY = [  # raw input, its tokens, their tags (B/I of the entities)
    ("in the forest there are Panthera  leo and Loxodonta africana",
     ["in", "the", "forest", "there", "are", "Panthera", "leo", "and", "Loxodonta", "africana"],
     ["O", "O", "O", "O", "O", "B-Species", "I-Species", "O", "B-Species", "I-Species"]),
    ("Populations of (Panthera leo), Gorilla gorilla.",
     ["Populations", "of", "(", "Panthera", "leo", ")", ",", "Gorilla", "gorilla", "."],
     ["O", "O", "O", "B-Species", "I-Species", "O", "O", "B-Species", "I-Species", "O"]),
    ("later P. leo was seen", ["later", "P.", "leo", "was", "seen"],
     ["O", "B-Species", "I-Species", "O", "O"]),
    ("Panthera leo Loxodonta africana roam", ["Panthera", "leo", "Loxodonta", "africana", "roam"],
     ["B-Species", "I-Species", "B-Species", "I-Species", "O"]),
    ("le lion Panthéra léo à Kruger — Ursus  arctos!",
     ["le", "lion", "Panthéra", "léo", "à", "Kruger", "—", "Ursus", "arctos", "!"],
     ["O", "O", "B-Species", "I-Species", "O", "O", "O", "B-Genus", "I-Genus", "O"]),
]


def test_served_entities_carry_raw_offsets_through_pyfunc(tmp_path):
    """A tiny net overfit on the tricky sentences, saved as the evaluate stage logs it (model
    from code) and loaded with mlflow.pyfunc: every entity's raw[start:end] is its text."""
    import mlflow

    from rnnlab.io import write_json
    from rnnlab.stages.evaluate import PACKAGE, PYFUNC_TEXT

    frame = pd.DataFrame({"tokens": [t for _, t, _ in TRICKY], "tags": [g for _, _, g in TRICKY]})
    vocabs = SPEC.build_vocabs(frame, VocabConfig())
    cfg = build({"model": {"hidden_size": 16, "embedding_dim": 16, "chars": "cnn",
                           "char_hidden": 4, "decoder": "crf", "dropout": 0.0}})
    torch.manual_seed(0)
    config_ = SPEC.net_config(cfg, vocabs)
    net = SPEC.build_net(config_)
    enc = SPEC.encode({"train": frame}, vocabs)["train"]
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        model.tag_loss(net, net(**model.net_inputs(enc)), enc["labels"], enc["mask"]).backward()
        opt.step()
    folder = tmp_path / "model"
    (folder / "vocab").mkdir(parents=True)
    torch.save(net.state_dict(), folder / "model.pt")
    write_json(folder / "net.json", {"task": "entity", "config": config_, "vocabs": sorted(vocabs)})
    for name, vocab in vocabs.items():
        vocab.save(folder / "vocab" / f"{name}.json")
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=str(PYFUNC_TEXT),
                             code_paths=[str(PACKAGE)], artifacts={"model_dir": str(folder)},
                             model_config={"predict_params": {}}, pip_requirements=[])
    served = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    out = served.predict([raw for raw, _, _ in TRICKY])
    for (raw, tokens, tags), got in zip(TRICKY, out, strict=True):
        assert got["tokens"] == tokens
        assert all(raw[s:e] == w for w, (s, e) in zip(got["tokens"], got["offsets"], strict=True))
        assert got["tags"] == tags and got["labels"] == data.binary(tags)
        want = [(k, " ".join(tokens[i:j])) for k, i, j in data.spans(tags)]
        assert [(e["type"], e["text"].replace("  ", " ")) for e in got["entities"]] == want
        assert all(raw[e["start"]:e["end"]] == e["text"] for e in got["entities"])
    assert out[0]["entities"][0] == {"text": "Panthera  leo", "start": 24, "end": 37,
                                     "type": "Species"}
    assert [e["text"] for e in out[3]["entities"]] == ["Panthera leo", "Loxodonta africana"]
    assert out[2]["entities"][0]["text"] == "P. leo"


def test_a_conll_corpus_of_other_entity_types_runs_every_stage_by_params_only(tmp_path,
                                                                               monkeypatch):
    """Any CoNLL/IOB corpus runs with params only: genes and chemicals (types the built-in data
    has not), declared in data.tags, go through the six stage functions, and evaluate scores
    each type on its own spans (a two-word chemical is one entity)."""
    rng = random.Random(0)
    genes = ["BRCA1", "TP53", "EGFR", "KRAS", "MYC", "PTEN"]
    chemicals = [["salicylic", "acid"], ["ethanol"], ["nitric", "oxide"], ["caffeine"]]

    def sentence() -> str:
        rows = [("the", "O"), (rng.choice(genes), "B-Gene"), ("gene", "O"), ("binds", "O")]
        rows += [(w, "I-Chemical" if i else "B-Chemical")
                 for i, w in enumerate(rng.choice(chemicals))]
        rows += [("in", "O"), (f"line{rng.randrange(10_000)}", "O"), (".", "O")]
        return "\n".join(f"{w}\t{t}" for w, t in rows)

    def corpus(n: int) -> str:
        return "\n\n".join(sentence() for _ in range(n)) + "\n"

    folder = write_conll(tmp_path / "corpus", train=corpus(60), dev=corpus(15), test=corpus(15))
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), ["entity"])
    raw["mlflow"]["register"] = False
    raw["entity"] = merge(raw["entity"], {
        "data": {"source": "conll", "path": str(folder),
                 "tags": ["O", "B-Gene", "I-Gene", "B-Chemical", "I-Chemical"]},
        "validation": {"max_duplicate_fraction": 1.0}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    for stage in STAGES:
        run_stage(stage, "entity", tmp_path / "params.yaml")

    paths = Paths("entity")
    assert json.loads((tmp_path / paths.validation / "summary.json").read_text())["success"]
    net = json.loads((tmp_path / paths.model / "net.json").read_text())["config"]
    assert net["n_out"] == 4  # the tags training has: O, B-Gene, B-/I-Chemical
    metrics = json.loads((tmp_path / paths.metrics).read_text())
    assert metrics["test/type/Gene/support"] == 15 and metrics["test/type/Chemical/support"] == 15
    assert "test/type/Species/support" not in metrics
    for key in ("test/entity_f1", "gazetteer/test/entity_f1", "dense/test/entity_f1"):
        assert 0.0 <= metrics[key] <= 1.0
