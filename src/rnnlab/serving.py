"""pyfunc serving: raw input in, task output out.

The model directory holds net.json (the task and its architecture config), model.pt (state
dict) and the vocabularies as JSON. Loading rebuilds the network from code and reads the weights
with `weights_only=True`: nothing is unpickled. MLflow logs it as a model-from-code
(rnnlab/pyfunc_model.py, or rnnlab/pyfunc_text.py for the text tasks), so no Python object is
pickled either.

The request checks live here and in the tasks' serve.py and raise BadInput, a ValueError with a
one-line message that names the field and the rule; rnnlab/pyfunc_model.py turns it into
MLflow's INVALID_PARAMETER_VALUE (HTTP 400 with that message). Nothing here imports MLflow.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from rnnlab import tasks
from rnnlab.io import read_json

# A request's size limits (README, Serving): inputs per request and characters per text. The
# work of every task grows with both; past them a request is refused, not queued.
MAX_INPUTS = 1000
MAX_CHARS = 20_000
# the vocabs key under which a served model's calibration (rnnlab.tasks.Evaluation) reaches the
# task's predict; it is the logged model's config key too
CALIBRATION = "calibration"


class BadInput(ValueError):
    """A request the model cannot answer; the message says why, in the caller's terms."""


def load_model_dir(path: str | Path, calibration: dict[str, Any] | None = None,
                   ) -> tuple[tasks.TaskSpec, Any, dict[str, Any]]:
    """(task spec, network in eval mode, vocabularies) from a saved model folder; a
    calibration (evaluate's, from the logged model's config) joins the vocabularies."""
    import torch

    path = Path(path)
    meta = read_json(path / "net.json")
    spec = tasks.get(meta["task"])
    net = spec.build_net(meta["config"])
    net.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    vocabs = tasks.load_vocabs(spec, path / "vocab", meta["vocabs"])
    return spec, net.eval(), with_calibration(vocabs, calibration)


def with_calibration(vocabs: dict[str, Any],
                     calibration: dict[str, Any] | None) -> dict[str, Any]:
    """The vocabularies plus evaluate's calibration under CALIBRATION (none: as they are)."""
    if not calibration:
        return vocabs
    if CALIBRATION in vocabs:
        raise ValueError(f"a vocabulary is named {CALIBRATION!r}, the calibration's key")
    return {**vocabs, CALIBRATION: calibration}


def is_missing(value: Any) -> bool:
    """A JSON null as pandas / numpy hand it over: None, NaN or pd.NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NA are not equal to themselves
    except (TypeError, ValueError):  # pd.NA's comparison raises in a boolean context
        return True


def values(model_input: Any) -> list[Any]:
    """The request's inputs as a list: a scalar (a 0-d array too) is one input; a list, an
    array, a Series or a DataFrame's first column are one input per element or row."""
    if hasattr(model_input, "iloc"):  # a DataFrame or Series: its first column
        frame = model_input.to_frame() if hasattr(model_input, "to_frame") else model_input
        return frame.iloc[:, 0].tolist()
    if getattr(model_input, "ndim", None) == 0:  # np.array("text")
        return [model_input.item()]
    if isinstance(model_input, str | bytes | dict) or not hasattr(model_input, "__iter__"):
        return [model_input]
    return list(model_input.tolist() if hasattr(model_input, "tolist") else model_input)


def count(inputs: list[Any], most: int = MAX_INPUTS) -> list[Any]:
    """The inputs, or BadInput if there are none or more than `most`."""
    if not inputs:
        raise BadInput("inputs is empty; a request needs at least one input")
    if len(inputs) > most:
        raise BadInput(f"inputs has {len(inputs)} items; at most {most} per request")
    return inputs


def text(value: Any, where: str, max_chars: int = MAX_CHARS) -> str:
    """One request text, or BadInput naming `where`: not null, a string, at most `max_chars`
    characters. A blank string passes: it has no tokens, and the task answers it with its
    empty answer (no entities, no label, an empty translation) rather than failing the batch."""
    if is_missing(value):
        raise BadInput(f"{where}: expected a string, got null")
    if not isinstance(value, str):
        raise BadInput(f"{where}: expected a string, got {type(value).__name__} "
                       f"{str(value)[:60]}")
    if len(value) > max_chars:
        raise BadInput(f"{where}: {len(value)} characters; at most {max_chars}")
    return value


def texts(model_input: Any) -> list[str]:
    """Strings from what pyfunc hands over: a string, a list, a Series or a DataFrame's first
    column. A missing value (JSON null, NaN) is refused rather than read as the word 'None'."""
    return [text(v, f"input {i}") for i, v in enumerate(count(values(model_input)))]


def whole(value: Any, name: str, low: int, high: int | None = None) -> int:
    """An integer parameter in low..high, or BadInput (2.0 passes: a DataFrame column with a
    missing value turns into floats; True does not)."""
    ok = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not ok:
        raise BadInput(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadInput(f"{name} must be {span}, got {value}")
    return value


def number(value: Any, name: str, low: float, high: float, low_open: bool = False) -> float:
    """A finite real parameter in [low, high] ((low, high] with `low_open`), or BadInput."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(value):
        raise BadInput(f"{name} must be a number, got {value!r}")
    if value < low or value > high or (low_open and value == low):
        span = f"{'>' if low_open else '>='} {low} and <= {high}"
        raise BadInput(f"{name} must be {span}, got {value}")
    return float(value)


def resolve_params(spec: tasks.TaskSpec, defaults: dict[str, Any],
                   params: dict[str, Any] | None) -> dict[str, Any]:
    """The task's pyfunc params: its defaults, updated by the request; unknown names and values
    of another type than the default's fail (an int passes for a float). The task's predict
    checks the ranges."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise BadInput(f"unknown param(s) {unknown} for task {spec.name}; it takes "
                       f"{sorted(defaults) or 'none'}")
    for name, value in params.items():
        kind = type(defaults[name])
        if not _is_kind(value, kind):
            raise BadInput(f"param {name} must be {_KINDS[kind]}, got {value!r}")
    return {**defaults, **params}


def parse_param(defaults: dict[str, Any], item: str) -> tuple[str, Any]:
    """`key=value` from a command line, typed by the declared default (`rnnlab predict
    --param`); BadInput for an unknown key or a value of the wrong type."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise BadInput(f"--param {item!r}: expected key=value")
    if key not in defaults:
        raise BadInput(f"--param {key}: unknown param; the model takes "
                       f"{sorted(defaults) or 'none'}")
    kind = type(defaults[key])
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return key, raw.lower() in ("true", "1", "yes")
        return key, kind(raw)
    except ValueError:
        raise BadInput(f"--param {key}={raw}: must be {_KINDS[kind]}") from None


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _is_kind(value: Any, kind: type) -> bool:
    """Whether a param value has its default's type (an int passes for a float; a bool is
    never a number)."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, numbers.Real)
    if kind is int:
        return isinstance(value, numbers.Integral)
    return isinstance(value, kind)
