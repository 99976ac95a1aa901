"""MLflow model-from-code entry point: the pyfunc model is this file, not a pickle."""

from typing import Any

import mlflow

from rnnlab.serving import load_model_dir, resolve_params


class RnnlabModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.spec, self.net, self.vocabs = load_model_dir(context.artifacts["model_dir"])
        # the decode section at evaluate time (changing it does not retrain)
        self.defaults = (context.model_config or {}).get("predict_params", {})

    def predict(self, context, model_input, params=None):
        inputs = self.spec.model_input(model_input)
        return self.spec.predict(self.net, self.vocabs, inputs,
                                 resolve_params(self.spec, self.defaults, params))


mlflow.models.set_model(RnnlabModel())
