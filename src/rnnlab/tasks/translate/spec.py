"""translate's TaskSpec: what the stages, the flow and serving call."""

from __future__ import annotations

from rnnlab.tasks import STAGE_PARAMS, TaskSpec, deferred
from rnnlab.tasks.translate import checks, data

encoding, evaluate, model, serve = deferred("rnnlab.tasks.translate", "encoding", "evaluate",
                                           "model", "serve")

PLOTS = (
    {"translate training": {
        "template": "linear", "x": "epoch",
        "y": {"plots/translate/training.csv": ["train/loss", "dev/loss", "dev/bleu_greedy"]},
        "title": "translate: loss summed over the target words, greedy dev BLEU per epoch"}},
    {"plots/translate/evaluation/bleu_by_length.csv": {
        "template": "linear", "x": "shortest", "y": ["rnn", "word_by_word", "copy"],
        "x_label": "source length (shortest of the bucket, tokens)", "y_label": "test BLEU",
        "title": "translate: test BLEU by source length"}},
    "plots/translate/evaluation/training.png",
)

SPEC = TaskSpec(
    name="translate",
    prepare=data.prepare,
    raw_inputs=data.raw_inputs,
    checks=checks.checks,
    build_vocabs=encoding.build_vocabs,
    load_vocab=encoding.load_vocab,
    vocab_metrics=encoding.vocab_metrics,
    encode=encoding.encode,
    net_config=model.net_config,
    build_net=model.build_net,
    objective=model.objective,
    loaders=model.loaders,
    evaluate=evaluate.evaluate,
    model_input=serve.model_input,
    predict=serve.predict,
    predict_params=serve.predict_params,
    input_example=serve.input_example,
    primary_mode="max",
    plots=PLOTS,
    requirements=("sacrebleu", "sentencepiece"),
    # net_config writes data.direction into net.json (the languages serving tokenises with)
    reads={"train": (*STAGE_PARAMS["train"], "data")},
)
