"""The offline pages: GX results (rnnlab.datadocs), the run report (rnnlab.report) and
`rnnlab plots` (dvc plots show with vega inlined).

The Chromium checks open a page with every network request sent to a dead proxy
(benchmarks/offline_pages.py), so a CDN asset fails as it would offline, and measure the
screenshot (bytes, share of non-white pixels) and the rendered DOM's text. They skip with a
message when Debian's chromium is not installed. The report over a real `dvc repro`'s outputs is
checked in tests/test_pipeline.py."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pytest
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from helpers import REPO, frames, merge, sh
from rnnlab import config, datadocs, dvcplots, report
from rnnlab.tasks.entity.checks import checks
from rnnlab.tasks.entity.params import CONFIG as ENTITY
from rnnlab.validation import ValidationFailed, validate

NO_CHROMIUM = ("needs Debian's chromium for the headless render check "
               "(apt-get install -y chromium); not on PATH here")
needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason=NO_CHROMIUM)
# an asset the browser would fetch from the network (a plain <a href> is a link, not an asset)
NETWORK = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"']?"
                     r"(?:https?:)?//", re.I)


@pytest.fixture(scope="module")
def browser():
    spec = importlib.util.spec_from_file_location("offline_pages",
                                                  REPO / "benchmarks/offline_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- GX pages


def _failed_validation(good_rows, tmp_path: Path) -> Path:
    """entity's suites with a planted bad tag that carries HTML; returns data_docs/."""
    good_rows["dev"].append((["Apis", "mellifera"], ["B-Species", "<b>I-Specis</b>"]))
    section = yaml.safe_load((REPO / "params.yaml").read_text())["entity"]
    cfg = config.build(ENTITY, merge(dict(section, name="entity"),
                                     {"validation": {"max_tokens": 8}}), "entity")
    with pytest.raises(ValidationFailed, match="tags only from"):
        validate("entity", checks(cfg, frames(good_rows)), tmp_path / "out",
                 docs=datadocs.write)
    return tmp_path / "out" / "data_docs"


def test_data_docs_show_each_suite_and_failure_escaped_with_no_network_asset(good_rows,
                                                                             tmp_path):
    docs = _failed_validation(good_rows, tmp_path)
    index = (docs / "index.html").read_text()
    links = re.findall(r'href="(validations/[^"]+)"', index)
    assert sorted(links) == ["validations/entity-sentences.html", "validations/entity-tokens.html"]
    assert "FAILED" in index and "<script" not in index and not NETWORK.search(index)
    tokens = (docs / "validations/entity-tokens.html").read_text()
    # a description and an offending value holding markup show as written
    assert "expected token&lt;TAB&gt;tag" in tokens and "token<TAB>tag" not in tokens
    assert "&lt;b&gt;I-Specis&lt;/b&gt;" in tokens and "<b>I-Specis" not in tokens
    assert re.search(r'<tr class="failed">.*?tags only from', tokens, re.S)
    assert "<script" not in tokens and not NETWORK.search(tokens)
    assert json.loads((docs.parent / "summary.json").read_text())["success"] is False


@needs_chromium
def test_data_docs_draw_their_tables_offline(good_rows, tmp_path, browser):
    docs = _failed_validation(good_rows, tmp_path)
    for page, words in ((docs / "index.html", ["entity-sentences", "entity-tokens", "FAILED"]),
                        (docs / "validations/entity-tokens.html",
                         ["tags only from", "expected token<TAB>tag", "<b>I-Specis</b>"])):
        seen = browser.measure(page, window=(1280, 800))
        assert seen["tables"] == 1 and not seen["network_refs"], seen
        assert all(w in seen["text"] for w in words), (words, seen["text"][:500])
        # measured: index 0.035, suite page 0.10 of the pixels (GX's own index: 0.012)
        assert seen["non_white_share"] > 0.02, seen


# ---------------------------------------------------------------- the run report


