"""Segmentation training survives a kill and stops on a NaN: a run killed in any phase resumes
from its checkpoint and ends with exactly the weights and curves of an uninterrupted run."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.errors import TrainingDiverged
from pipeline.params import FinetuneParams, PseudoLabelParams, SegTrainParams
from pipeline.seg import segmentation
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.finetuning import self_train
from pipeline.seg.pseudo_labeling import self_train_on_frames
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit
from pipeline.training import Dist, main_live

CPU = Dist(0, 1, torch.device("cpu"))
CONFIG = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16)
FIT = SegTrainParams(
    encoder="mobilenet_v2", encoder_depth=2, decoder_channels=[8, 8], size=16, epochs=3,
    batch_size=4, lr=0.01, optimizer="sgd", val_fraction=0.0,
)  # fmt: skip


def _pairs(n: int, size: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return images, images[..., 0] > 128


class Crash(Exception):
    """A kill in the middle of an epoch."""


def _crash_after(monkeypatch, crops: int) -> None:
    """Make the `crops`-th batch of random crops raise Crash."""
    real, calls = segmentation.random_crops, {"n": 0}

    def crops_then_crash(*args):
        calls["n"] += 1
        if calls["n"] == crops:
            raise Crash
        return real(*args)

    monkeypatch.setattr(segmentation, "random_crops", crops_then_crash)


def _train(root: Path, kind: str, guard: str = "g") -> torch.nn.Module:
    """One run of `kind` (a plain fit, the fine-tune's rounds + fine-tune, or the pseudo-label
    rounds) with a checkpoint and a dvclive log under `root`; the trained model."""
    torch.manual_seed(0)
    model = build_unet(CONFIG)
    checkpoint = SegCheckpoint(root / "ckpt", guard, root / "live")
    with main_live(root / "live", CPU, checkpoint.live_step) as live:
        if kind == "fit":
            fit(model, _pairs(8), _pairs(4, seed=1), FIT, FitRun(0, live, CPU, checkpoint))
        elif kind == "finetune":
            p = FinetuneParams(epochs=2, rounds=2, frame_epochs=2, batch_size=4)
            run = FitRun(0, live, CPU, checkpoint)
            self_train(model, CONFIG, _pairs(8, seed=2)[0], _pairs(8), p, run)
        else:
            p = PseudoLabelParams(rounds=2, epochs=2, threshold_rule="annotated_fraction")
            frames = _pairs(8, seed=2)[0]
            self_train_on_frames(model, frames, p, FIT, FitRun(0, live, CPU, checkpoint))
    checkpoint.clear()
    return model


def _curves(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted((root / "live/plots/metrics").rglob("*.tsv"))
    }


# (kind, batches of crops before the kill; a plain fit is in the trainer contract): the fine-tune's
# rounds and fine-tune 2 epochs of 2 batches each (a kill in the second epoch of round 2 needs the
# weights the round started from); the pseudo-label rounds likewise.
@pytest.mark.parametrize(
    ("kind", "crash_at"),
    [("finetune", 3), ("finetune", 7), ("finetune", 11), ("pseudo", 7)],
)
def test_a_killed_run_resumes_to_exactly_the_uninterrupted_result(
    tmp_path, monkeypatch, kind, crash_at
):
    whole = _train(tmp_path / "whole", kind)
    with monkeypatch.context() as m:
        _crash_after(m, crash_at)
        with pytest.raises(Crash):
            _train(tmp_path / "cut", kind)
    assert (tmp_path / "cut/ckpt/state.pt").is_file()
    shutil.rmtree(tmp_path / "cut/live")  # dvc repro deletes a stage's outputs before running it
    resumed = _train(tmp_path / "cut", kind)
    for key, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    assert _curves(tmp_path / "cut") == _curves(tmp_path / "whole")
    assert not (tmp_path / "cut/ckpt").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_naming_epoch_and_step_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch, bad
):
    real, calls = segmentation.seg_loss, {"n": 0}

    def loss_goes_bad(logits, target):
        calls["n"] += 1
        loss = real(logits, target)
        return loss * bad if calls["n"] == 4 else loss  # epoch 2, step 2

    monkeypatch.setattr(segmentation, "seg_loss", loss_goes_bad)
    checkpoint = SegCheckpoint(tmp_path / "ckpt", "g")
    model = build_unet(CONFIG)
    live_dir = tmp_path / "live"
    with (
        pytest.raises(TrainingDiverged, match="at epoch 2, step 2") as err,
        main_live(live_dir, CPU) as live,
    ):
        fit(model, _pairs(8), None, FIT, FitRun(0, live, CPU, checkpoint))
    assert str(tmp_path / "ckpt/state.pt") in str(err.value)
    state = torch.load(tmp_path / "ckpt/state.pt", weights_only=True)
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_a_nan_in_the_first_epoch_says_no_checkpoint_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(segmentation, "seg_loss", lambda logits, target: logits.sum() * np.nan)
    checkpoint = SegCheckpoint(tmp_path / "ckpt", "g")
    with pytest.raises(TrainingDiverged, match="epoch 1, step 1: no weights were written and no"):
        run = FitRun(0, None, CPU, checkpoint)
        fit(build_unet(CONFIG), _pairs(8), None, replace(FIT, epochs=1), run)
