"""Generator training: overfitting one batch, exact resumption, DDP equivalence, kept weights."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from pipeline import generator
from pipeline.diffusion import Diffusion
from pipeline.diffusion_training import RunPaths
from pipeline.errors import TrainingDiverged
from pipeline.gen_training import GeneratorTraining
from pipeline.params import GenParams
from pipeline.training import Dist, close_dist, init_dist
from tests.conftest import free_port

TINY = GenParams(
    widths=[8, 16],
    disc_widths=[8, 16],
    layers_per_level=1,
    heads=2,
    time_dim=32,
    epochs=3,
    batch_size=4,
    eval_every=2,
    val_timesteps=2,
    jsd_samples=4,
    jsd_steps=2,
    checkpoint_every=1,
)
CPU = Dist(0, 1, torch.device("cpu"))


def _data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 16, 16, 4), dtype=np.uint8)
    data[..., 3] = np.where(data[..., 3] > 200, 255, 0)
    return data


def _paths(root: Path) -> RunPaths:
    return RunPaths(root / "models", root / "ckpt", root / "live")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_a_short_run_overfits_one_batch(prediction):
    torch.manual_seed(0)
    model = generator.build(generator.config(replace(TINY, widths=[16, 32], prediction=prediction)))
    diffusion = Diffusion()
    x0 = torch.rand(4, 4, 16, 16) * 2 - 1
    noise = torch.randn_like(x0)
    t = torch.tensor([10, 200, 500, 900])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(150):
        eps = model(diffusion.q_sample(x0, noise, t), t)
        loss = diffusion.loss(eps, noise, t, prediction)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10


def test_the_adversarial_gradient_reaches_the_generator_at_large_t():
    """At t = 900 most entries of x0_hat lie outside [-1, 1]; a clamped posterior would pass them
    no gradient (88 % of entries for an ε error of 0.1), the unclipped one passes it to all."""
    run = GeneratorTraining(replace(TINY, discriminator=True), 0, _data(8), _data(4, 1), CPU)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 4, 16, 16, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.full((4,), 900)
    x_t = run.diffusion.q_sample(x0, noise, t)
    eps = (noise + 0.1 * torch.randn(x0.shape, generator=g)).requires_grad_()
    clamped = (run.diffusion.predict_x0(x_t, eps, t, clip=False).abs() > 1).float().mean()
    assert clamped > 0.5
    _, g_adv = run.adversarial_losses(x_t, eps, noise, t)
    (grad,) = torch.autograd.grad(g_adv, eps)
    assert (grad != 0).float().mean() > 0.99


def test_the_curriculum_follows_the_discriminator():
    def bounds(**changes):
        run = GeneratorTraining(replace(TINY, **changes), 0, _data(8), _data(4, 1), CPU)
        return [run.t_max(epoch) for epoch in (0, 5, 10)]

    assert bounds(discriminator=True) == [10, 20, 30]
    assert bounds(discriminator=True, curriculum=False) == [1000] * 3
    assert bounds(discriminator=False) == [1000] * 3
    assert bounds(discriminator=False, curriculum=True) == [10, 20, 30]


@pytest.mark.parametrize(("discriminator", "prediction"), [(False, "epsilon"), (True, "v")])
def test_run_keeps_three_weights_and_logs(tmp_path, discriminator, prediction):
    p = replace(TINY, discriminator=discriminator, prediction=prediction)
    GeneratorTraining(p, 0, _data(8), _data(4, 1), CPU).run(_paths(tmp_path))
    for name in ("final", "best_val", "min_jsd"):
        model = generator.load(tmp_path / "models" / name)
        config = json.loads((tmp_path / "models" / name / "config.json").read_text())
        assert (config["prediction"], config["sample_size"]) == (prediction, 16)
        assert config["data_range"] == [-1.0, 1.0] and model.config.sample_size == 16
    metrics = (tmp_path / "live/metrics.json").read_text()
    for key in ("train", "val", "jsd", "t_max", "lr"):
        assert f'"{key}"' in metrics
    assert sorted(p.name for p in (tmp_path / "live/plots/images/samples").iterdir()) == [
        "epoch_0002.png",
        "epoch_0003.png",
    ]
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize(("checkpoint_every", "crash_at"), [(1, 2), (2, 3)])
def test_a_resumed_run_equals_an_uninterrupted_one(
    tmp_path, monkeypatch, checkpoint_every, crash_at
):
    """Killed in epoch index `crash_at`, the run resumes from its last checkpoint (after 2 epochs),
    redoes only the later epochs (dropping their logged rows) and ends with the same weights and
    the same curves as an uninterrupted run."""
    train, val = _data(8), _data(4, 1)
    p = replace(TINY, discriminator=True, epochs=4, checkpoint_every=checkpoint_every)
    GeneratorTraining(p, 0, train, val, CPU).run(_paths(tmp_path / "whole"))

    original = GeneratorTraining.train_step
    calls = {"n": 0}

    def crash_in_third_epoch(self, epoch, step):
        if epoch == crash_at:
            raise KeyboardInterrupt
        return crash_never(self, epoch, step)

    def crash_never(self, epoch, step):
        calls["n"] += 1
        return original(self, epoch, step)

    monkeypatch.setattr(GeneratorTraining, "train_step", crash_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        GeneratorTraining(p, 0, train, val, CPU).run(_paths(tmp_path / "cut"))
    assert (tmp_path / "cut/ckpt/state.pt").is_file() and not (tmp_path / "cut/models").exists()
    monkeypatch.setattr(GeneratorTraining, "train_step", crash_never)
    shutil.rmtree(tmp_path / "cut/live")  # dvc repro deletes a stage's outputs before running it
    GeneratorTraining(p, 0, train, val, CPU).run(_paths(tmp_path / "cut"))
    assert calls["n"] == 2 * crash_at + 2 * (4 - 2)  # two steps per epoch

    for name in ("final", "best_val", "min_jsd"):
        whole, cut = (
            _weights(tmp_path / "whole/models" / name),
            _weights(tmp_path / "cut/models" / name),
        )
        assert whole.keys() == cut.keys()
        for key in whole:
            torch.testing.assert_close(cut[key], whole[key], rtol=0, atol=0)
    for curve in ("val/loss.tsv", "train/loss.tsv", "jsd.tsv"):
        whole = np.loadtxt(tmp_path / "whole/live/plots/metrics" / curve, skiprows=1)
        cut = np.loadtxt(tmp_path / "cut/live/plots/metrics" / curve, skiprows=1)
        np.testing.assert_array_equal(cut, whole)


def test_a_checkpoint_of_other_params_is_not_resumed(tmp_path):
    train, val = _data(8), _data(4, 1)
    paths = _paths(tmp_path)
    GeneratorTraining(TINY, 0, train, val, CPU).run(paths)
    first = _weights(paths.models / "final")
    paths.checkpoint.mkdir()
    other = GeneratorTraining(replace(TINY, lr=1e-2), 0, train, val, CPU)
    other.epoch = 2
    torch.save(other.state(), paths.checkpoint / "state.pt")
    GeneratorTraining(TINY, 0, train, val, CPU).run(paths)
    for key, value in _weights(paths.models / "final").items():
        torch.testing.assert_close(value, first[key], rtol=0, atol=0)


def _ddp_worker(rank: int, world: int, port: int, root: str, p: GenParams) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_dist()
    try:
        GeneratorTraining(p, 0, _data(8), _data(4, 1), dist).run(_paths(Path(root)))
    finally:
        close_dist(dist)


def test_ddp_with_two_gloo_processes_equals_one_process(tmp_path):
    """Same global batch, same result: losses agree, and so do the weights except where Adam
    turns float noise in a mathematically zero gradient (biases before GroupNorm) into ±lr."""
    p = replace(TINY, epochs=2, ema_decay=0.0)
    GeneratorTraining(p, 0, _data(8), _data(4, 1), CPU).run(_paths(tmp_path / "one"))
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path / "two"), p), nprocs=2, join=True)
    for curve in ("train/loss.tsv", "val/loss.tsv"):
        one = np.loadtxt(tmp_path / "one/live/plots/metrics" / curve, skiprows=1)
        two = np.loadtxt(tmp_path / "two/live/plots/metrics" / curve, skiprows=1)
        np.testing.assert_allclose(two, one, rtol=1e-4)
    one, two = _weights(tmp_path / "one/models/final"), _weights(tmp_path / "two/models/final")
    diff = torch.cat([(two[k] - one[k]).abs().flatten() for k in one])
    steps = p.epochs * 2
    assert float(diff.max()) <= 2 * p.lr * steps
    assert float((diff > 1e-5).float().mean()) < 0.02


@pytest.mark.parametrize("discriminator", [False, True])
def test_a_nan_loss_stops_naming_epoch_and_step_writes_no_weights_keeps_the_checkpoint(
    tmp_path, monkeypatch, discriminator
):
    real, calls = Diffusion.loss, {"n": 0}

    def loss_goes_bad(self, *args, **kwargs):
        calls["n"] += torch.is_grad_enabled()  # training steps, not the validation loss
        loss = real(self, *args, **kwargs)
        return loss * float("nan") if calls["n"] == 6 else loss  # epoch 3, step 2

    monkeypatch.setattr(Diffusion, "loss", loss_goes_bad)
    paths = _paths(tmp_path)
    p = replace(TINY, discriminator=discriminator, eval_every=10, val_timesteps=1)
    training = GeneratorTraining(p, 0, _data(8), _data(1, 1), CPU)
    with pytest.raises(TrainingDiverged, match=r"nan at epoch 3, step 2: no weights were written"):
        training.run(paths)
    assert not paths.models.exists()
    state = torch.load(paths.checkpoint / "state.pt", weights_only=True)
    assert state["epoch"] == 2
