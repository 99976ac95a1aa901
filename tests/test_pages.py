"""The offline pages: GX results (rnnlab.datadocs) and `rnnlab plots` (dvc plots show with
vega inlined).

The Chromium checks open a page with every network request sent to a dead proxy
(benchmarks/offline_pages.py), so a CDN asset fails as it would offline, and measure the
screenshot (bytes, share of non-white pixels) and the rendered DOM's text. They skip with a
message when Debian's chromium is not installed."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import REPO, frames, merge, sh
from rnnlab import config, datadocs, dvcplots
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
