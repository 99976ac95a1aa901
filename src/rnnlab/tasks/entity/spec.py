"""SPEC: the entity task as the stages, the flow and serving see it."""

from __future__ import annotations

from rnnlab.tasks import STAGE_PARAMS, TaskSpec
from rnnlab.tasks.entity import checks, data, evaluate, model, serve

SPEC = TaskSpec(
    name="entity",
    prepare=data.prepare,
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
    primary_mode="max",
    plots=(
        # dvc.yaml's shared "training curves" entry, entity's line of it
        {"training curves": {"template": "linear", "x": "epoch",
                             "y": {"plots/entity/training.csv": ["train/loss", "dev/loss"]}}},
        {"plots/entity/evaluation/confusion.csv": {
            "template": "confusion", "x": "predicted", "y": "actual",
            "title": "entity: test tokens, confusion matrix"}},
        # images: no plot properties (dvc.yaml's bare `- path` entries)
        {"plots/entity/evaluation/training.png": None},
        {"plots/entity/evaluation/confusion.png": None},
    ),
    # evaluate trains the dense baseline: it reads the model (embedding_dim, dropout), the
    # train section (batches, lr, patience, ...) and the encoding, besides its usual sections
    reads={"evaluate": (*STAGE_PARAMS["evaluate"], "encoding", "model", "train")},
)
