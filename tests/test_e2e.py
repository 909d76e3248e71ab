"""End to end: `dvc repro` of the smoke profile in a temporary git clone, then real data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.report import ROWS, model_name
from tests.conftest import REAL_DATA, ROOT

pytestmark = pytest.mark.e2e

UP_TO_DATE = "Data and pipelines are up to date."


def _run(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(args, cwd=repo, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _dvc(repo: Path, *args: str) -> str:
    return _run(repo, sys.executable, "-m", "dvc", *args)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The project's files (as git sees them) in a fresh git repo, on the smoke profile."""
    repo = tmp_path_factory.mktemp("clone")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    shutil.copy2(repo / "profiles/smoke.yaml", repo / "params.yaml")
    _run(repo, "git", "init", "-q")
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-qm", "smoke profile")
    return repo


@pytest.fixture(scope="module")
def reproduced(repo) -> Path:
    _dvc(repo, "repro")
    return repo


def test_repro_writes_every_stage_output(reproduced):
    repo = reproduced
    demo = repo / "data/demo"
    assert sorted(p.name for p in (demo / "videos").iterdir()) == ["video_00.mp4"]
    assert len(list((demo / "annotated/images").iterdir())) == 2
    assert len(pd.read_csv(demo / "gwhd/test/domains.csv")) == 18

    frames = pd.read_csv(repo / "data/frames/manifest.csv")
    assert len(frames) == 4 and frames["frame"].tolist() == [0, 2, 4, 6]

    copy_paste = pd.read_csv(repo / "data/copy_paste/manifest.csv")
    assert len(copy_paste) == 12 and (copy_paste["mask_fraction"] > 0).all()

    metrics = json.loads((repo / "dvclive/train_labeler/metrics.json").read_text())
    assert 0 <= metrics["val"]["dice"] <= 1
    assert (repo / "models/labeler/model.safetensors").is_file()

    pseudo = pd.read_csv(repo / "data/pseudo/manifest.csv")
    assert pseudo["id"].tolist() == frames["id"].tolist()
    labelling = json.loads((repo / "dvclive/pseudo_label/metrics.json").read_text())
    assert 0 < labelling["threshold"] < 1 and 0 <= labelling["gwhd_finetune"]["dice"] <= 1
    fractions = labelling["mask_fraction"]  # the smoke profile's threshold_rule matches them
    assert fractions["pseudo"] == pytest.approx(fractions["annotated"], abs=0.02)
    assert (repo / "models/pseudo_labeler/model.safetensors").read_bytes() != (
        repo / "models/labeler/model.safetensors"
    ).read_bytes()  # one self-training round

    crops = pd.read_csv(repo / "data/prepared/crops.csv")
    assert (crops.groupby("segment")["split"].nunique() == 1).all()
    assert (crops.groupby("segment")["source"].nunique() == 1).all()
    assert set(crops.split) == {"train", "val"}
    for split in ("train", "val"):
        n = int((crops.split == split).sum())
        for size in (16, 32):
            packed = np.load(repo / f"data/prepared/{split}_{size}.npy", mmap_mode="r")
            assert packed.shape == (n, size, size, 4) and packed.dtype == np.uint8
            assert set(np.unique(packed[..., 3])) <= {0, 255}
    for name in (
        "demo_field",
        "copy_paste",
        "pseudo_label",
        "prepare",
        "gen_samples",
        "generated_pairs",
        "sr_compare",
    ):
        assert (repo / f"reports/{name}.png").stat().st_size > 1000

    gen = json.loads((repo / "dvclive/train_gen/metrics.json").read_text())
    assert gen["val"]["loss"] > 0 and 0 <= gen["jsd"] <= 1
    for name in ("final", "best_val", "min_jsd"):
        assert (repo / f"models/gen/{name}/model.safetensors").is_file()
    assert (repo / "models/generator/model.safetensors").read_bytes() == (
        repo / "models/gen/min_jsd/model.safetensors"
    ).read_bytes()

    sr = json.loads((repo / "dvclive/train_sr/metrics.json").read_text())
    assert sr["sr"]["psnr"] > 0 and 0 <= sr["sr"]["mask_dice"] <= 1
    for name in ("final", "best_val"):
        assert (repo / f"models/sr/{name}/model.safetensors").is_file()

    generated = pd.read_csv(repo / "data/generated/manifest.csv")
    assert generated["index"].tolist() == list(range(12))
    for path in generated["mask"]:
        mask = np.asarray(Image.open(repo / "data/generated" / path))
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 255}
    coherence = json.loads((repo / "dvclive/coherence/metrics.json").read_text())
    assert 0 <= coherence["labeler"]["dice"] <= 1
    assert 0 <= coherence["mask_fraction"]["generated_mean"] <= 1
    histogram = json.loads((repo / "dvclive/coherence/plots/custom/mask_fraction.json").read_text())
    assert sum(row["generated"] for row in histogram) == pytest.approx(1)

    evaluated = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["evaluate"]["foreach"]
    assert set(evaluated) == {model_name(r, c) for r, columns in ROWS.items() for c in columns}
    for folder in evaluated.values():
        assert (repo / folder / "model.safetensors").is_file()
    table = json.loads((repo / "reports/table1.json").read_text())
    assert set(table) == {"copy_paste", "synthset", "pseudo", "real_only"}
    for row, cells in table.items():
        assert set(cells) == set(ROWS[row])
        for cell in cells.values():
            assert set(cell) == {"dice", "iou"}
            assert all(0 <= v <= 1 for v in cell.values())
    report = (repo / "reports/report.md").read_text()
    assert "| Copy-Paste (labeler) |" in report and "SynthSet (concat)" in report
    assert "| reference: real only | — | — |" in report
    per_domain = json.loads(
        (repo / "dvclive/evaluate_synthset_gwhd/plots/custom/domains.json").read_text()
    )
    assert len(per_domain) == 18 and all(0 <= r["dice"] <= 1 for r in per_domain)
    pseudo_run = json.loads((repo / "dvclive/train_seg_pseudo/metrics.json").read_text())
    assert pseudo_run["train"]["loss"] > 0


