"""parity's TaskSpec: every stage of the pipeline, from this package alone."""

from __future__ import annotations

import torch
from rnnlab.tasks.parity.checks import checks
from rnnlab.tasks.parity.data import generate
from rnnlab.tasks.parity.model import ParityNet, ParityObjective

from rnnlab import serving
from rnnlab.nn.encoding import pad
from rnnlab.nn.loop import loader
from rnnlab.tasks import Evaluation, TaskSpec
from rnnlab.vocab import Vocabulary


def prepare(cfg, seed):
    d = cfg.data
    return {"train": generate(d.n_train, d.max_bits, seed),
            "dev": generate(d.n_dev, d.max_bits, seed + 1),
            "test": generate(d.n_test, d.max_bits, seed + 2)}


def build_vocabs(train, vocab_cfg):
    return {"bits": Vocabulary.build([list(b) for b in train["bits"]], vocab_cfg.max_size,
                                     vocab_cfg.min_freq, unk_signatures=vocab_cfg.unk_signatures)}


def encode(frames, vocabs):
    out = {}
    for split, frame in frames.items():
        out[split] = pad([vocabs["bits"].encode(list(b)) for b in frame["bits"]])
        out[split]["labels"] = torch.tensor(frame["label"].tolist())
    return out


def net_config(cfg, vocabs):
    return {"vocab_size": len(vocabs["bits"]), "encoding": cfg.encoding,
            "embedding_dim": cfg.model.embedding_dim, "cell": cfg.model.cell,
            "hidden_size": cfg.model.hidden_size}


def loaders(cfg, encoded, seed):
    return (loader(encoded["train"], cfg.train.batch_size, shuffle=True, seed=seed),
            loader(encoded["dev"], 256))


@torch.no_grad()
def _predict_ids(net, encoded):
    net.eval()
    return torch.cat([net(b["ids"], b["lengths"]).argmax(-1) for b in loader(encoded, 256)])


def evaluate(cfg, net, frames, encoded, vocabs, seed):
    metrics = {}
    for split in ("dev", "test"):
        gold = encoded[split]["labels"]
        metrics[f"{split}/accuracy"] = float((_predict_ids(net, encoded[split]) == gold)
                                             .float().mean())
    majority = int(encoded["train"]["labels"].float().mean() >= 0.5)
    metrics["majority/test/accuracy"] = float((encoded["test"]["labels"] == majority)
                                              .float().mean())
    return Evaluation(metrics, examples=[f"{b} -> {y}" for b, y in
                                         zip(frames["test"]["bits"][:5],
                                             frames["test"]["label"][:5], strict=True)])


def predict(net, vocabs, inputs, params):
    for text in inputs:
        if not text or set(text) - {"0", "1"}:
            raise serving.BadInput(f"expected a bit string, got {text!r}")
    enc = pad([vocabs["bits"].encode(list(t)) for t in inputs])
    enc["labels"] = torch.zeros(len(inputs), dtype=torch.long)
    return [{"parity": int(p)} for p in _predict_ids(net, enc)]


SPEC = TaskSpec(
    name="parity", prepare=prepare, raw_inputs=lambda cfg: [], checks=checks,
    build_vocabs=build_vocabs, load_vocab=Vocabulary.load,
    vocab_metrics=lambda frames, vocabs: {}, encode=encode, net_config=net_config,
    build_net=lambda config: ParityNet(**config),
    objective=lambda cfg, net, vocabs: ParityObjective(), loaders=loaders, evaluate=evaluate,
    model_input=serving.texts, predict=predict, predict_params=lambda cfg: {},
    input_example=lambda cfg, frames, vocabs: list(frames["test"]["bits"][:2]))
