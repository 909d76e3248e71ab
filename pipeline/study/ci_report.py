"""`python -m pipeline.study.ci_report --base REV [--head REV] --out DIR`: the pull-request report,
built offline: `dvc metrics diff --md`, every plot whose data changed rendered to PNG from the
Vega-Lite specs of `dvc plots diff --json` (vl-convert), and the generated pairs of both
revisions."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from pipeline import artifacts
from pipeline.dvc_cli import dvc
from pipeline.errors import run_stage
from pipeline.files import atomic_dir

PAIRS = artifacts.GENERATED_PAIRS.as_posix()


def changed(spec: dict) -> bool:
    """Whether a Vega-Lite plot's data differ between its revisions."""
    by_rev: dict[str, list] = {}
    for point in spec.get("data", {}).get("values", []):
        rest = {k: v for k, v in point.items() if k not in ("rev", "filename")}
        by_rev.setdefault(str(point.get("rev")), []).append(json.dumps(rest, sort_keys=True))
    return len({tuple(values) for values in by_rev.values()}) > 1


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def build(repo: Path, base: str, head: str | None, out: Path) -> Path:
    """Write out/report.md and the PNGs it shows; returns the markdown path."""
    import vl_convert

    revs = [base] + ([head] if head else [])
    metrics = dvc(repo, "metrics", "diff", "--md", *revs).strip()
    if len(metrics.splitlines()) <= 2:  # a header and its rule: nothing changed
        metrics = ""
    with atomic_dir(out) as tmp:
        plots = json.loads(
            dvc(repo, "plots", "diff", "--json", "-o", str((tmp / "dvc_plots").resolve()), *revs)
        )["data"]
        shown = []
        for name, entries in plots.items():
            for entry in entries:
                if entry.get("type") != "vega" or not changed(entry["content"]):
                    continue
                png = tmp / "plots" / f"{slug(name)}.png"
                png.parent.mkdir(exist_ok=True)
                png.write_bytes(vl_convert.vegalite_to_png(entry["content"], scale=1.5))
                shown.append((name, png.relative_to(tmp)))
        pairs = []
        for entry in plots.get(PAIRS, []):
            source = Path(entry["url"])
            target = tmp / "pairs" / f"{slug(entry['revisions'][0])}.png"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, target)
            pairs.append((entry["revisions"][0], target.relative_to(tmp)))
        shutil.rmtree(tmp / "dvc_plots", ignore_errors=True)
        head_name = head or "workspace"
        lines = [
            f"## SynthSet report: `{head_name}` against `{base}`",
            "",
            "### Metrics that changed (`dvc metrics diff --md`)",
            "",
            metrics or "No metric changed.",
            "",
            f"### Plots whose data changed ({len(shown)})",
            "",
        ]
        lines += [f"**{name}**\n\n![{name}]({path})\n" for name, path in shown] or [
            "No plot's data changed.",
            "",
        ]
        lines += ["### Generated pairs (Fig. 4)", ""]
        lines += [f"**{rev}**\n\n![generated pairs, {rev}]({path})\n" for rev, path in pairs] or [
            f"No `{PAIRS}` in either revision.",
            "",
        ]
        (tmp / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.study.ci_report", description=__doc__)
    parser.add_argument("--base", required=True, help="git revision or experiment to compare to")
    parser.add_argument("--head", help="revision to report (default: the workspace)")
    parser.add_argument("--out", type=Path, default=Path("ci-report"))
    parser.add_argument("--repo", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    print(build(args.repo, args.base, args.head, args.out))


if __name__ == "__main__":
    run_stage(main)
