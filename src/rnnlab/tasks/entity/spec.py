"""SPEC: the entity task as the stages, the flow and serving see it."""

from __future__ import annotations

from rnnlab.tasks import STAGE_PARAMS, TaskSpec, deferred
from rnnlab.tasks.entity import checks, data

evaluate, model, serve = deferred("rnnlab.tasks.entity", "evaluate", "model", "serve")

SPEC = TaskSpec(
    name="entity",
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
    plots=(  # the training curves come with every task (rnnlab.dag)
        {"plots/entity/evaluation/confusion.csv": {
            "template": "confusion", "x": "predicted", "y": "actual",
            "title": "entity: test tokens, confusion matrix"}},
        "plots/entity/evaluation/confusion.png",
    ),
    requirements=("seqeval",),
    # evaluate trains the dense baseline: it reads the model (embedding_dim, dropout), the
    # train section (batches, lr, patience, ...) and the encoding, besides its usual sections
    reads={"evaluate": (*STAGE_PARAMS["evaluate"], "encoding", "model", "train")},
)
