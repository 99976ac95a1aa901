"""MLflow model-from-code entry point for the tasks whose request is a list of texts (entity,
review, translate): rnnlab/pyfunc_model.py's model, with `predict` typed `list[str]`.

Why a type hint and not a `string` column in a hand-built signature: under a `string` column
MLflow's JSON parser turns a null into the word "None" and 5 into "5" before any model code
runs (mlflow.utils.proto_json_utils.convert_data_type, via the scoring server's
infer_and_parse_data), so a null would be scored as a word. With a signature inferred from
type hints the server hands `inputs` over unparsed and MLflow checks each element against
`list[str]` (`is_signature_from_type_hint: true` in the MLmodel): a null or a number is a 400
"Failed to validate data against type hint `list[str]`, invalid elements: [...]". The
signature is then MLflow's, from these hints and the input example's params: input
`string`, output one JSON object per text (`Map(str -> Any)`), or a string (translate, model
config `"output": "text"`).
"""

from typing import Any

import mlflow

from rnnlab.pyfunc_model import RnnlabModel  # (its own set_model is overridden below)


class TextsToObjects(RnnlabModel):
    """entity, review: one JSON object per text."""

    def predict(self, context: Any, model_input: list[str],
                params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return super().predict(context, model_input, params)


class TextsToTexts(RnnlabModel):
    """translate: one string per text."""

    def predict(self, context: Any, model_input: list[str],
                params: dict[str, Any] | None = None) -> list[str]:
        return super().predict(context, model_input, params)


# the logged model's config says which (rnnlab.stages.evaluate.model_kwargs); MLflow sets it
# before it runs this file, at logging and at loading
_CONFIG = mlflow.models.ModelConfig(development_config={"output": "objects"}).to_dict()
mlflow.models.set_model(TextsToTexts() if _CONFIG.get("output") == "text" else TextsToObjects())
