"""BLEU and chrF (sacrebleu) on detokenised text, for evaluate and for the dev metric that
early stopping watches."""

from __future__ import annotations

from typing import Any

from rnnlab.tasks.translate.data import detokenize
from rnnlab.vocab import Vocabulary

OOV_REF = "<oov>"  # a reference word outside the target vocabulary: no hypothesis matches it


def corpus_scores(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    """Corpus BLEU and chrF (sacrebleu defaults: 13a tokenisation, cased; chrF n=6, β=2)."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(), CHRF()
    b, c = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs])
    return {"bleu": float(b.score), "chrf": float(c.score), "bp": float(b.bp),
            "length_ratio": float(b.sys_len / max(1, b.ref_len)),
            "signature": f"BLEU {bleu.get_signature()} | chrF {chrf.get_signature()}"}


def decode_rows(vocab: Vocabulary, ids: list[list[int]], lang: str) -> list[str]:
    """Target ids (no <bos>/<eos>) -> plain text."""
    return [detokenize(vocab.decode(row), lang) for row in ids]


def id_bleu(itos: list[str], lang: str, hyps: list[list[int]], refs: list[list[int]]) -> float:
    """BLEU of greedy hypotheses against the references as the target vocabulary spells them
    (token ids; a reference word outside it, <unk> = 1, counts as never matched)."""
    h = [detokenize([itos[i] for i in row], lang) for row in hyps]
    r = [detokenize([OOV_REF if i == 1 else itos[i] for i in row], lang) for row in refs]
    return corpus_scores(h, r)["bleu"]
