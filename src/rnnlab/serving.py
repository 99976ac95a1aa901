"""pyfunc serving: raw input in, task output out.

The model directory holds net.json (architecture config), model.pt (state dict) and the
vocabularies as JSON. Loading rebuilds the network from code and reads the weights with
`weights_only=True`: nothing is unpickled. MLflow logs it as a model-from-code
(rnnlab/pyfunc_model.py), so no Python object is pickled either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rnnlab import tasks
from rnnlab.io import read_json


def load_model_dir(path: str | Path) -> tuple[Any, torch.nn.Module, dict[str, Any]]:
    """(task module, network in eval mode, vocabularies) from a saved model directory."""
    path = Path(path)
    meta = read_json(path / "net.json")
    task = tasks.get(meta["task"])
    net = task.build_net(meta["config"])
    net.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    return task, net.eval(), tasks.load_vocabs(task, path / "vocab", meta["vocabs"])


def _as_list(model_input: Any) -> list:
    if hasattr(model_input, "iloc"):  # a DataFrame or Series: its first column
        frame = model_input.to_frame() if hasattr(model_input, "to_frame") else model_input
        return frame.iloc[:, 0].tolist()
    if isinstance(model_input, str):
        return [model_input]
    return list(model_input)


try:
    import mlflow.pyfunc

    class RnnlabModel(mlflow.pyfunc.PythonModel):
        def load_context(self, context: Any) -> None:
            self.task, self.net, self.vocabs = load_model_dir(context.artifacts["model_dir"])

        def predict(self, context: Any, model_input: Any, params: dict | None = None) -> Any:
            inputs = getattr(self.task, "model_input", _as_list)(model_input)
            if params:  # e.g. a count and a seed for generation
                return self.task.predict(self.net, self.vocabs, inputs, params=params)
            return self.task.predict(self.net, self.vocabs, inputs)

except ImportError:  # serving without MLflow still works through load_model_dir
    pass