def _png(path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow([[0, 1, 2], [3, 4, 5]], cmap="Blues")  # ink over most of the figure
    ax.set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=60)
    plt.close(fig)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """A repository's outputs for entity as its stages write them (small, made up)."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(dict(raw, tasks=["entity"])))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/entity.json").write_text(json.dumps({
        "dev/entity_f1": 0.97, "test/entity_f1": 0.93, "gazetteer/test/entity_f1": 0.01,
        "dense/test/entity_f1": 0.88, "dense/test/token_f1": 0.9}))
    validation = tmp_path / "data/validation/entity"
    validation.mkdir(parents=True)
    (validation / "summary.json").write_text(json.dumps({
        "task": "entity", "success": True, "evaluated": 13, "failed": 0,
        "rows": {"sentences": 120, "tokens": 900}, "expectations": []}))
    evaluation = tmp_path / "plots/entity/evaluation"
    _png(evaluation / "training.png", "training")
    _png(evaluation / "confusion.png", "confusion")
    (evaluation / "examples.txt").write_text(
        "[B-Species:Panthera] [I-Species:leo] roars\nsplit on token<TAB>tag <script>x</script>\n")
    return tmp_path


def test_report_is_one_page_with_metrics_targets_figures_and_examples_escaped(outputs):
    path = report.write(outputs / "params.yaml", outputs / "reports/index.html",
                        use_store=False)
    page = path.read_text()
    assert "<script" not in page.replace("&lt;script&gt;", "") and not NETWORK.search(page)
    images = re.findall(r'<img alt="entity: ([^"]+)" src="data:image/png;base64,', page)
    assert images == ["training.png", "confusion.png"]  # dvc.yaml's order
    table = page[page.index('<table class="metrics">'):]
    table = table[: table.index("</table>")]
    for model, value in (("RNN", "0.97"), ("gazetteer", "0.01"), ("dense", "0.88")):
        assert re.search(rf"<td>{model}</td>.*?{value}", table, re.S), model
    targets = page[page.index('<table class="targets">'):]
    assert re.search(r"test/entity_f1.*?≥ 0.95.*?0.93.*?not met", targets, re.S)
    assert "token&lt;TAB&gt;tag &lt;script&gt;x&lt;/script&gt;" in page
    assert "not registered" in page and "passed" in page


def test_report_reads_the_champion_from_the_store_without_creating_one(outputs):
    page = report.write(outputs / "params.yaml", outputs / "r.html").read_text()
    assert "no MLflow store at sqlite:///mlruns/mlflow.db" in page
    assert not (outputs / "mlruns").exists()  # nothing logged, no store made


@needs_chromium
def test_report_draws_its_tables_and_images_offline(outputs, browser):
    path = report.write(outputs / "params.yaml", outputs / "reports/index.html",
                        use_store=False)
    seen = browser.measure(path)
    assert seen["images"] == 2 and seen["tables"] == 3 and not seen["network_refs"], seen
    for words in ("rnnlab run report", "test/entity_f1", "gazetteer", "not met",
                  "token<TAB>tag <script>x</script>"):
        assert words in seen["text"], words
    # the figures draw: the page without its <img> elements has far fewer non-white pixels
    bare = path.with_name("bare.html")
    bare.write_text(re.sub(r"<img\b[^>]*>", "", path.read_text()))
    without = browser.measure(bare)
    assert without["images"] == 0
    assert seen["non_white_share"] > without["non_white_share"] + 0.01, (seen, without)


# ---------------------------------------------------------------- dvc plots


@pytest.mark.slow
@needs_chromium
def test_rnnlab_plots_draws_dvc_s_vega_plots_offline(tmp_path, browser):
    """A DVC project with one CSV plot: DVC's own page draws nothing offline (vega from a
    CDN), `rnnlab plots` (vega inlined) draws it."""
    (tmp_path / "curve.csv").write_text("epoch,loss\n1,3.0\n2,1.5\n3,1.1\n4,0.9\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"plots": [
        {"curve.csv": {"x": "epoch", "y": "loss", "title": "loss per epoch"}}]}))
    sh(tmp_path, "git", "init", "-q")
    sh(tmp_path, "dvc", "init", "-q")
    sh(tmp_path, "dvc", "plots", "show", "-o", "cdn")
    out = sh(tmp_path, "rnnlab", "plots", "-o", "offline")
    assert "offline" in out.stdout, out.stdout
    page = (tmp_path / "offline/index.html").read_text()
    assert not NETWORK.search(page) and "vegaEmbed" in page
    cdn, offline = (browser.measure(tmp_path / d / "index.html", window=(800, 600))
                    for d in ("cdn", "offline"))
    assert cdn["network_refs"] and cdn["drawn_vega"] == 0, cdn  # DVC's own page, offline
    assert offline["drawn_vega"] == 1 and not offline["network_refs"], offline
    assert offline["non_white_share"] > 2 * cdn["non_white_share"], (cdn, offline)
    assert "loss per epoch" in offline["text"] or offline["non_white_share"] > 0.05


def test_plots_template_is_dvc_s_placeholder_page_with_vega_inline(tmp_path):
    pytest.importorskip("vl_convert")
    path = dvcplots.template(tmp_path)
    text = path.read_text()
    assert "{plot_divs}" in text and "{scripts}" not in text  # no CDN <script> from DVC
    assert "window.vegaEmbed=" in text and not NETWORK.search(text)
    assert dvcplots.template(tmp_path) == path  # written once per version
    help_text = subprocess.run(["dvc", "plots", "show", "--help"], capture_output=True,
                               text=True).stdout
    assert "--html-template" in help_text
