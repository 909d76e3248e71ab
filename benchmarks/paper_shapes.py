"""Check (not a test): the paper profile's shapes end to end on the CPU, counts and epochs cut to
the minimum, so a shape, size or memory mistake at paper scale shows here and not on a rented GPU.

    python benchmarks/paper_shapes.py [--keep DIR]

Copies the project's git-tracked files into a temporary git repository, writes
profiles/paper.yaml as params.yaml with every count, epoch and step cut to the least that still
runs each code path (one video of four 1024² frames, 512² crops to 128² and 256², the paper's
generator and super-resolver widths with the discriminator on, EfficientNet-B4 U-Nets at 512²
and 256², one self-training round, two generated pairs) and every size left as the paper has it,
then runs `dvc repro` and prints each stage's wall time and the largest resident memory of any
stage process.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = {  # section -> key -> value; sizes and widths stay the paper's
    "demo_field": {
        "videos": 1,
        "background_videos": 0,
        "seconds": 2.0,
        "fps": 2,
        "annotated": 2,
        "finetune_per_domain": 1,
        "test_per_domain": 1,
    },
    "extract_frames": {"every": 1},
    "copy_paste": {"images": 4},
    "train_labeler": {"epochs": 1, "batch_size": 2, "val_fraction": 0.25},
    "pseudo_label": {"rounds": 1, "epochs": 1, "batch_size": 2},
    "prepare": {"crops_per_frame": 1, "segment": 2, "val_fraction": 0.5},
    "gen": {
        "discriminator": True,
        "epochs": 1,
        "curriculum_offset": 1000,  # the t_max schedule at T from its one epoch
        "priority_until": 1,
        "batch_size": 2,
        "eval_every": 1,
        "val_timesteps": 1,
        "jsd_samples": 2,
        "jsd_steps": 2,
        "checkpoint_every": 1,
    },
    "select_gen": {"steps": 2},
    "sr": {
        "epochs": 1,
        "batch_size": 2,
        "eval_every": 1,
        "val_timesteps": 1,
        "eval_samples": 2,
        "eval_steps": 2,
        "checkpoint_every": 1,
    },
    "generate": {"n": 2, "batch_size": 2, "steps": 2, "sr_steps": 2},
    "train_seg": {"epochs": 1, "batch_size": 2},
    "finetune": {"epochs": 1, "rounds": 1, "frame_epochs": 1, "batch_size": 2},
    "evaluate": {"batch_size": 2},
}


def minimal_paper_params() -> dict:
    params = yaml.safe_load((ROOT / "profiles/paper.yaml").read_text())
    for section, values in MINIMAL.items():
        for key, value in values.items():
            if key not in params[section]:
                raise KeyError(f"{section}.{key} is not a param of profiles/paper.yaml")
            params[section][key] = value
    return params


def clone(into: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, into / rel)
    (into / "params.yaml").write_text(yaml.safe_dump(minimal_paper_params(), sort_keys=False))
    env = {"GIT_AUTHOR_NAME": "b", "GIT_COMMITTER_NAME": "b"}
    env |= {"GIT_AUTHOR_EMAIL": "b@example.org", "GIT_COMMITTER_EMAIL": "b@example.org"}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "p"]):
        subprocess.run(command, cwd=into, check=True, env={**os.environ, **env})


def repro(repo: Path) -> list[tuple[str, float]]:
    """`dvc repro`, echoing its output; each stage's wall time (from one 'Running stage' line
    to the next)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    times, stage, began = [], None, time.monotonic()
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("Running stage '"):
            now = time.monotonic()
            if stage is not None:
                times.append((stage, now - began))
            stage, began = line.split("'")[1], now
    if process.wait() != 0:
        raise SystemExit(f"dvc repro failed in {repo}")
    if stage is not None:
        times.append((stage, time.monotonic() - began))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = args.keep or Path(tmp)
        repo.mkdir(parents=True, exist_ok=True)
        clone(repo)
        began = time.monotonic()
        times = repro(repo)
        total = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB -> GiB
    print("\n| stage | wall time (s) |\n|---|---|")
    for stage, seconds in times:
        print(f"| {stage} | {seconds:.1f} |")
    print(f"| **all** (`dvc repro`) | **{total:.0f}** |")
    print(f"largest resident memory of a stage process: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
