"""The pull-request workflow validates and runs only what exists; the report's change detection."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess

import pytest
import yaml

from pipeline.study.ci_report import changed, slug
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github/workflows/pr-report.yml"


def _steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["report"]["steps"]


@pytest.mark.skipif(not shutil.which("check-jsonschema"), reason="check-jsonschema not installed")
def test_workflow_validates_against_the_github_schema():
    done = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_command_of_the_workflow_exists():
    script = "\n".join(step.get("run", "") for step in _steps())
    modules = re.findall(r"python -m ([\w.]+)", script)
    assert "pipeline.study.ci_report" in modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module
    for path in re.findall(r"\b(profiles/\S+\.yaml)", script):
        assert (ROOT / path).is_file(), path
    pyproject = (ROOT / "pyproject.toml").read_text()
    extras = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    for extra in re.findall(r"pip install -e '\.\[(\w+)\]'", script):
        assert re.search(rf"^{extra} = \[", extras, re.M), extra
    names = [step.get("uses", "").split("@")[0] for step in _steps()]
    cml_step = next(i for i, s in enumerate(_steps()) if "cml " in s.get("run", ""))
    assert "iterative/setup-cml" in names[:cml_step]  # the only networked step comes last
    assert cml_step == len(_steps()) - 1


def test_a_plot_changed_only_when_its_data_differ_between_revisions():
    same = {"data": {"values": [{"step": 0, "loss": 1.0, "rev": r} for r in ("a", "b")]}}
    assert not changed(same)
    other = {
        "data": {
            "values": [{"step": 0, "loss": 1.0, "rev": "a"}, {"step": 0, "loss": 2.0, "rev": "b"}]
        }
    }
    assert changed(other)
    assert slug("dvclive/train_gen/plots/metrics/val/loss.tsv") == (
        "dvclive_train_gen_plots_metrics_val_loss_tsv"
    )
