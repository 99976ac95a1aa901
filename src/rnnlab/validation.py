"""Great Expectations gate: run a task's suites, write JSON + Data Docs, fail loudly.

A task hands over one or more `Check`s (a pandas frame and the expectations it must meet).
Each becomes a GX suite validated on that frame. The stage writes, under data/validation/<task>/:
  summary.json   deterministic pass/fail per expectation with a few offending rows (downstream
                 stages depend on this file, so an unchanged verdict re-runs nothing)
  gx_result.json GX's full validation results
  data_docs/     the results as self-contained HTML (open data_docs/index.html; the validate
                 stage renders them with rnnlab.datadocs: no CDN, so they show offline)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rnnlab.io import atomic_dir

MAX_EXAMPLES = 5


class ValidationFailed(RuntimeError):
    """The data broke at least one expectation; the message names them and offending rows."""


@dataclass
class Check:
    name: str
    frame: pd.DataFrame
    expectations: list[Any]  # gx.expectations.Expectation
    id_columns: list[str]
    preview_column: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def _run_suite(context: Any, task: str, check: Check) -> Any:
    import great_expectations as gx

    name = f"{task}-{check.name}"
    source = context.data_sources.add_or_update_pandas(name)
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in check.expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite))
    return definition.run(
        batch_parameters={"dataframe": check.frame.reset_index(drop=True)},
        result_format={"result_format": "COMPLETE",
                       "unexpected_index_column_names": check.id_columns,
                       "partial_unexpected_count": MAX_EXAMPLES},
    )


def _describe(result: Any) -> str:
    cfg = result.expectation_config
    if cfg.description:
        return cfg.description
    args = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
    return f"{cfg.type}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


def _examples(result: Any, check: Check) -> list[dict[str, Any]]:
    rows = result.result.get("unexpected_index_list") or []
    out = []
    for row in rows[:MAX_EXAMPLES]:
        example = {k: _plain(v) for k, v in row.items()}
        if check.preview_column:
            hit = check.frame
            for col in check.id_columns:
                hit = hit[hit[col] == row[col]]
            if len(hit):
                example[check.preview_column] = str(hit.iloc[0][check.preview_column])[:160]
        out.append(example)
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _finite(value: Any) -> Any:
    """NaN / inf (numpy's too) -> None, recursively: JSON has no NaN."""
    value = _plain(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def strict_json(data: Any) -> str:
    """`data` as strict JSON (RFC 8259: NaN and inf become null), for summary.json."""
    return json.dumps(_finite(data), indent=2, default=_plain, allow_nan=False)


def summarise(task: str, checks: list[Check], results: list[Any]) -> dict[str, Any]:
    expectations = []
    for check, result in zip(checks, results, strict=True):
        for r in result.results:
            entry = {"frame": check.name, "expectation": r.expectation_config.type,
                     "description": _describe(r), "success": bool(r.success)}
            if not r.success:
                entry["unexpected_count"] = _plain(r.result.get("unexpected_count"))
                entry["examples"] = _examples(r, check)
                if r.exception_info and r.exception_info.get("raised_exception"):
                    entry["error"] = str(r.exception_info.get("exception_message"))[:300]
            expectations.append(entry)
    return {
        "task": task,
        "success": all(e["success"] for e in expectations),
        "evaluated": len(expectations),
        "failed": sum(not e["success"] for e in expectations),
        "rows": {c.name: len(c.frame) for c in checks},
        "stats": {c.name: c.stats for c in checks if c.stats},
        "expectations": expectations,
    }


def failure_message(summary: dict[str, Any]) -> str:
    lines = [f"Validation failed for task {summary['task']!r}: {summary['failed']} of "
             f"{summary['evaluated']} expectations failed."]
    for e in summary["expectations"]:
        if e["success"]:
            continue
        count = e.get("unexpected_count")
        lines.append(f"  FAILED [{e['frame']}] {e['description']}"
                     + (f" — {count} offending row(s)" if count is not None else ""))
        lines.extend(f"      {json.dumps(x, ensure_ascii=False)}" for x in e.get("examples", []))
        if "error" in e:
            lines.append(f"      error: {e['error']}")
    return "\n".join(lines)


def validate(task: str, checks: list[Check], out_dir: str | Path,
             docs: Callable[[Path, str, list[dict[str, Any]], dict[str, int]], Any] | None = None,
             ) -> dict[str, Any]:
    """Run every check, write summary/results (and the pages `docs` renders from the results,
    e.g. rnnlab.datadocs.write) atomically, raise if any failed. `docs` is passed in by the
    validate stage so that the page code is a dep of that stage only, not of every stage that
    imports this module."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    with atomic_dir(out_dir) as out:
        # ephemeral: the pages are rendered here (GX's own Data Docs need a CDN to show)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        results = [_run_suite(context, task, check) for check in checks]
        full = [r.to_json_dict() for r in results]
        if docs is not None:
            docs(out / "data_docs", task, full,
                 {f"{task}-{c.name}": len(c.frame) for c in checks})
        (out / "gx_result.json").write_text(json.dumps(full, indent=1, default=str))
        summary = summarise(task, checks, results)
        (out / "summary.json").write_text(strict_json(summary) + "\n")
    if not summary["success"]:
        raise ValidationFailed(failure_message(summary))
    return summary
