"""Neural code: torch only (no MLflow, Prefect, DVC or Great Expectations here)."""
