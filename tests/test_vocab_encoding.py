"""Vocabulary (train split only, A-Z, <pad>/<unk>) and the one-hot / embedding inputs."""

from __future__ import annotations

import torch

from rnnlab.nn.encoding import OneHot, drop_words, input_layer, pad
from rnnlab.vocab import PAD, UNK, Vocabulary, shape, signature, tokenize

TRAIN = [["harry", "potter", "and", "hermione", "granger"], ["and", "a", "zulu", "and"]]


def test_vocabulary_is_sorted_with_specials_first():
    v = Vocabulary.build(TRAIN, unk_signatures=False)
    assert v.itos[:2] == [PAD, UNK]
    assert v.itos[2:] == sorted(v.itos[2:]) == ["a", "and", "granger", "harry", "hermione",
                                                 "potter", "zulu"]


def test_max_size_keeps_most_frequent_and_min_freq_drops_rare():
    v = Vocabulary.build(TRAIN, max_size=2, unk_signatures=False)
    assert v.itos[2:] == ["a", "and"]  # "and" x3, then ties broken alphabetically
    v = Vocabulary.build(TRAIN, min_freq=2, unk_signatures=False)
    assert v.itos[2:] == ["and"]


def test_unknown_words_and_signatures():
    plain = Vocabulary.build([["Panthera", "leo"]], unk_signatures=False)
    assert plain.index("Loxodonta") == plain.unk_index
    v = Vocabulary.build([["Panthera", "leo", "1990"]])
    assert shape("Loxodonta") == "Xx" and shape("africana") == "x" and shape("1782") == "d"
    assert v.itos[v.index("Loxodonta")] == signature("Loxodonta") == "<unk:Xx>"
    assert v.itos[v.index("africana")] == "<unk:x>"
    assert v.itos[v.index("E-coli")] == UNK  # a shape never seen in training
    fallback = v.fallback_indices()
    assert v.itos[fallback[v.index("Panthera")]] == "<unk:Xx>"
    assert fallback[0] == 0


def test_oov_rate_and_round_trip(tmp_path):
    v = Vocabulary.build(TRAIN, lowercase=True)
    assert v.oov_rate([["Harry", "ron"]]) == 0.5
    v.save(tmp_path / "v.json")
    w = Vocabulary.load(tmp_path / "v.json")
    assert w.itos == v.itos and w.lowercase and w.encode(["HARRY"]) == v.encode(["harry"])


def test_tokenize_splits_punctuation():
    assert tokenize("in the forest, there are Panthera leo.") == [
        "in", "the", "forest", ",", "there", "are", "Panthera", "leo", "."]


def test_pad_lengths_and_mask():
    out = pad([[5, 6, 7], [8]])
    assert out["ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert out["lengths"].tolist() == [3, 1]
    assert out["mask"].tolist() == [[True, True, True], [True, False, False]]


def test_one_hot_is_built_per_batch_as_on_the_slide():
    layer, width = input_layer("onehot", 10000, 64)
    assert isinstance(layer, OneHot) and width == 10000
    assert sum(p.numel() for p in layer.parameters()) == 0  # nothing |V|-sized is stored
    x = layer(torch.tensor([[4075, 6830, 0]]))
    assert x.shape == (1, 3, 10000)
    assert x[0, 0, 4075] == 1 and x[0, 0].sum() == 1
    assert x[0, 2].sum() == 0  # <pad> is the zero vector


def test_embedding_input():
    layer, width = input_layer("embedding", 50, 8)
    assert width == 8 and layer(torch.tensor([[1, 2]])).shape == (1, 2, 8)


def test_word_dropout_replaces_words_by_their_unknown_class_only():
    fallback = torch.tensor([0, 1, 1, 1, 2])  # <pad> stays <pad>; words -> <unk> or a class
    ids = torch.tensor([[3, 4, 2, 0]] * 50)
    assert drop_words(ids, fallback, 1.0).tolist() == [[1, 2, 1, 0]] * 50
    assert torch.equal(drop_words(ids, fallback, 0.0), ids)
    assert torch.equal(drop_words(ids, torch.tensor([], dtype=torch.long), 1.0), ids)
    torch.manual_seed(0)
    half = drop_words(ids, fallback, 0.5)
    assert ((half == ids) | (half == fallback[ids])).all()
    assert 0 < int((half != ids).sum()) < int((ids != 0).sum())
