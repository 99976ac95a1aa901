"""Great Expectations results as self-contained HTML pages: no CDN, no JavaScript, no logo URL.

GX's own Data Docs build the index table with JavaScript and style every page from CDNs
(bootstrap, jQuery, font-awesome), so offline the index is near-blank. These pages are
rendered here from the validation results' JSON (`to_json_dict()`, what gx_result.json holds):

    index.html                 one row per suite: verdict, expectations met, rows, a link
    validations/<suite>.html   one row per expectation: verdict, description, arguments,
                               observed value, unexpected count and a few offending values

Every value that comes from a task or from the data (descriptions, column names, offending
values) is HTML-escaped by Jinja's autoescape, so `token<TAB>tag` shows as written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

MAX_VALUES = 5  # offending values and index rows shown per expectation

# one stylesheet for every offline page of the project (the run report uses it too)
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, monospace; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; overflow-x: auto;
      white-space: pre-wrap; }
.ok { color: #116329; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.muted { color: #59636e; } .note { color: #59636e; font-size: 12px; }
tr.failed td { background: #fff1f0; }
img { max-width: 100%; border: 1px solid #d0d7de; margin: 4px 0 12px; }
nav a { margin-right: 12px; }
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)

_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ css | safe }}</style></head>
<body>
{{ body | safe }}
<p class="note">Rendered by rnnlab from Great Expectations {{ gx_version }} results; a
self-contained page (no scripts, no network).</p>
</body></html>
""")

_INDEX = _ENV.from_string("""<h1>Data validation: {{ task }}</h1>
<p>Verdict: {% if success %}<span class="ok">passed</span>{% else %}
<span class="bad">FAILED</span>{% endif %}: {{ met }} of {{ total }} expectations met,
{{ suites | length }} suite(s).</p>
<table>
<tr><th>suite</th><th>verdict</th><th>expectations met</th><th>success %</th>
<th>rows</th><th>validated at</th></tr>
{% for s in suites %}
<tr class="{{ '' if s.success else 'failed' }}">
<td><a href="{{ s.href }}">{{ s.name }}</a></td>
<td>{% if s.success %}<span class="ok">passed</span>{% else %}<span class="bad">failed</span>
{% endif %}</td>
<td class="num">{{ s.met }} / {{ s.total }}</td><td class="num">{{ s.percent }}</td>
<td class="num">{{ s.rows }}</td><td>{{ s.time }}</td></tr>
{% endfor %}
</table>
""")

_SUITE = _ENV.from_string("""<nav><a href="../index.html">&larr; all suites of {{ task }}</a></nav>
<h1>Suite {{ name }}</h1>
<p>Verdict: {% if success %}<span class="ok">passed</span>{% else %}
<span class="bad">FAILED</span>{% endif %}: {{ met }} of {{ total }} expectations met;
{{ rows }} rows; validated at {{ time }}.</p>
<table>
<tr><th>#</th><th>verdict</th><th>expectation</th><th>arguments</th><th>observed</th>
<th>unexpected</th><th>offending values (first {{ max_values }})</th></tr>
{% for e in expectations %}
<tr class="{{ '' if e.success else 'failed' }}">
<td class="num">{{ loop.index }}</td>
<td>{% if e.success %}<span class="ok">met</span>{% else %}<span class="bad">failed</span>
{% endif %}</td>
<td>{{ e.description }}<br><code class="muted">{{ e.type }}</code></td>
<td><code>{{ e.kwargs }}</code></td>
<td>{{ e.observed }}</td>
<td class="num">{{ e.unexpected }}</td>
<td>{% if e.offending %}<pre>{{ e.offending }}</pre>{% endif %}
{% if e.error %}<pre class="bad">{{ e.error }}</pre>{% endif %}</td></tr>
{% endfor %}
</table>
""")


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expectation(r: dict[str, Any]) -> dict[str, Any]:
    cfg, res = r["expectation_config"], r.get("result") or {}
    kwargs = {k: v for k, v in cfg.get("kwargs", {}).items() if k != "batch_id"}
    unexpected = ""
    if res.get("unexpected_count") is not None:
        unexpected = f"{res['unexpected_count']:,}"
        if res.get("unexpected_percent") is not None:
            unexpected += f" ({res['unexpected_percent']:.2f} %)"
    values = [_short(v, 160) for v in (res.get("partial_unexpected_list") or [])[:MAX_VALUES]]
    index = [_short(v, 160) for v in (res.get("unexpected_index_list") or [])[:MAX_VALUES]]
    lines = values + (["rows:", *index] if index else [])
    error = r.get("exception_info") or {}
    return {
        "success": bool(r["success"]), "type": cfg["type"],
        "description": cfg.get("description") or cfg["type"].replace("_", " "),
        "kwargs": _short(kwargs), "observed": _short(res["observed_value"])
        if res.get("observed_value") is not None else "",
        "unexpected": unexpected, "offending": "\n".join(lines),
        "error": _short(error.get("exception_message"))
        if error.get("raised_exception") else "",
    }


def _file_name(suite: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", suite) + ".html"


def _page(title: str, body: str, gx_version: str) -> str:
    return _PAGE.render(title=title, css=CSS, body=body, gx_version=gx_version)


def write(out_dir: str | Path, task: str, results: list[dict[str, Any]],
          rows: dict[str, int] | None = None) -> Path:
    """Write index.html and validations/<suite>.html under `out_dir` from the results' JSON
    (one dict per suite, as `ExpectationSuiteValidationResult.to_json_dict()` gives);
    `rows`: {suite name: rows validated}. Returns the index's path."""
    out = Path(out_dir)
    (out / "validations").mkdir(parents=True, exist_ok=True)
    rows = rows or {}
    suites, gx_version = [], ""
    for result in results:
        meta, stats = result.get("meta") or {}, result.get("statistics") or {}
        gx_version = meta.get("great_expectations_version", gx_version)
        name = result["suite_name"]
        expectations = [_expectation(r) for r in result["results"]]
        info = {"name": name, "success": bool(result["success"]),
                "met": stats.get("successful_expectations", 0),
                "total": stats.get("evaluated_expectations", len(expectations)),
                "percent": f"{stats.get('success_percent') or 0:.1f}",
                "rows": f"{rows[name]:,}" if name in rows else "",
                "time": str(meta.get("validation_time", "")),
                "href": f"validations/{_file_name(name)}"}
        body = _SUITE.render(task=task, expectations=expectations, max_values=MAX_VALUES,
                             **info)
        (out / info["href"]).write_text(_page(f"{task}: {name}", body, gx_version))
        suites.append(info)
    body = _INDEX.render(task=task, suites=suites, success=all(s["success"] for s in suites),
                         met=sum(s["met"] for s in suites),
                         total=sum(s["total"] for s in suites))
    index = out / "index.html"
    index.write_text(_page(f"{task}: data validation", body, gx_version))
    return index
