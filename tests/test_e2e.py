"""End to end: `dvc repro` of the smoke profile in a temporary git clone, then real data."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.artifacts import ROWS, model_name
from pipeline.study.grids import STUDIES
from tests.conftest import REAL_DATA, ROOT

pytestmark = pytest.mark.e2e

UP_TO_DATE = "Data and pipelines are up to date."


def _run(repo: Path, *args: str, threads: int | None = None) -> str:
    env = {
        **os.environ,
        **({"OMP_NUM_THREADS": str(threads)} if threads else {}),
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
def studied(repo) -> Path:
    """The table1 study, reduced grid, seeds 0 and 1 at once (two workers, one thread each)."""
    _run(
        repo,
        sys.executable,
        "-m",
        "pipeline.study",
        "table1",
        "--seeds",
        "2",
        "--jobs",
        "2",
        threads=1,
    )
    return repo


@pytest.fixture(scope="module")
def repro_log(studied) -> str:
    """`dvc repro` of seed 0 in the workspace after the study: the run-cache has every stage."""
    return _dvc(studied, "repro")


@pytest.fixture(scope="module")
def reproduced(studied, repro_log) -> Path:
    return studied


def test_demo_field_writes_videos_annotated_frames_and_gwhd_sets(reproduced):
    demo = reproduced / "data/demo"
    assert sorted(p.name for p in (demo / "videos").iterdir()) == ["video_00.mp4"]
    assert len(list((demo / "annotated/images").iterdir())) == 2
    assert len(pd.read_csv(demo / "gwhd/test/domains.csv")) == 18


def test_frames_and_copy_paste_pairs_and_crops(reproduced):
    repo = reproduced
    frames = pd.read_csv(repo / "data/frames/manifest.csv")
    assert len(frames) == 4 and frames["frame"].tolist() == [0, 2, 4, 6]
    copy_paste = pd.read_csv(repo / "data/copy_paste/manifest.csv")
    assert len(copy_paste) == 12 and (copy_paste["mask_fraction"] > 0).all()
    crops = pd.read_csv(repo / "data/copy_paste_crops/manifest.csv")  # generate.n at sr_size
    assert len(crops) == 12 and crops["mask_fraction"].between(0, 1).all()
    assert Image.open(repo / "data/copy_paste_crops" / crops["image"][0]).size == (32, 32)


def test_labeler_and_self_trained_pseudo_labels(reproduced):
    repo = reproduced
    metrics = json.loads((repo / "dvclive/train_labeler/metrics.json").read_text())
    assert 0 <= metrics["val"]["dice"] <= 1
    assert (repo / "models/labeler/model.safetensors").is_file()
    frames = pd.read_csv(repo / "data/frames/manifest.csv")
    pseudo = pd.read_csv(repo / "data/pseudo/manifest.csv")
    assert pseudo["id"].tolist() == frames["id"].tolist()
    labelling = json.loads((repo / "dvclive/pseudo_label/metrics.json").read_text())
    assert 0 < labelling["threshold"] < 1 and 0 <= labelling["gwhd_finetune"]["dice"] <= 1
    fractions = labelling["mask_fraction"]  # the smoke profile's threshold_rule matches them
    assert fractions["pseudo"] == pytest.approx(fractions["annotated"], abs=0.02)
    assert (repo / "models/pseudo_labeler/model.safetensors").read_bytes() != (
        repo / "models/labeler/model.safetensors"
    ).read_bytes()  # one self-training round


def test_prepared_crops_split_by_segment_binary_masks(reproduced):
    repo = reproduced
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


@pytest.mark.parametrize(
    "name",
    [
        "demo_field",
        "copy_paste",
        "pseudo_label",
        "prepare",
        "gen_samples",
        "generated_pairs",
        "sr_compare",
    ],
)
def test_report_figure_is_written(reproduced, name):
    assert (reproduced / f"reports/{name}.png").stat().st_size > 1000


def test_generator_keeps_three_weights_and_passes_the_selected_one(reproduced):
    repo = reproduced
    gen = json.loads((repo / "dvclive/train_gen/metrics.json").read_text())
    assert gen["val"]["loss"] > 0 and 0 <= gen["jsd"] <= 1
    for name in ("final", "best_val", "min_jsd"):
        assert (repo / f"models/gen/{name}/model.safetensors").is_file()
    assert (repo / "models/generator/model.safetensors").read_bytes() == (
        repo / "models/gen/min_jsd/model.safetensors"
    ).read_bytes()


def test_super_resolver_scores_and_weights(reproduced):
    sr = json.loads((reproduced / "dvclive/train_sr/metrics.json").read_text())
    assert sr["sr"]["psnr"] > 0 and 0 <= sr["sr"]["mask_dice"] <= 1
    for name in ("final", "best_val"):
        assert (reproduced / f"models/sr/{name}/model.safetensors").is_file()


def test_generated_pairs_have_binary_masks_and_a_coherence_score(reproduced):
    repo = reproduced
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


def test_agree_keeps_every_pair_with_its_teacher_dice_and_the_rows_train(reproduced):
    repo = reproduced
    generated = pd.read_csv(repo / "data/generated/manifest.csv")
    agreed = pd.read_csv(repo / "data/agreed/manifest.csv")  # agree.quantile 0 keeps every pair
    assert agreed["id"].tolist() == generated["id"].tolist()
    assert agreed["teacher_dice"].between(0, 1).all()
    assert "lowres_image" not in agreed  # only what the folder holds
    agreement = json.loads((repo / "dvclive/agree/metrics.json").read_text())
    assert agreement["kept"] == 1 and 0 <= agreement["teacher_dice"]["training"] <= 1
    for row in ("pseudo", "copy_paste", "pseudo_synthset"):
        run = json.loads((repo / f"dvclive/train_seg_{row}/metrics.json").read_text())
        assert run["train"]["loss"] > 0


def test_every_table1_model_is_evaluated_and_reported(reproduced):
    repo = reproduced
    evaluated = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["evaluate"]["foreach"]
    assert set(evaluated) == {model_name(r, c) for r, columns in ROWS.items() for c in columns}
    for name, folder in evaluated.items():
        assert (repo / folder / "model.safetensors").is_file()
        scores = json.loads((repo / f"dvclive/evaluate_{name}/metrics.json").read_text())
        keys = {"dice", "iou", "precision", "recall", "mask_fraction", "target_mask_fraction"}
        assert set(scores) >= keys and all(0 <= scores[k] <= 1 for k in keys)
    table = json.loads((repo / "reports/table1.json").read_text())
    assert set(table) == set(ROWS)
    for row, cells in table.items():
        assert set(cells) == set(ROWS[row])
        for cell in cells.values():
            assert set(cell) == {"dice", "iou"}
            assert all(0 <= v <= 1 for v in cell.values())
    report = (repo / "reports/report.md").read_text()
    assert "| Copy-Paste |" in report and "SynthSet (concat)" in report
    assert "| teacher: the pseudo-labeler |" in report
    assert "| reference: real only | — | — |" in report
    per_domain = json.loads(
        (repo / "dvclive/evaluate_synthset_gwhd/plots/custom/domains.json").read_text()
    )
    assert len(per_domain) == 18 and all(0 <= r["dice"] <= 1 for r in per_domain)


def test_second_repro_does_nothing_and_status_is_clean(reproduced):
    assert UP_TO_DATE in _dvc(reproduced, "repro")
    assert UP_TO_DATE in _dvc(reproduced, "status")


def test_a_fresh_clone_pulls_every_output_from_a_dvc_remote_and_reruns_nothing(
    reproduced, tmp_path
):
    """A team's round trip: push every output to a DVC remote (a local folder here), clone the
    git repository elsewhere, `dvc pull`: the clone is complete, its status clean, its reports
    those of the original, and `dvc repro` runs nothing. A stage that wrote a file downstream
    stages need outside its declared outs would fail here."""
    origin = tmp_path / "origin"
    shutil.copytree(reproduced, origin, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    _run(origin, "git", "add", "-A")
    _run(origin, "git", "commit", "-qm", "reproduced")
    _dvc(origin, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    _run(origin, "git", "commit", "-qam", "a shared DVC remote")
    _dvc(origin, "push")
    clone = tmp_path / "clone"
    _run(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    _dvc(clone, "pull")
    assert UP_TO_DATE in _dvc(clone, "status")
    assert UP_TO_DATE in _dvc(clone, "repro")
    for report in ("reports/table1.json", "reports/report.md", "dvclive/train_gen/metrics.json"):
        assert (clone / report).read_bytes() == (origin / report).read_bytes(), report


def _would_rerun(repo: Path, **overrides) -> set[str]:
    """The stages `dvc repro` would run after these params edits: the stages whose declared
    params changed (`dvc status`) and everything downstream of them (`dvc dag`)."""
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    for key, value in overrides.items():
        *section, leaf = key.split("__")
        (params[section[0]] if section else params)[leaf] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        changed = set(json.loads(_dvc(repo, "status", "--json")))
    finally:
        (repo / "params.yaml").write_text(original)
    edges = re.findall(r'"([^"]+)" -> "([^"]+)"', _dvc(repo, "dag", "--dot"))
    reached, frontier = set(changed), list(changed)
    while frontier:
        stage = frontier.pop()
        for a, b in edges:
            if a == stage and b not in reached:
                reached.add(b)
                frontier.append(b)
    return reached


def test_generator_params_reach_only_the_generator_and_what_follows(reproduced):
    rerun = _would_rerun(reproduced, gen__arch="shared_encoder", gen__discriminator=True)
    assert rerun == {"train_gen", "select_gen", *GENERATED_ONWARDS}


def test_selection_and_sr_sampler_reach_no_trainer_before_generation(reproduced):
    rerun = _would_rerun(reproduced, select_gen__weights="best_val", generate__sr_steps=2)
    assert rerun == {"select_gen", *GENERATED_ONWARDS}
    assert _would_rerun(reproduced, seed=1) >= {"demo_field", "train_labeler", "report"}


def test_the_agreement_rule_reaches_only_what_trains_on_the_kept_pairs(reproduced):
    rerun = _would_rerun(reproduced, agree__quantile=0.2)
    assert rerun == GENERATED_ONWARDS - {"generate", "coherence"}


AGREED_ONWARDS = {  # what trains on the kept generated pairs
    "agree",
    "train_seg@synthset",
    "train_seg_pseudo_synthset",
    "evaluate@pseudo_synthset",
}
GENERATED_ONWARDS = {
    "generate",
    "coherence",
    *AGREED_ONWARDS,
    "finetune_gwhd@synthset",
    "finetune_all@synthset",
    "evaluate@synthset",
    "evaluate@synthset_gwhd",
    "evaluate@synthset_all",
    "report",
}


@pytest.fixture(scope="module")
def study(reproduced) -> Path:
    return reproduced


def test_table1_study_collates_every_row_and_column_over_two_seeds(study):
    numbers = json.loads((study / "reports/studies/table1.json").read_text())
    assert numbers["seeds"] == [0, 1] and numbers["grid"] == "reduced"
    assert set(numbers["experiments"]) == {"concat-s0", "concat-s1"}
    labels = [row["label"] for row in numbers["rows"]]
    assert labels == ["Concat", *(label for _, label in STUDIES["table1"].references)]
    for row in numbers["rows"]:
        columns = ROWS[row["row"]]
        headers = [c.header for c in STUDIES["table1"].columns if c.key.split(".")[1] in columns]
        assert list(row["cells"]) == headers, row["label"]
        for cell in row["cells"].values():
            assert cell["n"] == 2 and len(cell["values"]) == 2
            assert all(0 <= v <= 1 for v in cell["values"])
            assert cell["std"] == pytest.approx(np.std(cell["values"], ddof=1))
    spreads = [c["std"] for row in numbers["rows"] for c in row["cells"].values()]
    assert max(spreads) > 0  # two seeds, two different results
    report = (study / "reports/studies/table1.md").read_text()
    for label in labels:
        assert f"| {label} |" in report
    assert "mean ± standard deviation over 2 seeds" in report
    assert re.search(r"\| Concat \| \d\.\d{3} ± \d\.\d{3} \|", report)
    assert "## The paper's published numbers" in report
    for name in ("table1.png", "table1_samples.png"):
        assert (study / "reports/studies" / name).stat().st_size > 1000


def test_what_the_study_ran_is_never_trained_again(study, repro_log):
    assert "Running stage" not in repro_log and "is cached - skipping run" in repro_log
    out = _run(study, sys.executable, "-m", "pipeline.study", "table1", "--seeds", "2")
    assert "0 experiments queued, 2 already finished" in out


def _machine(tmp_path: Path, name: str, bare: Path, cache: Path | None) -> Path:
    """A clone of the shared git remote with the shared DVC remote; `cache`: reuse that cache
    (its run-cache restores what the study trained instead of training it again)."""
    clone = tmp_path / name
    _run(tmp_path, "git", "clone", "-q", str(bare), str(clone))
    _dvc(clone, "remote", "add", "--local", "-d", "shared", str(tmp_path / "dvc-remote"))
    if cache:
        _dvc(clone, "cache", "dir", "--local", str(cache))
    return clone


def test_a_study_sharded_over_two_machines_collates_to_the_one_machine_report(study, tmp_path):
    """Two machines push a shard each (a bare git repository and a local folder stand for the
    team's git and DVC remotes): a copy of the study's workspace, whose shard has finished, and a
    fresh clone, which runs its shard. A third clone collates: it names a missing shard, and with
    both writes the rows of the one-machine study (same machine: the same numbers)."""
    bare = tmp_path / "shared.git"
    _run(tmp_path, "git", "clone", "-q", "--bare", str(study), str(bare))
    cache = study / ".dvc/cache"
    finished = tmp_path / "a"
    shutil.copytree(study, finished, symlinks=True, ignore=shutil.ignore_patterns("tmp", "cache"))
    _run(finished, "git", "remote", "add", "origin", str(bare))
    _dvc(finished, "remote", "add", "--local", "-d", "shared", str(tmp_path / "dvc-remote"))
    _dvc(finished, "cache", "dir", "--local", str(cache))
    study_args = (sys.executable, "-m", "pipeline.study", "table1", "--seeds", "2")
    out = _run(finished, *study_args, "--shard", "1/2")
    assert "0 experiments queued, 1 already finished" in out
    collator = _machine(tmp_path, "c", bare, None)
    done = subprocess.run([*study_args, "--collate"], cwd=collator, capture_output=True, text=True)
    assert done.returncode != 0 and "has no concat-s1" in done.stderr, done.stderr
    out = _run(_machine(tmp_path, "b", bare, cache), *study_args, "--shard", "2/2", threads=1)
    assert "1 experiments queued" in out
    _run(collator, *study_args, "--collate")
    one = json.loads((study / "reports/studies/table1.json").read_text())
    sharded = json.loads((collator / "reports/studies/table1.json").read_text())
    assert sharded["rows"] == one["rows"]
    assert {e["host"] for e in sharded["experiments"].values()} == {socket.gethostname()}
    report = (collator / "reports/studies/table1.md").read_text()
    assert f"Machines: {socket.gethostname()} (2)" in report


def test_ci_report_renders_the_metrics_and_plots_that_changed(study, tmp_path):
    out = tmp_path / "ci"
    _run(
        study,
        sys.executable,
        "-m",
        "pipeline.study.ci_report",
        "--base",
        "concat-s0",
        "--head",
        "concat-s1",
        "--out",
        str(out),
    )
    report = (out / "report.md").read_text()
    assert "| reports/table1.json" in report and "synthset.synthetic.dice" in report
    plots = sorted((out / "plots").glob("*.png"))
    assert plots and all(p.stat().st_size > 1000 for p in plots)
    assert all(f"]({p.relative_to(out)})" in report for p in plots)
    pairs = sorted((out / "pairs").glob("*.png"))
    assert [p.stem for p in pairs] == ["concat_s0", "concat_s1"]


# The benchmark scripts that read a reproduced repository, each at its smallest sizes (the others:
# tests/test_benchmarks.py); `{tmp}` is the test's scratch folder. Each prints a markdown table.
REPO_BENCHMARKS = {
    "hops": ["--seeds", "0", "--out", "{tmp}/hops"],
    "finetune_length": ["--seeds", "0", "--epochs", "2", "--every", "1"],
    "mask_density": ["--n", "2", "ddpm:2", "ddim:2"],
    "sr_samplers": ["models/sr/final", "--n", "2", "--samplers", "ddpm:2", "ddim:2"],
    "teacher": ["--seeds", "0", "--log", "{tmp}/teacher.log"],
}


@pytest.mark.parametrize("name", sorted(REPO_BENCHMARKS))
def test_benchmarks_read_a_reproduced_repository(reproduced, tmp_path, name):
    args = [a.format(tmp=tmp_path) for a in REPO_BENCHMARKS[name]]
    out = _run(reproduced, sys.executable, f"benchmarks/{name}.py", *args, threads=1)
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) >= 3, out  # header, rule and at least one row


# Runs a stage module and signals itself once, at a chosen moment: `checkpoint` right after its
# first checkpoint (or first generated batch) is written, `output` as it starts writing weights
# (or a generated image). A real signal, handled as a user's Ctrl-C or a scheduler's kill is.
INTERRUPT = """
import importlib, os, runpy, signal, sys
sig, when, module = getattr(signal, sys.argv[1]), sys.argv[2], sys.argv[3]
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even under a shell
# that started the test run in the background, which leaves SIGINT ignored in its children
sys.argv = [module, *sys.argv[4:]]
HOOKS = {
    "checkpoint": [("pipeline.seg.checkpoint", "save_training_state"),
                   ("pipeline.gen.diffusion_training", "save_training_state"),
                   ("pipeline.gen.generation", "Generation.write_batch")],
    "output": [("pipeline.checkpoints", "save_file"),
               ("pipeline.gen.generation", "write_rgb")],
}
fired = []
def hook(owner, name):
    real = getattr(owner, name)
    def hooked(*args, **kwargs):
        if when == "output" and not fired:
            fired.append(name)
            os.kill(os.getpid(), sig)
        out = real(*args, **kwargs)
        if when == "checkpoint" and not fired:
            fired.append(name)
            os.kill(os.getpid(), sig)
        return out
    setattr(owner, name, hooked)
for module_name, attr in HOOKS[when]:
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    hook(owner, name)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

# The long stages, each as its dvc.yaml command runs it with one process, how it is interrupted
# first and, resumed, a second time ((signal, moment) of INTERRUPT), and what `dvc repro` logs when
# it resumes it at last. Every stage gets both signals; a moment is only used where it falls
# after a checkpoint (a resumed one-epoch fit writes none, so it is stopped at its weights).
# One stage per kind of checkpoint: the diffusion trainers' (train_sr shares train_gen's), the
# generated pairs', and the U-Net trainers' with rounds (pseudo_label; train_labeler and train_seg
# keep the same checkpoint without them) and with phases (finetune_all). Each trainer's resumption
# is also checked in process by tests/test_trainer_contract.py and tests/test_seg_resume.py.
LONG_STAGES = {
    "pseudo_label": (
        ["pipeline.stages.pseudo_label"],
        [("SIGTERM", "output"), ("SIGINT", "output")],
        "resuming from checkpoints/pseudo_label",
    ),
    "train_gen": (
        ["pipeline.stages.train_gen"],
        [("SIGINT", "checkpoint"), ("SIGTERM", "output")],
        "resuming train_gen from epoch",
    ),
    "generate": (
        ["pipeline.stages.generate"],
        [("SIGINT", "checkpoint"), ("SIGTERM", "output")],
        "resuming generation: 8 of 12 pairs",
    ),
    "finetune_all@synthset": (
        ["pipeline.stages.finetune", "all", "synthset", "models/seg/synthset"],
        [("SIGINT", "checkpoint"), ("SIGTERM", "output")],
        "resuming from checkpoints/finetune_all_synthset/state.pt: phase 1",
    ),
}


def _interrupt_all(repo: Path, attempt: int) -> None:
    """Run every long stage at once, one thread each as the study's workers ran them, each
    interrupted by its signal of this attempt; check that each was."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = {
        stage: subprocess.Popen(
            [sys.executable, "-c", INTERRUPT, *how[attempt], *command],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stage, (command, how, _) in LONG_STAGES.items()
    }
    for stage, run in runs.items():
        err = run.communicate()[1]
        # Python dies of an unhandled SIGINT; run_stage turns SIGTERM into exit status 143
        signal_name = LONG_STAGES[stage][1][attempt][0]
        expected = -signal.SIGINT if signal_name == "SIGINT" else 143
        assert run.returncode == expected, f"{stage}, {signal_name}: not interrupted:\n{err}"


def _leftovers(repo: Path) -> list[str]:
    """Temporary files of interrupted atomic writes (named .<target>.*) in the outputs."""
    return [
        str(p.relative_to(repo))
        for top in ("data", "models", "dvclive", "reports", "checkpoints")
        for p in (repo / top).rglob(".*")
        if p.name != ".gitignore"
    ]


def test_long_stages_resume_after_sigint_and_sigterm_to_identical_outputs(reproduced):
    """A long stage of each checkpoint kind is interrupted mid-run by a real SIGINT and,
    resumed, by a real SIGTERM (or the other way round); `dvc repro` then resumes each and
    reproduces exactly the dvc.lock of the study's uninterrupted run in its own folder: resumption
    is exact, and two runs on one machine at one thread count give byte-identical weights,
    generated pairs and training metrics."""
    repo = reproduced
    before = (repo / "dvc.lock").read_text()
    for attempt in (0, 1):
        _interrupt_all(repo, attempt)
        assert _leftovers(repo) == []
    command = ["repro", "--force", "--no-run-cache", "--single-item", *LONG_STAGES]
    log = _run(repo, sys.executable, "-m", "dvc", *command, threads=1)
    for stage, (_, _, resumed) in LONG_STAGES.items():
        assert resumed in log, f"{stage} did not resume:\n{log}"
    assert (repo / "dvc.lock").read_text() == before
    assert _leftovers(repo) == []
    assert not any((repo / "checkpoints").iterdir())
    assert UP_TO_DATE in _dvc(repo, "status")


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} absent")
def test_real_photos_arranged_by_synthset_arrange_go_through_prepare(reproduced, tmp_path):
    """In a copy of the reproduced repository (the module's workspace stays as it was)."""
    repo = tmp_path / "real"
    shutil.copytree(reproduced, repo, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    _run(
        repo,
        sys.executable,
        "-m",
        "pipeline.data.arrange",
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
