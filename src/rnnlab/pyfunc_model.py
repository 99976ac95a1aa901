"""MLflow model-from-code entry point: the pyfunc model is this file, not a pickle."""

import mlflow

from rnnlab.serving import RnnlabModel

mlflow.models.set_model(RnnlabModel())