def test_second_repro_does_nothing_and_status_is_clean(reproduced):
    assert UP_TO_DATE in _dvc(reproduced, "repro")
    assert UP_TO_DATE in _dvc(reproduced, "status")


def test_exp_run_reruns_only_what_the_generator_params_reach(reproduced):
    out = _dvc(
        reproduced, "exp", "run", "-S", "gen.arch=shared_encoder", "-S", "gen.discriminator=true"
    )
    assert _ran(out) == {"train_gen", "select_gen", *GENERATED_ONWARDS}, out
    # the discriminator brings the t_max schedule (gen.curriculum: auto): t < 10 in epochs 0-4
    assert json.loads((reproduced / "dvclive/train_gen/metrics.json").read_text())["t_max"] == 10
    assert "gen.arch" in _dvc(reproduced, "exp", "show", "--csv")
    diff = _dvc(reproduced, "metrics", "diff", "--all")
    assert "reports/table1.json" in diff and "synthset.all_finetune.dice" in diff, diff


GENERATED_ONWARDS = {
    "generate",
    "coherence",
    "train_seg@synthset",
    "finetune_gwhd@synthset",
    "finetune_all@synthset",
    "evaluate@synthset",
    "evaluate@synthset_gwhd",
    "evaluate@synthset_all",
    "report",
}


def _ran(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


def test_selection_and_sr_sampler_rerun_no_trainer_before_generation(reproduced):
    out = _dvc(
        reproduced, "exp", "run", "-S", "select_gen.weights=final", "-S", "generate.sr_steps=2"
    )
    assert _ran(out) == {"select_gen", *GENERATED_ONWARDS}, out
    assert set(pd.read_csv(reproduced / "data/generated/manifest.csv")["sr_steps"]) == {2}
    assert (reproduced / "models/generator/model.safetensors").read_bytes() == (
        reproduced / "models/gen/final/model.safetensors"
    ).read_bytes()


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} absent")
def test_real_data_path(reproduced):
    repo = reproduced
    _run(
        repo,
        sys.executable,
        "-m",
        "pipeline.arrange",
        str(REAL_DATA),
        "data/real",
        "--annotated",
        "2",
        "--finetune",
        "2",
        "--test",
        "2",
        "--video-photos",
        "3",
        "--stills",
        "2",
        "--size",
        "256",
    )
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["root"] = "data/real"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _dvc(repo, "repro", "prepare")
    stills = sorted(p.name for p in (repo / "data/real/stills").iterdir())
    assert len(stills) == 2  # --stills 2
    frames = pd.read_csv(repo / "data/frames/manifest.csv")
    assert set(frames["source"]) == {"videos/pan.mp4", *(f"stills/{name}" for name in stills)}
    pseudo = pd.read_csv(repo / "data/pseudo/manifest.csv")
    assert len(pseudo) == len(frames)
    assert (repo / "data/prepared/train_16.npy").is_file()
    assert UP_TO_DATE in _dvc(repo, "status", "prepare")
