"""Super-resolver training and sampling: the condition, kept weights, resumption, DDP."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from pipeline.diffusion import to_model_space
from pipeline.diffusion_training import RunPaths
from pipeline.metrics import psnr
from pipeline.params import SRParams
from pipeline.seeding import torch_generator
from pipeline.sr_training import (
    SRTraining,
)
from pipeline.super_resolver import load, super_resolve, training_condition, upsampled
from pipeline.training import Dist, close_dist, init_dist
from tests.conftest import free_port
from tests.test_gen_training import _data

TINY = SRParams(
    widths=[8, 16],
    layers_per_level=1,
    heads=2,
    time_dim=32,
    epochs=3,
    batch_size=4,
    eval_every=2,
    val_timesteps=2,
    eval_samples=3,
    eval_steps=2,
    checkpoint_every=1,
)
CPU = Dist(0, 1, torch.device("cpu"))


def _paths(root: Path) -> RunPaths:
    return RunPaths(root / "models", root / "ckpt", root / "live")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def test_the_training_condition_is_the_degraded_pair_upsampled_with_a_binary_mask():
    hr = to_model_space(_data(2))
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
    p = replace(TINY, prediction="v")
    SRTraining(p, 0, _data(8), _data(4, 1), CPU, factor=2).run(_paths(tmp_path))
    for name in ("final", "best_val"):
        model = load(tmp_path / "models" / name)
        config = json.loads((tmp_path / "models" / name / "config.json").read_text())
        assert (config["prediction"], config["sample_size"], config["factor"]) == ("v", 16, 2)
        assert config["data_range"] == [-1.0, 1.0] and model.config.input_size == 8
        lowres = to_model_space(_data(2))[:, :, :8, :8]
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
    SRTraining(replace(TINY, epochs=1), 0, _data(8), _data(4, 1), CPU, 2).run(_paths(tmp_path))
    model = load(tmp_path / "models/final")
    lowres = to_model_space(_data(2))[:, :, :8, :8]
    other = lowres.clone()
    other[:, :3] = -other[:, :3]
    outs = [
        super_resolve(model, lr, 2, "ddim", 3, torch_generator(0, "same")) for lr in (lowres, other)
    ]
    assert (outs[0] - outs[1]).abs().mean() > 1e-3


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    train, val = _data(8), _data(4, 1)
    p = replace(TINY, epochs=4, checkpoint_every=2)
    SRTraining(p, 0, train, val, CPU, 2).run(_paths(tmp_path / "whole"))
    original = SRTraining.train_step

    def crash_in_fourth_epoch(self, epoch, step):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch, step)

    monkeypatch.setattr(SRTraining, "train_step", crash_in_fourth_epoch)
    with pytest.raises(KeyboardInterrupt):
        SRTraining(p, 0, train, val, CPU, 2).run(_paths(tmp_path / "cut"))
    monkeypatch.setattr(SRTraining, "train_step", original)
    SRTraining(p, 0, train, val, CPU, 2).run(_paths(tmp_path / "cut"))
    for name in ("final", "best_val"):
        whole, cut = (
            _weights(tmp_path / "whole/models" / name),
            _weights(tmp_path / "cut/models" / name),
        )
        for key in whole:
            torch.testing.assert_close(cut[key], whole[key], rtol=0, atol=0)
    for curve in ("val/loss.tsv", "sr/psnr.tsv"):
        whole = np.loadtxt(tmp_path / "whole/live/plots/metrics" / curve, skiprows=1)
        cut = np.loadtxt(tmp_path / "cut/live/plots/metrics" / curve, skiprows=1)
        np.testing.assert_array_equal(cut, whole)


def _ddp_worker(rank: int, world: int, port: int, root: str, p: SRParams) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_dist()
    try:
        SRTraining(p, 0, _data(8), _data(4, 1), dist, 2).run(_paths(Path(root)))
    finally:
        close_dist(dist)


def test_ddp_with_two_gloo_processes_matches_one_process(tmp_path):
    """The conditioned network under DDP: the same losses as one process on the same batch."""
    p = replace(TINY, epochs=2, ema_decay=0.0, eval_every=2)
    SRTraining(p, 0, _data(8), _data(4, 1), CPU, 2).run(_paths(tmp_path / "one"))
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path / "two"), p), nprocs=2, join=True)
    for curve in ("train/loss.tsv", "val/loss.tsv"):
        one = np.loadtxt(tmp_path / "one/live/plots/metrics" / curve, skiprows=1)
        two = np.loadtxt(tmp_path / "two/live/plots/metrics" / curve, skiprows=1)
        np.testing.assert_allclose(two, one, rtol=1e-4)
