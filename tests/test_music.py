"""The one-to-many music task: tokens from tiny ABC files written here (never the whole
corpus), the OneToMany network (conditioning, clock, sampling), overfitting a tiny batch with
the one training loop, GX checks catching planted faults by name, the bigram and metre / pitch
metrics on toy cases, evaluate, serving (caps, defaults from the decode section) and MIDI
export. The stage-by-stage smoke test over TINY and the DVC pipeline tests are shared ones."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab import config, serving, tasks
from rnnlab.config import TrainerConfig
from rnnlab.nn.encoding import pad
from rnnlab.nn.loop import loader, train
from rnnlab.tasks.music import checks, model, prepare, serve, vocab
from rnnlab.tasks.music import data as music
from rnnlab.tasks.music import evaluate as evaluation
from rnnlab.tasks.music.baselines import Bigram, GenreClassifier, fit_bigram
from rnnlab.tasks.music.model import MusicObjective, OneToMany, sequence_nll
from rnnlab.tasks.music.params import CONFIG, TINY, BigramBaseline, MusicConfig
from rnnlab.tasks.music.spec import SPEC
from rnnlab.validation import ValidationFailed, validate

CPU = TrainerConfig(accelerator="cpu", devices=1)

NOTES = "CDEFGABcdefgab"


JIG, REEL = (2, 1, 2, 1), (1,) * 8  # one bar's rhythm in eighths: 6/8 "A2B c2d", 2/2 "ABcdefga"


def abc(title: str, metre: str, rhythm: tuple[int, ...], seed: int, bars: int = 8,
        key: str = "G") -> str:
    """A small, seeded ABC tune of whole bars in `rhythm` (note lengths in eighths)."""
    rng = np.random.default_rng(seed)
    body = " | ".join("".join(f"{rng.choice(list(NOTES))}{n if n > 1 else ''}" for n in rhythm)
                      for _ in range(bars))
    return f"X:1\nT:{title}\nM:{metre}\nL:1/8\nK:{key}\n{body} |]\n"


def write_tunes(root: Path, per_genre: int = 6) -> Path:
    """root/Jig/*.abc (6/8) and root/Reel/*.abc (2/2): the user-folder layout."""
    for genre, metre, rhythm in (("Jig", "6/8", JIG), ("Reel", "2/2", REEL)):
        folder = root / genre
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_genre):
            (folder / f"{genre.lower()}{i}.abc").write_text(
                abc(f"{genre} number {i}", metre, rhythm, seed=100 * len(genre) + i))
    return root


def task_config(**sections) -> MusicConfig:
    base = {"primary_metric": "dev/nll",
            "data": {"source": "folder", "path": "tunes", "min_files": 1,
                     "split": {"dev": 0.2, "test": 0.2}},
            "validation": {"min_notes": 16, "max_failed_fraction": 0.0,
                           "min_train_per_genre": 2},
            "model": {"cell": "gru", "hidden_size": 16, "embedding_dim": 8, "genre_dim": 4,
                      "clock_dim": 4},
            "decode": {"max_len": 80},
            "evaluation": {"samples_per_genre": 3, "midi_per_genre": 1},
            "train": {"max_epochs": 2, "batch_size": 8, "patience": 2},
            "baselines": {"bigram": {"k": [0.05, 0.5]}, "classifier": {"C": 1.0}}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return config.build(CONFIG, {"name": "music", **base}, "music")


# ---------------------------------------------------------------- params


def test_the_params_section_is_typed_and_tiny_overrides_it():
    cfg = config.build(CONFIG, {"name": "music", "primary_metric": "dev/nll", **TINY}, "music")
    assert cfg.data.limit == 8 and cfg.evaluation.samples_per_genre == 3 and cfg.model.clock
    assert cfg.baselines.bigram.k == 0.05 and cfg.baselines.classifier.C == 1.0
    with pytest.raises(config.ConfigError, match=r"music\.model\.temperature: unknown key"):
        task_config(model={"temperature": 0.8})  # a decode knob, not the model's
    with pytest.raises(config.ConfigError, match=r"music\.model\.condition must be one of"):
        task_config(model={"condition": "sometimes"})
    with pytest.raises(config.ConfigError, match=r"music\.data\.source must be one of"):
        task_config(data={"source": "internet"})


def test_train_does_not_read_the_decode_section_and_evaluate_does():
    assert "music.decode" not in SPEC.stage_params("train", CONFIG)
    assert "music.decode" in SPEC.stage_params("evaluate", CONFIG)
    assert "music.model" in SPEC.stage_params("train", CONFIG)
    assert tasks.get("music") is SPEC and SPEC.primary_mode == "min"
    assert SPEC.raw_inputs(task_config()) == ["tunes"]
    assert SPEC.raw_inputs(task_config(data={"source": "corpus"})) == []


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_tunes(tmp_path_factory.mktemp("music") / "tunes")


@pytest.fixture(scope="module")
def prepared(folder: Path) -> tuple[config.TaskConfig, dict[str, pd.DataFrame]]:
    cfg = task_config(data={"path": str(folder)})
    return cfg, prepare.prepare(cfg, seed=0)


# ---------------------------------------------------------------- tokens and readers


def test_genre_comes_from_the_file_name_and_metres_have_bar_lengths():
    assert music.genre_from_filename("AcrobatsHornpipe.abc") == "Hornpipe"
    assert music.genre_from_filename("OldZipCoonReel_G.abc") == "Reel"
    assert music.genre_from_filename("42dHighlandRegimentStrathspey.abc") == "Strathspey"
    assert music.genre_from_filename("lowercase.abc") is None
    assert [music.bar_length(m) for m in ("6/8", "9/8", "2/2", "2/4", "4/4", "C")] == \
        [3.0, 4.5, 4.0, 2.0, 4.0, None]


def test_tokens_round_trip():
    assert music.note_token(69, 0.5) == "A4_1/2" and music.note_token(None, 1.5) == "R_3/2"
    assert music.note_token(61, 1 / 3) == "C#4_1/3"
    assert music.parse_token("A4_1/2") == (69, 0.5) and music.parse_token("R_1") == (None, 1.0)
    assert music.parse_token("|") is None and music.parse_token("<eot>") is None
    assert all(music.pitch_midi(music.pitch_name(m)) == m for m in range(128))


def test_an_abc_file_becomes_notes_rests_and_bar_lines(tmp_path: Path):
    path = tmp_path / "t.abc"
    # a pickup, a grace note {g}, a chord [ce] (top note kept), a rest z, a triplet
    path.write_text("X:1\nT:Test -- Jig\nM:6/8\nL:1/8\nK:C\nG | {g}A2B [ce]z2 | (3ABc d3 |]\n")
    tunes, failures = music.parse_files([(path, "Jig")], progress=False)
    assert failures == []
    (tune,) = tunes
    assert tune["tokens"] == ["G4_1/2", "|", "A4_1", "B4_1/2", "E5_1/2", "R_1", "|",
                              "A4_1/3", "B4_1/3", "C5_1/3", "D5_3/2"]
    assert tune["grace_notes"] == 1 and tune["metre"] == "6/8" and tune["n_notes"] == 8
    assert tune["title"] == "Test -- Jig" and tune["genre"] == "Jig"
    # the pickup and the last bar are not whole bars
    assert evaluation.bar_lengths(tune["tokens"]) == [3.0]


def test_transpose_moves_the_key_signature_to_no_accidentals(tmp_path: Path):
    path = tmp_path / "d.abc"
    path.write_text("X:1\nT:In D\nM:2/4\nL:1/8\nK:D\nDFAd | fedc |]\n")
    (plain,), _ = music.parse_files([(path, "Reel")], progress=False)
    (moved,), _ = music.parse_files([(path, "Reel")], transpose=True, progress=False)
    assert moved["transposed_by"] == -2
    assert [music.parse_token(t)[0] - 2 for t in plain["tokens"] if t != "|"] == \
        [music.parse_token(t)[0] for t in moved["tokens"] if t != "|"]


def test_a_file_music21_cannot_read_is_reported_by_name_and_skipped(tmp_path: Path):
    good = tmp_path / "good.abc"
    good.write_text(abc("good", "6/8", JIG, seed=1))
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"this is not a MIDI file")
    tunes, failures = music.parse_files([(good, "Jig"), (bad, "Jig")], progress=False)
    assert [t["file"] for t in tunes] == ["good.abc"]
    assert [f["file"] for f in failures] == ["broken.mid"] and failures[0]["error"]


def test_parallel_parsing_gives_the_same_tunes_in_the_same_order(folder: Path):
    files = music.folder_files(folder)
    one, _ = music.parse_files(files, progress=False)
    two, _ = music.parse_files(files, workers=2, progress=False)
    assert [t["tokens"] for t in one] == [t["tokens"] for t in two]


def test_folder_source_prepares_genres_from_sub_folders_in_disjoint_splits(prepared):
    cfg, frames = prepared
    assert set(frames) == {"train", "dev", "test", "failures", "files", "genres", "sources"}
    tunes = pd.concat([frames[s].assign(split=s) for s in ("train", "dev", "test")])
    assert sorted(tunes["genre"].unique()) == ["Jig", "Reel"] and len(tunes) == 12
    assert tunes.groupby("group")["split"].nunique().max() == 1
    assert all(len(frames[s]) for s in ("train", "dev", "test"))
    assert frames["train"]["metre"].isin(["6/8", "2/2"]).all()
    again = prepare.prepare(cfg, seed=0)
    assert again["test"]["title"].tolist() == frames["test"]["title"].tolist()


def test_versions_of_a_tune_share_a_group():
    groups = prepare.tune_groups(["Old Zip Coon -- Reel", "OLD ZIP COON -- REEL.", "Morpeth's",
                                  "Morpeth", "Other"],
                                 [["A4_1"], ["B4_1"], ["C5_1"], ["C5_1"], ["D5_1"]])
    assert groups[0] == groups[1] and groups[2] == groups[3] and len(set(groups)) == 3


def test_genres_default_to_the_largest_with_enough_files():
    files = [(Path(f"{i}"), g) for i, g in enumerate(["Reel"] * 5 + ["Jig"] * 3 + ["Clog"] * 1
                                                     + [None] * 9)]
    cfg = task_config(data={"max_genres": 2, "min_files": 2})
    assert prepare.select_genres(files, cfg) == ["Reel", "Jig"]
    cfg = task_config(data={"max_genres": 4, "min_files": 2})
    assert prepare.select_genres(files, cfg) == ["Reel", "Jig"]
    assert prepare.select_genres(files, task_config(data={"genres": ["Clog"]})) == ["Clog"]


# ---------------------------------------------------------------- validation


def test_clean_tunes_pass_validation(prepared, tmp_path: Path):
    cfg, frames = prepared
    summary = validate("music", checks.checks(cfg, frames), tmp_path / "v")
    assert summary["success"] and summary["stats"]["tunes"]["train"]["genres"]["Jig"] > 0


def _planted(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    frames = {k: v.copy() for k, v in frames.items()}
    train = frames["train"]
    train.at[0, "genre"] = None
    train.at[1, "tokens"] = ["A4_-1/2", *list(train.at[1, "tokens"])]
    train.at[2, "tokens"] = ["A#9_1/2", *list(train.at[2, "tokens"])]  # MIDI 130
    train.at[3, "tokens"] = ["A4_1/2", "B4_1/2"]  # 2 notes
    train.at[4, "tokens"] = list(frames["test"].at[0, "tokens"])  # a test tune, in training
    train.at[5, "tokens"] = ["A4_1/2", "Q7", *list(train.at[5, "tokens"])]
    frames["failures"] = pd.DataFrame({"file": ["broken.mid"], "genre": ["Jig"],
                                       "error": ["MidiException: bad header"]})
    frames["files"] = pd.concat([frames["files"], pd.DataFrame({"file": ["broken.mid"],
                                                                "genre": ["Jig"]})])
    return frames


def test_validation_names_each_planted_fault(prepared, tmp_path: Path):
    cfg, frames = prepared
    bad = _planted(frames)
    titles = {i: bad["train"].at[i, "title"] for i in range(6)}
    with pytest.raises(ValidationFailed) as err:
        validate("music", checks.checks(cfg, bad), tmp_path / "v")
    text = str(err.value)
    for description, row in (("every tune has a genre", 0), ("every duration is positive", 1),
                             ("pitches within MIDI 0-127 (high)", 2),
                             ("at least 16 notes", 3), ("no tune is in two splits", 4),
                             ("every token is a note, a rest or a bar line", 5)):
        line = next(li for li in text.splitlines() if description in li)
        assert "FAILED" in line
        assert titles[row] in text, (description, titles[row])
    assert "music21 parses all but at most 0% of the files" in text and "broken.mid" in text
    summary = json.loads((tmp_path / "v" / "summary.json").read_text())
    assert not summary["success"]


def test_parse_failures_within_the_tolerated_share_pass(prepared, tmp_path: Path):
    cfg, frames = prepared
    frames = dict(frames)
    frames["failures"] = pd.DataFrame({"file": ["jig0.abc"], "genre": ["Jig"], "error": ["x"]})
    loose = dataclasses.replace(cfg, validation=dataclasses.replace(cfg.validation,
                                                                  max_failed_fraction=0.1))
    assert validate("music", checks.checks(loose, frames), tmp_path / "ok")["success"]
    with pytest.raises(ValidationFailed, match=r"jig0\.abc"):
        validate("music", checks.checks(cfg, frames), tmp_path / "strict")


def test_validate_stage_hands_the_side_frames_prepare_wrote_to_the_checks(
        prepared, tmp_path: Path, monkeypatch):
    from rnnlab.stages import Paths
    from rnnlab.stages.common import read_frames

    cfg, frames = prepared
    monkeypatch.chdir(tmp_path)
    folder = Paths("music").prepared
    folder.mkdir(parents=True)
    for name in ("train", "dev", "test", "files"):
        frames[name].to_parquet(folder / f"{name}.parquet")
    pd.DataFrame({"file": ["jig0.abc"], "genre": ["Jig"], "error": ["x"]}).to_parquet(
        folder / "failures.parquet")
    on_disk = read_frames(Paths("music"), side=True)
    assert set(on_disk) == {"train", "dev", "test", "files", "failures"}
    with pytest.raises(ValidationFailed, match=r"jig0\.abc"):
        validate("music", checks.checks(cfg, on_disk), tmp_path / "v")


# ---------------------------------------------------------------- network


@pytest.mark.parametrize("cell", ["simple", "gru", "lstm"])
@pytest.mark.parametrize("condition", ["state", "input", "every"])
def test_one_to_many_shapes_and_the_genre_changes_the_first_step(cell, condition):
    torch.manual_seed(0)
    net = OneToMany(10, 3, cell=cell, hidden_size=8, embedding_dim=4, genre_dim=4,
                    condition=condition, num_layers=2).eval()
    ids = torch.tensor([[0, 3, 4, 5], [0, 6, 0, 0]])
    logits = net(torch.tensor([0, 1]), ids, torch.tensor([4, 2]))
    assert logits.shape == (2, 4, 10)
    first = net(torch.tensor([0, 1, 2]), torch.zeros(3, 1, dtype=torch.long),
                torch.ones(3, dtype=torch.long))
    assert not torch.allclose(first[0], first[1])  # x<1> = 0 for all: only the genre differs


def test_padding_never_changes_a_sequence_logits():
    torch.manual_seed(0)
    net = OneToMany(10, 2, hidden_size=8, embedding_dim=4).eval()
    ids = torch.tensor([[0, 3, 4]])
    short = net(torch.tensor([1]), ids, torch.tensor([3]))
    padded = net(torch.tensor([1]), torch.tensor([[0, 3, 4, 0, 0]]), torch.tensor([3]))
    assert torch.allclose(short, padded[:, :3], atol=1e-6)


def test_clock_counts_time_since_the_bar_line():
    net = OneToMany(6, 1, token_durations=[0, 0, 0, 1.0, 0.5, 0.0], reset_id=5)
    ids = torch.tensor([[0, 3, 4, 5, 4, 4, 3]])
    assert net.elapsed(ids).tolist() == [[0.0, 1.0, 1.5, 0.0, 0.5, 1.0, 2.0]]
    assert net.elapsed(torch.tensor([[4, 4]]), start=torch.tensor([1.0])).tolist() == \
        [[1.5, 2.0]]


def test_sampling_is_seeded_stops_at_the_end_token_and_respects_top_k():
    torch.manual_seed(0)
    net = OneToMany(8, 2, hidden_size=8, embedding_dim=4)
    g = torch.tensor([0, 1, 0])

    def draw(seed, **kw):
        return net.sample(g, 30, eos=2, generator=torch.Generator().manual_seed(seed), **kw)

    assert draw(1) == draw(1)
    assert all(len(s) <= 30 and 2 not in s and 0 not in s and 1 not in s for s in draw(1))
    assert draw(1, top_k=1) == draw(2, top_k=1)  # top-1 is greedy: no randomness left
    with pytest.raises(ValueError, match="temperature"):
        draw(1, temperature=0)
    with torch.no_grad():  # an end token that always wins: every tune stops at once
        net.head.bias.fill_(-50)
        net.head.bias[2] = 50
    assert draw(3) == [[], [], []]


def _toy_encoded() -> tuple[dict[str, torch.Tensor], list[list[int]]]:
    """Two genres, one tune each (ids 3..7, end token 2)."""
    tunes = [[3, 4, 5, 4, 3, 2], [6, 7, 6, 7, 5, 2]]
    out = pad([[0, *t[:-1]] for t in tunes])
    out["targets"] = pad(tunes)["ids"]
    out["genres"] = torch.tensor([0, 1])
    return out, tunes


def test_teacher_forcing_overfits_a_tiny_batch_and_greedy_decoding_replays_it():
    torch.manual_seed(0)
    encoded, tunes = _toy_encoded()
    net = OneToMany(8, 2, hidden_size=32, embedding_dim=8, genre_dim=4)
    before = float(sequence_nll(net, encoded).sum())
    net.train()  # sequence_nll left it in eval mode
    settings = task_config(train={"max_epochs": 80, "patience": 80, "lr": 0.03}).train
    module = train(net, MusicObjective(), loader(encoded, 2, shuffle=True), loader(encoded, 2),
                   settings, CPU, progress=False)
    after = float(sequence_nll(net, encoded).sum()) / int(encoded["lengths"].sum())
    assert after < 0.05 < before / 12
    assert module.history and {"train/loss", "dev/loss", "dev/nll"} <= set(module.history[-1])
    last = module.history[-1]
    assert math.isclose(last["dev/loss"], last["dev/nll"])  # one dev batch: the same mean
    greedy = net.sample(torch.tensor([0, 1]), 20, eos=2, top_k=1)
    assert greedy == [t[:-1] for t in tunes]  # the genre alone picks its tune


def test_the_objective_averages_over_real_tokens_only():
    encoded, _ = _toy_encoded()
    torch.manual_seed(0)
    net = OneToMany(8, 2, hidden_size=8, embedding_dim=4).eval()
    batch = next(iter(loader(encoded, 2)))
    with torch.no_grad():
        loss = MusicObjective().loss(net, batch)
        dev_loss, (total, n) = MusicObjective().dev_step(net, batch)
    per_step = sequence_nll(net, encoded)
    assert math.isclose(float(loss), float(per_step.sum()) / 12, rel_tol=1e-6)
    assert n == 12 and dev_loss.item() == total / n
    metrics = MusicObjective().dev_metrics([(total, n), (total, n)])
    assert math.isclose(metrics["dev/perplexity"], math.exp(metrics["dev/nll"]), rel_tol=1e-6)


# ---------------------------------------------------------------- baselines and metrics


def test_bigram_matches_hand_counts_and_k_is_chosen_on_dev():
    encoded, _ = _toy_encoded()
    bigram = Bigram(encoded, 2, 8, k=0.5)
    # genre 0 after id 4: targets 5 and 3 once each; 7 ids can follow (all but <pad>)
    assert math.isclose(np.exp(bigram.log_probs(0)[4, 5]), (1 + 0.5) / (2 + 0.5 * 7))
    assert np.allclose(np.exp(bigram.log_probs(1)).sum(1), 1)
    total, n = bigram.nll(encoded)
    assert n == 12 and total > 0
    best, dev_nll = fit_bigram(BigramBaseline(k=(0.001, 1.0)), {"train": encoded, "dev": encoded},
                               2, 8)
    assert best.k == 0.001 and dev_nll < total / n  # on seen data, less smoothing wins
    sharp = Bigram(encoded, 2, 8, k=1e-9)  # next to no mass on unseen transitions
    samples = sharp.sample(0, 20, seed=0, eos=2, banned=(0, 1), max_len=20)
    assert samples == sharp.sample(0, 20, seed=0, eos=2, banned=(0, 1), max_len=20)  # seeded
    seen = {(0, 3), (3, 4), (4, 5), (5, 4), (4, 3)}  # genre 0's transitions
    for s in samples:
        assert all(pair in seen for pair in zip([0, *s], s, strict=False)), s
        assert len(s) == 20 or s[-1] == 3  # stopped at max_len, or at <eot>: it only follows 3
    assert any(len(s) < 20 for s in samples)
    assert len({tuple(s) for s in samples}) > 1  # 3 -> 4 or <eot>, 4 -> 5 or 3: it draws


def test_bar_fit_and_pitch_class_distance_on_toy_tunes():
    waltz = ["A4_1", "|", "A4_1", "B4_1", "C5_1", "|", "D5_2", "|", "E5_3", "|"]
    assert evaluation.bar_lengths(waltz) == [3.0, 2.0, 3.0]
    share, bars = evaluation.bar_fit([waltz], [3.0])
    assert bars == 3 and math.isclose(share, 2 / 3)
    assert math.isnan(evaluation.bar_fit([["A4_1"]], [3.0])[0])
    a = evaluation.pitch_class_histogram([["C4_1", "C5_1", "G4_2"]])
    assert np.allclose(a[[0, 7]], [0.5, 0.5])
    assert evaluation.js_divergence(a, a) == 0.0
    assert math.isclose(evaluation.js_divergence(np.eye(12)[0], np.eye(12)[1]), 1.0)


def test_the_genre_classifier_learns_metre_from_real_training_tunes(prepared):
    cfg, frames = prepared
    clf = GenreClassifier(cfg.baselines.classifier).fit(frames["train"], frames["dev"])
    pred = clf.predict([list(t) for t in frames["test"]["tokens"]])
    assert (pred == frames["test"]["genre_id"].to_numpy()).mean() == 1.0


# ---------------------------------------------------------------- vocab, encode, evaluate


@pytest.fixture(scope="module")
def trained(prepared):
    cfg, frames = prepared
    vocabs = vocab.build_vocabs(frames["train"], cfg.vocab)
    encoded = vocab.encode(frames, vocabs)
    torch.manual_seed(0)
    net = model.build_net(model.net_config(cfg, vocabs))
    train_batches, dev_batches = model.loaders(cfg, encoded, seed=0)
    train(net, model.objective(cfg, net, vocabs), train_batches, dev_batches, cfg.train, CPU,
          progress=False)
    return cfg, frames, vocabs, encoded, net


def test_vocab_and_encode_give_teacher_forcing_pairs_and_genre_metres(trained):
    cfg, frames, vocabs, encoded, _net = trained
    assert set(encoded) == {"train", "dev", "test"}  # the side frames are not encoded
    assert vocabs["genres"].names == ["Jig", "Reel"]  # equal file counts: by name
    assert frames["train"].loc[frames["train"]["genre"] == "Jig", "genre_id"].eq(0).all()
    assert vocabs["genres"].bar_lengths("Jig") == [3.0]
    assert vocabs["genres"].main_metre("Reel") == "2/2"
    e = encoded["train"]
    assert torch.equal(e["ids"][:, 1:][e["mask"][:, 1:]], e["targets"][:, :-1][e["mask"][:, 1:]])
    assert (e["ids"][:, 0] == 0).all()  # x<1> = 0
    eot = vocabs["tokens"].stoi[vocab.EOT]
    ends = e["targets"].gather(1, (e["lengths"] - 1)[:, None]).squeeze(1)
    assert (ends == eot).all()
    config_ = model.net_config(cfg, vocabs)
    assert {"temperature", "top_k", "max_len"}.isdisjoint(config_)  # decode is not train's
    assert config_["reset_id"] == vocabs["tokens"].stoi[music.BAR]
    with pytest.raises(ValueError, match="bidirectional"):
        model.net_config(task_config(model={"bidirectional": True}), vocabs)


def test_evaluate_writes_every_table_figure_and_midi(trained, tmp_path: Path):
    cfg, frames, vocabs, encoded, net = trained
    result = evaluation.evaluate(cfg, net, frames, encoded, vocabs, seed=0)
    metrics = result.metrics
    for key in ("dev/nll", "test/nll", "test/perplexity", "bigram/test/nll",
                "test/nll_ratio_to_bigram", "test/conditioning_accuracy",
                "classifier/test/accuracy", "bigram/test/conditioning_accuracy",
                "test/bar_fit", "test/bar_fit_real", "bigram/test/bar_fit",
                "test/pitch_class_js", "test/conditioning_accuracy_Jig", "model/params"):
        assert key in metrics and np.isfinite(metrics[key]), key
    assert metrics["test/bar_fit_real"] == 1.0  # the fixtures are whole bars only
    assert metrics["bigram/k"] in (0.05, 0.5)
    assert set(result.tables) == {"metre", "conditioning", "pitch_classes"}
    assert len(result.tables["pitch_classes"]) == 24
    assert len(result.examples) == 2
    for name, write in result.files.items():
        write(tmp_path / name)
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == {
        "metre.png", "conditioning.png", "pianoroll_Jig.png", "pianoroll_Reel.png",
        "midi/Jig_1.mid", "midi/Reel_1.mid"}  # evaluation.midi_per_genre: 1
    assert metrics["test/generated_tokens_mean"] <= cfg.decode.max_len
    again = evaluation.evaluate(cfg, net, frames, encoded, vocabs, seed=0)
    assert again.metrics == metrics  # seeded: the same samples, the same figures


# ---------------------------------------------------------------- serving


def _params(cfg: MusicConfig, **given) -> dict:
    return serving.resolve_params(SPEC, serve.predict_params(cfg), given)


def test_predict_params_are_the_decode_section():
    cfg = task_config(decode={"temperature": 0.5, "top_k": 3, "max_len": 99})
    assert serve.predict_params(cfg) == {"count": 1, "seed": 0, "temperature": 0.5, "top_k": 3,
                                         "max_len": 99}
    with pytest.raises(serving.BadInput, match="unknown param"):
        _params(cfg, beam=2)


def test_predict_returns_seeded_note_sequences_for_a_genre(trained, tmp_path: Path):
    cfg, frames, vocabs, _encoded, net = trained
    params = _params(cfg, count=2, seed=5)
    out = serve.predict(net, vocabs, serve.model_input(["Jig"]), params)
    assert len(out) == 1 and out[0]["genre"] == "Jig" and len(out[0]["tunes"]) == 2
    tune = out[0]["tunes"][0]
    assert tune["metre"] == "6/8" and len(tune["notes"]) <= len(tune["tokens"])
    assert all(d > 0 and (p is None or 0 <= p <= 127) for p, d, _ in tune["notes"])
    assert all(len(t["tokens"]) <= cfg.decode.max_len for t in out[0]["tunes"])
    assert serve.predict(net, vocabs, serve.model_input("Jig"), params) == out
    rows = serve.model_input(pd.DataFrame({"genre": ["Reel", "Jig"], "count": [1, 3],
                                           "seed": [0, 1]}))
    assert [len(r["tunes"]) for r in serve.predict(net, vocabs, rows, _params(cfg))] == [1, 3]
    from music21 import converter

    path = music.write_midi(tune["tokens"], tmp_path / "generated.mid", tune["metre"])
    assert converter.parse(str(path)).flatten().notes  # a generated tune is one call away
    real = list(frames["train"].at[0, "tokens"])  # plain durations: MIDI keeps them exactly
    path = music.write_midi(real, tmp_path / "real.mid", "6/8")
    back = [(n.pitch.midi, float(n.quarterLength))
            for n in converter.parse(str(path)).flatten().notes]
    assert back == [(p, d) for p, d, _ in music.notes(real)]


@pytest.mark.parametrize(("inputs", "given", "message"), [
    (["Polka"], {}, "unknown genre 'Polka'"),
    (["Jig"], {"count": serve.MAX_COUNT + 1}, "count must be between 1 and"),
    (["Jig"], {"count": 0}, "count must be between 1 and"),
    ([{"genre": "Jig", "count": 2.5}], {}, "count must be a whole number"),
    (["Jig"], {"max_len": serve.MAX_LEN + 1}, "max_len must be between 1 and"),
    (["Jig"], {"temperature": 0.0}, "temperature must be a number > 0"),
    (["Jig"], {"top_k": -1}, "top_k must be at least 0"),
    (["Jig"], {"seed": -1}, "seed must be between 0 and"),
])
def test_bad_requests_are_refused_with_the_reason(trained, inputs, given, message):
    cfg, _frames, vocabs, _encoded, net = trained
    with pytest.raises(serving.BadInput, match=message):
        serve.predict(net, vocabs, serve.model_input(inputs), _params(cfg, **given))


def test_model_input_accepts_names_and_rows_and_refuses_the_rest():
    assert serve.model_input("Jig") == [{"genre": "Jig"}]
    assert serve.model_input(pd.DataFrame({"g": ["Reel"]})) == [{"genre": "Reel"}]
    assert serve.model_input(pd.DataFrame({"genre": ["Reel", "Jig"], "count": [2, None]})) == \
        [{"genre": "Reel", "count": 2.0}, {"genre": "Jig"}]
    with pytest.raises(serving.BadInput, match="expected a genre name"):
        serve.model_input([None])
    with pytest.raises(serving.BadInput, match=r"unknown field\(s\) \['temperature'\]"):
        serve.model_input([{"genre": "Jig", "temperature": 2.0}])
