"""SPEC: the review task as the stages, the flow and serving see it."""

from __future__ import annotations

from rnnlab.tasks import STAGE_PARAMS, TaskSpec, deferred
from rnnlab.tasks.review import checks, data

embeddings, evaluate, model, serve = deferred("rnnlab.tasks.review", "embeddings", "evaluate",
                                             "model", "serve")

SPEC = TaskSpec(
    name="review",
    prepare=data.prepare,
    raw_inputs=data.raw_inputs,
    checks=checks.checks,
    build_vocabs=data.build_vocabs,
    load_vocab=data.load_vocab,
    vocab_metrics=data.vocab_metrics,
    encode=data.encode,
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
    # rnnlab dag adds the training curves and training.png itself
    plots=(
        {"plots/review/evaluation/confusion.csv": {
            "template": "confusion", "x": "predicted", "y": "actual",
            "title": "review: test reports, confusion matrix"}},
        "plots/review/evaluation/confusion.png",  # an image
    ),
    requirements=("scikit-learn",),
    # train writes into net.json the class names (data.tags, also n_out) and the cut
    # (data.max_len, data.truncation) that evaluate and serving take from there
    reads={"train": (*STAGE_PARAMS["train"], "data", "embedding")},
    init_net=embeddings.init_net,
    train_inputs=embeddings.train_inputs,
    embeddings=embeddings.export,
)
