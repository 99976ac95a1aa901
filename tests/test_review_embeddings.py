"""Review's input embeddings: a pretrained word2vec / GloVe file in (coverage, freeze), the learnt
vectors out (word2vec text that gensim reads back, the projector TSV, neighbours)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.nn.encoding import pretrained_matrix, read_vectors
from rnnlab.stages.train import export_embeddings
from rnnlab.tasks.review import embeddings
from rnnlab.tasks.review.data import build_vocabs, encode, prepare
from rnnlab.tasks.review.model import ManyToOne, build_net, net_config
from test_review import task_config

WORDS = {"paper": [0.5, -1.0, 2.0, 0.25], "results": [1.0, 1.0, -1.0, 0.0],
         "method": [0.0, 3.0, 0.5, -0.5]}


def _write(path, header: bool):
    lines = [f"{w} " + " ".join(str(x) for x in v) for w, v in WORDS.items()]
    path.write_text(("3 4\n" if header else "") + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False])  # word2vec text and GloVe
def test_a_small_pretrained_file_is_read_and_matched(tmp_path, header):
    words, vectors = read_vectors(str(_write(tmp_path / "v.txt", header)))
    assert words == list(WORDS) and vectors.shape == (3, 4)
    vocab = ["<pad>", "<unk>", "method", "novel", "paper"]
    matrix, found = pretrained_matrix(vocab, words, vectors, seed=0)
    assert found.tolist() == [False, False, True, False, True]
    assert torch.equal(matrix[4], torch.tensor(WORDS["paper"]))
    assert torch.equal(matrix[0], torch.zeros(4))
    assert matrix[3].abs().sum() > 0  # missing words drawn at random, to be learnt
    bad = tmp_path / "bad.txt"
    bad.write_text("paper 1 2 3\nresults 1 2\n")
    with pytest.raises(ValueError, match="line 2 has 2 values, expected 3"):
        read_vectors(str(bad))


@pytest.mark.parametrize("freeze", [True, False])
def test_init_net_loads_the_file_reports_coverage_and_freezes(tmp_path, freeze):
    path = _write(tmp_path / "v.txt", header=True)
    cfg = task_config(model={"embedding_dim": 4},
                      embedding={"pretrained": str(path), "freeze": freeze})
    frames = prepare(cfg, seed=0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    enc = encode(frames, vocabs)
    net = build_net(net_config(cfg, vocabs))
    metrics = embeddings.init_net(cfg, net, vocabs, enc, seed=0)
    vocab = vocabs["tokens"]
    found = [w for w in WORDS if w in vocab.stoi]
    assert found  # the built-in reports talk about papers, results and methods
    n_words = sum(vocab.is_word(i) for i in range(len(vocab)))
    assert metrics["embedding/vocab_coverage"] == round(len(found) / n_words, 4)
    ids = enc["train"]["ids"][enc["train"]["mask"]]
    hits = sum(int((ids == vocab.stoi[w]).sum()) for w in found)
    assert metrics["embedding/token_coverage"] == round(hits / len(ids), 4)
    for w in found:
        assert torch.equal(net.embed.weight[vocab.stoi[w]].detach(), torch.tensor(WORDS[w]))
    assert net.embed.weight.requires_grad is (not freeze)
    assert embeddings.train_inputs(cfg) == [str(path)]
    wrong = task_config(model={"embedding_dim": 8}, embedding={"pretrained": str(path)})
    with pytest.raises(ValueError, match="set embedding_dim"):
        embeddings.init_net(wrong, build_net(net_config(wrong, vocabs)), vocabs, enc, 0)


def test_exported_embeddings_load_back_in_gensim(tmp_path):
    from gensim.models import KeyedVectors

    cfg = task_config()
    frames = prepare(cfg, seed=0)
    vocabs = build_vocabs(frames["train"], cfg.vocab)
    enc = encode(frames, vocabs)
    torch.manual_seed(0)
    net = build_net(net_config(cfg, vocabs))
    words, vectors = embeddings.export(cfg, net, vocabs, enc)
    vocab = vocabs["tokens"]
    assert not any(w.startswith("<") for w in words)
    counts = embeddings.train_counts(vocab, enc)
    assert counts[vocab.stoi[words[0]]] == max(counts[vocab.stoi[w]] for w in words)
    export_embeddings(tmp_path, words, vectors)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.w2v.txt"), binary=False)
    assert kv.index_to_key == words
    w = words[3]
    assert np.allclose(kv[w], net.embed.weight[vocab.stoi[w]].detach().numpy(), atol=1e-5)
    tsv = pd.read_csv(tmp_path / "vectors.tsv", sep="\t", header=None)
    assert tsv.shape == vectors.shape
    assert (tmp_path / "metadata.tsv").read_text().split("\n")[:2] == words[:2]
    near = pd.read_csv(tmp_path / "neighbours.csv")
    first = near[near["word"] == words[0]]
    assert first["neighbour"].iloc[0] == kv.most_similar(words[0], topn=1)[0][0]
    assert (tmp_path / "projection.png").stat().st_size > 0


def test_pooling_variants_and_embedding_dropout_only_in_training():
    torch.manual_seed(0)
    net = ManyToOne(20, 4, "embedding", 6, "gru", 5, pooling="max+mean",
                    embedding_dropout=0.5)
    assert net.head.in_features == 2 * 2 * 5
    ids, lengths = torch.tensor([[3, 4, 5, 6]]), torch.tensor([4])
    net.eval()
    assert torch.equal(net(ids, lengths), net(ids, lengths))
    net.train()
    outs = {tuple(net(ids, lengths)[0].tolist()) for _ in range(5)}
    assert len(outs) > 1


def test_word2vec_module_learns_from_the_training_split_and_feeds_pretrained(tmp_path):
    from rnnlab.tasks.review import word2vec

    cfg = task_config()
    extra = tmp_path / "unlabelled.txt"
    extra.write_text("an unlabelled zyxwv text\n\nanother zyxwv line\n")
    texts = word2vec.sentences(cfg, 0, str(extra))
    train = prepare(cfg, 0)["train"]
    assert len(texts) == len(train) + 2 and texts[-1] == ["another", "zyxwv", "line"]
    wv = word2vec.learn(texts, dim=8, epochs=1, window=3, min_count=2, seed=0)
    assert "zyxwv" in wv.key_to_index  # the extra file's words are learnt too
    wv.save_word2vec_format(str(tmp_path / "w2v.txt"))
    words, vectors = read_vectors(str(tmp_path / "w2v.txt"))
    assert vectors.shape == (len(wv), 8) and np.allclose(vectors[0], wv[words[0]], atol=1e-5)
    again = word2vec.learn(texts, dim=8, epochs=1, window=3, min_count=2, seed=0)
    assert np.array_equal(again[words[0]], wv[words[0]])  # seeded, one worker
