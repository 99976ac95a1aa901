"""Data sources: the built-in generator and the CoNLL reader."""

from __future__ import annotations

from helpers import write_conll
from rnnlab.data.builtin_entity import SPECIES, generate, genus
from rnnlab.data.conll import read_conll


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
    assert {k: len(v) for k, v in a.items()} == {"train": 300, "dev": 60, "test": 80}
    test_names = _names(a["test"])
    assert test_names
    full_train = {(g, e) for g, e in _names(a["train"]) if not g.endswith(".")}
    full_test = {(g, e) for g, e in test_names if not g.endswith(".")}
    assert not full_train & full_test
    assert not {genus(" ".join(n)) for n in full_train} & {genus(" ".join(n)) for n in full_test}
    assert all(len(t) == len(g) > 0 for s in a.values() for t, g in s)


def test_builtin_generator_has_capitalised_distractors():
    words = {w for tokens, tags in generate(500, 10, 10, seed=1)["train"]
             for w, t in zip(tokens, tags, strict=True) if t == "O"}
    assert {"Panthera", "Corporation"} <= words or {"Python"} <= words


def test_conll_reader_keeps_malformed_lines_for_validation(tmp_path):
    folder = write_conll(tmp_path, train="Panthera\tB-Species\nleo\nis\tO\n\n\nbig\tO\n")
    frame = read_conll(folder / "train.tsv")
    assert frame["tokens"].tolist() == [["Panthera", "leo", "is"], ["big"]]
    assert frame["tags"].tolist() == [["B-Species", None, "O"], ["O"]]
    assert frame["line"].tolist() == [1, 6]
