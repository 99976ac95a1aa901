"""Machine translation, the lecture's many-to-many* architecture (Tx ≠ Ty): an encoder RNN
reads the source sentence, its final state initialises a decoder RNN that writes the target
sentence word by word (greedy or beam search), Italian -> English by default.

Data: a seeded built-in grammar (grammar.py: adjective order, gender agreement, dropped subject
pronouns, test combinations never seen in training), or a real parallel corpus in the Tatoeba
Challenge (`eng<TAB>ita<TAB>English<TAB>Italian`) or Anki (`English<TAB>Italian<TAB>attribution`)
format, split deterministically into train/dev/test with every duplicate of a sentence kept in
one split (data.py). The direction is `data.direction`. Scored by corpus BLEU and chrF
(sacrebleu, on detokenised text against the raw references), next to two baselines on the same
split: copying the source, and word-by-word translation with a dictionary learnt from the
training pairs (IBM Model 1 alignments, most frequent aligned word) (evaluate.py).

Modules: params (the typed section), data and grammar (readers, split, built-in pairs),
checks (Great Expectations), encoding (vocabularies and tensors), model (EncoderDecoder, the
objective, batches of pairs, decoding), scoring (BLEU / chrF), evaluate, serve, spec.
"""
