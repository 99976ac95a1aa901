"""pyfunc serving: raw input in, task output out.

The model directory holds net.json (the task and its architecture config), model.pt (state
dict) and the vocabularies as JSON. Loading rebuilds the network from code and reads the weights
with `weights_only=True`: nothing is unpickled. MLflow logs it as a model-from-code
(rnnlab/pyfunc_model.py), so no Python object is pickled either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab import tasks
from rnnlab.io import read_json


class BadInput(ValueError):
    """A request the model cannot answer; the message says why, in the caller's terms."""


def load_model_dir(path: str | Path) -> tuple[tasks.TaskSpec, Any, dict[str, Any]]:
    """(task spec, network in eval mode, vocabularies) from a saved model folder."""
    import torch

    path = Path(path)
    meta = read_json(path / "net.json")
    spec = tasks.get(meta["task"])
    net = spec.build_net(meta["config"])
    net.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    return spec, net.eval(), tasks.load_vocabs(spec, path / "vocab", meta["vocabs"])


def texts(model_input: Any) -> list[str]:
    """Strings from what pyfunc hands over: a string, a list, a Series or a DataFrame's first
    column. A missing value (JSON null, NaN) is refused rather than read as the word 'None'."""
    if hasattr(model_input, "iloc"):  # a DataFrame or Series: its first column
        frame = model_input.to_frame() if hasattr(model_input, "to_frame") else model_input
        values = frame.iloc[:, 0].tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        values = list(model_input)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise BadInput(f"input {i}: expected a string, got {value!r}")
    return values


def resolve_params(spec: tasks.TaskSpec, defaults: dict[str, Any],
                   params: dict[str, Any] | None) -> dict[str, Any]:
    """The task's pyfunc params: its defaults, updated by the request; unknown names fail."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise BadInput(f"unknown param(s) {unknown} for task {spec.name}; it takes "
                       f"{sorted(defaults) or 'none'}")
    return {**defaults, **params}
