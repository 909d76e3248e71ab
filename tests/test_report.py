"""The report: Table 1 collated from every evaluate stage's metrics, its markdown, and the
figures it links."""

from __future__ import annotations

import json

import pytest
import yaml

from pipeline import artifacts
from pipeline.artifacts import ROWS, model_name
from pipeline.errors import DataError
from pipeline.params import Params
from pipeline.report import FIGURES, read_rows, table1_markdown, write_report
from tests.conftest import ROOT


def _write_metrics(root, values: dict[str, float]) -> None:
    for row, columns in ROWS.items():
        for k, column in enumerate(columns):
            folder = artifacts.evaluation(model_name(row, column), root)
            folder.mkdir(parents=True)
            value = values[row] + k / 100
            (folder / "metrics.json").write_text(json.dumps({"dice": value, "iou": value / 2}))


def test_report_collects_every_row_and_column(tmp_path):
    values = {"copy_paste": 0.25, "synthset": 0.5, "pseudo": 0.375, "real_only": 0.125}
    _write_metrics(
        tmp_path, {**values, "pseudo_synthset": 0.625, "labeler": 0.75, "teacher": 0.875}
    )
    table = read_rows(ROWS, tmp_path)
    assert table["synthset"]["all_finetune"] == {"dice": 0.52, "iou": 0.26}
    assert table["real_only"] == {"gwhd_finetune": {"dice": 0.125, "iou": 0.0625}}
    text = table1_markdown(table, Params())
    assert "| Copy-Paste | 0.250 | 0.125 | 0.260 | 0.130 | 0.270 | 0.135 |" in text
    assert "| pseudo-labelled crops + SynthSet | 0.625 | 0.312 | — | — | — | — |" in text
    assert "| teacher: the pseudo-labeler | 0.875 | 0.438 | — | — | — | — |" in text
    assert "| reference: real only | — | — | 0.125 | 0.062 | — | — |" in text
    assert "SynthSet (concat)" in text and "(generated_pairs.png)" in text


def test_a_missing_model_or_metric_is_named(tmp_path):
    with pytest.raises(DataError, match="evaluate_other_gwhd"):
        read_rows({"other": ("gwhd_finetune",)}, tmp_path)
    folder = artifacts.evaluation("other_gwhd", tmp_path)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"dice": 0.5}))
    with pytest.raises(DataError, match=r"evaluate_other_gwhd/metrics.json lacks iou"):
        read_rows({"other": ("gwhd_finetune",)}, tmp_path)


def test_every_linked_figure_is_a_plot_beside_the_report_in_dvc_yaml():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    plots = {
        next(iter(p)) if isinstance(p, dict) else p
        for stage in stages.values()
        for p in stage.get("plots", [])
    }
    for title, path in FIGURES.items():
        assert path.parent == artifacts.REPORT.parent, title
        assert path.as_posix() in plots, f"{title}: {path} is no plot of dvc.yaml"


def test_write_report_replaces_the_file_whole(tmp_path):
    path = tmp_path / "reports/report.md"
    path.parent.mkdir()
    write_report(path, "old")
    write_report(path, "new")
    assert path.read_text() == "new" and [p.name for p in path.parent.iterdir()] == ["report.md"]
