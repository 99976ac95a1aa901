"""Machine translation, the lecture's many-to-many* architecture (Tx ≠ Ty): an encoder RNN
reads the source sentence, its final state initialises a decoder RNN that writes the target
sentence word by word (greedy or beam search), Italian -> English by default.

Data: a seeded built-in grammar (rnnlab/data/builtin_translate.py: adjective order, gender
agreement, dropped subject pronouns, test combinations never seen in training), or a real
parallel corpus in the Tatoeba Challenge (`eng<TAB>ita<TAB>English<TAB>Italian`) or Anki
(`English<TAB>Italian<TAB>attribution`) format, split deterministically into train/dev/test
with every duplicate of a sentence kept in one split. The direction is `data.direction`.
Scored by corpus BLEU and chrF (sacrebleu, on detokenised text against the raw references),
next to two baselines on the same split: copying the source, and word-by-word translation with
a dictionary learnt from the training pairs (IBM Model 1 alignments, most frequent aligned word).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig
from rnnlab.data.translation import FORMATS, detokenize, normalise, read_pairs, split_pairs
from rnnlab.data.translation import tokenize as _tokenize
from rnnlab.encoding import pad
from rnnlab.lightning import Seq2SeqModule, pair_loader, translate_ids
from rnnlab.nn.architectures import EncoderDecoder, count_parameters
from rnnlab.tasks import SPLITS
from rnnlab.vocab import SPECIALS, Vocabulary

BOS, EOS = "<bos>", "<eos>"
OOV_REF = "<oov>"  # a reference word outside the target vocabulary: no hypothesis matches it
SOURCES = ("builtin", *FORMATS)
# net.json keys that serving needs but the network does not take
SERVING_KEYS = ("beam_size", "max_len", "length_penalty", "source_lang", "target_lang")


@dataclass(frozen=True)
class TranslateVocabConfig(VocabConfig):
    """`lowercase` and `unk_signatures` apply to the source side only: the target vocabulary
    keeps case (BLEU is cased) and has one <unk>, plus <bos> and <eos>."""

    unk_signatures: bool = False


@dataclass(frozen=True)
class TranslateModelConfig(ModelConfig):
    cell: Literal["simple", "rnn", "lstm", "gru"] = "gru"
    hidden_size: int = 256
    bidirectional: bool = False
    # none: the plain encoder–decoder (the final state is all the decoder sees) | luong
    attention: Literal["none", "luong"] = "none"
    beam_size: int = 5          # 1: greedy decoding
    max_len: int = 50           # decoding stops after this many target words
    length_penalty: float = 1.0  # beam hypotheses ranked by log p / length**length_penalty


@dataclass(frozen=True)
class TranslateTrainConfig(TrainConfig):
    # probability that a decoder step reads the gold previous word (else its own argmax)
    teacher_forcing: float = 1.0
    word_dropout: float = 0.0


VOCAB_CONFIG = TranslateVocabConfig
MODEL_CONFIG = TranslateModelConfig
TRAIN_CONFIG = TranslateTrainConfig


def direction(cfg: TaskConfig) -> tuple[str, str]:
    d = cfg.data.get("direction", {}) or {}
    return str(d.get("source", "it")), str(d.get("target", "en"))


# ---------------------------------------------------------------- data


def finish(frame: pd.DataFrame, src: str, tgt: str) -> pd.DataFrame:
    """Tokenise one split: pair_id, source, target (raw text), source_tokens, target_tokens,
    and the reader's file_line / n_fields / utf8 when the pairs came from a file."""
    out = frame.reset_index(drop=True).copy()
    out["pair_id"] = out.get("pair_id", pd.Series(range(len(out)))).astype(int)
    out["source_tokens"] = [_tokenize(str(t), src) for t in out["source"]]
    out["target_tokens"] = [_tokenize(str(t), tgt) for t in out["target"]]
    if "line" in out:
        out = out.rename(columns={"line": "file_line"})
    return out


