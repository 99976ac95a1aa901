"""translate on real-corpus terms: subword vocabularies (sentencepiece), the small-data training
options (embedding dropout, label smoothing, tied embeddings, LR schedule, weight EMA), batches
bucketed on both sides, corpora in separate files, and the served model's schema and params
through mlflow.pyfunc (one tiny pipeline run in process)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch
import yaml

from helpers import REPO, tiny_params
from rnnlab import config, tasks
from rnnlab.config import TrainConfig, TrainerConfig, build
from rnnlab.nn.loop import RNNModule, train
from rnnlab.tasks.translate.data import read_files
from rnnlab.tasks.translate.encoding import build_vocabs, encode, vocab_metrics
from rnnlab.tasks.translate.model import EncoderDecoder, pair_loader, summed_ce
from rnnlab.tasks.translate.params import CONFIG
from rnnlab.tasks.translate.scoring import decode_rows, id_bleu
from rnnlab.tasks.translate.serve import predict, predict_params
from rnnlab.tasks.translate.subword import SubwordVocabulary
from rnnlab.validation import ValidationFailed, validate

SPEC = tasks.get("translate")
CPU = TrainerConfig(accelerator="cpu")


def task_config(**sections):
    base = {"primary_metric": "dev/bleu",
            "data": {"builtin": {"n_train": 200, "n_dev": 40, "n_test": 40}},
            "validation": {"max_tokens": 30, "max_length_ratio": 3.0},
            "vocab": {"units": "subword", "subword_size": 120},
            "model": {"hidden_size": 16, "embedding_dim": 8, "max_len": 30},
            "train": {"max_epochs": 1, "batch_size": 32, "patience": 1},
            "baselines": {"word_by_word": {"iterations": 2}},
            "decode": {"beam_size": 3, "max_len": 30}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return build(CONFIG, {"name": "translate", **base}, "params.yaml:translate")


@pytest.fixture(scope="module")
def subword():
    cfg = task_config()
    frames = SPEC.prepare(cfg, 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    return cfg, frames, vocabs


# ---------------------------------------------------------------- subword vocabularies


def test_subword_vocabularies_round_trip_plain_text_and_load_from_their_model(subword,
                                                                              tmp_path):
    _, frames, vocabs = subword
    src, tgt = vocabs["source"], vocabs["target"]
    assert isinstance(src, SubwordVocabulary) and src is not tgt
    assert tgt.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert 30 < len(tgt) <= 120  # subword_size is a soft limit on a small corpus
    text = frames["test"]["target"].iloc[0]
    ids = tgt.encode_text(text)
    assert min(ids) > 3 and len(ids) >= len(text.split())  # pieces, never fewer than words
    assert tgt.decode_ids(ids) == text  # sentencepiece detokenises to the plain sentence
    tgt.save(tmp_path / "target.json")
    assert (tmp_path / "target.model").is_file()  # sentencepiece's own file, next to it
    again = SPEC.load_vocab(tmp_path / "target.json")
    assert isinstance(again, SubwordVocabulary) and again.encode_text(text) == ids
    # decoding for scores and serving goes through sentencepiece, specials dropped
    assert decode_rows(tgt, [[*ids, 0]], "en") == [text]
    assert id_bleu(tgt, "en", [ids], [ids]) == pytest.approx(100.0)
    assert id_bleu(tgt, "en", [[*ids, 1]], [[*ids, 1]]) < 100  # a reference <unk> never hits


def test_subword_is_fitted_on_train_only_and_shared_when_asked(subword):
    cfg, frames, _ = subword
    train = frames["train"].iloc[:50]
    only = build_vocabs(train, cfg.vocab)["target"]
    assert only.itos != build_vocabs(frames["train"], cfg.vocab)["target"].itos
    shared = build_vocabs(train, dataclasses.replace(cfg.vocab, shared=True))
    assert shared["source"] is shared["target"]
    pieces = set(shared["source"].itos)
    assert {"▁il", "▁the"} & pieces == {"▁il", "▁the"} or len(pieces) > 50  # both languages
    with pytest.raises(ValueError, match="lowercase"):
        build_vocabs(train, dataclasses.replace(cfg.vocab, shared=True, lowercase=True))


def test_oov_rate_is_measured_on_words_the_same_way_for_both_units(subword):
    cfg, frames, vocabs = subword
    words = build_vocabs(frames["train"], dataclasses.replace(cfg.vocab, units="word"))
    m_sub, m_word = vocab_metrics(frames, vocabs), vocab_metrics(frames, words)
    assert set(m_sub) == set(m_word)
    for key in m_sub:
        if key.endswith("unseen_rate"):  # a property of the data, not of the units
            assert m_sub[key] == m_word[key]
    assert m_word["test/target_units_per_word"] == 1.0 < m_sub["test/target_units_per_word"]
    # a word is out of vocabulary for subwords only when it has a character never seen
    assert vocabs["target"].oov_rate([["cat"], ["ĉat"]]) == 0.5
    assert words["target"].oov_rate([["cat"], ["ĉat"]]) >= 0.5


def test_subword_encoding_frames_every_target_with_bos_and_eos(subword):
    _, frames, vocabs = subword
    enc = encode(frames, vocabs)["dev"]
    n = len(frames["dev"])
    assert (enc["target_in"][:, 0] == 2).all()
    last = enc["target_out"][torch.arange(n), enc["target_lengths"] - 1]
    assert (last == 3).all()
    assert int(enc["lengths"][0]) == len(vocabs["source"].encode_text(frames["dev"]["source"][0]))


# ---------------------------------------------------------------- small-data NMT options


def test_tied_embeddings_share_one_matrix_and_need_equal_sizes():
    net = EncoderDecoder(30, 40, embedding_dim=16, hidden_size=16, tie_embeddings=True)
    assert net.head.weight is net.tgt_embed.weight
    assert sum(p.numel() for p in net.parameters()) < sum(
        p.numel() for p in EncoderDecoder(30, 40, embedding_dim=16, hidden_size=16).parameters())
    with pytest.raises(ValueError, match="embedding_dim == hidden_size"):
        EncoderDecoder(30, 40, embedding_dim=8, hidden_size=16, tie_embeddings=True)


def test_embedding_dropout_is_its_own_rate():
    net = EncoderDecoder(30, 40, dropout=0.3, embedding_dropout=0.0)
    assert net.embed_dropout.p == 0.0 and net.dropout.p == 0.3
    assert EncoderDecoder(30, 40, dropout=0.3).embed_dropout.p == 0.3  # default: as before


def test_label_smoothing_penalises_a_confident_right_answer():
    logits = torch.full((1, 2, 5), -10.0)
    logits[0, 0, 2] = logits[0, 1, 3] = 10.0
    targets, mask = torch.tensor([[2, 3]]), torch.ones(1, 2, dtype=torch.bool)
    plain, smooth = summed_ce(logits, targets, mask), summed_ce(logits, targets, mask, 0.1)
    assert float(plain) < 1e-6 < float(smooth)


def test_ema_keeps_a_moving_average_and_defaults_keep_plain_adam():
    net = torch.nn.Linear(2, 1)
    plain = RNNModule(net, torch.nn.Module())
    assert plain.ema is None and isinstance(plain.configure_optimizers(), torch.optim.Adam)
    module = RNNModule(net, torch.nn.Module(), ema_decay=0.5)
    before = module.ema.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    module.on_train_batch_end()
    d = min(0.5, 2 / 11)  # the warm-up of the first step
    assert torch.allclose(module.ema.weight, d * before + (1 - d) * net.weight)
    assert module.scored_net() is module.ema
    optimised = {id(p) for g in module.configure_optimizers().param_groups for p in g["params"]}
    assert optimised == {id(p) for p in net.parameters()}  # the average is never trained


def test_lr_schedules_reduce_the_rate(subword):
    cfg, frames, vocabs = subword
    enc = encode(frames, vocabs)
    torch.manual_seed(0)
    for schedule in ("cosine", "plateau"):
        net = SPEC.build_net(SPEC.net_config(cfg, vocabs))
        objective = SPEC.objective(cfg, net, vocabs)
        settings = dataclasses.replace(cfg.train, max_epochs=3, patience=5, lr_factor=0.1,
                                       lr_patience=0, lr_schedule=schedule, ema_decay=0.9)
        module = train(net, objective, *SPEC.loaders(cfg, enc, 0), settings, CPU,
                       progress=False)
        lr = module.trainer.optimizers[0].param_groups[0]["lr"]
        if schedule == "cosine":
            assert lr == pytest.approx(cfg.train.lr * 0.1)  # the end of the cosine
        else:
            assert lr <= cfg.train.lr  # reduced once dev BLEU stops rising (or not at all)
        assert len(module.history) == 3
    with pytest.raises(ValueError, match="lr_schedule"):
        RNNModule(net, objective, lr_schedule="step")
    assert TrainConfig().lr_schedule == "none" and TrainConfig().ema_decay == 0.0


def test_batches_are_bucketed_on_the_target_side_too():
    n = 256
    src_len = torch.full((n,), 4)
    tgt_len = torch.arange(n) % 32 + 2
    enc = {"ids": torch.ones(n, 4, dtype=torch.long), "lengths": src_len,
           "target_in": torch.ones(n, 34, dtype=torch.long),
           "target_out": torch.ones(n, 34, dtype=torch.long), "target_lengths": tgt_len}
    spread = [int(b["target_lengths"].max() - b["target_lengths"].min())
              for b in pair_loader(enc, 16, shuffle=True, seed=0, bucket=True)]
    assert max(spread) <= 2  # equal sources: sorted by target length within the pool
    rows = sorted(i for b in pair_loader(enc, 16, shuffle=True, seed=0, bucket=True)
                  for i in b["target_lengths"].tolist())
    assert rows == sorted(tgt_len.tolist())  # every pair once per epoch


# ---------------------------------------------------------------- corpora in their own files


def _write(path: Path, pairs: list[tuple[str, str]]) -> str:
    path.write_text("".join(f"eng\tita\t{en}\t{it}\n" for en, it in pairs))
    return str(path)


def test_separate_files_carve_dev_from_train_and_refuse_a_test_pair_seen_in_train(tmp_path):
    train_pairs = [(f"I see {i} cats.", f"Vedo {i} gatti.") for i in range(40)]
    test_pairs = [("I see a dog.", "Vedo un cane."), ("We eat.", "Mangiamo.")]
    files = {"train": _write(tmp_path / "train.txt", train_pairs),
             "test": _write(tmp_path / "test.txt", test_pairs)}
    cfg = task_config(data={"source": "tatoeba", "files": files, "split": {"dev": 0.25}})
    assert SPEC.raw_inputs(cfg) == [files["train"], files["test"]]
    splits = read_files(cfg.data, 0)
    assert len(splits["train"]) + len(splits["dev"]) == 40 and len(splits["dev"]) > 0
    assert list(splits["test"]["file"]) == ["test.txt", "test.txt"]
    (check,) = SPEC.checks(cfg, SPEC.prepare(cfg, 0))
    assert not check.frame["test_pair_in_train"].any()
    leaked = _write(tmp_path / "test2.txt", [*test_pairs, train_pairs[3]])
    cfg = task_config(data={"source": "tatoeba", "split": {"dev": 0.25},
                            "files": {**files, "test": leaked}})
    with pytest.raises(ValidationFailed) as err:
        validate("translate", SPEC.checks(cfg, SPEC.prepare(cfg, 0)), tmp_path / "bad")
    message = str(err.value)
    assert "no test pair occurs in train" in message
    assert "test2.txt" in message and "3" in message  # the file and its line


# ---------------------------------------------------------------- served through MLflow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """translate's six stages in process on tiny params with subword units: the registered
    champion, loaded through mlflow.pyfunc."""
    import mlflow

    from rnnlab import tracking
    from rnnlab.stages import STAGES
    from rnnlab.stages import run as run_stage

    root = tmp_path_factory.mktemp("translate-served")
    raw = tiny_params(yaml.safe_load((REPO / "params.yaml").read_text()), ["translate"])
    raw["translate"]["vocab"] = {**raw["translate"]["vocab"], "units": "subword",
                                 "subword_size": 200}
    raw["translate"]["train"]["max_epochs"] = 2
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    old, saved = Path.cwd(), {k: os.environ.pop(k) for k in list(os.environ)
                              if k.startswith("MLFLOW_TRACKING")}
    os.chdir(root)
    # An absolute store: MLflow caches its SQL store by URI string, so the relative default
    # would reuse whichever folder an earlier test in this process opened first.
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/mlruns/mlflow.db"
    try:
        for stage in STAGES:
            run_stage(stage, "translate", root / "params.yaml")
        cfg = config.load(root / "params.yaml")
        tracking.setup(cfg.mlflow, "translate")
        uri = f"models:/{tracking.model_name('translate')}@champion"
        yield root, cfg.task("translate"), mlflow.pyfunc.load_model(uri), uri
    finally:
        os.chdir(old)
        os.environ.pop("MLFLOW_TRACKING_URI")
        os.environ.update(saved)


def test_served_signature_declares_inputs_outputs_params_and_an_example(served):
    import mlflow

    _, cfg, _, uri = served
    info = mlflow.models.get_model_info(uri)
    sig = info.signature
    # from rnnlab/pyfunc_text.py's type hints: a string that MLflow enforces
    assert sig.inputs.to_dict()[0]["type"] == "string"
    assert sig.outputs.to_dict()[0]["type"] == "string"
    declared = {p.name: p.default for p in sig.params.params}
    assert declared == predict_params(cfg)
    assert info.saved_input_example_info is not None
    # the sentencepiece models travel with the served model
    local = Path(mlflow.artifacts.download_artifacts(uri))
    assert sorted(p.name for p in local.rglob("*.model")) == ["source.model", "target.model"]


def test_served_beam_size_changes_the_decoding(served):
    root, cfg, model, _ = served
    import pandas as pd

    sources = list(pd.read_parquet(root / "data/prepared/translate/dev.parquet")["source"])
    greedy = model.predict(sources, params={"beam_size": 1})
    beam = model.predict(sources, params={"beam_size": 4})
    assert len(greedy) == len(sources) and all(isinstance(t, str) for t in greedy)
    assert greedy != beam  # at least one sentence decodes differently
    assert model.predict(sources[:3]) == model.predict(sources[:3], params={
        "beam_size": cfg.decode.beam_size})  # the default is the decode section
    short = model.predict(sources[:5], params={"beam_size": 1, "max_len": 2})
    assert all(len(t.split()) <= 2 for t in short)
    # the same answer as the in-process predict from the model folder
    from rnnlab.serving import load_model_dir, resolve_params

    spec, net, vocabs = load_model_dir(root / "models/translate")
    assert predict(net, vocabs, sources[:5], resolve_params(
        spec, predict_params(cfg), {"beam_size": 1})) == greedy[:5]
