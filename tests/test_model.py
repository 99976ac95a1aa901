"""Model behaviour: shapes for every cell and input layer, overfitting a batch, and the
lecture's reason for bidirectional RNNs."""

from __future__ import annotations

import pytest
import torch

from rnnlab.encoding import pad
from rnnlab.lightning import summed_bce
from rnnlab.nn.architectures import DenseTagger, ManyToMany
from rnnlab.tasks.entity import Gazetteer, score, to_iob


@pytest.mark.parametrize("cell", ["simple", "rnn", "lstm", "gru"])
@pytest.mark.parametrize("encoding", ["onehot", "embedding"])
def test_shapes(cell: str, encoding: str):
    net = ManyToMany(30, 1, encoding, 8, cell, 6, num_layers=2, bidirectional=True)
    batch = pad([[3, 4, 5], [6]])
    assert net(batch["ids"], batch["lengths"]).shape == (2, 3, 1)


def _train(net, batch, labels, steps=150, lr=0.05):
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = summed_bce(net(batch["ids"], batch["lengths"]).squeeze(-1), labels, batch["mask"])
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("cell", ["simple", "gru"])
def test_overfits_one_batch(cell: str):
    torch.manual_seed(0)
    batch = pad([[2, 3, 4, 5], [6, 2, 3], [7, 8]])
    labels = pad([[0, 1, 1, 0], [0, 1, 1], [1, 0]])["ids"]
    net = ManyToMany(10, 1, "embedding", 8, cell, 16, bidirectional=True)
    assert _train(net, batch, labels) < 0.05


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


def test_spans_and_gazetteer():
    assert to_iob([0, 1, 1, 0, 1]) == ["O", "B-ENT", "I-ENT", "O", "B-ENT"]
    import pandas as pd

    train = pd.DataFrame({"tokens": [["Panthera", "leo", "and", "yeast"]],
                          "tags": [["B-Species", "I-Species", "O", "B-Species"]]})
    gaz = Gazetteer.from_frame(train)
    assert gaz.tag(["yeast", "and", "Panthera", "leo", "Panthera"]) == [1, 0, 1, 1, 0]
    test = pd.DataFrame({"tokens": [["Panthera", "leo", "yeast"]],
                         "tags": [["B-Species", "I-Species", "B-Species"]]})
    # adjacent gold entities stay two spans; a merged prediction gets no credit for either
    s = score([[1, 1, 1]], test)
    assert s["entity_f1"] == 0.0 and s["token_f1"] == 1.0
    assert score([gaz.tag(["Panthera", "leo", "yeast"])], test)["entity_f1"] == 0.0


def test_bucket_batches_cover_every_sentence_once_and_repeat_exactly():
    from rnnlab.lightning import BucketBatches

    lengths = torch.randint(1, 80, (1601,))
    a, b = BucketBatches(lengths, 32, seed=3), BucketBatches(lengths, 32, seed=3)
    first = list(a)
    assert len(first) == len(a)
    assert sorted(i for batch in first for i in batch) == list(range(1601))
    assert first == list(b) and list(a) != first  # same seed same order; next epoch reshuffles
    spread = sum(int(lengths[x].max() - lengths[x].min()) for x in first) / len(first)
    assert spread < 10  # batches hold similar lengths


def test_dictionary_feature_is_an_extra_input_per_step():
    import pandas as pd

    from rnnlab.tasks import entity

    train = pd.DataFrame({"tokens": [["Panthera", "leo", "roars"]],
                          "tags": [["B-Species", "I-Species", "O"]]})
    vocabs = entity.build_vocabs(train, __import__("rnnlab.config").config.VocabConfig())
    assert vocabs["entities"].itos[2:] == ["Panthera leo"]
    enc = entity.encode(pd.DataFrame({"tokens": [["a", "Panthera", "leo"]], "tags": [["O"] * 3]}),
                        vocabs)
    assert enc["features"].tolist() == [[0, 1, 1]]
    net = ManyToMany(len(vocabs["tokens"]), 1, "embedding", 4, "gru", 4, features=1)
    with_hit = net(enc["ids"], enc["lengths"], enc["features"].float())
    without = net(enc["ids"], enc["lengths"], torch.zeros(1, 3))
    assert with_hit.shape == (1, 3, 1) and not torch.allclose(with_hit, without)
