"""Word vectors learnt in the pipeline: gensim Word2Vec (skip-gram) on the training split's
tokens, plus an optional unlabelled text file (one text per line), written as a word2vec text
file that `review.embedding.pretrained` then reads. Dev and test texts are never read.

    python -m rnnlab.tasks.review.word2vec --out data/embeddings/review.w2v.txt \
        [--extra unlabelled.txt] [--dim 64] [--epochs 10] [--set review.data.source=csv ...]

Seeded and single-threaded (gensim's Word2Vec is only reproducible with one worker). Run it,
then set `review.embedding.pretrained` to the file and `review.model.embedding_dim` to --dim.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnlab import config
from rnnlab.io import atomic_path
from rnnlab.tasks.review.data import prepare
from rnnlab.vocab import tokenize


def sentences(cfg, seed: int, extra: str | None = None) -> list[list[str]]:
    """The training split's tokens (as the vocabulary sees them), then the extra file's."""
    lower = cfg.vocab.lowercase
    norm = (lambda ts: [t.lower() for t in ts]) if lower else list
    out = [norm(t) for t in prepare(cfg, seed)["train"]["tokens"]]
    if extra:
        with open(extra, encoding=cfg.data.encoding) as fh:
            out += [norm(tokenize(line)) for line in fh if line.strip()]
    return out


def learn(texts: list[list[str]], dim: int, epochs: int, window: int, min_count: int,
          seed: int):
    from gensim.models import Word2Vec

    return Word2Vec(sentences=texts, vector_size=dim, window=window, min_count=min_count,
                    sg=1, epochs=epochs, seed=seed, workers=1).wv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnnlab.tasks.review.word2vec", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--extra", help="an unlabelled text file, one text per line")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    cfg_all = config.load_with_overrides(args.params, args.set, tasks=["review"])
    cfg = cfg_all.task("review")
    start = time.perf_counter()
    texts = sentences(cfg, cfg_all.seed, args.extra)
    wv = learn(texts, args.dim, args.epochs, args.window, args.min_count, cfg_all.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(args.out)) as tmp:
        wv.save_word2vec_format(str(tmp), binary=False)
    print(f"word2vec: {len(wv)} words x {args.dim} from {len(texts)} texts "
          f"({sum(map(len, texts))} tokens) in {time.perf_counter() - start:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
