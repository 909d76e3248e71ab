"""The contract every trainer keeps, run over the generator's and the super-resolver's diffusion
training and the segmentation trainer (`segmentation.fit`): a run killed at either of two points
resumes from its checkpoint to exactly the weights and curves of an uninterrupted run; a
checkpoint made with other params is not resumed; two gloo processes train one model, logged by
rank 0 alone, with the losses of one process where the network has no batch statistics."""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from pipeline.checkpoints import save_model
from pipeline.gen.generator_training import GeneratorTraining
from pipeline.gen.sr_training import SRTraining
from pipeline.params import SegTrainParams
from pipeline.seg import segmentation
from pipeline.seg.checkpoint import SegCheckpoint
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit
from pipeline.training import close_dist, fingerprint, init_dist, main_live
from tests.conftest import CPU, TINY_GEN, TINY_SR, crops, free_port, run_paths, weights

SEG_CONFIG = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16)
SEG = SegTrainParams(
    encoder="mobilenet_v2", encoder_depth=2, decoder_channels=[8, 8], size=16, epochs=3,
    batch_size=4, lr=0.01, optimizer="sgd", val_fraction=0.0,
)  # fmt: skip
PARAMS = {
    "gen": replace(TINY_GEN, discriminator=True),
    "sr": TINY_SR,
    "seg": SEG,
}
KEPT = {"gen": ("final", "best_val", "min_jsd"), "sr": ("final", "best_val"), "seg": ("final",)}
STEPS_PER_EPOCH = 2  # 8 training items, batches of 4, 3 epochs


class Crash(Exception):
    """A kill in the middle of training."""


def _pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    data = crops(n, seed, size=20)
    return np.ascontiguousarray(data[..., :3]), data[..., 3] > 0


def train(kind: str, root: Path, p=None, dist=CPU) -> None:
    """One run of trainer `kind` with params `p` (default PARAMS[kind]): kept weights under
    root/models, the checkpoint under root/ckpt, the dvclive log under root/live."""
    p = p or PARAMS[kind]
    if kind == "gen":
        GeneratorTraining(p, 0, crops(8), crops(4, 1), dist).run(run_paths(root))
    elif kind == "sr":
        SRTraining(p, 0, crops(8), crops(4, 1), dist, 2).run(run_paths(root))
    else:
        torch.manual_seed(0)
        model = build_unet(SEG_CONFIG)
        checkpoint = SegCheckpoint(root / "ckpt", fingerprint(asdict(p)), root / "live", dist)
        with main_live(root / "live", dist, checkpoint.live_step) as live:
            fit(model, _pairs(8), _pairs(4, 1), p, FitRun(0, live, dist, checkpoint))
        if dist.main:
            checkpoint.clear()
            save_model(model, SEG_CONFIG, root / "models/final")
        save_file(dict(model.state_dict()), str(root / f"rank{dist.rank}.safetensors"))


def _crash_at(monkeypatch, kind: str, step: int) -> None:
    """Make optimisation step `step` (1-based, counted over the whole run) raise Crash."""
    calls = {"n": 0}
    owner, name = {
        "gen": (GeneratorTraining, "train_step"),
        "sr": (SRTraining, "train_step"),
        "seg": (segmentation, "random_crops"),  # drawn once per step
    }[kind]
    real = getattr(owner, name)

    def counted(*args):
        calls["n"] += 1
        if calls["n"] == step:
            raise Crash
        return real(*args)

    monkeypatch.setattr(owner, name, counted)


def _curves(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted((root / "live/plots/metrics").rglob("*.tsv"))
    }


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> dict[str, Path]:
    """Each trainer's uninterrupted run, made once for the tests that compare against it."""
    root = tmp_path_factory.mktemp("whole")
    for kind in PARAMS:
        train(kind, root / kind)
    return {kind: root / kind for kind in PARAMS}


