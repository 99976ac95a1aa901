"""Entity recognition, the lecture's many-to-many architecture (Tx = Ty).

Each word gets 1/0: is it part of a scientific animal name? ("... populations of Panthera leo
and Loxodonta africana"). Data: a seeded built-in generator (unseen species in test), or any
CoNLL/IOB corpus; the binary view is B-*/I-* -> 1, O -> 0. Scored by exact-span entity F1
(seqeval) against the gold IOB spans, next to a gazetteer and the lecture's dense network.

    params.py     the typed `entity:` section of params.yaml (and TINY, for the tests)
    generator.py  the seeded built-in sentence generator
    conll.py      the CoNLL/IOB reader
    data.py       prepare, the gazetteer, vocabularies and encoding
    checks.py     the Great Expectations suites
    model.py      ManyToMany, DenseTagger, the tagging objective (summed BCE), batches
    metrics.py    entity (span) and token scores
    evaluate.py   the RNN against the gazetteer and the dense baseline on the test split
    serve.py      raw sentences -> tags and entity strings
    spec.py       SPEC, the task contract

No imports here: rnnlab.config imports params.py, which must not pull in torch.
"""
