"""rnnlab: the lecture "RNN: recurrent neural networks (part 1)" as a reproducible pipeline."""

import os

# Offline by default: no tool may phone home. Users can still override each variable.
for _key, _value in {
    "GX_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
}.items():
    os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
