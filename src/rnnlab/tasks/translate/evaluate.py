"""translate's evaluation: BLEU / chrF of the RNN (configured decoding, and greedy) and of two
baselines on the same test split, the dev scores for the champion rule, BLEU by source length,
every test translation, and the sacrebleu signature."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from rnnlab.nn.loop import count_parameters
from rnnlab.tasks import Evaluation
from rnnlab.tasks.translate.data import detokenize, normalise
from rnnlab.tasks.translate.model import EncoderDecoder, translate_ids
from rnnlab.tasks.translate.scoring import corpus_scores, decode_rows
from rnnlab.vocab import Vocabulary

if TYPE_CHECKING:
    from rnnlab.tasks.translate.params import TranslateConfig

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


def evaluate(cfg: TranslateConfig, net: EncoderDecoder, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Vocabulary],
             seed: int) -> Evaluation:
    """BLEU / chrF of the RNN (decoding as `decode` says, and greedy) and of both baselines on
    the same test split; dev scores of the RNN for the champion rule. Decodes on the CPU."""
    d, tgt_lang = cfg.decode, net.target_lang
    metrics: dict[str, float] = {}
    outputs: dict[str, dict[str, list[str]]] = {}
    signature = ""
    test_ids: list[list[int]] = []
    for split in ("dev", "test"):
        refs = [normalise(t) for t in frames[split]["target"]]
        ids = translate_ids(net, encoded[split], d.beam_size, d.max_len, d.length_penalty)
        test_ids = ids
        hyps = decode_rows(vocabs["target"], ids, tgt_lang)
        scores = corpus_scores(hyps, refs)
        signature = scores.pop("signature")
        metrics.update({f"{split}/{k}": v for k, v in scores.items()})
        outputs[split] = {"rnn": hyps}
    greedy = decode_rows(vocabs["target"], translate_ids(net, encoded["test"], 1, d.max_len),
                         tgt_lang)
    scores = corpus_scores(greedy, [normalise(t) for t in frames["test"]["target"]])
    metrics.update({"test/bleu_greedy": scores["bleu"], "test/chrf_greedy": scores["chrf"]})
    # the share of output units (words or subwords) that are <unk>
    metrics["test/unk_rate"] = float(np.mean([i == 1 for row in test_ids for i in row]
                                             or [0.0]))
    metrics["model/params"] = count_parameters(net)

    test, refs = frames["test"], [normalise(t) for t in frames["test"]["target"]]
    systems = {"rnn": outputs["test"]["rnn"], "rnn_greedy": greedy}
    b = cfg.baselines
    if b.copy.enabled:
        systems["copy"] = copy_baseline(test)
    if b.word_by_word.enabled:
        wbw = WordByWord(b.word_by_word.iterations).fit(
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

    def write_signature(path: Path) -> None:
        from rnnlab.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(signature + "\n")

    return Evaluation(metrics=metrics,
                      tables={"translations": table, "bleu_by_length": by_length},
                      files={"sacrebleu_signature.txt": write_signature},
                      examples=examples)
