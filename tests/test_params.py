"""Typed params: all profiles load; unknown keys, wrong types and bad values name the key."""

from __future__ import annotations

import subprocess
import sys

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


@pytest.mark.parametrize("name", ["params.yaml", "profiles/smoke.yaml", "profiles/paper.yaml"])
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
