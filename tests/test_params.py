"""Typed params: all profiles load; unknown keys, wrong types and bad values name the key."""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest
import yaml

from pipeline.errors import ParamsError
from pipeline.params import load_params
from tests.conftest import ROOT


def _keys(tree: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{key}.")
    return out


@pytest.mark.parametrize(
    "name", ["params.yaml", "profiles/smoke.yaml", "profiles/paper.yaml", "profiles/field.yaml"]
)
def test_profiles_load_with_the_same_keys(name):
    load_params(ROOT / name)
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert _keys(yaml.safe_load((ROOT / name).read_text())) == _keys(shipped)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("copy_paste", "bogus", 1, "unknown params key: copy_paste.bogus"),
        ("train_labeler", "lr", "1e-4", "train_labeler.lr must be a number"),
        ("train_labeler", "epochs", 2.5, "train_labeler.epochs must be an integer"),
        ("train_labeler", "epochs", True, "train_labeler.epochs must be an integer"),
        ("train_labeler", "optimizer", "rmsprop", "train_labeler.optimizer must be one of"),
        ("train_labeler", "decoder_channels", [8, 8], "train_labeler.decoder_channels needs"),
        ("copy_paste", "images", -3, "copy_paste.images must be positive"),
        ("copy_paste", "real_max", 1, "copy_paste.real_max must be at least copy_paste.real_min"),
        ("demo_field", "videos", -1, "demo_field.videos must not be negative"),
        ("prepare", "crop", 4096, "prepare.crop (4096) is larger than the frame size"),
        ("pseudo_label", "threshold", 1.5, "pseudo_label.threshold must be in (0, 1)"),
        ("data", "root", 3, "data.root must be a string"),
        ("gen", "curriculum_offset", 0, "gen.curriculum_offset must be positive"),
        ("gen", "curriculum", "sometimes", "gen.curriculum must be true or false or auto"),
        ("gen", "curriculum", 1, "gen.curriculum must be true or false or auto"),
        ("gen", "arch", "unet", "gen.arch must be one of"),
        ("generate", "steps", 2000, "generate.steps must be in [1, 1000]"),
        ("generate", "sr_steps", 0, "generate.sr_steps must be in [1, 1000]"),
        ("generate", "pair_set", -1, "generate.pair_set must not be negative"),
    ],
)
def test_bad_values_name_the_key(smoke_params, write_params, section, key, value, message):
    smoke_params[section][key] = value
    with pytest.raises(ParamsError) as err:
        load_params(write_params(smoke_params))
    assert message in str(err.value)


def test_unknown_section_and_float_hint(smoke_params, write_params):
    smoke_params["trian_labeler"] = {}
    with pytest.raises(ParamsError, match="unknown params key: trian_labeler"):
        load_params(write_params(smoke_params))
    del smoke_params["trian_labeler"]
    smoke_params["train_labeler"]["lr"] = "1e-4"
    with pytest.raises(ParamsError, match=r"write 1\.0e-4"):
        load_params(write_params(smoke_params))


def test_ints_are_accepted_where_floats_are_expected(smoke_params, write_params):
    smoke_params["copy_paste"]["rotation"] = 5
    assert load_params(write_params(smoke_params)).copy_paste.rotation == 5.0


def test_a_stage_with_a_bad_param_prints_one_line_and_exits_2(smoke_params, write_params):
    smoke_params["extract_frames"]["every"] = 0
    path = write_params(smoke_params)
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.extract_frames"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert run.returncode == 2
    assert run.stderr.strip() == "error: extract_frames.every must be positive, got 0"


@pytest.mark.parametrize(
    ("curriculum", "discriminator", "expected"),
    [("auto", False, False), ("auto", True, True), (False, True, False), (True, False, True)],
)
def test_the_curriculum_follows_the_discriminator_unless_set(
    smoke_params, write_params, curriculum, discriminator, expected
):
    smoke_params["gen"].update(curriculum=curriculum, discriminator=discriminator)
    gen = load_params(write_params(smoke_params)).gen
    assert gen.curriculum == curriculum
    assert gen.uses_curriculum is expected


@pytest.mark.parametrize(
    "name", ["params.yaml", "profiles/smoke.yaml", "profiles/paper.yaml", "profiles/field.yaml"]
)
def test_every_profiles_t_max_schedule_reaches_T_within_its_epochs(name, write_params):
    params = yaml.safe_load((ROOT / name).read_text())
    params["gen"]["discriminator"] = True
    load_params(write_params(params))  # the schedule `auto` turns on reaches T
    params["gen"].update(curriculum_sigma=10, curriculum_alpha=5)  # the paper's, over 2 epochs
    params["gen"]["epochs"] = 2
    with pytest.raises(ParamsError, match=r"gen: the t_max schedule reaches only t_max = 10 of T"):
        load_params(write_params(params))
    params["gen"]["curriculum"] = False  # the discriminator alone needs no schedule
    load_params(write_params(params))


PAPER = {  # values the paper or its public code states
    "gen.arch": "two_encoder",
    "gen.widths": [32, 64, 128, 256],
    "gen.layers_per_level": 2,
    "gen.heads": 4,
    "gen.lr": 2.1e-4,
    "gen.batch_size": 64,
    "gen.epochs": 1500,
    "gen.prediction": "epsilon",
    "gen.adv_weight": 0.25,
    "gen.curriculum_sigma": 10,
    "gen.curriculum_alpha": 5,
    "gen.curriculum_offset": 10,
    "gen.priority_until": 500,
    "select_gen.weights": "min_jsd",
    "prepare.crop": 512,
    "prepare.gen_size": 128,
    "prepare.sr_size": 256,
    "sr.prediction": "epsilon",
    "generate.n": 5000,
    "generate.sampler": "ddpm",
    "generate.steps": 1000,
    "generate.sr_sampler": "ddim",
    "generate.sr_steps": 100,
    "train_seg.encoder": "efficientnet-b4",
    "train_seg.optimizer": "sgd",
    "train_seg.lr": 0.01,
    "train_seg.epochs": 50,
    "train_seg.size": 256,
}


def test_the_paper_profile_is_the_paper():
    params = load_params(ROOT / "profiles/paper.yaml")
    for key, value in PAPER.items():
        section, name = key.split(".")
        assert getattr(getattr(params, section), name) == value, key


def test_every_sampler_of_the_diffusion_module_is_a_valid_param(smoke_params, write_params):
    from pipeline.gen.diffusion import SAMPLERS
    from pipeline.params import Sampler

    assert typing.get_args(Sampler) == SAMPLERS
    for name in SAMPLERS:
        smoke_params["generate"]["sampler"] = name
        assert load_params(write_params(smoke_params)).generate.sampler == name
