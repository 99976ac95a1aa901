"""Subword vocabularies (sentencepiece, unigram or BPE), fitted on the training split only.

A `SubwordVocabulary` wraps one trained sentencepiece model. Its ids follow the word
vocabulary's layout, so the network does not care which kind it reads: 0 <pad>, 1 <unk>,
2 <bos>, 3 <eos>, then the pieces. Saved as two files next to each other: `<name>.json` (the
kind, the settings, the piece list for reading) and `<name>.model` (sentencepiece's own
serialised model, what encodes and decodes). Both are in data/vocab/translate/ (the vocab
stage's DVC output) and are copied into the model folder, so the served model tokenises
exactly as training did.

Text goes in and comes out as plain text: `encode_text` reads a raw (normalised) sentence,
`decode_ids` writes one, with sentencepiece's own detokenisation (no word tokenizer involved).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
KIND = "sentencepiece"


class SubwordVocabulary:
    """One sentencepiece model; `lowercase` applies before encoding (source side only)."""

    def __init__(self, model: bytes, lowercase: bool = False, model_type: str = "unigram"
                 ) -> None:
        import sentencepiece as spm

        self.model, self.lowercase, self.model_type = model, lowercase, model_type
        self.sp = spm.SentencePieceProcessor(model_proto=model)
        self.itos = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        if self.itos[:4] != [PAD, UNK, BOS, EOS]:
            raise ValueError(f"a subword model starts with {PAD} {UNK} {BOS} {EOS}, "
                             f"got {self.itos[:4]}")
        self.stoi = {p: i for i, p in enumerate(self.itos)}

    @classmethod
    def fit(cls, sentences: Iterable[str], size: int, model_type: str = "unigram",
            lowercase: bool = False) -> SubwordVocabulary:
        """Train on raw sentences (one per item). `size` is a soft limit: a small corpus gets
        as many pieces as it supports. Deterministic: one thread, every sentence, no
        sampling."""
        import sentencepiece as spm

        lines = [s.lower() if lowercase else s for s in sentences]
        lines = [s for s in lines if s.strip()]
        if not lines:
            raise ValueError("no training sentences to fit a subword vocabulary on")
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=out, vocab_size=size,
            model_type=model_type, character_coverage=1.0, hard_vocab_limit=False,
            pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=PAD, unk_piece=UNK,
            bos_piece=BOS, eos_piece=EOS, normalization_rule_name="identity",
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
            minloglevel=2)
        return cls(out.getvalue(), lowercase, model_type)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_index(self) -> int:
        return 0

    @property
    def unk_index(self) -> int:
        return 1

    def encode_text(self, text: str) -> list[int]:
        """A raw sentence -> piece ids (no <bos>/<eos>)."""
        return list(self.sp.encode(text.lower() if self.lowercase else text))

    def decode_ids(self, ids: Sequence[int]) -> str:
        """Piece ids -> plain text (specials dropped, pieces joined by sentencepiece)."""
        return self.sp.decode([i for i in ids if i > 3 or i == 1])

    def pieces(self, text: str) -> list[str]:
        return list(self.sp.encode(text.lower() if self.lowercase else text, out_type=str))

    def oov_rate(self, words: Iterable[Sequence[str]]) -> float:
        """Share of word tokens that cannot be written without <unk> (a character never seen
        in training), the same definition as for a word vocabulary."""
        total = oov = 0
        cache: dict[str, bool] = {}
        for sentence in words:
            for w in sentence:
                if w not in cache:
                    cache[w] = self.unk_index in self.encode_text(w)
                total += 1
                oov += cache[w]
        return oov / total if total else 0.0

    # -- files

    def save(self, path: str | Path) -> None:
        """`<name>.json` (kind, settings, pieces) and `<name>.model` (sentencepiece)."""
        from rnnlab.io import atomic_path, write_json

        path = Path(path)
        model_file = path.with_suffix(".model")
        with atomic_path(model_file) as tmp:
            tmp.write_bytes(self.model)
        write_json(path, {"kind": KIND, "model_file": model_file.name,
                          "model_type": self.model_type, "lowercase": self.lowercase,
                          "itos": self.itos})

    @classmethod
    def load(cls, path: str | Path) -> SubwordVocabulary:
        path = Path(path)
        meta = json.loads(path.read_text())
        model = (path.parent / meta["model_file"]).read_bytes()
        return cls(model, meta["lowercase"], meta.get("model_type", "unigram"))
