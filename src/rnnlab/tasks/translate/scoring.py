"""BLEU and chrF (sacrebleu) on detokenised text, for evaluate and for the dev metric that
early stopping watches."""

from __future__ import annotations

from typing import Any

from rnnlab.tasks.translate.data import detokenize
from rnnlab.tasks.translate.subword import SubwordVocabulary
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


def decode_rows(vocab: Vocabulary | SubwordVocabulary, ids: list[list[int]], lang: str
                ) -> list[str]:
    """Target ids (no <bos>/<eos>) -> plain text: words rejoined by `detokenize`, subword
    pieces by sentencepiece."""
    if isinstance(vocab, SubwordVocabulary):
        return [vocab.decode_ids(row) for row in ids]
    return [detokenize(vocab.decode(row), lang) for row in ids]


def id_bleu(vocab: Vocabulary | SubwordVocabulary, lang: str, hyps: list[list[int]],
            refs: list[list[int]]) -> float:
    """BLEU of greedy hypotheses against the references as the target vocabulary spells them
    (token ids; a reference unit outside it, <unk> = 1, counts as never matched)."""
    h = decode_rows(vocab, hyps, lang)
    if isinstance(vocab, SubwordVocabulary):  # a reference <unk>: a word no hypothesis writes
        r = [vocab.decode_ids([i for i in row if i != 1]) + f" {OOV_REF}" * row.count(1)
             for row in refs]
    else:
        r = [detokenize([OOV_REF if i == 1 else vocab.itos[i] for i in row], lang)
             for row in refs]
    return corpus_scores(h, r)["bleu"]
