"""The encoder–decoder translate task (rnnlab.tasks.translate): typed params, tokeniser,
readers and grouped split, the built-in grammar, the EncoderDecoder network (shapes, padding,
teacher forcing, greedy and beam search, overfitting a batch), the objective on the one
training loop, validation catching each planted fault with its rows named, the baselines,
evaluate, and serving with its decode params."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from helpers import merge
from rnnlab import serving, tasks
from rnnlab.config import ConfigError, TrainerConfig, build
from rnnlab.nn.encoding import pad
from rnnlab.nn.loop import train
from rnnlab.readers import ReaderError
from rnnlab.tasks.translate import grammar
from rnnlab.tasks.translate.data import detokenize, groups, read_pairs, split_pairs, tokenize
from rnnlab.tasks.translate.encoding import build_vocabs, encode, vocab_metrics
from rnnlab.tasks.translate.evaluate import WordByWord, copy_baseline, evaluate
from rnnlab.tasks.translate.model import (
    EncoderDecoder,
    TranslateObjective,
    build_net,
    collate_pairs,
    loaders,
    net_config,
    objective,
    pair_loader,
    summed_ce,
)
from rnnlab.tasks.translate.params import CONFIG, TINY
from rnnlab.tasks.translate.serve import predict, predict_params
from rnnlab.validation import ValidationFailed, validate
from rnnlab.vocab import Vocabulary

SPEC = tasks.get("translate")
ROOT = Path(__file__).resolve().parents[1]
CPU = TrainerConfig(accelerator="cpu")



def task_config(**sections):
    """CONFIG with small data and net; `sections` update the named sub-sections."""
    base = {"primary_metric": "dev/bleu",
            "data": {"builtin": {"n_train": 200, "n_dev": 40, "n_test": 40}},
            "validation": {"max_tokens": 30, "max_length_ratio": 3.0},
            "model": {"hidden_size": 16, "embedding_dim": 8, "max_len": 20},
            "train": {"max_epochs": 1, "batch_size": 32, "patience": 1},
            "baselines": {"word_by_word": {"iterations": 3}},
            "decode": {"beam_size": 3, "max_len": 20}}
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return build(CONFIG, {"name": "translate", **base}, "params.yaml:translate")



# ---------------------------------------------------------------- params


def test_defaults_are_the_params_yaml_section_and_tiny_builds():
    section = yaml.safe_load((ROOT / "params.yaml").read_text())["translate"]
    cfg = build(CONFIG, {"name": "translate", **section}, "params.yaml:translate")
    assert cfg == CONFIG(name="translate", primary_metric="dev/bleu")
    assert predict_params(cfg) == {"beam_size": 5, "length_penalty": 1.0, "max_len": 50}
    tiny = build(CONFIG, {"name": "translate", **merge(section, TINY)}, "translate")
    assert tiny.data.builtin.n_train == 300 and tiny.decode.beam_size == 2


def test_decoding_knobs_live_in_decode_and_train_does_not_read_it():
    with pytest.raises(ConfigError, match=r"translate\.model\.beam_size: unknown key"):
        task_config(model={"beam_size": 4})
    with pytest.raises(ConfigError, match=r"translate\.decode\.beam_size must be int"):
        task_config(decode={"beam_size": "wide"})
    with pytest.raises(ConfigError, match=r"translate\.data\.source must be one of"):
        task_config(data={"source": "europarl"})
    assert "translate.decode" not in SPEC.stage_params("train", CONFIG)
    assert "translate.decode" in SPEC.stage_params("evaluate", CONFIG)
    assert "translate.model" not in SPEC.stage_params("evaluate", CONFIG)


TATOEBA = ("eng\tita\tThe black cat eats the fish.\tIl gatto nero mangia il pesce.\n"
           "eng\tita\tI don't know.\tNon lo so.\n"
           "eng\tita\tI don't know it.\tNon lo so.\n"
           "eng\tita\tWhere's the man?\tDov'è l'uomo?\n"
           "eng\tita\tTom is tired.\tTom è stanco.\n")


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(("text", "lang", "tokens"), [
    ("Dell'anno scorso c'è un po' di pane.", "it",
     ["Dell'", "anno", "scorso", "c'", "è", "un", "po'", "di", "pane", "."]),
    ("I don't think Tom's coming, it's 3.5 o'clock!", "en",
     ["I", "do", "n't", "think", "Tom", "'s", "coming", ",", "it", "'s", "3.5", "o'clock", "!"]),
    ('"Dov\'è?" "Qui."', "it", ['"', "Dov'", "è", "?", '"', '"', "Qui", ".", '"']),
])
def test_tokenize_splits_clitics_and_detokenize_inverts_it(text, lang, tokens):
    assert tokenize(text, lang) == tokens
    assert detokenize(tokens, lang) == text


def test_typographic_apostrophes_become_plain_ones():
    assert tokenize("L\u2019uomo", "it") == ["L'", "uomo"]


# ---------------------------------------------------------------- readers and split


def test_tatoeba_reader_picks_columns_by_language_code(tmp_path: Path):
    path = tmp_path / "pairs.tsv"
    path.write_text(TATOEBA + "ita\teng\tCiao.\tHello.\n")
    frame = read_pairs(path, "tatoeba", "it", "en")
    assert frame["source"].iloc[0] == "Il gatto nero mangia il pesce."
    assert frame["target"].iloc[0] == "The black cat eats the fish."
    assert (frame["source"].iloc[5], frame["target"].iloc[5]) == ("Ciao.", "Hello.")
    assert frame["line"].tolist() == [1, 2, 3, 4, 5, 6]
    reverse = read_pairs(path, "tatoeba", "en", "it")
    assert reverse["source"].iloc[0] == "The black cat eats the fish."


def test_anki_reader_and_malformed_lines_are_kept_for_validation(tmp_path: Path):
    path = tmp_path / "ita.txt"
    good = (b"Go.\tVai.\tCC-BY 2.0 (France) Attribution: tatoeba.org\n"
            b"Hi.\n" + "Caf\u00e9.\tCaff\u00e8.\tx\n".encode())
    path.write_bytes(good)
    frame = read_pairs(path, "anki", "it", "en")
    assert frame[["source", "target"]].iloc[0].tolist() == ["Vai.", "Go."]
    assert frame["n_fields"].tolist() == [3, 1, 3]
    assert frame["source"].iloc[1] == "" and frame["target"].iloc[1] == "Hi."
    assert frame["source"].iloc[2] == "Caff\u00e8."
    path.write_bytes(good + b"Caf\xe9.\tCaff\xe8.\tx\n")  # latin-1: stops, naming line 4
    with pytest.raises(ReaderError, match=r"ita\.txt: not valid utf-8 at line 4 \(1\)"):
        read_pairs(path, "anki", "it", "en")
    assert read_pairs(path, "anki", "it", "en", encoding="latin-1")["source"].iloc[3] == \
        "Caff\u00e8."


def test_split_is_deterministic_and_keeps_duplicates_together():
    rows = [(f"frase {i}.", f"sentence {i}.") for i in range(300)]
    rows += [("Non lo so.", "I don't know."), ("Non lo so.", "I don't know it."),
             ("Non lo so!", "I don't know it.")]  # linked through the source, then the target
    frame = pd.DataFrame({"pair_id": range(len(rows)), "source": [s for s, _ in rows],
                          "target": [t for _, t in rows]})
    g = groups(frame)
    assert g[300] == g[301] == g[302] and len(set(g[:300])) == 300
    a, b = split_pairs(frame, seed=1), split_pairs(frame.iloc[::-1], seed=1)
    assert {s: sorted(f["pair_id"]) for s, f in a.items()} == {
        s: sorted(f["pair_id"]) for s, f in b.items()}  # independent of line order
    where = {pid: s for s, f in a.items() for pid in f["pair_id"]}
    assert where[300] == where[301] == where[302]
    assert 200 < len(a["train"]) < 275 and len(a["dev"]) and len(a["test"])
    assert split_pairs(frame, seed=2)["test"]["pair_id"].tolist() != a["test"][
        "pair_id"].tolist()


# ---------------------------------------------------------------- built-in grammar


def test_grammar_is_seeded_and_pairs_are_distinct_across_splits():
    a = grammar.generate(300, 60, 60, seed=5)
    assert a == grammar.generate(300, 60, 60, seed=5)
    assert {s: len(r) for s, r in a.items()} == {"train": 300, "dev": 60, "test": 60}
    sources = [p[0] for rows in a.values() for p in rows]
    assert len(set(sources)) == len(sources)


def test_test_sentences_hold_combinations_never_seen_in_training():
    data = grammar.generate(1500, 100, 200, seed=0)
    owner = grammar.assign_combos(0)
    nouns = {n.it: n for n in grammar.HUMANS + grammar.ANIMALS + grammar.FOOD + grammar.THINGS}
    forms = {}
    for n in nouns.values():
        for adj in grammar.ADJECTIVES:
            for pl in (False, True):
                forms[(n.it_pl if pl else n.it, grammar._agree(adj, n.gender, pl))] = (
                    "adj", n.it, adj[0])

    def pairs(text: str) -> set[tuple]:
        words = tokenize(text, "it")
        return {forms[(a, b)] for a, b in itertools.pairwise(words) if (a, b) in forms}

    train_pairs = set().union(*(pairs(s) for s, _ in data["train"]))
    assert all(owner[c] == "train" for c in train_pairs)
    held_out = [pairs(s) - train_pairs for s, _ in data["test"]]
    # noun-adjective pairs are visible in the text; verb-object pairs hold out the rest
    assert sum(bool(h) for h in held_out) > 0.3 * len(held_out)
    train_words = {w for s, _ in data["train"] for w in tokenize(s, "it")}
    test_words = {w for s, _ in data["test"] for w in tokenize(s, "it")}
    assert test_words <= train_words  # every word seen, the combination not


def test_grammar_exercises_order_agreement_and_dropped_pronouns():
    rows = [p for r in grammar.generate(3000, 10, 10, seed=1).values() for p in r]
    it_en = dict(rows)
    joined = " ".join(f"{i} ||| {e}" for i, e in rows)
    # adjective after the noun in Italian, before it in English
    adjectives = {a[0]: a[4] for a in grammar.ADJECTIVES}
    cats = [(i.split(), e.split()) for i, e in rows
            if i.startswith("il gatto ") and i.split()[2] in adjectives]
    assert len(cats) > 5
    assert all(e[:3] == ["the", adjectives[i[2]], "cat"] for i, e in cats)
    # gendered articles and agreement, with English a/an chosen by the adjective
    assert re.search(r"le \w+ rosse", joined) and "gli " in joined and "l'" in joined
    assert any(" un albero vecchio" in f" {i}" and "an old tree" in e for i, e in rows)
    # dropped subject: the predicate's gender says he or she
    she = [e for i, e in it_en.items() if i.startswith("è stanca")]
    he = [e for i, e in it_en.items() if i.startswith("è stanco")]
    assert she and he and all(e.startswith("she is tired") for e in she)
    assert all(e.startswith("he is tired") for e in he)
    # the person ending says who, and the English side is longer
    assert any(i.startswith("mangiamo") and e.startswith("we eat") for i, e in rows)
    longer = sum(len(tokenize(e, "en")) > len(tokenize(i, "it")) for i, e in rows)
    assert longer > 0.5 * len(rows)


# ---------------------------------------------------------------- vocab and encode


def test_vocabularies_have_target_specials_and_round_trip(tmp_path: Path):
    cfg = task_config()
    frames = SPEC.prepare(cfg, 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    assert vocabs["target"].itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert "<bos>" not in vocabs["source"].stoi
    vocabs["target"].save(tmp_path / "target.json")
    assert SPEC.load_vocab(tmp_path / "target.json").itos == vocabs["target"].itos
    enc = encode(frames, vocabs)["dev"]
    n, Ty = enc["target_in"].shape
    assert enc["target_out"].shape == (n, Ty) and n == 40
    assert (enc["target_in"][:, 0] == 2).all()
    last = enc["target_out"][torch.arange(n), enc["target_lengths"] - 1]
    assert (last == 3).all()  # <eos> closes every target
    assert torch.equal(enc["target_in"][:, 1:][enc["target_out"][:, :-1] != 3],
                       enc["target_out"][:, :-1][enc["target_out"][:, :-1] != 3])
    metrics = vocab_metrics(frames, vocabs)
    assert set(metrics) == {f"{s}/{side}_{m}" for s in ("dev", "test")
                            for side in ("source", "target")
                            for m in ("oov_rate", "unseen_rate", "units_per_word")}
    assert metrics["dev/source_units_per_word"] == 1.0  # words: one id per word


def test_pair_batches_trim_source_and_target_separately():
    enc = {"ids": torch.tensor([[5, 6, 7, 0, 0], [5, 0, 0, 0, 0]]),
           "lengths": torch.tensor([3, 1]),
           "target_in": torch.tensor([[2, 8, 0, 0], [2, 8, 9, 0]]),
           "target_out": torch.tensor([[8, 3, 0, 0], [8, 9, 3, 0]]),
           "target_lengths": torch.tensor([2, 3])}
    batch = next(iter(pair_loader(enc, 2)))
    assert batch["ids"].shape == (2, 3) and batch["target_in"].shape == (2, 3)
    assert batch["target_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert collate_pairs([{k: v[1] for k, v in enc.items()}])["ids"].shape == (1, 1)


# ---------------------------------------------------------------- the network


def _net(**kw) -> EncoderDecoder:
    torch.manual_seed(0)
    args = {"src_vocab_size": 12, "tgt_vocab_size": 10, "embedding_dim": 6, "hidden_size": 8,
            **kw}
    return EncoderDecoder(**args)


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize(("bidirectional", "attention"), [(False, "none"), (True, "none"),
                                                          (True, "luong")])
def test_shapes_for_every_cell(cell, bidirectional, attention):
    net = _net(cell=cell, bidirectional=bidirectional, attention=attention, num_layers=2)
    src, lengths = torch.tensor([[4, 5, 6, 7], [4, 5, 0, 0]]), torch.tensor([4, 2])
    tgt_in, tgt_lengths = torch.tensor([[2, 5, 6], [2, 5, 0]]), torch.tensor([3, 2])
    assert net(src, lengths, tgt_in, tgt_lengths).shape == (2, 3, 10)
    assert net(src, lengths, tgt_in, tgt_lengths, teacher_forcing=0.5).shape == (2, 3, 10)
    hyps = net.beam_search(src, lengths, beam_size=3, max_len=6)
    assert len(hyps) == 2 and all(len(h) <= 6 and 3 not in h for h in hyps)


def test_teacher_forcing_one_is_the_same_network_step_by_step():
    net = _net(cell="gru").eval()
    src, lengths = torch.tensor([[4, 5, 6]]), torch.tensor([3])
    tgt_in = torch.tensor([[2, 7, 8, 9]])
    one_pass = net(src, lengths, tgt_in, torch.tensor([4]), teacher_forcing=1.0)
    stepwise = net(src, lengths, tgt_in, torch.tensor([4]), teacher_forcing=0.999999)
    # with p -> 1 every step reads the gold word: the loop matches the one packed pass
    assert torch.allclose(one_pass, stepwise, atol=1e-5)


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_padding_never_changes_a_translation(attention):
    net = _net(bidirectional=True, attention=attention).eval()
    alone = net.greedy(torch.tensor([[4, 5]]), torch.tensor([2]), max_len=5)
    padded = net.greedy(torch.tensor([[4, 5, 0, 0], [6, 7, 8, 9]]), torch.tensor([2, 4]),
                        max_len=5)
    assert padded[0] == alone[0]
    beam_alone = net.beam_search(torch.tensor([[4, 5]]), torch.tensor([2]), 3, 5)
    beam_padded = net.beam_search(torch.tensor([[4, 5, 0, 0], [6, 7, 8, 9]]),
                                  torch.tensor([2, 4]), 3, 5)
    assert beam_padded[0] == beam_alone[0]


def _logprob(net: EncoderDecoder, src, lengths, hyp: list[int]) -> float:
    y = torch.tensor([[net.bos, *hyp]])
    logits = net(src, lengths, y, torch.tensor([len(hyp) + 1]))
    out = torch.tensor([[*hyp, net.eos]])
    return float(torch.log_softmax(logits, -1).gather(2, out[..., None]).sum())


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_a_wide_beam_finds_the_most_likely_translation(attention):
    """With a beam wider than every prefix, beam search is exhaustive: it must return the
    sequence ending in <eos> within max_len steps with the best log p / length (here a
    3-word one that greedy decoding, which never stops, misses)."""
    import itertools as it

    net = _net(tgt_vocab_size=5, cell="lstm", bidirectional=True, attention=attention).eval()
    src, lengths, max_len = torch.tensor([[4, 7, 9]]), torch.tensor([3]), 4
    words = [w for w in range(5) if w != net.eos]
    candidates = [list(c) for k in range(max_len) for c in it.product(words, repeat=k)]
    best = max(candidates, key=lambda c: _logprob(net, src, lengths, c) / (len(c) + 1))
    assert len(best) == 3
    assert net.beam_search(src, lengths, beam_size=200, max_len=max_len,
                           length_penalty=1.0) == [best]
    greedy = net.greedy(src, lengths, max_len)
    assert greedy != [best] and net.beam_search(src, lengths, 1, max_len) == greedy


def test_overfits_a_tiny_parallel_batch():
    torch.manual_seed(0)
    pairs = [([4, 5, 6], [4, 5]), ([5, 4], [6, 7, 8]), ([6, 7, 8, 9], [9]), ([9, 4], [5, 9, 4])]
    enc = pad([s for s, _ in pairs])
    enc["target_in"] = pad([[2, *t] for _, t in pairs])["ids"]
    out = pad([[*t, 3] for _, t in pairs])
    enc["target_out"], enc["target_lengths"] = out["ids"], out["lengths"]
    net = _net(cell="gru", hidden_size=32)
    loss_fn = TranslateObjective(["<pad>", "<unk>", "<bos>", "<eos>", *"abcdef"], "en")
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    batch = collate_pairs([{k: v[i] for k, v in enc.items() if k != "mask"}
                           for i in range(len(pairs))])
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn.loss(net, batch)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert first > 5 and loss.item() < 0.05
    assert net.eval().greedy(enc["ids"], enc["lengths"], 6) == [t for _, t in pairs]
    assert net.beam_search(enc["ids"], enc["lengths"], 3, 6) == [t for _, t in pairs]


def test_loss_is_summed_over_real_target_steps_only():
    logits = torch.zeros(2, 3, 4)  # uniform: every real step costs log 4
    targets = torch.tensor([[1, 3, 0], [1, 2, 3]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    expected = (2 + 3) * torch.log(torch.tensor(4.0)) / 2
    assert torch.allclose(summed_ce(logits, targets, mask), expected)


def test_training_on_the_one_loop_logs_dev_bleu_and_keeps_history():
    cfg = task_config(train={"max_epochs": 2})
    frames = SPEC.prepare(cfg, 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    enc = encode(frames, vocabs)
    net = build_net(net_config(cfg, vocabs))
    obj = objective(cfg, net, vocabs)
    assert (obj.monitor, obj.mode, obj.max_len) == ("dev/bleu_greedy", "max", 20)
    train_batches, dev_batches = loaders(cfg, enc, 0)
    module = train(net, obj, train_batches, dev_batches, cfg.train, CPU, progress=False)
    assert [r["epoch"] for r in module.history] == [1, 2]
    assert {"train/loss", "dev/loss", "dev/bleu_greedy"} <= set(module.history[0])
    assert module.history[1]["train/loss"] < module.history[0]["train/loss"]


def test_dev_bleu_never_matches_an_out_of_vocabulary_reference_word():
    itos = ["<pad>", "<unk>", "<bos>", "<eos>", "the", "cat", "sees", "dog", "."]
    obj = TranslateObjective(Vocabulary(itos, unk_signatures=False), "en")
    sentence = [4, 5, 6, 4, 7, 8]  # the cat sees the dog .
    assert obj.dev_metrics([[(sentence, sentence)]])["dev/bleu_greedy"] == pytest.approx(100.0)
    unknown = [4, 5, 6, 4, 1, 8]  # the cat sees the <unk> .
    assert obj.dev_metrics([[(unknown, unknown)]])["dev/bleu_greedy"] < 70  # <unk> is no hit


# ---------------------------------------------------------------- validation


def _bad_corpus(tmp_path: Path) -> Path:
    long = " ".join(["parola"] * 300)  # 10x the bound of 30 tokens
    lines = [f"eng\tita\tsentence {i}.\tfrase {i}." for i in range(60)]
    lines[3] = "eng\tita\t\tfrase vuota."                   # empty English side
    lines[7] = "eng\tita\tonly three fields"                 # wrong number of fields
    lines[11] = f"eng\tita\tA long one.\t{long}."          # 10x longer than the bound
    path = tmp_path / "bad.tsv"
    data = ("\n".join(lines) + "\n").encode()
    data += b"eng\tita\tCoffee.\tCaff\x1b[31m\xc3\xa8.\n"    # an ANSI escape in a field
    path.write_bytes(data)
    return path


def test_validation_names_each_planted_fault(tmp_path: Path):
    path = _bad_corpus(tmp_path)
    cfg = task_config(data={"source": "tatoeba", "path": str(path)})
    frames = SPEC.prepare(cfg, 0)
    with pytest.raises(ValidationFailed) as err:
        validate("translate", SPEC.checks(cfg, frames), tmp_path / "out")
    text = str(err.value)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    failed = {e["description"]: e for e in summary["expectations"] if not e["success"]}
    lines = {d: {x["file_line"] for x in e["examples"]} for d, e in failed.items()}
    assert lines["no empty target sentence"] == {4}
    assert lines["every line has 4 tab-separated fields (tatoeba format)"] == {8}
    assert 12 in lines["source length within [1, 30] tokens"]
    assert lines["no source sentence is white space only or holds a control character, NUL, "
                 "U+FFFD or a byte-order mark"] == {61}
    assert "length ratio (longer+1)/(shorter+1) at most 3.0" in failed
    for e in failed.values():  # every offending row says where it is
        assert all({"split", "pair_id", "file_line"} <= set(x) for x in e["examples"])
    assert "Validation failed for task 'translate'" in text and '"file_line": 12' in text
    path.write_bytes(path.read_bytes() + b"eng\tita\tCoffee.\tCaff\xe8.\n")  # latin-1
    with pytest.raises(ReaderError, match=r"bad\.tsv: not valid utf-8 at line 62 \(1\)"):
        SPEC.prepare(cfg, 0)


def test_validation_rejects_a_pair_in_two_splits_and_passes_clean_data(tmp_path: Path):
    cfg = task_config()
    frames = SPEC.prepare(cfg, 0)
    summary = validate("translate", SPEC.checks(cfg, frames), tmp_path / "ok")
    assert summary["success"] and summary["stats"]["pairs"]["test"]["pairs"] == 40
    leaked = dict(frames)
    leaked["test"] = pd.concat([frames["test"], frames["train"].iloc[:2]], ignore_index=True)
    with pytest.raises(ValidationFailed, match="no pair identical on both sides"):
        validate("translate", SPEC.checks(cfg, leaked), tmp_path / "bad")


# ---------------------------------------------------------------- baselines and evaluate


def test_word_by_word_learns_the_aligned_word_and_copy_copies():
    src = [s.split() for s in ["il gatto dorme", "il cane dorme", "un gatto mangia",
                               "il cane mangia", "un gatto corre"]]
    tgt = [s.split() for s in ["the cat sleeps", "the dog sleeps", "a cat eats",
                               "the dog eats", "a cat runs"]]
    wbw = WordByWord(10).fit(src, tgt)
    assert wbw.translate(["il", "gatto", "mangia", "Tom"]) == ["the", "cat", "eats", "Tom"]
    frame = pd.DataFrame({"source": ["Tom  è qui."]})
    assert copy_baseline(frame) == ["Tom è qui."]


@pytest.fixture(scope="module")
def untrained():
    """(cfg, frames, encoded, vocabs, net) of a small untrained network."""
    cfg = task_config()
    frames = SPEC.prepare(cfg, 0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    torch.manual_seed(0)
    net = SPEC.build_net(net_config(cfg, vocabs)).eval()
    with torch.no_grad():  # untrained, it would end every sentence at once
        net.head.bias[net.eos] -= 3.0
    return cfg, frames, encode(frames, vocabs), vocabs, net


def test_evaluate_scores_rnn_and_baselines_with_the_decode_section(untrained, monkeypatch):
    cfg, frames, enc, vocabs, net = untrained
    calls = []
    translate = net.translate
    monkeypatch.setattr(net, "translate", lambda *a: calls.append(a[2:]) or translate(*a))
    result = evaluate(cfg, net, frames, enc, vocabs, 0)
    metrics = result.metrics
    for key in ("dev/bleu", "test/bleu", "test/chrf", "test/bleu_greedy", "model/params",
                "copy/test/bleu", "copy/test/chrf", "word_by_word/test/bleu",
                "word_by_word/test/chrf"):
        assert key in metrics and metrics[key] >= 0, key
    assert metrics["word_by_word/test/bleu"] > metrics["copy/test/bleu"]
    assert set(result.tables) == {"translations", "bleu_by_length"}
    assert len(result.tables["translations"]) == 40
    assert result.examples[0].startswith("sacrebleu: BLEU nrefs:1")
    assert set(result.files) == {"sacrebleu_signature.txt"}
    # dev and test as decode says (beam 3, max_len 20, length penalty 1), then greedy test
    assert set(calls) == {(3, 20, 1.0), (1, 20, 1.0)} and calls[0] == (3, 20, 1.0)
    no_baselines = dataclasses.replace(cfg, baselines=build(
        type(cfg.baselines), {"copy": {"enabled": False}, "word_by_word": {"enabled": False}},
        "baselines"))
    assert not any(k.startswith(("copy/", "word_by_word/")) for k in evaluate(
        no_baselines, net, frames, enc, vocabs, 0).metrics)


# ---------------------------------------------------------------- serving


def test_served_model_decodes_as_the_request_says(untrained, tmp_path: Path):
    cfg, _, _, vocabs, net = untrained
    defaults = SPEC.predict_params(cfg)
    assert defaults == {"beam_size": 3, "length_penalty": 1.0, "max_len": 20}
    inputs = SPEC.model_input(pd.DataFrame({"text": ["il gatto nero mangia il pesce", ""]}))
    out = SPEC.predict(net, vocabs, inputs, serving.resolve_params(SPEC, defaults, None))
    assert len(out) == 2 and isinstance(out[0], str) and out[0] and out[1] == ""
    sentence = ["la ragazza legge il libro nuovo"]
    ids = pad([vocabs["source"].encode(tokenize(sentence[0], "it"))])
    texts = set()
    for beam, max_len in ((1, 20), (4, 20), (4, 2)):
        expected = net.beam_search(ids["ids"], ids["lengths"], beam, max_len, 0.5)
        assert len(expected[0]) <= max_len
        text = detokenize(vocabs["target"].decode(expected[0]), "en")
        params = serving.resolve_params(SPEC, defaults, {"beam_size": beam, "max_len": max_len,
                                                         "length_penalty": 0.5})
        assert predict(net, vocabs, sentence, params) == [text]
        texts.add(text)
    assert len(texts) == 3  # each knob changes this translation: none is dropped
    with pytest.raises(serving.BadInput, match="unknown param"):
        serving.resolve_params(SPEC, defaults, {"temperature": 1.0})


@pytest.mark.parametrize(("name", "value"), [("beam_size", 0), ("beam_size", 1000),
                                             ("beam_size", 2.5), ("max_len", True),
                                             ("max_len", 10 ** 6), ("length_penalty", -1),
                                             ("length_penalty", "long")])
def test_a_bad_decode_param_is_refused_by_name(untrained, name, value):
    cfg, _, _, vocabs, net = untrained
    params = {**predict_params(cfg), name: value}
    with pytest.raises(serving.BadInput, match=name):
        predict(net, vocabs, ["il gatto"], params)


def test_serving_refuses_a_missing_value():
    with pytest.raises(serving.BadInput, match="expected a string"):
        SPEC.model_input(["il gatto", None])


def test_the_languages_travel_in_net_json(untrained):
    cfg, _, _, vocabs, _ = untrained
    config = net_config(cfg, vocabs)
    assert json.loads(json.dumps(config)) == config
    assert (config["source_lang"], config["target_lang"]) == ("it", "en")
    assert "beam_size" not in config and "max_len" not in config  # decode is not the net's
    net = build_net(config)
    assert (net.source_lang, net.target_lang) == ("it", "en")
    reverse = task_config(data={"direction": {"source": "en", "target": "it"}})
    assert build_net(net_config(reverse, vocabs)).source_lang == "en"


def test_spec_declares_its_plots_requirements_and_raw_inputs():
    assert SPEC.primary_mode == "max" and "sacrebleu" in SPEC.requirements
    assert "plots/translate/evaluation/bleu_by_length.csv" in {
        k for p in SPEC.plots if isinstance(p, dict) for k in p}
    assert SPEC.raw_inputs(task_config()) == []
    tatoeba = task_config(data={"source": "tatoeba", "path": "data/raw/translate/x.tsv"})
    assert SPEC.raw_inputs(tatoeba) == ["data/raw/translate/x.tsv"]
    assert SPEC.stage_params("train", CONFIG)[-1] == "translate.data"  # the languages
