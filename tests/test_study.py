"""Study grids and their collation: every override is a real param, spreads and paired
differences are right, the report shows every row and column and labels the paper's numbers."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from pipeline.checkpoints import save_model
from pipeline.dvc_cli import DvcError
from pipeline.errors import ParamsError
from pipeline.params import load_params
from pipeline.seg.segmentation import SegModelConfig, build_unet
from pipeline.study import experiments
from pipeline.study.collate import (
    collate,
    experiment_name,
    fastest_not_worse,
    markdown,
    paper_numbers,
    spread,
)
from pipeline.study.embeddings import coverage, embed
from pipeline.study.embeddings import spread as embedding_spread
from pipeline.study.experiments import Experiment, Result, matches, record_time
from pipeline.study.grids import COHERENCE, STUDIES, TABLE1
from tests.conftest import ROOT

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip


def _overridden(profile: str, overrides: dict[str, str]) -> dict:
    """A profile's params with a variant's `-S key=value` overrides applied, as DVC does."""
    params = yaml.safe_load((ROOT / profile).read_text())
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        assert leaf in node, f"{key} is not a param of {profile}"
        node[leaf] = yaml.safe_load(value)
    return params


@pytest.mark.parametrize("name", sorted(STUDIES))
@pytest.mark.parametrize("grid", ["full", "reduced"])
def test_every_variant_is_a_valid_params_file(name, grid, tmp_path):
    study = STUDIES[name]
    variants = study.variants(grid)
    assert len({v.slug for v in variants}) == len(variants)
    for variant in variants:
        for profile in ("params.yaml", "profiles/paper.yaml"):
            path = tmp_path / "params.yaml"
            path.write_text(yaml.safe_dump(_overridden(profile, variant.params)))
            load_params(path)


@pytest.mark.parametrize("profile", ["params.yaml", "profiles/field.yaml", "profiles/paper.yaml"])
def test_the_discriminator_schedule_setting_is_a_table1_run(profile):
    """The schedule setting has the params of table1's row of the profile's architecture with
    the discriminator: DVC's run-cache gives it that row's trained generator."""
    schedule = next(
        v for v in STUDIES["discriminator_schedule"].reduced if v.slug == "disc-schedule"
    )
    arch = _overridden(profile, {})["gen"]["arch"]
    row = next(
        v
        for v in STUDIES["table1"].full
        if v.params == {"gen.arch": arch, "gen.discriminator": "true"}
    )
    assert _overridden(profile, schedule.params) == _overridden(profile, row.params)


def test_a_setting_shared_by_studies_has_one_meaning():
    seen = {}
    for study in STUDIES.values():
        for variant in study.full + study.reduced:
            assert seen.setdefault(variant.slug, variant.params) == variant.params, variant.slug


def test_reduced_grids_are_smaller_and_table1_keeps_the_reference_rows():
    for study in STUDIES.values():
        assert len(study.reduced) < len(study.full)
    references = [row for row, _ in STUDIES["table1"].references]
    assert references == ["copy_paste", "pseudo", "pseudo_synthset", "real_only", "teacher"]


def _result(name: str, seed: int, shift: float, arch: str = "concat") -> Result:
    table = {
        row: {
            col: {"dice": 0.5 + shift + 0.01 * seed, "iou": 0.3 + shift}
            for col in ("synthetic", "gwhd_finetune", "all_finetune")
        }
        for row in ("copy_paste", "synthset", "pseudo")
    }
    table["real_only"] = {"gwhd_finetune": {"dice": 0.6 + 0.02 * seed, "iou": 0.4}}
    for row in ("pseudo_synthset", "labeler", "teacher"):
        table[row] = {"synthetic": {"dice": 0.55 + shift, "iou": 0.35}}
    coherence = {"labeler": {"dice": 0.7}, "mask_fraction": {"generated_mean": 0.1}}
    params = {"seed": seed, "gen": {"arch": arch, "discriminator": shift > 0}}
    return Result(name, f"rev{name}", params, {TABLE1: table, COHERENCE: coherence})


def _found(study, seeds):
    variants = study.full[:2]
    return {
        experiment_name(v, s): _result(experiment_name(v, s), s, 0.1 * i)
        for i, v in enumerate(variants)
        for s in seeds
    }


def test_collate_gives_mean_spread_and_paired_differences():
    study = STUDIES["table1"]
    numbers = collate(study, study.full[:2], [0, 1], _found(study, [0, 1]), {})
    labels = [row["label"] for row in numbers["rows"]]
    assert labels == [
        "Concat",
        "Concat + discriminator",
        "Copy-Paste",
        "reference: pseudo-labelled crops",
        "pseudo-labelled crops + SynthSet",
        "reference: real only",
        "teacher: the pseudo-labeler",
    ]
    concat = numbers["rows"][0]["cells"]["synthetic Dice"]
    assert concat["mean"] == pytest.approx(0.505) and concat["values"] == [0.5, 0.51]
    assert concat["std"] == pytest.approx(0.01 / 2**0.5)
    paired = numbers["rows"][1]["delta_to_first"]["synthetic Dice"]
    assert paired["mean"] == pytest.approx(0.1) and paired["std"] == pytest.approx(0, abs=1e-12)
    real_only = numbers["rows"][-2]["cells"]
    assert set(real_only) == {"+ GWHD Dice", "+ GWHD IoU"}


def test_report_has_every_row_and_column_and_labels_the_paper(tmp_path):
    study = STUDIES["table1"]
    paper_file = tmp_path / "paper.yaml"
    paper_file.write_text(
        yaml.safe_dump(
            {
                "table1": {
                    "Concat": {"synthetic Dice": {"value": 0.7, "source": "T1"}},
                    "TwoEncoder": {"+ GWHD IoU": {"value": 0.5, "source": "T1"}},
                }
            }
        )
    )
    paper = paper_numbers("table1", paper_file)
    numbers = collate(study, study.full[:2], [0, 1], _found(study, [0, 1]), paper)
    text = markdown(numbers, "python -m pipeline.study table1", "", ["table1.png"])
    header = next(line for line in text.splitlines() if line.startswith("| row |"))
    assert header.count("|") == len(study.columns) + 2
    for row in numbers["rows"]:
        assert f"| {row['label']} |" in text
    assert "| Concat | 0.505 ± 0.007 |" in text
    assert "| Concat (paper) | 0.7 (paper, T1) |" in text
    assert "| TwoEncoder (paper; not in this grid) | — | — | — | 0.5 (paper, T1) |" in text
    assert "at the paper's scale" in text and "not as a ratio" in text
    assert "prints no numbers" not in text
    unpublished = collate(study, study.full[:2], [0, 1], _found(study, [0, 1]), {})
    assert "The paper prints no numbers for this study" in markdown(unpublished, "", "", [])
    beyond = markdown({**unpublished, "paper_reference": STUDIES["samplers"].paper}, "", "", [])
    assert "The paper has no such study" in beyond and "figures only" not in beyond
    json.dumps(numbers)  # the JSON written beside it


def test_shipped_paper_numbers_file_loads_for_every_study():
    for name in STUDIES:
        assert isinstance(paper_numbers(name), dict)


def test_every_paper_number_maps_to_a_row_and_column_of_its_study():
    counts = {}
    for name, study in STUDIES.items():
        labels = {v.label for v in study.full} | {label for _, label in study.references}
        headers = {column.header for column in study.columns}
        for label, cells in paper_numbers(name).items():
            assert label in labels, f"{name}: no row {label!r}"
            for header, cell in cells.items():
                assert header in headers, f"{name} / {label}: no column {header!r}"
                assert isinstance(cell["value"], float) and cell["source"].startswith("Table")
        counts[name] = sum(len(cells) for cells in paper_numbers(name).values())
    assert counts == {  # Table 1: 6 rows x 6; Tables 2 and 3: 7 rows x 4 each; the rest figures
        "table1": 36,
        "sr_steps": 56,
        "weight_selection": 0,
        "embeddings": 0,
        "discriminator_schedule": 0,
        "samplers": 0,
    }


def test_a_finished_experiment_matches_only_its_own_overrides():
    done = _result("x", 1, 0.0, arch="two_encoder")
    assert matches(done, Experiment("x", {"gen.arch": "two_encoder", "seed": "1"}))
    assert not matches(done, Experiment("x", {"gen.arch": "concat", "seed": "1"}))
    assert not matches(done, Experiment("x", {"gen.arch": "two_encoder", "seed": "2"}))


def test_coverage_and_spread_of_embeddings():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 8))
    assert coverage(reference, reference) == 1.0
    assert embedding_spread(reference, reference) == pytest.approx(1.0)
    far = reference + 100.0
    assert coverage(reference, far) == 0.0
    collapsed = np.repeat(reference[:1], 50, axis=0)
    assert embedding_spread(reference, collapsed) == pytest.approx(0.0, abs=1e-12)
    assert coverage(reference, collapsed) < 0.1
    modes = np.concatenate([rng.normal(size=(100, 2)) - 10, rng.normal(size=(100, 2)) + 10])
    assert coverage(modes, modes[:100]) == 0.5  # one of two modes reached


def test_embed_gives_one_feature_vector_per_image(tmp_path):
    config = SegModelConfig("mobilenet_v2", 4, [64, 32, 16, 8], size=32)
    torch.manual_seed(0)
    save_model(build_unet(config), config, tmp_path / "model")
    images = np.random.default_rng(0).integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    features = embed(tmp_path / "model", images, batch_size=2)
    assert features.shape[0] == 3 and features.ndim == 2
    assert not np.allclose(features[0], features[1])


def test_only_successful_experiments_count_as_finished(monkeypatch):
    def exp(name, state):
        data = {
            "params": {"params.yaml": {"data": {"seed": 1}}},
            "metrics": {TABLE1: {"data": {"synthset": {}}}},
        }
        executor = {"state": state} if state else None
        return {"revs": [{"rev": f"r{name}", "name": name, "data": data}], "executor": executor}

    listing = [
        {"rev": "workspace", "data": {}, "experiments": None},
        {
            "rev": "abc",
            "data": {},
            "experiments": [
                exp("done", "success"),
                exp("cleaned", None),  # a finished task removed from the queue
                exp("failed", "failed"),
                exp("running", "running"),
                exp("queued", "queued"),
            ],
        },
    ]
    monkeypatch.setattr(experiments, "dvc", lambda repo, *args: json.dumps(listing))
    found = experiments.results(ROOT)
    assert sorted(found) == ["cleaned", "done"]
    assert found["done"].params == {"seed": 1} and found["done"].rev == "rdone"


def test_reading_the_experiments_tries_again_while_another_run_sets_up(monkeypatch):
    answers = iter(
        [
            DvcError("dvc exp show failed: directory '.dvc/tmp/exps/tmpx/.dvc' does not exist"),
            json.dumps([{"rev": "workspace", "data": {}, "experiments": None}]),
        ]
    )

    def dvc(repo, *args):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(experiments, "dvc", dvc)
    monkeypatch.setattr(experiments.time, "sleep", lambda seconds: None)
    assert experiments.results(ROOT) == {}

    def failing(repo, *args):
        raise DvcError("dvc exp show failed: broken")

    monkeypatch.setattr(experiments, "dvc", failing)
    with pytest.raises(DvcError, match="broken"):
        experiments.results(ROOT)


def _timed_row(label: str, dice: list[float], seconds: float, first: list[float] | None) -> dict:
    cells = {"synthetic Dice": spread(dice), "s": spread([seconds] * 3)}
    row = {"label": label, "cells": cells, "paper": {}}
    if first is not None:
        deltas = [a - b for a, b in zip(dice, first, strict=True)]
        row["delta_to_first"] = {"synthetic Dice": spread(deltas)}
    return row


def test_the_fastest_setting_is_the_fastest_not_worse_than_the_first_row():
    base = [0.60, 0.62, 0.58]
    numbers = {
        "seeds": [0, 1, 2],
        "columns": ["synthetic Dice", "s"],
        "rows": [
            _timed_row("DDPM 1000", base, 10.0, None),
            _timed_row("clearly worse", [0.50, 0.515, 0.48], 0.5, base),
            _timed_row("noise", [0.61, 0.60, 0.585], 2.0, base),
            _timed_row("better", [0.65, 0.66, 0.64], 3.0, base),
        ],
    }
    fastest = fastest_not_worse(numbers, "s")
    assert fastest["label"] == "noise"
    assert fastest["not_worse"] == ["DDPM 1000", "noise", "better"]
    assert fastest_not_worse({**numbers, "seeds": [0]}, "s") is None
    text = markdown(
        {
            **numbers,
            "study": "samplers",
            "title": "t",
            "paper_reference": "-",
            "paper_only": {},
            "fastest": fastest,
        },
        "cmd",
        "",
        [],
    )
    assert "Fastest setting not worse than DDPM 1000: noise." in text


def test_generation_is_timed_with_the_experiments_own_weights_and_samplers(
    tmp_path, monkeypatch, nets
):
    from pipeline.study import timing

    store = tmp_path / "rev" / "models"
    shutil.copytree(nets["folders"]["generator"], store / "generator")
    shutil.copytree(nets["folders"]["sr"], store / "sr" / "best_val")
    fetched, made = [], []

    def fetch(repo, rev, path, into):
        fetched.append((rev, path))
        return tmp_path / rev / path

    def make_pairs(indices, generator, sr, spec, device):
        made.append((len(indices), spec))
        time.sleep(0.01 * spec.steps * len(indices))  # a known cost per step and pair

    monkeypatch.setattr(timing, "fetch", fetch)
    monkeypatch.setattr(timing, "make_pairs", make_pairs)
    generate = {"sr_weights": "best_val", "sampler": "ddim", "steps": 7, "eta": 0.5}
    generate |= {"sr_sampler": "ddpm", "sr_steps": 3, "sr_eta": 0.0}
    result = Result("e", "rev", {"seed": 4, "generate": generate}, {})
    seconds = timing.seconds_per_pair(tmp_path, result, pairs=3)
    assert fetched == [("rev", "models/generator"), ("rev", "models/sr/best_val")]
    assert [n for n, _ in made] == [1, 3]  # a one-pair warm-up, then the timed batch
    spec = made[-1][1]
    assert (spec.seed, spec.sampler, spec.steps, spec.eta) == (4, "ddim", 7, 0.5)
    assert (spec.sr_sampler, spec.sr_steps, spec.gen_size, spec.factor) == ("ddpm", 3, 8, 2)
    assert 0.07 <= seconds < 0.07 * 5


@pytest.mark.parametrize(
    ("visible", "jobs", "expected"),
    [
        ("0,1,2,3", 2, ["0,1", "2,3"]),  # two GPUs per worker (dist.nproc: 2)
        ("0,1", 2, ["0", "1"]),
        ("0,1", 3, ["0", "1", "0"]),  # more workers than GPUs: in turn
        ("", 2, [None, None]),  # a CPU machine
    ],
)
def test_each_queue_worker_gets_its_own_gpus_and_share_of_the_cores(visible, jobs, expected):
    environ = {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": visible}
    gpus = experiments.visible_gpus(environ)
    envs = [experiments.worker_env(k, jobs, environ, gpus) for k in range(1, jobs + 1)]
    assert [e["CUDA_VISIBLE_DEVICES"] if gpus else None for e in envs] == expected
    cores = max(1, (os.cpu_count() or 1) // jobs)
    assert all(e["OMP_NUM_THREADS"] == str(cores) and e["PATH"] == "/bin" for e in envs)
    pinned = experiments.worker_env(1, jobs, {**environ, "OMP_NUM_THREADS": "3"}, gpus)
    assert pinned["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize(("alive", "started"), [((), ["1", "2"]), ((2,), ["1"]), ((1,), ["2"])])
def test_workers_are_started_one_by_one_each_in_its_environment(
    alive, started, monkeypatch, tmp_path
):
    """Worker k is asked for once the workers before it answer, with its own GPU, and only
    where it is missing (`dvc queue start --jobs k` would start any missing one of 1..k)."""
    calls, answering = [], set(alive)

    def start(cmd, **kw):
        assert answering >= set(range(1, int(cmd[-1]))), "asked for worker k before k-1 answered"
        calls.append((cmd[-1], kw["env"]["CUDA_VISIBLE_DEVICES"]))
        answering.add(int(cmd[-1]))

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    monkeypatch.setattr(experiments.subprocess, "run", start)
    monkeypatch.setattr(experiments, "live_workers", lambda repo: set(answering))
    experiments.start_workers(tmp_path, 2)
    assert calls == [(k, {"1": "4", "2": "5"}[k]) for k in started]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_rerun_study_queues_each_leftover_once_and_waits_for_live_runs(
    workers, monkeypatch, caplog, tmp_path
):
    """What an interrupted study left in the queue: a queued task (re-queued from this commit), a
    failed one, and a running one, which live workers are still running (waited for, not queued
    twice) or which a reboot left listed with no worker (killed, cleared and queued again)."""
    calls, looks = (
        [],
        iter(
            [
                ({"q": "Queued", "f": "Failed", "r": "Running", "other": "Queued"}, workers),
                ({"q": "Success", "f": "Success", "r": "Success", "new": "Success"}, 2),
            ]
        ),
    )
    monkeypatch.setattr(experiments, "dvc", lambda repo, *args: calls.append(args) or "")
    monkeypatch.setattr(experiments, "queue_status", lambda repo: next(looks))
    monkeypatch.setattr(experiments, "start_workers", lambda repo, jobs: None)
    monkeypatch.setattr(experiments.time, "sleep", lambda seconds: None)
    finished = iter([{}, dict.fromkeys(["q", "f", "r", "new"])])
    monkeypatch.setattr(experiments, "results", lambda repo: next(finished))
    grid = [Experiment(n, {"seed": "0"}) for n in ("q", "f", "r", "new")]
    with caplog.at_level("INFO", logger=experiments.__name__):
        experiments.run(tmp_path, grid, jobs=2)
    assert set(experiments.recorded_times(tmp_path)) == {"q", "f", "r", "new"}
    assert ("3 experiments queued, 1 still running" if workers else "4 experiments queued") in (
        caplog.text
    )
    queued = [args[args.index("--name") + 1] for args in calls if args[:2] == ("exp", "run")]
    if workers:
        assert ("queue", "remove", "f", "q") in calls
        assert not any(args[:2] == ("queue", "kill") for args in calls)
        assert queued == ["q", "f", "new"]
    else:
        assert calls[:2] == [("queue", "kill", "r"), ("queue", "remove", "f", "q", "r")]
        assert queued == ["q", "f", "r", "new"]


def test_help_lists_every_study_with_what_it_reproduces_and_its_demo_cost(capsys):
    from pipeline.study.__main__ import parse

    with pytest.raises(SystemExit) as stop:
        parse(["--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for study in STUDIES.values():
        assert f"{study.name}: {study.title}" in text
        assert " ".join(study.demo_cost.split()) in text
    assert "(default: 3)" in text and "(default: reduced)" in text


def _workspace(folder, seed: int, arch: str = "concat"):
    result = _result(folder.name, seed, 0.0, arch)
    (folder / "reports").mkdir(parents=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(result.params))
    for file, data in result.metrics.items():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text(json.dumps(data))
    Image.new("RGB", (200, 100), (seed * 90, 0, 0)).save(folder / "reports/generated_pairs.png")
    return folder


def test_finished_workspaces_collate_into_the_studys_report(tmp_path):
    from pipeline.study.__main__ import main

    runs = [_workspace(tmp_path / f"clone{s}", s) for s in (0, 1)]
    out = tmp_path / "out"
    main(["table1", "--runs", *map(str, runs), "--out", str(out)])
    numbers = json.loads((out / "table1.json").read_text())
    assert numbers["seeds"] == [0, 1]
    concat = numbers["rows"][0]
    assert concat["label"] == "Concat"
    assert concat["cells"]["synthetic Dice"]["values"] == pytest.approx([0.5, 0.51])
    text = (out / "table1.md").read_text()
    assert "--runs" in text and "clone0" in text and "clone1" in text
    assert (out / "table1_samples.png").is_file()


def test_workspaces_must_cover_every_setting_and_seed_once(tmp_path):
    from pipeline.study.__main__ import main

    one = _workspace(tmp_path / "a", 0)
    twin = _workspace(tmp_path / "b", 0)
    with pytest.raises(experiments.StudyError, match="both ran concat-s0"):
        main(["table1", "--runs", str(one), str(twin), "--out", str(tmp_path / "out")])
    other = _workspace(tmp_path / "c", 1, arch="two_encoder")
    with pytest.raises(experiments.StudyError, match="matches no setting"):
        main(["table1", "--runs", str(one), str(other), "--out", str(tmp_path / "out")])


def test_the_dice_figure_marks_seeds_and_the_paper_and_prints_no_markdown():
    from pipeline.study.figures import dice_figure

    study = STUDIES["table1"]
    paper = {"Concat": {"synthetic Dice": {"value": 0.7254, "source": "Table 1"}}}
    numbers = collate(study, study.full[:2], [0, 1], _found(study, [0, 1]), paper)
    numbers["rows"][0]["label"] = "Concat, `final`"
    ax = dice_figure(numbers).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Concat, final" in labels and "paper (its scale)" in labels
    assert not any("`" in label for label in labels)
    assert ax.figure.get_suptitle().startswith(study.title)
    seed_dots = [c for c in ax.collections if len(c.get_offsets()) == 2]
    assert seed_dots and all(c.get_zorder() > 2 for c in seed_dots)


def test_the_zoomed_figure_compares_each_crop_with_the_first_of_the_same_pair():
    from pipeline.study.figures import zoomed_figure

    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 40  # 120 grey levels over 192 values
    c = np.full_like(a, 200)  # another pair: compared with its own first setting, not with a
    crops = [("DDPM `25`", "set 0", a), ("DDIM 25", "set 0", b), ("DDPM 25, 1", "set 1", c)]
    crops.append(("DDIM 25, 1", "set 1", c))
    titles = [ax.get_title("left") for ax in zoomed_figure(crops).axes]
    assert titles[0] == "DDPM 25" and titles[2] == "DDIM 25"
    assert "to DDPM 25 ×4\nmean 0.0" in titles[1] and "to DDPM 25 ×4\nmean 0.6" in titles[3]
    assert "to DDPM 25, 1 ×4\nmean 0.0" in titles[5] and "to DDPM 25, 1 ×4\nmean 0.0" in titles[7]


def test_the_embedding_figure_titles_each_panel_in_plain_words():
    from pipeline.study.embeddings import scatter_figure

    rng = np.random.default_rng(0)
    images = np.zeros((12, 8, 8, 3), np.uint8)
    panels = [("Concat, `final`", rng.normal(size=(20, 5)), rng.normal(size=(12, 5)), images)]
    fig = scatter_figure(panels + [("Concat, `final`", *panels[0][1:])])
    assert [ax.get_title() for ax in fig.axes] == ["Concat, final", "Concat, final"]
    assert fig.get_suptitle().startswith("Training crops and generated images")


def test_no_two_committed_study_figures_are_identical():
    import hashlib
    from pathlib import Path

    figures = sorted(Path(__file__).parents[1].glob("reports/studies/*.png"))
    digests = {}
    for figure in figures:
        digests.setdefault(hashlib.sha256(figure.read_bytes()).hexdigest(), []).append(figure.name)
    assert figures and all(len(names) == 1 for names in digests.values()), digests


def test_sr_steps_from_workspaces_draws_one_pair_enlarged_per_setting(tmp_path):
    from pipeline.study.__main__ import main

    runs = []
    for variant in STUDIES["sr_steps"].reduced:
        folder = _workspace(tmp_path / variant.slug, 0)
        params = yaml.safe_load((folder / "params.yaml").read_text())
        params["generate"] = {k.split(".")[1]: yaml.safe_load(v) for k, v in variant.params.items()}
        params["generate"]["n"] = 4  # pair set 1's first pair is pair 4
        (folder / "params.yaml").write_text(yaml.safe_dump(params))
        pair = folder / f"data/generated/images/gen_{4 * params['generate']['pair_set']:06d}.png"
        pair.parent.mkdir(parents=True)
        Image.new("RGB", (16, 16), (len(runs) * 30, 0, 0)).save(pair)
        runs.append(folder)
    out = tmp_path / "out"
    main(["sr_steps", "--runs", *map(str, runs), "--out", str(out)])
    assert "sr_steps_samples.png" in (out / "sr_steps.md").read_text()
    assert Image.open(out / "sr_steps_samples.png").size[1] > 1000  # six rows


def test_settings_that_generated_the_same_images_are_named_together():
    from pipeline.study.__main__ import same_images

    a, b = np.zeros((2, 4, 4, 3), np.uint8), np.ones((2, 4, 4, 3), np.uint8)
    panels = [(label, None, None, images) for label, images in (("final", a), ("best_val", a))]
    assert same_images([*panels, ("min_jsd", None, None, b)], 0) == (
        "In seed 0, final and best_val generated exactly the same images (the rule kept the"
        " same weights), so their panels are the same."
    )
    assert same_images([panels[0], ("min_jsd", None, None, b)], 0) == ""


def test_shards_split_the_grid_so_that_each_experiment_runs_exactly_once():
    from pipeline.study.sharing import parse_shard, shard

    grid = [Experiment(f"e{i}", {}) for i in range(7)]
    shares = [shard(grid, *parse_shard(f"{i}/3")) for i in (1, 2, 3)]
    assert sorted(e.name for share in shares for e in share) == sorted(e.name for e in grid)
    assert [len(share) for share in shares] == [3, 2, 2]
    for bad in ("0/2", "3/2", "1-2", "x"):
        with pytest.raises(ParamsError, match="--shard"):
            parse_shard(bad)


def test_an_experiment_records_the_host_that_ran_it(tmp_path):
    from pipeline.study.experiments import MESSAGE, host

    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "baseline"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, env=GIT_ENV)
    assert host(tmp_path, Result("x", "HEAD", {}, {})) == ""
    text = MESSAGE.format(name="concat-s0", host="gpu-node-7")
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", text], cwd=tmp_path, check=True, env=GIT_ENV
    )
    assert host(tmp_path, Result("x", "HEAD", {}, {})) == "gpu-node-7"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (90, 0, 0)).save(buffer, format="png")
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["queue", "collate"])
def test_a_queued_or_collated_study_reports_its_timing_and_machines(mode, tmp_path, monkeypatch):
    import dvc.api

    from pipeline.study import __main__ as study_main

    found = {n: _result(n, s, 0.0) for s, n in enumerate(("concat-s0", "concat-s1"))}
    pulled = []
    monkeypatch.setattr(study_main, "run", lambda repo, grid, jobs: {"concat-s0": 120.0})
    monkeypatch.setattr(study_main, "pull", lambda repo, remote, names: pulled.append(names))
    monkeypatch.setattr(study_main, "results", lambda repo: found)
    monkeypatch.setattr(study_main, "host", lambda repo, r: {"concat-s0": "gpu-a"}.get(r.name, ""))
    monkeypatch.setattr(dvc.api, "read", lambda *a, **kw: _png())
    extra = ["--collate"] if mode == "collate" else []
    times = [("concat-s1", "Success", 300.0), ("concat-s1", "Failed", 9.0)]
    times += [("concat-s1", "Success", 600.0), ("concat-s0", "Success", 60.0)]
    for name, state, seconds in times:  # an earlier run's: the latest success counts
        record_time(tmp_path, name, state, seconds)
    study_main.main(["table1", "--seeds", "2", "--repo", str(tmp_path), *extra])
    numbers = json.loads((tmp_path / "reports/studies/table1.json").read_text())
    assert {n: e["host"] for n, e in numbers["experiments"].items()} == {
        "concat-s0": "gpu-a",
        "concat-s1": "",
    }
    text = (tmp_path / "reports/studies/table1.md").read_text()
    assert "Machines: gpu-a (1), not recorded (1)." in text
    if mode == "collate":
        assert pulled == [["concat-s0", "concat-s1"]] and "pulled from `origin`" in text
        assert "timed when an earlier run" not in text
    else:
        assert not pulled and "1 ran now" in text and "1 were already finished" in text
        assert "(1 of them timed when an earlier run ran them: median 10.0 min, 10.0-10.0)" in text
