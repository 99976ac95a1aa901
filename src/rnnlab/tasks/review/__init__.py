"""Reviewer reports -> accept | minor | major | reject: the lecture's many-to-one architecture
(Tx = length of the report, Ty = 1), ŷ = softmax over c = 4 classes.

The RNN reads the whole report (packed sequences, so padding never enters the recurrence) and
classifies from its final state or a masked mean / max over time (`model.pooling`). Long
reports are cut to `data.max_len` tokens in prepare (`data.truncation`: head | tail |
head+tail); how many were cut is reported per split. Data: a seeded built-in generator
(generator.py says what makes it hard), a CSV / JSONL file, or PeerRead (readers.py); real
corpora are re-split by paper (`data.split: grouped`) or kept as shipped (`original`). Scored by
accuracy, macro-F1 and per-class F1 (metrics.py), next to a majority-class and a TF-IDF +
logistic regression baseline on the same split (evaluate.py).
`python -m rnnlab.tasks.review.cv` runs grouped k-fold cross-validation of the same model and
baselines (for small corpora such as PeerRead).

Modules: params (the typed section), generator, readers, data (prepare, vocab, encode), checks,
metrics, model, evaluate, serve, cv, spec.
"""
