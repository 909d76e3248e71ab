"""The results tables of README.md and docs/ are what `python -m pipeline.study.results_doc` renders
from the committed reports, so a typed number cannot drift from its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.study import results_doc

ROOT = Path(__file__).resolve().parents[1]


def test_every_marked_table_is_what_its_report_renders():
    assert results_doc.ROOT == ROOT  # the command's default: the repository it lives in
    marked = results_doc.pages()
    assert marked, "no page marks a results table"
    for page in marked:
        text = page.read_text()
        assert text == results_doc.render(text, ROOT), (
            f"{page.relative_to(ROOT)}: a results table differs from its report; "
            "run `python -m pipeline.study.results_doc`"
        )


def _numbers() -> dict:
    cell = {"mean": 0.5, "std": 0.01, "n": 2, "values": [0.49, 0.51]}
    return {
        "study": "table1",
        "commit": "abc1234",
        "seeds": [0, 1],
        "columns": ["synthetic Dice", "synthetic IoU", "+ GWHD Dice"],
        "rows": [
            {"label": "Concat", "paper": {}, "cells": {"synthetic Dice": cell}},
            {"label": "ours only", "paper": {}, "cells": {"+ GWHD Dice": cell | {"n": 1}}},
        ],
    }


def test_a_table_gives_mean_and_spread_and_the_papers_values_by_row_label():
    text = results_doc.table(_numbers(), "reports/x.json")
    assert "| row | synthetic | + GWHD | paper: synthetic / + GWHD |" in text
    assert "| Concat | 0.500 ± 0.010 | — | 0.725 / 0.758 |" in text  # paper.yaml's Concat
    assert "| ours only | — | 0.500 |  |" in text
    assert "seeds 0, 1, from `reports/x.json` (written at commit abc1234)" in text


def test_check_names_a_stale_page_and_a_run_rewrites_it(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "r.json").write_text(json.dumps(_numbers()))
    page = tmp_path / "docs/page.md"
    page.write_text("before\n<!-- results: r.json -->\n| typed | 0.9 |\n<!-- /results -->\nafter\n")
    (tmp_path / "README.md").write_text("no table\n")
    with pytest.raises(SystemExit, match="out of date: docs/page.md"):
        results_doc.main(["--check", "--root", str(tmp_path)])
    results_doc.main(["--root", str(tmp_path)])
    text = page.read_text()
    assert text.startswith("before\n<!-- results: r.json -->\n| row |") and "typed" not in text
    assert text.endswith("<!-- /results -->\nafter\n")
    results_doc.main(["--check", "--root", str(tmp_path)])
