"""Stage report: this experiment's Table 1 rows as one metrics JSON and a markdown report."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import run_stage
from pipeline.params import load_params
from pipeline.report import ROWS, read_rows, table1_markdown, write_report

TABLE = Path("reports/table1.json")
REPORT = Path("reports/report.md")


def main() -> None:
    params = load_params()
    table = read_rows(ROWS)
    write_report(TABLE, json.dumps(table, indent=2) + "\n")
    write_report(REPORT, table1_markdown(table, params))


if __name__ == "__main__":
    run_stage(main)
