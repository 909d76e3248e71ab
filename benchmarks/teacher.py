"""How good a teacher a set of params makes (not a test): the teacher's half of the DAG per seed.

    python benchmarks/teacher.py --seeds 0 1 2 --set copy_paste.colour_transfer=1.0

Run from the root of a repository whose params.yaml is the profile to start from and where
`dvc repro extract_frames` has run (the demo, or `data.root` pointed at real photos). For each
seed, in a scratch folder holding a copy of the code, links to `data.root` and `data/frames`, and
params.yaml with `seed` and each `--set section.key=value` applied, it runs the stages copy_paste,
train_labeler and pseudo_label as `dvc repro` would, then scores the labeler and the pseudo-labeler
(the teacher) on the GWHD test quadrants at their own scale, as Table 1's teacher rows are.

With `--labelers A B ...` (one repository per seed, in the order of `--seeds`) each seed starts
from that repository's trained models/labeler instead of running copy_paste and train_labeler:
only the self-training and the scoring run (the labelers must come from the same params).

Prints one markdown row: the settings, then Dice of the labeler and the teacher and the teacher's
Dice on the GWHD fine-tune set, mean ± std over the seeds, and the seconds per seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STAGES = (
    ("copy_paste",),
    ("train_labeler",),
    ("pseudo_label",),
    ("evaluate", "labeler", "models/labeler"),
    ("evaluate", "teacher", "models/pseudo_labeler"),
)


def with_settings(params: dict, seed: int, settings: list[str]) -> dict:
    """params with `seed` and every `section.key=value` (value read as YAML) applied."""
    out = {**params, "seed": seed}
    for setting in settings:
        key, _, value = setting.partition("=")
        *sections, leaf = key.split(".")
        node = out
        for section in sections:
            node[section] = dict(node[section])
            node = node[section]
        node[leaf] = yaml.safe_load(value)
    return out


def run_seed(root: Path, params: dict, log: Path, labeler: Path | None) -> dict[str, float]:
    """The teacher's half of the DAG in a scratch copy (from `labeler`'s models/labeler when one
    is given); Dice of labeler, teacher, teacher on the GWHD fine-tune set, and the seconds."""
    with tempfile.TemporaryDirectory(prefix="teacher-") as scratch:
        work = Path(scratch)
        shutil.copytree(root / "pipeline", work / "pipeline")
        (work / "data").mkdir()
        data_root = Path(params["data"]["root"])
        link = work / data_root
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to((root / data_root).resolve())
        (work / "data/frames").symlink_to((root / "data/frames").resolve())
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        stages = STAGES
        if labeler is not None:
            shutil.copytree(labeler / "models/labeler", work / "models/labeler")
            stages = STAGES[2:]
        start = time.perf_counter()
        with log.open("a") as out:
            for stage in stages:
                command = [sys.executable, "-m", f"pipeline.stages.{stage[0]}", *stage[1:]]
                if subprocess.run(command, cwd=work, stdout=out, stderr=out).returncode:
                    sys.exit(f"{' '.join(stage)} failed with seed {params['seed']}: see {log}")
        seconds = time.perf_counter() - start

        def metrics(name: str) -> dict:
            return json.loads((work / f"dvclive/{name}/metrics.json").read_text())

        return {
            "labeler": metrics("evaluate_labeler")["dice"],
            "teacher": metrics("evaluate_teacher")["dice"],
            "teacher_gwhd_finetune": metrics("pseudo_label")["gwhd_finetune"]["dice"],
            "seconds": seconds,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="settings", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--log", type=Path, default=Path("teacher.log"), help="the stages' output")
    parser.add_argument(
        "--labelers",
        type=Path,
        nargs="*",
        default=None,
        metavar="REPO",
        help="repositories whose trained models/labeler each seed starts from",
    )
    args = parser.parse_args()
    if args.labelers is not None and len(args.labelers) != len(args.seeds):
        sys.exit(f"{len(args.labelers)} --labelers for {len(args.seeds)} --seeds")
    labelers = args.labelers or [None] * len(args.seeds)
    root = Path.cwd()
    if not (root / "data/frames/manifest.csv").is_file():
        sys.exit("no data/frames here: run `dvc repro extract_frames` first")
    base = yaml.safe_load((root / "params.yaml").read_text())
    runs = [
        run_seed(root, with_settings(base, seed, args.settings), args.log, labeler)
        for seed, labeler in zip(args.seeds, labelers, strict=True)
    ]

    def cell(key: str) -> str:
        values = [run[key] for run in runs]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {spread:.3f}"

    name = " ".join(args.settings) or "params.yaml as it is"
    print("| settings | labeler Dice | teacher Dice | teacher on GWHD fine-tune | s per seed |")
    print("|---|---|---|---|---|")
    print(
        f"| {name} | {cell('labeler')} | {cell('teacher')} | {cell('teacher_gwhd_finetune')} "
        f"| {statistics.mean(run['seconds'] for run in runs):.0f} |"
    )


if __name__ == "__main__":
    main()
