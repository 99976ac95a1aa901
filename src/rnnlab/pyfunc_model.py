"""MLflow model-from-code entry point: the pyfunc model is this file, not a pickle (music and
forecast, whose request is a table; the text tasks use rnnlab/pyfunc_text.py, this model with
a typed predict).

A request the task refuses (rnnlab.serving.BadInput) becomes MLflow's INVALID_PARAMETER_VALUE,
which `mlflow models serve` answers with HTTP 400 and the one-line cause, no traceback; any
other error stays MLflow's generic 400 with the server's traceback (a bug, not a bad request).
The conversion happens here so that the tasks and rnnlab.serving never import MLflow."""

import threading
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from rnnlab.serving import CALIBRATION, BadInput, load_model_dir, resolve_params


class RnnlabModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        config = context.model_config or {}
        # evaluate's calibration (forecast: the interval half-widths) rides in the config:
        # models/<task> is train's output and stays the weights' files only
        self.spec, self.net, self.vocabs = load_model_dir(context.artifacts["model_dir"],
                                                          config.get(CALIBRATION))
        # the decode section at evaluate time (changing it does not retrain)
        self.defaults = config.get("predict_params", {})
        # the scoring server calls predict from several threads at once, and torch's recurrent
        # modules are not thread-safe (each call re-checks their flat weights: concurrent beam
        # searches failed with "zip() argument 2 is longer than argument 1"), so one request
        # computes at a time; torch's own threads still work inside it
        self.lock = threading.Lock()

    def predict(self, context, model_input, params=None):
        try:
            inputs = self.spec.model_input(model_input)
            settings = resolve_params(self.spec, self.defaults, params)
            with self.lock:
                return self.spec.predict(self.net, self.vocabs, inputs, settings)
        except BadInput as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None


mlflow.models.set_model(RnnlabModel())
