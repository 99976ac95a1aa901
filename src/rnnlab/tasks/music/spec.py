"""The music task's contract: SPEC, built from the package's modules."""

from __future__ import annotations

from rnnlab.tasks import TaskSpec, deferred
from rnnlab.tasks.music import checks, prepare, vocab
from rnnlab.tasks.music.params import MusicConfig

evaluate, model, serve = deferred("rnnlab.tasks.music", "evaluate", "model", "serve")

EVALUATION = "plots/music/evaluation"


def raw_inputs(cfg: MusicConfig) -> list[str]:
    """What prepare reads from the repository: the user's folder; a music21 corpus ships with
    the installed package (nothing in the repository)."""
    return [cfg.data.path] if cfg.data.source == "folder" else []


def _table(name: str, x: str, title: str) -> dict:
    return {f"{EVALUATION}/{name}.csv": {"x": x, "y": ["real", "rnn", "bigram"], "title": title}}


SPEC = TaskSpec(
    name="music",
    prepare=prepare.prepare,
    raw_inputs=raw_inputs,
    checks=checks.checks,
    build_vocabs=vocab.build_vocabs,
    load_vocab=vocab.load_vocab,
    vocab_metrics=vocab.vocab_metrics,
    encode=vocab.encode,
    net_config=model.net_config,
    build_net=model.build_net,
    objective=model.objective,
    loaders=model.loaders,
    evaluate=evaluate.evaluate,
    model_input=serve.model_input,
    predict=serve.predict,
    predict_params=serve.predict_params,
    input_example=serve.input_example,
    primary_mode="min",  # primary_metric dev/nll: the champion is the lowest
    plots=(
        _table("metre", "genre",
               "music: share of whole bars in the genre's metre (real test tunes vs generated)"),
        _table("conditioning", "genre",
               "music: genre classifier accuracy (real test tunes vs generated)"),
        _table("pitch_classes", "pitch_class",
               "music: pitch-class histograms (all genres; per genre in the CSV)"),
        # figures (paths, as in dvc.yaml); the piano rolls are those of the default genres
        f"{EVALUATION}/metre.png",
        f"{EVALUATION}/conditioning.png",
        *(f"{EVALUATION}/pianoroll_{g}.png" for g in ("Reel", "Jig", "Hornpipe", "Strathspey")),
    ),
    requirements=("music21",),
)
