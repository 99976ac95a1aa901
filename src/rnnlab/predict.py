"""`rnnlab predict <task>`: ask a registered model from the command line, fast.

The alias is resolved in the store and the version's model folder (models/<task> as logged:
net.json, model.pt, vocab/) is loaded with rnnlab.serving.load_model_dir, the same code the
served pyfunc model runs, without MLflow's pyfunc stack. For the default SQLite store the
alias is read from the database opened read-only (MLflow's own import takes seconds), and a
local artifact store is read in place; any other store goes through MlflowClient and the
folder is downloaded once into ~/.cache/rnnlab/models/. Nothing is ever written to the store:
an unknown task or alias fails before anything opens it for writing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from rnnlab.serving import CALIBRATION, BadInput, parse_param

CHUNK = 100  # inputs per predict call: a long file stays within rnnlab.serving.MAX_INPUTS
TABLES = (".csv",)
JSON_LINES = (".jsonl", ".ndjson", ".json")


class NoModel(LookupError):
    """No registered model answers: the message says what to run."""


def model_name(task: str) -> str:
    return f"rnnlab-{task}"  # as rnnlab.tracking.model_name (which imports MLflow)


def store_uri(tracking_uri: str) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri


def _hint(task: str, uri: str, alias: str) -> str:
    pulled = Path("models") / task / "model.pt"
    if pulled.is_file():  # `dvc pull` restores the outputs, not the MLflow store
        return (f"no model {model_name(task)}@{alias} in {uri}, but {pulled.parent}/ exists "
                f"(e.g. after `dvc pull`): register it with `rnnlab register {task}`")
    return (f"no model {model_name(task)}@{alias} in {uri}: train it with `dvc repro` (or "
            f"`rnnlab register {task}` after `dvc pull`)")


def _sqlite_location(uri: str, task: str, alias: str) -> str | None:
    """The version's artifact location from a SQLite store opened read-only; None when the
    schema is not the one this reads (then MlflowClient answers)."""
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.is_file():
        raise NoModel(_hint(task, uri, alias))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT v.storage_location FROM registered_model_aliases a JOIN model_versions v "
            "ON a.name = v.name AND a.version = v.version WHERE a.name = ? AND a.alias = ?",
            (model_name(task), alias)).fetchone()
        aliases = [a for (a,) in db.execute(
            "SELECT alias FROM registered_model_aliases WHERE name = ?", (model_name(task),))]
    except sqlite3.Error:
        return None
    finally:
        db.close()
    if row is None and aliases:
        raise NoModel(f"{model_name(task)} has no alias @{alias} in {uri}; its aliases: "
                      + ", ".join(f"@{a}" for a in sorted(aliases)))
    if row is None:
        raise NoModel(_hint(task, uri, alias))
    return row[0]


def _client_location(uri: str, task: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        version = client.get_model_version_by_alias(model_name(task), alias)
    except MlflowException:
        raise NoModel(_hint(task, uri, alias)) from None
    return client.get_model_version_download_uri(model_name(task), version.version)


def _local(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    return None


def model_folder(task: str, alias: str, tracking_uri: str,
                 ) -> tuple[Path, dict[str, Any], list[str], dict[str, Any] | None]:
    """(the version's model folder, its predict_params defaults, the named columns of its
    input schema: [] for a list of texts, evaluate's calibration or None) for
    <task>@<alias>."""
    import yaml

    uri = store_uri(tracking_uri)
    location = _sqlite_location(uri, task, alias) if uri.startswith("sqlite:///") else None
    if location is None:
        location = _client_location(uri, task, alias)
    root = _local(location)
    if root is None:  # a remote artifact store: downloaded once per version
        import mlflow.artifacts

        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rnnlab" / \
            "models" / hashlib.sha256(location.encode()).hexdigest()[:16]
        if not (cache / "MLmodel").is_file():
            mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(cache))
        root = cache
    meta = yaml.safe_load((root / "MLmodel").read_text())
    flavor = meta["flavors"]["python_function"]
    folder = root / flavor["artifacts"]["model_dir"]["path"]
    inputs = json.loads((meta.get("signature") or {}).get("inputs") or "[]")
    columns = [c["name"] for c in inputs if c.get("name")]
    config = flavor.get("config") or {}
    return folder, config.get("predict_params", {}), columns, config.get(CALIBRATION)


# ---------------------------------------------------------------- inputs


def _lines(stream: Iterable[str]) -> list[str]:
    """Non-blank lines, without their line ends (a blank line is no input)."""
    return [line.rstrip("\r\n") for line in stream if line.strip()]


def _json_lines(lines: list[str], where: str) -> list[Any]:
    out = []
    for i, line in enumerate(lines, 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise BadInput(f"{where} line {i}: not JSON ({err.msg})") from None
    return out


def read_inputs(columns: list[str], args: list[str], file: str | None,
                stdin: io.TextIOBase) -> Any:
    """What the model reads, from arguments, `-` (stdin, one input per line) or --file (text
    lines; JSON Lines for .jsonl / .json; a table for .csv). A model whose input schema names
    columns (music's genre, count, seed; forecast's date, value) takes one table: each line or
    argument is a CSV row of those columns in order (missing trailing cells stay empty, a
    header row is skipped), each JSON line an object or such a row."""
    if file is not None and args:
        raise BadInput("give inputs as arguments, - or --file, not several")
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise BadInput(f"--file {file}: no such file")
        suffix = path.suffix.lower()
        if suffix in TABLES:
            import pandas as pd

            frame = pd.read_csv(path)
            return frame if columns else frame.iloc[:, 0].tolist()
        with path.open(encoding="utf-8") as f:
            lines = _lines(f)
        values: list[Any] = (_json_lines(lines, f"--file {file}") if suffix in JSON_LINES
                             else lines)
    elif args == ["-"]:
        values = _lines(stdin)
    else:
        values = list(args)
    return _table(values, columns) if columns else values


def _table(values: list[Any], columns: list[str]) -> Any:
    """One table from JSON objects and CSV rows (pandas types the cells: 2 -> a number)."""
    import pandas as pd

    rows = [v for v in values if isinstance(v, dict)]
    lines = [str(v) for v in values if not isinstance(v, dict)]
    if lines and [f.strip() for f in next(csv.reader([lines[0]]))] == columns:
        lines = lines[1:]  # a header
    if lines:
        wide = max(len(next(csv.reader([line]))) for line in lines)
        if wide > len(columns):
            raise BadInput(f"a row has {wide} fields; the model reads {columns}")
        table = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), header=None,
                            names=columns, skip_blank_lines=True)
        rows += [{k: v for k, v in r.items() if not pd.isna(v)}
                 for r in table.to_dict("records")]
    return pd.DataFrame(rows, columns=columns)


def _records(output: Any) -> Iterator[Any]:
    if hasattr(output, "to_dict"):  # forecast: one line per period
        yield from output.to_dict("records")
    else:
        yield from output


def _plain(value: Any) -> Any:
    """numpy scalars as JSON numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def run(task: str, args: list[str], file: str | None, params: list[str], alias: str,
        tracking_uri: str, out: io.TextIOBase | None = None,
        stdin: io.TextIOBase | None = None) -> None:
    """Predict and write JSON Lines: one line per input (forecast: per period)."""
    from rnnlab.serving import load_model_dir, resolve_params

    out, stdin = out or sys.stdout, stdin or sys.stdin  # at call time: tests swap them

    folder, defaults, columns, calibration = model_folder(task, alias, tracking_uri)
    given = dict(parse_param(defaults, p) for p in params)
    raw = read_inputs(columns, args, file, stdin)
    spec, net, vocabs = load_model_dir(folder, calibration)
    chosen = resolve_params(spec, defaults, given)
    # a table is one request (a forecast history); texts go in chunks within the caps
    chunks = [raw] if columns else [raw[i:i + CHUNK] for i in range(0, len(raw), CHUNK)] or [raw]
    for chunk in chunks:
        output = spec.predict(net, vocabs, spec.model_input(chunk), chosen)
        for record in _records(output):
            out.write(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
