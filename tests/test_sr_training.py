"""Super-resolver training and sampling beyond the trainer contract: the condition, kept weights
and scores, the low-resolution pair steering the result."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from pipeline.gen.diffusion import to_model_space
from pipeline.gen.sr_training import (
    SRTraining,
)
from pipeline.gen.super_resolver import load, super_resolve, training_condition, upsampled
from pipeline.metrics import psnr
from pipeline.seeding import torch_generator
from tests.conftest import CPU, TINY_SR, crops, run_paths


def test_the_training_condition_is_the_degraded_pair_upsampled_with_a_binary_mask():
    hr = to_model_space(crops(2))
    cond = training_condition(hr, 2)
    assert cond.shape == hr.shape
    assert set(cond[:, 3].unique().tolist()) <= {-1.0, 1.0}
    # nearest ×2 of a nearest ÷2 mask: every 2×2 block holds one value of the original mask
    torch.testing.assert_close(cond[:, 3, ::2, ::2], cond[:, 3, 1::2, 1::2])
    # bilinear down then up keeps a flat image flat
    flat = torch.zeros_like(hr)
    flat[:, :3] = 0.3
    torch.testing.assert_close(training_condition(flat, 2)[:, :3], flat[:, :3])


def test_upsampled_figure_pairs_match_the_condition_sizes():
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    masks = np.zeros((2, 8, 8), bool)
    masks[:, 2:4, 2:4] = True
    up_images, up_masks = upsampled(images, masks, 2)
    assert up_images.shape == (2, 16, 16, 3) and up_masks.shape == (2, 16, 16)
    assert up_masks.sum() == 4 * masks.sum()


def test_psnr_of_known_errors():
    a = np.zeros((1, 4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(a, a + 255) == pytest.approx(0.0)
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255))


def test_run_keeps_final_and_best_val_and_logs_sr_scores(tmp_path):
    p = replace(TINY_SR, prediction="v")
    SRTraining(p, 0, crops(8), crops(4, 1), CPU, factor=2).run(run_paths(tmp_path))
    for name in ("final", "best_val"):
        model = load(tmp_path / "models" / name)
        config = json.loads((tmp_path / "models" / name / "config.json").read_text())
        assert (config["prediction"], config["sample_size"], config["factor"]) == ("v", 16, 2)
        assert config["data_range"] == [-1.0, 1.0] and model.config.input_size == 8
        lowres = to_model_space(crops(2))[:, :, :8, :8]
        out = super_resolve(model, lowres, 2, "ddim", 2, torch_generator(0, "t"))
        assert out.shape == (2, 4, 16, 16) and out.abs().max() <= 1
    metrics = (tmp_path / "live/metrics.json").read_text()
    for key in ("sr", "upsampled", "psnr", "mask_dice", "val", "train"):
        assert f'"{key}"' in metrics
    assert sorted(p.name for p in (tmp_path / "live/plots/images/samples").iterdir()) == [
        "epoch_0002.png",
        "epoch_0003.png",
    ]
    assert not (tmp_path / "ckpt").exists()


def test_a_different_low_resolution_pair_changes_the_super_resolved_one(tmp_path):
    SRTraining(replace(TINY_SR, epochs=1), 0, crops(8), crops(4, 1), CPU, 2).run(
        run_paths(tmp_path)
    )
    model = load(tmp_path / "models/final")
    lowres = to_model_space(crops(2))[:, :, :8, :8]
    other = lowres.clone()
    other[:, :3] = -other[:, :3]
    outs = [
        super_resolve(model, lr, 2, "ddim", 3, torch_generator(0, "same")) for lr in (lowres, other)
    ]
    assert (outs[0] - outs[1]).abs().mean() > 1e-3
