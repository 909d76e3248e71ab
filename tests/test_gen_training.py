"""Generator training beyond the trainer contract: overfitting one batch, the discriminator's
gradient and curriculum, kept weights and logs, a NaN stop."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from pipeline.errors import TrainingDiverged
from pipeline.gen import generator
from pipeline.gen.diffusion import Diffusion
from pipeline.gen.generator_training import GeneratorTraining
from tests.conftest import CPU, TINY_GEN, crops, run_paths


@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_a_short_run_overfits_one_batch(prediction):
    torch.manual_seed(0)
    model = generator.build(
        generator.config(replace(TINY_GEN, widths=[16, 32], prediction=prediction))
    )
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
    run = GeneratorTraining(replace(TINY_GEN, discriminator=True), 0, crops(8), crops(4, 1), CPU)
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
        run = GeneratorTraining(replace(TINY_GEN, **changes), 0, crops(8), crops(4, 1), CPU)
        return [run.t_max(epoch) for epoch in (0, 5, 10)]

    assert bounds(discriminator=True) == [10, 20, 30]
    assert bounds(discriminator=True, curriculum=False) == [1000] * 3
    assert bounds(discriminator=False) == [1000] * 3
    assert bounds(discriminator=False, curriculum=True) == [10, 20, 30]


@pytest.mark.parametrize(("discriminator", "prediction"), [(False, "epsilon"), (True, "v")])
def test_run_keeps_three_weights_and_logs(tmp_path, discriminator, prediction):
    p = replace(TINY_GEN, discriminator=discriminator, prediction=prediction)
    GeneratorTraining(p, 0, crops(8), crops(4, 1), CPU).run(run_paths(tmp_path))
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
    paths = run_paths(tmp_path)
    p = replace(TINY_GEN, discriminator=discriminator, eval_every=10, val_timesteps=1)
    training = GeneratorTraining(p, 0, crops(8), crops(1, 1), CPU)
    with pytest.raises(TrainingDiverged, match=r"nan at epoch 3, step 2: no weights were written"):
        training.run(paths)
    assert not paths.models.exists()
    state = torch.load(paths.checkpoint / "state.pt", weights_only=True)
    assert state["epoch"] == 2
