"""The run report: one offline HTML page per pipeline run.

`rnnlab report` (the `report` stage of dvc.yaml, and the Prefect flow through it) writes
reports/index.html over the current outputs: one self-contained page, no network assets (the
figures are inlined as base64 data URIs, the CSS is inline, no scripts). Per task of params.yaml
`tasks`:
- the primary metric (the champion rule's, on dev or the backtest) and its test twin, for the
  RNN next to every baseline metrics/<task>.json holds for them;
- the targets of params.yaml `report.targets.<task>`, met or not;
- the figures of plots/<task>/evaluation/ (training curves, confusion, forecast, piano rolls),
  and the small tables DVC draws that have no figure (BLEU by source length);
- a few example predictions (examples.txt) and the validation verdict (summary.json);
- the champion version, its aliases and links to its MLflow run, read from the store when it
  exists (else "not registered"). The report is logged as an artifact of a run in the MLflow
  experiment rnnlab-report.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import jinja2

from rnnlab import config
from rnnlab.datadocs import CSS
from rnnlab.stages import Paths

OUT = Path("reports/index.html")
EXAMPLES = 5  # example predictions shown per task
EXAMPLE_CHARS = 300  # an example line is cut after this many characters
TABLE_ROWS = 40  # a plot table without a figure is shown when it has at most this many rows
EXPERIMENT = "report"  # MLflow experiment rnnlab-report (rnnlab.tracking.experiment_name)
UI = "http://127.0.0.1:5000"  # `make ui`, for links when the store is a local file


def inputs(task: str) -> list[str]:
    """The files the report reads for a task (the report stage's data deps in dvc.yaml)."""
    paths = Paths(task)
    return [str(paths.metrics), str(paths.validation / "summary.json"), str(paths.evaluation)]


def params_read(tasks: list[str] | tuple[str, ...]) -> list[str]:
    """The params.yaml keys the report reads (the stage's `params:`)."""
    return ["tasks", "mlflow", "report", *(f"{task}.primary_metric" for task in tasks)]


# ---------------------------------------------------------------- per task


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _twin(metric: str) -> str | None:
    """The test split's name of a dev / backtest metric: dev/bleu -> test/bleu."""
    split, sep, rest = metric.partition("/")
    return f"test/{rest}" if sep and split != "test" else None


def comparison(metrics: dict[str, float], primary: str) -> dict[str, Any]:
    """The RNN and each baseline on the primary metric and its test twin: the baselines are
    the prefixes p of metrics named p/<metric>."""
    columns = [m for m in (primary, _twin(primary)) if m]
    rows: dict[str, dict[str, float]] = {"RNN": {m: metrics[m] for m in columns if m in metrics}}
    for key, value in metrics.items():
        for m in columns:
            if key.endswith("/" + m) and key != m:
                rows.setdefault(key[: -len(m) - 1], {})[m] = value
    return {"columns": columns, "rows": rows}


def targets(metrics: dict[str, float], goals: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for metric, goal in goals.items():
        value = metrics.get(metric)
        rule = " and ".join(t for t in (f"≥ {goal.min:g}" if goal.min is not None else "",
                                         f"≤ {goal.max:g}" if goal.max is not None else "") if t)
        met = None if value is None else (
            (goal.min is None or value >= goal.min) and (goal.max is None or value <= goal.max))
        out.append({"metric": metric, "rule": rule, "value": value, "met": met})
    return out


def _data_uri(path: Path) -> str:
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg", ".gif": "image/gif"}[path.suffix.lower()]
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def figures(task: str, root: Path) -> list[dict[str, str]]:
    """Every image in plots/<task>/evaluation/: those dvc.yaml's plots name first, in its
    order, then the rest by name."""
    from rnnlab import dag

    folder = root / Paths(task).evaluation
    found = {p.name: p for p in folder.glob("*") if p.suffix.lower() in
             (".png", ".svg", ".jpg", ".jpeg", ".gif")} if folder.is_dir() else {}
    named = [Path(e).name for e in dag.plots(task) if isinstance(e, str)]
    order = [n for n in named if n in found] + sorted(set(found) - set(named))
    return [{"name": n, "src": _data_uri(found[n])} for n in order]


def tables(task: str, root: Path) -> list[dict[str, Any]]:
    """The small CSV plots of dvc.yaml that have no figure of their own (e.g. BLEU by length),
    as tables."""
    from rnnlab import dag

    folder, out = root / Paths(task).evaluation, []
    for entry in dag.plots(task):
        if not isinstance(entry, dict):
            continue
        for key, props in entry.items():
            path = root / key
            if path.suffix != ".csv" or not path.is_file() or path.parent != folder \
                    or path.with_suffix(".png").exists():
                continue
            with path.open(newline="") as f:
                rows = list(csv.reader(f))
            if 1 < len(rows) <= TABLE_ROWS + 1:
                out.append({"title": (props or {}).get("title", path.name),
                            "file": path.name, "header": rows[0], "rows": rows[1:]})
    return out


def examples(task: str, root: Path) -> list[str]:
    path = root / Paths(task).evaluation / "examples.txt"
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()][:EXAMPLES]
    return [line if len(line) <= EXAMPLE_CHARS else line[: EXAMPLE_CHARS - 1] + "…"
            for line in lines]


def verdict(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    failed = [f"[{e['frame']}] {e['description']}" for e in summary.get("expectations", [])
              if not e.get("success")]
    return {"success": bool(summary.get("success")), "evaluated": summary.get("evaluated"),
            "failed": summary.get("failed"), "rows": summary.get("rows", {}),
            "failures": failed}


# ---------------------------------------------------------------- MLflow (read-only)


def _store_uri(mlflow_cfg: config.MlflowConfig, root: Path) -> str | None:
    """The tracking URI, or None when it is a local file that does not exist (opening it
    would create a store)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or mlflow_cfg.tracking_uri
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        path = path if path.is_absolute() else root / path
        return f"sqlite:///{path}" if path.is_file() else None
    return uri


def champions(mlflow_cfg: config.MlflowConfig, tasks: list[str],
              root: Path) -> tuple[dict[str, dict[str, Any] | None], str | None]:
    """{task: the @champion version's facts or None}, and why none could be read."""
    uri = _store_uri(mlflow_cfg, root)
    if uri is None:
        return dict.fromkeys(tasks), f"no MLflow store at {mlflow_cfg.tracking_uri}"
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from rnnlab.tracking import model_name

    client = MlflowClient(uri, registry_uri=uri)
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else UI
    out: dict[str, dict[str, Any] | None] = {}
    for task in tasks:
        name = model_name(task)
        try:
            version = client.get_model_version_by_alias(name, "champion")
            run = client.get_run(version.run_id)
        except MlflowException:  # nothing registered for the task yet
            out[task] = None
            continue
        out[task] = {
            "name": name, "version": version.version, "aliases": sorted(version.aliases),
            "run_id": version.run_id, "run_name": run.info.run_name,
            "registered": dt.datetime.fromtimestamp(version.creation_timestamp / 1000,
                                                    dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "run_url": f"{base}/#/experiments/{run.info.experiment_id}/runs/{version.run_id}",
            "model_url": f"{base}/#/models/{name}/versions/{version.version}"}
    return out, None


# ---------------------------------------------------------------- the page

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda v: "–" if v is None else f"{v:.4g}" if isinstance(v, float) \
    else str(v)

PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rnnlab run report</title>
<style>{{ css | safe }}</style></head>
<body>
<h1>rnnlab run report</h1>
<p class="muted">git {{ commit }} · written {{ written }} · tasks: {{ tasks | join(", ") }}
{% if store_note %} · {{ store_note }}{% endif %}</p>
<nav>{% for t in sections %}<a href="#{{ t.task }}">{{ t.task }}</a>{% endfor %}</nav>
<h2>Summary</h2>
<table class="summary">
<tr><th>task</th><th>primary metric</th><th>RNN</th><th>RNN, test</th><th>best baseline</th>
<th>targets met</th>
<th>validation</th><th>champion</th></tr>
{% for t in sections %}
<tr><td><a href="#{{ t.task }}">{{ t.task }}</a></td><td><code>{{ t.primary }}</code>
({{ t.direction }})</td>
<td class="num">{{ t.rnn | num }}</td><td class="num">{{ t.rnn_test | num }}</td>
<td>{{ t.best_baseline }}</td>
<td>{{ t.targets_met }}</td>
<td>{% if t.validation is none %}<span class="muted">not run</span>
{% elif t.validation.success %}<span class="ok">passed</span>
{% else %}<span class="bad">failed</span>{% endif %}</td>
<td>{% if t.champion %}v{{ t.champion.version }}{% else %}
<span class="muted">not registered</span>{% endif %}</td></tr>
{% endfor %}
</table>
{% for t in sections %}
<section id="{{ t.task }}">
<h2>{{ t.task }}</h2>
{% if t.metrics is none %}
<p class="bad">No metrics/{{ t.task }}.json yet: the task's evaluate stage has not run.</p>
{% else %}
<h3>Primary metric and baselines</h3>
<p class="muted">Champion rule: <code>{{ t.primary }}</code>, {{ t.direction }}; every
baseline from the same run and split.</p>
<table class="metrics">
<tr><th>model</th>{% for c in t.comparison.columns %}<th><code>{{ c }}</code></th>{% endfor %}
</tr>
{% for model, values in t.comparison.rows.items() %}
<tr><td>{{ model }}</td>{% for c in t.comparison.columns %}
<td class="num">{{ values.get(c) | num }}</td>{% endfor %}</tr>
{% endfor %}
</table>
<h3>Targets (params.yaml report.targets.{{ t.task }})</h3>
{% if t.targets %}
<table class="targets"><tr><th>metric</th><th>target</th><th>value</th><th>verdict</th></tr>
{% for g in t.targets %}
<tr><td><code>{{ g.metric }}</code></td><td>{{ g.rule }}</td><td class="num">{{ g.value | num }}
</td><td>{% if g.met is none %}<span class="muted">no such metric</span>{% elif g.met %}
<span class="ok">met</span>{% else %}<span class="bad">not met</span>{% endif %}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">none set</p>{% endif %}
{% endif %}
<h3>Champion</h3>
{% if t.champion %}
<p><code>{{ t.champion.name }}</code> version {{ t.champion.version }}, aliases
{% for a in t.champion.aliases %}<code>@{{ a }}</code>{{ ", " if not loop.last }}{% endfor %},
registered {{ t.champion.registered }}. MLflow:
<a href="{{ t.champion.run_url }}">run {{ t.champion.run_name }}
(<code>{{ t.champion.run_id }}</code>)</a>,
<a href="{{ t.champion.model_url }}">model version</a>.</p>
{% else %}<p class="muted">not registered</p>{% endif %}
<h3>Validation</h3>
{% if t.validation is none %}<p class="muted">not run</p>
{% else %}
<p>{% if t.validation.success %}<span class="ok">passed</span>{% else %}
<span class="bad">failed</span>{% endif %}: {{ t.validation.evaluated }} expectations,
{{ t.validation.failed }} failed; rows:
{% for frame, n in t.validation.rows.items() %}{{ frame }} {{ n }}{{ ", " if not loop.last }}
{% endfor %}.</p>
{% for f in t.validation.failures %}<p class="bad">{{ f }}</p>{% endfor %}
{% endif %}
<h3>Example predictions</h3>
{% if t.examples %}<pre class="examples">{{ t.examples | join("\\n") }}</pre>
{% else %}<p class="muted">none</p>{% endif %}
<h3>Figures</h3>
{% for f in t.figures %}
<figure><img alt="{{ t.task }}: {{ f.name }}" src="{{ f.src }}">
<figcaption class="note">{{ f.name }}</figcaption></figure>
{% else %}<p class="muted">none</p>
{% endfor %}
{% for tb in t.tables %}
<h3>{{ tb.title }}</h3>
<table class="plot-table"><tr>{% for h in tb.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in tb.rows %}<tr>{% for v in row %}<td class="num">{{ v }}</td>{% endfor %}</tr>
{% endfor %}
</table>
<p class="note">{{ tb.file }}</p>
{% endfor %}
</section>
{% endfor %}
<p class="note">A self-contained page: figures inlined, no scripts, no network.</p>
</body></html>
""")


def _best(comparison: dict[str, Any], mode: str) -> str:
    """The best baseline on the test twin (or the primary metric when it has none)."""
    cols = comparison["columns"]
    for metric in reversed(cols):
        scored = {m: v[metric] for m, v in comparison["rows"].items()
                  if m != "RNN" and metric in v}
        if scored:
            pick = (max if mode == "max" else min)(scored, key=scored.__getitem__)
            return f"{pick} {scored[pick]:.4g} ({metric})"
    return "–"


def section(task: str, cfg: config.Config, root: Path,
            champion: dict[str, Any] | None) -> dict[str, Any]:
    from rnnlab import tasks

    tc, paths = cfg.task(task), Paths(task)
    mode = tasks.get(task).primary_mode
    metrics = _read_json(root / paths.metrics)
    comp = comparison(metrics or {}, tc.primary_metric)
    goals = targets(metrics or {}, cfg.report.targets.get(task, {}))
    met = [g for g in goals if g["met"] is not None]
    return {
        "task": task, "primary": tc.primary_metric,
        "direction": "higher is better" if mode == "max" else "lower is better",
        "metrics": metrics, "comparison": comp, "targets": goals,
        "rnn": (metrics or {}).get(tc.primary_metric),
        "rnn_test": (metrics or {}).get(_twin(tc.primary_metric) or ""),
        "best_baseline": _best(comp, mode),
        "targets_met": f"{sum(bool(g['met']) for g in met)} of {len(goals)}" if goals else "–",
        "validation": verdict(_read_json(root / paths.validation / "summary.json")),
        "champion": champion, "examples": examples(task, root),
        "figures": figures(task, root), "tables": tables(task, root),
    }


def render(cfg: config.Config, root: Path, use_store: bool = True) -> str:
    """The report's HTML over the outputs under `root`."""
    from rnnlab.tracking import git_commit

    tasks = list(cfg.tasks)
    found, note = (champions(cfg.mlflow, tasks, root) if use_store
                   else (dict.fromkeys(tasks), "MLflow store not read"))
    sections = [section(t, cfg, root, found[t]) for t in tasks]
    return PAGE.render(css=CSS, sections=sections, tasks=tasks, store_note=note,
                       commit=git_commit()[:12],
                       written=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def log_to_mlflow(cfg: config.Config, path: Path, root: Path) -> str | None:
    """Log the report as an artifact of a new run in experiment rnnlab-report; returns the
    run id, or None when there is no store to log to."""
    if _store_uri(cfg.mlflow, root) is None:
        return None
    import mlflow

    from rnnlab import tracking

    tracking.setup(cfg.mlflow, EXPERIMENT)
    tags = {"rnnlab.tasks": ",".join(cfg.tasks),
            "mlflow.source.git.commit": tracking.git_commit()}
    if os.environ.get("PREFECT__FLOW_RUN_ID"):
        tags["prefect.flow_run_id"] = os.environ["PREFECT__FLOW_RUN_ID"]
    with mlflow.start_run(run_name=f"report-{tracking.git_commit()[:8]}", tags=tags) as run:
        mlflow.log_artifact(str(path))
    return run.info.run_id


def write(params: str | Path = "params.yaml", out: str | Path = OUT, use_store: bool = True,
          log: bool = True) -> Path:
    """Write the report over the outputs of the repository holding `params`."""
    from rnnlab.io import atomic_path

    cfg = config.load(params)
    root = Path(params).resolve().parent
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(render(cfg, root, use_store))
    if log and use_store:
        run_id = log_to_mlflow(cfg, out, root)
        if run_id:
            print(f"logged {out} to MLflow run {run_id} (experiment rnnlab-{EXPERIMENT})")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="rnnlab report", description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--output", default=str(OUT))
    parser.add_argument("--no-mlflow", action="store_true",
                        help="neither read the store (champions) nor log the report to it")
    args = parser.parse_args(argv)
    path = write(args.params, args.output, use_store=not args.no_mlflow)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0
