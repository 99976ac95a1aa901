"""`dvc repro` end to end on tiny params, in a temporary copy of the repository with its own
MLflow store and DVC remote (the user's mlruns/ and remote are never touched)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, STAGES, champion, make_repo, ran, sh, write_conll

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return make_repo(tmp_path_factory.mktemp("rnnlab"), tasks=("entity", "review"))


def test_repro_runs_every_stage_and_registers_a_champion(repo: Path):
    out = sh(repo, "dvc", "repro")
    assert ran(out, "entity") == [f"entity-{s}" for s in STAGES]
    assert ran(out, "review") == [f"review-{s}" for s in STAGES]
    assert len(ran(out)) == 2 * len(STAGES) + 1 and ran(out)[-1] == "report"  # the run report
    metrics = yaml.safe_load((repo / "metrics/entity.json").read_text())
    for key in ("test/entity_f1", "test/entity_precision", "test/entity_recall", "test/token_f1",
                "model/params", "dense/test/entity_f1", "dense/params",
                "gazetteer/test/entity_f1", "dev/oov_rate", "test/oov_rate"):
        assert key in metrics, key
    assert 0 <= metrics["test/entity_f1"] <= 1
    for path in ("data/validation/entity/summary.json",
                 "data/validation/entity/data_docs/index.html", "data/vocab/entity/tokens.json",
                 "models/entity/model.pt",
                 "plots/entity/training.csv", "plots/entity/evaluation/confusion.csv",
                 "plots/entity/evaluation/confusion.png",
                 "plots/entity/evaluation/training.png", "dvc.lock"):
        assert (repo / path).exists(), path
    assert champion(repo) == ("1", ["1"])
    assert "registered rnnlab-entity v1 as @champion" in out.stdout
    assert champion(repo, "review") == ("1", ["1"])


def test_review_task_runs_through_the_same_stages(repo: Path):
    metrics = yaml.safe_load((repo / "metrics/review.json").read_text())
    for key in ("test/macro_f1", "test/accuracy", "test/f1_accept", "test/f1_minor",
                "test/f1_major", "test/f1_reject", "majority/test/macro_f1",
                "tfidf_lr/test/macro_f1", "test/truncated_reports", "dev/macro_f1"):
        assert key in metrics, key
    assert metrics["test/truncated_reports"] > 0  # max_len 80 cuts some built-in reports
    summary = yaml.safe_load((repo / "data/validation/review/summary.json").read_text())
    assert summary["success"] and set(summary["stats"]["reports"]["train"]["classes"]) == {
        "accept", "minor", "major", "reject"}
    confusion = (repo / "plots/review/evaluation/confusion.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted" and len(confusion) == 41
    assert (repo / "plots/review/evaluation/confusion.png").exists()
    code = ("import mlflow, json; mlflow.set_tracking_uri('sqlite:///mlruns/mlflow.db'); "
            "m = mlflow.pyfunc.load_model('models:/rnnlab-review@champion');"
            " print(json.dumps(m.predict(['The research problem is very important , but I "
            "doubt that the evaluation is convincing .'])))")

    result = json.loads(sh(repo, sys.executable, "-c", code).stdout.strip().splitlines()[-1])
    assert result[0]["label"] in ("accept", "minor", "major", "reject")
    assert set(result[0]["probabilities"]) == {"accept", "minor", "major", "reject"}
    assert abs(sum(result[0]["probabilities"].values()) - 1) < 1e-4


def test_report_stage_writes_one_offline_page_over_the_real_outputs(repo: Path):
    """The run report of this `dvc repro`: each task's metric table, figures and champion,
    logged to MLflow; rendered offline in headless Chromium when it is installed."""
    page = (repo / "reports/index.html").read_text()
    for task in ("entity", "review"):
        assert f'<section id="{task}">' in page
        assert f"<code>rnnlab-{task}</code> version 1" in page  # the champion, from the store
    assert re.search(r"<td>tfidf_lr</td>", page) and re.search(r"<td>dense</td>", page)
    assert not re.search(r"<(script|link)\b", page) and "src=\"http" not in page
    figures = re.findall(r'<img alt="(\w+): ([^"]+)" src="data:image/png;base64,', page)
    assert ("entity", "confusion.png") in figures and ("review", "training.png") in figures
    code = ("import mlflow; c = mlflow.MlflowClient('sqlite:///mlruns/mlflow.db'); "
            "e = c.get_experiment_by_name('rnnlab-report'); "
            "r = c.search_runs([e.experiment_id])[0]; "
            "print([a.path for a in c.list_artifacts(r.info.run_id)])")
    assert "'index.html'" in sh(repo, sys.executable, "-c", code).stdout
    if shutil.which("chromium") is None:
        pytest.skip("the Chromium render needs Debian's chromium (apt-get install -y chromium)")
    spec = importlib.util.spec_from_file_location("offline_pages",
                                                  REPO / "benchmarks/offline_pages.py")
    browser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(browser)
    seen = browser.measure(repo / "reports/index.html")
    assert seen["images"] == len(figures) and seen["tables"] == page.count("<table")
    assert not seen["network_refs"]
    assert "rnnlab run report" in seen["text"] and "tfidf_lr" in seen["text"], seen["text"][:300]
    assert seen["non_white_share"] > 0.03, seen  # measured 0.08 on five tasks' report


def test_second_repro_does_nothing(repo: Path):
    out = sh(repo, "dvc", "repro")
    assert ran(out) == []
    assert "up to date" in sh(repo, "dvc", "status").stdout


def _status(repo: Path) -> set[str]:
    """Stages `dvc status` says changed."""
    out = sh(repo, "dvc", "status", "--json").stdout
    return set(json.loads(out[out.index("{"):]))


def test_editing_one_task_changes_only_its_stages_and_a_shared_file_its_importers(repo: Path):
    entity_file = repo / "src/rnnlab/tasks/entity/model.py"
    shared_file = repo / "src/rnnlab/tracking.py"  # imported by train and evaluate only
    for path in (entity_file, shared_file):
        original = path.read_text()
        path.write_text(original + "# touched\n")
        try:
            changed = _status(repo)
        finally:
            path.write_text(original)
        if path == entity_file:
            # the run report reads entity's SPEC (its plots) and its outputs
            assert changed == {*(f"entity-{s}" for s in STAGES), "report"}, changed
        else:  # and the report reads the champion through tracking.py
            assert changed == {f"{t}-{s}" for t in ("entity", "review")
                               for s in ("train", "evaluate")} | {"report"}, changed
    (repo / "data/raw/review/another-corpus").mkdir(parents=True)
    (repo / "data/raw/review/another-corpus/reviews.csv").write_text("text,label\n")
    assert _status(repo) == set()  # a corpus no stage reads invalidates nothing
    assert "up to date" in sh(repo, "dvc", "status").stdout


def test_champion_answers_raw_text(repo: Path):
    code = ("import mlflow, json; mlflow.set_tracking_uri('sqlite:///mlruns/mlflow.db'); "
            "m = mlflow.pyfunc.load_model('models:/rnnlab-entity@champion');"
            " print(json.dumps(m.predict(['in the forest there are Panthera leo'])))")

    result = json.loads(sh(repo, sys.executable, "-c", code).stdout.strip().splitlines()[-1])
    assert result[0]["tokens"] == ["in", "the", "forest", "there", "are", "Panthera", "leo"]
    assert len(result[0]["labels"]) == 7 and set(result[0]["labels"]) <= {0, 1}
    cli = sh(repo, "rnnlab", "predict", "entity", "Panthera Corporation grew").stdout
    assert '"tokens": ["Panthera", "Corporation", "grew"]' in cli


def test_experiment_changing_one_param_reruns_only_what_depends_on_it(repo: Path):
    out = sh(repo, "dvc", "exp", "run", "-S", "entity.train.lr=0.01")
    assert ran(out) == ["entity-train", "entity-evaluate", "report"]
    assert "entity.train.lr" in sh(repo, "dvc", "params", "diff").stdout
    assert "test/entity_f1" in sh(repo, "dvc", "metrics", "show").stdout
    sh(repo, "dvc", "plots", "show", "-o", str(repo.parent / "plots-html"))
    assert (repo.parent / "plots-html" / "index.html").exists()
    version, versions = champion(repo)
    assert versions == ["1", "2"] and version in versions


def test_push_then_pull_into_a_fresh_clone_restores_outputs(repo: Path, tmp_path: Path):
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "exp")
    sh(repo, "dvc", "push")
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "remote", "modify", "--local", "local", "url", str(repo.parent / "remote"))
    sh(clone, "dvc", "pull")
    assert (clone / "models/entity/model.pt").exists()
    assert ran(sh(clone, "dvc", "repro")) == []  # nothing retrains


def test_bad_corpus_stops_at_validate_and_keeps_the_champion(repo: Path):
    before = champion(repo)
    write_conll(repo / "data/raw/entity/bad",
                train="Panthera\tB-Species\nleo\tI-Specis\nroars\n\nJava\tO\n")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["entity"]["data"].update(source="conll", path="data/raw/entity/bad")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(repo, "dvc", "repro", check=False)  # dvc.yaml does not yet track the corpus
    assert out.returncode != 0 and "run `rnnlab dag`" in out.stderr + out.stdout
    assert ran(out) == ["entity-prepare"]
    sh(repo, "rnnlab", "dag")
    prepare = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["entity-prepare"]
    assert "data/raw/entity/bad/train.tsv" in prepare["deps"]
    out = sh(repo, "dvc", "repro", check=False)
    assert out.returncode != 0
    assert ran(out) == ["entity-prepare", "entity-validate"]  # review is up to date
    text = out.stdout + out.stderr
    assert "Validation failed for task 'entity'" in text
    assert "tags only from" in text and "I-Specis" in text
    assert "no missing tag" in text and '"file_line": 3' in text
    assert champion(repo) == before