def prepare(cfg: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    data, (src, tgt) = cfg.data, direction(cfg)
    kind = data.get("source", "builtin")
    if kind == "builtin":
        from rnnlab.data.builtin_translate import generate

        if {src, tgt} != {"it", "en"}:
            raise ValueError(f"the built-in grammar is Italian/English; direction {src}->{tgt}")
        b = data.get("builtin", {})
        rows = generate(b.get("n_train", 8000), b.get("n_dev", 1000), b.get("n_test", 1000),
                        seed=b.get("seed", seed))
        first = 0 if src == "it" else 1
        splits = {s: pd.DataFrame({"pair_id": range(len(r)),
                                   "source": [p[first] for p in r],
                                   "target": [p[1 - first] for p in r]})
                  for s, r in rows.items()}
    elif kind in FORMATS:
        frame = read_pairs(data["path"], kind, src, tgt,
                           data.get("anki_languages", ("en", "it")))
        share = data.get("split", {}) or {}
        splits = split_pairs(frame, int(data.get("split_seed", seed)),
                             float(share.get("dev", 0.1)), float(share.get("test", 0.1)))
    else:
        raise ValueError(f"translate.data.source must be one of {SOURCES}, got {kind!r}")
    return {s: finish(splits[s], src, tgt) for s in SPLITS}


def checks(cfg: TaskConfig, frames: dict[str, pd.DataFrame]) -> list:
    """Pair-level Great Expectations suite: fields, UTF-8, both sides non-empty, lengths and
    length ratio within bounds, no pair (or source sentence) in two splits."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v = cfg.validation
    min_tok, max_tok = int(v.get("min_tokens", 1)), int(v.get("max_tokens", 60))
    max_ratio = float(v.get("max_length_ratio", 3.0))
    kind = cfg.data.get("source", "builtin")

    pairs = pd.concat([f.assign(split=s) for s, f in frames.items()], ignore_index=True)
    for col in ("source", "target", "source_tokens", "target_tokens"):
        if col not in pairs:  # keep going on a broken schema so GX can report it
            pairs[col] = None

    def n_tokens(col: str) -> list[int]:
        return [len(x) if isinstance(x, list | np.ndarray) else 0 for x in pairs[col]]

    pairs["source_len"], pairs["target_len"] = n_tokens("source_tokens"), n_tokens("target_tokens")
    pairs["source_chars"] = [len(str(t).strip()) if isinstance(t, str) else 0
                             for t in pairs["source"]]
    pairs["target_chars"] = [len(str(t).strip()) if isinstance(t, str) else 0
                             for t in pairs["target"]]
    a, b = pairs["source_len"] + 1, pairs["target_len"] + 1
    pairs["length_ratio"] = np.maximum(a / b, b / a).round(3)
    pairs["text"] = [f"{s} ||| {t}" for s, t in zip(pairs["source"], pairs["target"],
                                                     strict=True)]
    src_key = pairs["source"].map(lambda t: normalise(str(t)).lower())
    pair_key = src_key + "\t" + pairs["target"].map(lambda t: normalise(str(t)).lower())
    pairs["pair_in_two_splits"] = pairs.groupby(pair_key)["split"].transform("nunique") > 1
    pairs["source_in_two_splits"] = pairs.groupby(src_key)["split"].transform("nunique") > 1

    ids = ["split", "pair_id"]
    if "file_line" in pairs and pairs["file_line"].notna().any():
        ids.append("file_line")
    suite = [
        gxe.ExpectColumnToExist(column="source", description="schema: a 'source' column"),
        gxe.ExpectColumnToExist(column="target", description="schema: a 'target' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
    ]
    if "n_fields" in pairs:
        allowed = list(FORMATS.get(kind, (4,)))
        suite.append(gxe.ExpectColumnValuesToBeInSet(
            column="n_fields", value_set=allowed,
            description=f"every line has {' or '.join(map(str, allowed))} tab-separated fields "
                        f"({kind} format)"))
    if "utf8" in pairs:
        suite.append(gxe.ExpectColumnValuesToBeInSet(
            column="utf8", value_set=[True], description="every line is valid UTF-8"))
    suite += [
        gxe.ExpectColumnValuesToBeBetween(
            column="source_chars", min_value=1, description="no empty source sentence"),
        gxe.ExpectColumnValuesToBeBetween(
            column="target_chars", min_value=1, description="no empty target sentence"),
        gxe.ExpectColumnValuesToBeBetween(
            column="source_len", min_value=min_tok, max_value=max_tok,
            description=f"source length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeBetween(
            column="target_len", min_value=min_tok, max_value=max_tok,
            description=f"target length within [{min_tok}, {max_tok}] tokens"),
        gxe.ExpectColumnValuesToBeBetween(
            column="length_ratio", max_value=max_ratio,
            description=f"length ratio (longer+1)/(shorter+1) at most {max_ratio}"),
        gxe.ExpectColumnValuesToBeInSet(
            column="pair_in_two_splits", value_set=[False],
            description="no pair identical on both sides appears in two splits"),
        gxe.ExpectColumnValuesToBeInSet(
            column="source_in_two_splits", value_set=[False],
            description="no source sentence appears in two splits"),
    ]
    stats = {s: {"pairs": int((pairs["split"] == s).sum()),
                 "source_tokens": int(pairs.loc[pairs["split"] == s, "source_len"].sum()),
                 "target_tokens": int(pairs.loc[pairs["split"] == s, "target_len"].sum())}
             for s in SPLITS}
    return [Check("pairs", pairs, suite, ids, "text", stats=stats)]


# ---------------------------------------------------------------- representation


def build_vocabs(train: pd.DataFrame, vocab_cfg: Any) -> dict[str, Vocabulary]:
    """source: Vocabulary.build (lowercase / shape classes as configured); target: the same
    word list rule, case kept, specials <pad> <unk> <bos> <eos>."""
    source = Vocabulary.build((list(t) for t in train["source_tokens"]), vocab_cfg.max_size,
                              vocab_cfg.min_freq, vocab_cfg.lowercase, vocab_cfg.unk_signatures)
    words = Vocabulary.build((list(t) for t in train["target_tokens"]), vocab_cfg.max_size,
                             vocab_cfg.min_freq, False, False).itos[len(SPECIALS):]
    target = Vocabulary([*SPECIALS, BOS, EOS, *words], lowercase=False, unk_signatures=False)
    return {"source": source, "target": target}


def vocab_metrics(frames: dict[str, pd.DataFrame],
                  vocabs: dict[str, Vocabulary]) -> dict[str, float]:
    return {f"{split}/{side}_oov_rate": vocabs[side].oov_rate(
        list(t) for t in frames[split][f"{side}_tokens"])
        for split in ("dev", "test") for side in ("source", "target")}




def encode(frame: pd.DataFrame, vocabs: dict[str, Vocabulary]) -> dict[str, torch.Tensor]:
    """Source ids [N, Tx] / lengths / mask; target_in = <bos> y<1..Ty> and
    target_out = y<1..Ty> <eos>, both [N, Ty+1], with target_lengths = Ty + 1."""
    src, tgt = vocabs["source"], vocabs["target"]
    out = pad([src.encode(list(t)) for t in frame["source_tokens"]])
    ys = [tgt.encode(list(t)) for t in frame["target_tokens"]]
    bos, eos = tgt.stoi[BOS], tgt.stoi[EOS]
    out["target_in"] = pad([[bos, *y] for y in ys])["ids"]
    target = pad([[*y, eos] for y in ys])
    out["target_out"], out["target_lengths"] = target["ids"], target["lengths"]
    return out


# ---------------------------------------------------------------- model


def net_config(cfg: TaskConfig, vocabs: dict[str, Vocabulary]) -> dict[str, Any]:
    m, (src, tgt) = cfg.model, direction(cfg)
    return {"src_vocab_size": len(vocabs["source"]), "tgt_vocab_size": len(vocabs["target"]),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "bidirectional": m.bidirectional, "nonlinearity": m.nonlinearity,
            "dropout": m.dropout, "attention": m.attention,
            "bos": vocabs["target"].stoi[BOS], "eos": vocabs["target"].stoi[EOS],
            # serving decodes raw text exactly as evaluate does
            "beam_size": m.beam_size, "max_len": m.max_len, "length_penalty": m.length_penalty,
            "source_lang": src, "target_lang": tgt}


def build_net(config: dict[str, Any]) -> nn.Module:
    net = EncoderDecoder(**{k: v for k, v in config.items() if k not in SERVING_KEYS})
    net.decoding = {k: config[k] for k in ("beam_size", "max_len", "length_penalty")
                    if k in config}
    net.languages = (config.get("source_lang", "it"), config.get("target_lang", "en"))
    return net


def dev_bleu(vocabs: dict[str, Vocabulary], lang: str):
    """Greedy BLEU on dev during training, against the references as the target vocabulary
    spells them (a word outside it counts as never matched): the early-stopping signal."""
    itos = vocabs["target"].itos

    def metric(hyps: list[list[int]], refs: list[list[int]]) -> dict[str, float]:
        h = [detokenize([itos[i] for i in row], lang) for row in hyps]
        r = [detokenize([OOV_REF if i == 1 else itos[i] for i in row], lang) for row in refs]
        return {"bleu_greedy": corpus_scores(h, r)["bleu"]}

    return metric


def lightning_module(cfg: TaskConfig, net: nn.Module,
                     vocabs: dict[str, Vocabulary]) -> Seq2SeqModule:
    t = cfg.train
    return Seq2SeqModule(net, lr=t.lr, weight_decay=t.weight_decay,
                         teacher_forcing=t.teacher_forcing, max_len=cfg.model.max_len,
                         dev_metric=dev_bleu(vocabs, direction(cfg)[1]))


def loaders(cfg: TaskConfig, encoded: dict[str, dict[str, torch.Tensor]], seed: int):
    """Pairs have two lengths: batches trim the source and the target separately."""
    t = cfg.train
    return (pair_loader(encoded["train"], t.batch_size, shuffle=True, seed=seed,
                        bucket=t.bucket),
            pair_loader(encoded["dev"], 256))


MONITOR = "dev/bleu_greedy"
MONITOR_MODE = "max"
REQUIREMENTS = ("sacrebleu",)


# ---------------------------------------------------------------- metrics


def corpus_scores(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF (sacrebleu defaults: 13a tokenisation, cased; chrF n=6, β=2)."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(), CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"bleu": float(b.score), "chrf": float(c.score), "bp": float(b.bp),
            "length_ratio": float(b.sys_len / max(1, b.ref_len)),
            "signature": f"BLEU {bleu.get_signature()} | chrF {chrf.get_signature()}"}


def decode_rows(net: nn.Module, vocab: Vocabulary, ids: list[list[int]], lang: str
                ) -> list[str]:
    return [detokenize(vocab.decode(row), lang) for row in ids]


# ---------------------------------------------------------------- baselines


def copy_baseline(frame: pd.DataFrame) -> list[str]:
    """The source sentence as its own translation (names, numbers and punctuation survive)."""
    return [normalise(t) for t in frame["source"]]


class WordByWord:
    """A dictionary from the training pairs: IBM Model 1 (`iterations` EM rounds, with a NULL
    source word) aligns target to source words; each source word then becomes its most
    frequent aligned target word. Translation is one target word per source word, in source
    order; a word never seen in training is copied."""

    def __init__(self, iterations: int = 5) -> None:
        self.iterations = iterations
        self.table: dict[str, str] = {}

    def fit(self, sources: list[list[str]], targets: list[list[str]]) -> WordByWord:
        null = "<null>"
        t: dict[str, dict[str, float]] = defaultdict(dict)  # t[s][e] = p(e | s)
        for src, tgt in zip(sources, targets, strict=True):
            for s in [null, *src]:
                row = t[s]
                for e in tgt:
                    row[e] = 1.0
        counts: dict[str, Counter] = {}
        for _ in range(max(1, self.iterations)):
            counts = defaultdict(Counter)
            for src, tgt in zip(sources, targets, strict=True):
                words = [null, *src]
                for e in tgt:
                    probs = [t[s][e] for s in words]
                    z = sum(probs)
                    for s, p in zip(words, probs, strict=True):
                        counts[s][e] += p / z
            for s, c in counts.items():
                total = sum(c.values())
                t[s] = {e: v / total for e, v in c.items()}
        self.table = {s: c.most_common(1)[0][0] for s, c in counts.items() if s != null and c}
        return self

    def translate(self, tokens: list[str]) -> list[str]:
        return [self.table.get(w, w) for w in tokens]


# ---------------------------------------------------------------- evaluation


def _length_table(frame: pd.DataFrame, outputs: dict[str, list[str]]) -> pd.DataFrame:
    """Corpus BLEU per source-length bucket for every system: where the plain encoder–decoder
    loses (long sentences squeezed into one state)."""
    lengths = frame["source_tokens"].map(len).to_numpy()
    edges = [0, 5, 8, 11, 15, 20, 10 ** 6]
    rows = []
    refs = [normalise(t) for t in frame["target"]]
    for lo, hi in itertools.pairwise(edges):
        idx = np.where((lengths >= lo) & (lengths < hi))[0]
        if not len(idx):
            continue
        row: dict[str, Any] = {"shortest": lo,
                               "source_length": f"{lo}-{hi - 1}" if hi < 10 ** 6 else f"{lo}+",
                               "pairs": len(idx)}
        for name, hyps in outputs.items():
            row[name] = round(corpus_scores([hyps[i] for i in idx],
                                            [refs[i] for i in idx])["bleu"], 2)
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate(cfg: TaskConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """BLEU / chrF of the RNN (configured decoding, and greedy) and of both baselines on the
    same test split; dev scores of the RNN for the champion rule."""
    m, (_, tgt_lang) = cfg.model, direction(cfg)
    metrics: dict[str, float] = {}
    outputs: dict[str, dict[str, list[str]]] = {}
    signature = ""
    for split in ("dev", "test"):
        refs = [normalise(t) for t in frames[split]["target"]]
        ids = translate_ids(net, encoded[split], m.beam_size, m.max_len, m.length_penalty)
        hyps = decode_rows(net, vocabs["target"], ids, tgt_lang)
        scores = corpus_scores(hyps, refs)
        signature = scores.pop("signature")
        metrics.update({f"{split}/{k}": v for k, v in scores.items()})
        outputs[split] = {"rnn": hyps}
    greedy = decode_rows(net, vocabs["target"], translate_ids(net, encoded["test"], 1, m.max_len),
                         tgt_lang)
    scores = corpus_scores(greedy, [normalise(t) for t in frames["test"]["target"]])
    metrics.update({"test/bleu_greedy": scores["bleu"], "test/chrf_greedy": scores["chrf"]})
    metrics["test/unk_rate"] = float(np.mean([w == "<unk>" for h in outputs["test"]["rnn"]
                                              for w in h.split()] or [0.0]))
    metrics["model/params"] = count_parameters(net)

    test, refs = frames["test"], [normalise(t) for t in frames["test"]["target"]]
    systems = {"rnn": outputs["test"]["rnn"], "rnn_greedy": greedy}
    b = cfg.baselines
    if b.get("copy", {}).get("enabled", True):
        systems["copy"] = copy_baseline(test)
    if b.get("word_by_word", {}).get("enabled", True):
        wbw = WordByWord(int(b.get("word_by_word", {}).get("iterations", 5))).fit(
            [list(t) for t in frames["train"]["source_tokens"]],
            [list(t) for t in frames["train"]["target_tokens"]])
        systems["word_by_word"] = [detokenize(wbw.translate(list(t)), tgt_lang)
                                   for t in test["source_tokens"]]
        metrics["word_by_word/dictionary_size"] = len(wbw.table)
    for name in ("copy", "word_by_word"):
        if name in systems:
            s = corpus_scores(systems[name], refs)
            metrics.update({f"{name}/test/bleu": s["bleu"], f"{name}/test/chrf": s["chrf"]})

    table = pd.DataFrame({"pair_id": test["pair_id"], "source": test["source"],
                          "reference": refs, **systems})
    by_length = _length_table(test, {k: v for k, v in systems.items() if k != "rnn_greedy"})
    examples = [f"sacrebleu: {signature}"]
    for i in range(min(8, len(test))):
        examples.append(f"{test['source'].iloc[i]}  =>  {systems['rnn'][i]}  "
                        f"(reference: {refs[i]})")
    print(f"evaluate[translate]: sacrebleu signature {signature}")

    def write_signature(path) -> None:
        from rnnlab.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(signature + "\n")

    return metrics, {"tables": {"translations": table, "bleu_by_length": by_length},
                     "files": {"sacrebleu_signature.txt": write_signature},
                     "examples": examples}


# ---------------------------------------------------------------- serving


def predict(net: nn.Module, vocabs: dict[str, Vocabulary], inputs: list[str],
            params: dict | None = None) -> list[str]:
    """Raw source sentences -> translations (plain text). `params` may set beam_size,
    max_len, length_penalty for this call."""
    decoding = {"beam_size": 5, "max_len": 50, "length_penalty": 1.0,
                **getattr(net, "decoding", {}), **(params or {})}
    src_lang, tgt_lang = getattr(net, "languages", ("it", "en"))
    tokens = [_tokenize(str(t), src_lang) for t in inputs]
    keep = [i for i, t in enumerate(tokens) if t]
    out = [""] * len(inputs)
    if keep:
        enc = pad([vocabs["source"].encode(tokens[i]) for i in keep])
        ids = translate_ids(net, enc, int(decoding["beam_size"]), int(decoding["max_len"]),
                            float(decoding["length_penalty"]))
        for i, row in zip(keep, decode_rows(net, vocabs["target"], ids, tgt_lang), strict=True):
            out[i] = row
    return out