@pytest.mark.parametrize("kind", sorted(PARAMS))
@pytest.mark.parametrize("crash_step", [2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH])
def test_a_killed_run_resumes_to_exactly_the_uninterrupted_result(
    tmp_path, monkeypatch, whole, kind, crash_step
):
    with monkeypatch.context() as m:
        _crash_at(m, kind, crash_step)  # in the last step of epoch 2 or of epoch 3
        with pytest.raises(Crash):
            train(kind, tmp_path / "cut")
    assert (tmp_path / "cut/ckpt/state.pt").is_file()
    assert not (tmp_path / "cut/models").exists()
    shutil.rmtree(tmp_path / "cut/live")  # dvc repro deletes a stage's outputs before running it
    train(kind, tmp_path / "cut")
    for name in KEPT[kind]:
        expected = weights(whole[kind] / "models" / name)
        cut = weights(tmp_path / "cut/models" / name)
        assert expected.keys() == cut.keys()
        for key in expected:
            torch.testing.assert_close(cut[key], expected[key], rtol=0, atol=0)
    assert _curves(tmp_path / "cut") == _curves(whole[kind])
    assert not (tmp_path / "cut/ckpt").exists()


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_a_checkpoint_of_other_params_is_not_resumed(tmp_path, monkeypatch, whole, kind):
    with monkeypatch.context() as m:
        _crash_at(m, kind, 2 * STEPS_PER_EPOCH)
        with pytest.raises(Crash):
            train(kind, tmp_path / "cut", replace(PARAMS[kind], lr=PARAMS[kind].lr * 3))
    assert (tmp_path / "cut/ckpt/state.pt").is_file()
    shutil.rmtree(tmp_path / "cut/live")
    train(kind, tmp_path / "cut")
    expected, again = weights(whole[kind] / "models/final"), weights(tmp_path / "cut/models/final")
    for key, value in expected.items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0)


def _ddp_params(kind: str):
    p = replace(PARAMS[kind], epochs=2)
    return p if kind == "seg" else replace(p, ema_decay=0.0)


def _ddp_worker(rank: int, world: int, port: int, root: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_dist()
    try:
        for kind in PARAMS:  # one pair of processes for every trainer: a spawn costs seconds
            train(kind, Path(root) / kind, _ddp_params(kind), dist)
    finally:
        close_dist(dist)


@pytest.fixture(scope="module")
def ddp(tmp_path_factory) -> tuple[Path, Path]:
    """Every trainer run by one process and by two gloo processes: (one root, two root)."""
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    for kind in PARAMS:
        train(kind, one / kind, _ddp_params(kind))
    mp.spawn(_ddp_worker, args=(2, free_port(), str(two)), nprocs=2, join=True)
    return one, two


@pytest.mark.e2e  # two spawned processes, each importing torch and the pipeline
@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_two_gloo_processes_train_one_model_logged_by_rank_0(ddp, kind):
    one_root, two_root = (root / kind for root in ddp)
    rows = (two_root / "live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(rows) == 1 + 2  # a header and one row per epoch: rank 0 alone logs
    if kind == "seg":  # BatchNorm statistics stay per rank on the CPU (synchronised on CUDA)
        zero, one = (load_file(two_root / f"rank{r}.safetensors") for r in (0, 1))
        for key in (k for k in zero if "running_" not in k and "num_batches" not in k):
            torch.testing.assert_close(one[key], zero[key], rtol=0, atol=0)
        return
    for curve in ("train/loss.tsv", "val/loss.tsv"):
        one = np.loadtxt(one_root / "live/plots/metrics" / curve, skiprows=1)
        two = np.loadtxt(two_root / "live/plots/metrics" / curve, skiprows=1)
        np.testing.assert_allclose(two, one, rtol=1e-4)
    # the weights too, but where Adam turns float noise in a mathematically zero gradient
    # (biases before GroupNorm) into ±lr
    p = _ddp_params(kind)
    one, two = weights(one_root / "models/final"), weights(two_root / "models/final")
    diff = torch.cat([(two[k] - one[k]).abs().flatten() for k in one])
    assert float(diff.max()) <= 2 * p.lr * p.epochs * STEPS_PER_EPOCH
    assert float((diff > 1e-5).float().mean()) < 0.02
