"""Stage report: this experiment's Table 1 rows as one metrics JSON and a markdown report."""

from __future__ import annotations

import json

from pipeline import artifacts
from pipeline.artifacts import ROWS
from pipeline.errors import run_stage
from pipeline.params import load_params
from pipeline.report import read_rows, table1_markdown, write_report


def main() -> None:
    params = load_params()
    table = read_rows(ROWS)
    write_report(artifacts.TABLE1, json.dumps(table, indent=2) + "\n")
    write_report(artifacts.REPORT, table1_markdown(table, params))


if __name__ == "__main__":
    run_stage(main)
