"""Every benchmark script runs once, on the smallest sizes it takes, so that a change to the
package's API breaks the benchmark's test and not a timing run weeks later.

The scripts that read a reproduced repository (models, prepared crops) run in the end-to-end
test module, on its smoke-profile repository (`test_benchmarks_read_a_reproduced_repository`).
`paper_shapes.py` is a ten-minute check by design: here only its cut of the paper profile is
checked to be valid params; `benchmarks/gpu_check.sh` runs it whole.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import yaml

from pipeline.params import load_params
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e  # whole processes importing torch: kept out of the fast subset

BENCHMARKS = ROOT / "benchmarks"


def run(*args: str) -> str:
    """A benchmark script as a user runs it, one thread; its standard output."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_generator_step_timing_prints_a_row_per_arch():
    out = run("benchmarks/bench_gen.py", "--profiles", "demo", "--archs", "concat", "two_encoder",
              "--devices", "cpu", "--batch", "2", "--steps", "1")  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith("| cpu | demo |")]
    assert [row.split("|")[3].strip() for row in rows] == ["concat", "two_encoder"]


def test_generation_timing_estimates_every_sampler():
    out = run("benchmarks/bench_generate.py", "--profiles", "demo", "--devices", "cpu",
              "--batch", "2", "--max-seconds", "0")  # fmt: skip
    for sampler in ("ddpm 1000", "ddim 100", "dpmsolver++ 20", "unipc 20"):
        assert sampler in out, out


def test_our_step_against_diffusers_prints_the_ratio():
    out = run("benchmarks/vs_diffusers.py", "--profiles", "demo", "--batch", "2", "--steps", "1")
    assert "×" in out, out


def test_trainer_memory_measures_every_trainer():
    out = run("benchmarks/trainer_memory.py", "--profiles", "smoke", "--steps", "1")
    for trainer in ("gen", "sr", "labeler", "seg"):
        assert trainer in out, out


def test_study_cost_prices_every_study_of_a_profile():
    out = run("benchmarks/study_cost.py", "--profile", "profiles/smoke.yaml", "--grid", "reduced",
              "--seeds", "1")  # fmt: skip
    for study in ("table1", "sr_steps", "samplers"):
        assert study in out, out


def test_frame_decoding_baselines_decode_the_same_frames(tmp_path):
    clip = tmp_path / "clip.mp4"
    run("benchmarks/frames_baseline.py", "make", str(clip), "--side", "128", "--frames", "8")
    ours = run("benchmarks/frames_baseline.py", "ours", str(clip))
    pngs = run("benchmarks/frames_baseline.py", "pngs", str(clip))
    assert ours.split()[1:] == pngs.split()[1:] == ["(4,", "512,", "512,", "3)"]


def test_prepare_baseline_runs_both_ways_on_one_workspace(tmp_path):
    workspace = tmp_path / "prep"
    run("benchmarks/prepare_baseline.py", "make", str(workspace), "--profile", "demo",
        "--frames", "16")  # fmt: skip
    run("benchmarks/prepare_baseline.py", "ours", str(workspace))
    run("benchmarks/prepare_baseline.py", "pngs", str(workspace))
    assert list((workspace / "data/prepared").glob("train_*.npy"))


def test_the_paper_shapes_cut_is_valid_params(tmp_path):
    spec = importlib.util.spec_from_file_location("paper_shapes", BENCHMARKS / "paper_shapes.py")
    paper_shapes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paper_shapes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(paper_shapes.minimal_paper_params(), sort_keys=False))
    cut, paper = load_params(path), load_params(ROOT / "profiles/paper.yaml")
    assert cut.gen.widths == paper.gen.widths and cut.prepare.sr_size == paper.prepare.sr_size
    assert cut.gen.epochs == 1 and cut.generate.n == 2
