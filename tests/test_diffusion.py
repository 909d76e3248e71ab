"""The diffusion schedule, training helpers and samplers of pipeline.gen.diffusion."""

from __future__ import annotations

import diffusers.schedulers.scheduling_ddpm as ddpm_module
import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from pipeline.gen.diffusion import (
    SAMPLERS,
    Diffusion,
    T,
    epsilon,
    make_scheduler,
    sample,
    sample_timesteps,
    to_model_space,
    to_uint8,
)
from pipeline.params import t_max


def test_schedule_matches_diffusers_linear_betas():
    diffusion = Diffusion()
    reference = DDPMScheduler(
        num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear"
    )
    assert diffusion.alphas_cumprod.shape == (T,)
    assert diffusion.alphas_cumprod.dtype == torch.float32
    torch.testing.assert_close(diffusion.alphas_cumprod, reference.alphas_cumprod)
    ab = diffusion.alphas_cumprod.double()
    betas = 1 - ab / torch.cat([ab.new_ones(1), ab[:-1]])
    assert betas[0].item() == pytest.approx(1e-4, rel=1e-3)
    assert betas[-1].item() == pytest.approx(0.02, rel=1e-3)
    for name in SAMPLERS:
        scheduler = make_scheduler(name)
        torch.testing.assert_close(scheduler.alphas_cumprod, reference.alphas_cumprod)
        assert scheduler.config.prediction_type == "epsilon"


def test_make_scheduler_rejects_unknown_names_and_misplaced_eta():
    with pytest.raises(ValueError, match="euler"):
        make_scheduler("euler")
    with pytest.raises(ValueError, match="eta"):
        make_scheduler("ddpm", eta=1.0)
    with pytest.raises(ValueError, match="eta"):
        make_scheduler("ddim", eta=1.5)
    assert make_scheduler("ddim", eta=1.0).config.clip_sample


def test_q_sample_and_loss():
    diffusion = Diffusion()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 4, 4, 4, generator=gen) * 2 - 1
    noise = torch.randn(3, 4, 4, 4, generator=gen)
    t = torch.tensor([0, 500, 999])
    x_t = diffusion.q_sample(x0, noise, t)
    for i, ti in enumerate(t.tolist()):
        ab = diffusion.alphas_cumprod[ti]
        torch.testing.assert_close(x_t[i], ab.sqrt() * x0[i] + (1 - ab).sqrt() * noise[i])
    x0_back = diffusion.predict_x0(x_t, noise, t, clip=False)
    torch.testing.assert_close(x0_back, x0, rtol=0, atol=1e-4)  # ÷ sqrt(ᾱ_999) ≈ ÷ 0.006

    eps_pred = torch.zeros(2, 4, 3, 3)
    target = torch.zeros(2, 4, 3, 3)
    target[:, 3] = 2.0  # an error in the mask channel alone counts
    assert diffusion.loss(eps_pred, target).item() == pytest.approx(4.0 / 4)


def test_posterior_mean_matches_ddpm_step_with_clipping(monkeypatch):
    diffusion = Diffusion()
    scheduler = DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=1e-4,
        beta_end=0.02,
        beta_schedule="linear",
        clip_sample=True,
        clip_sample_range=1.0,
    )
    # DDPMScheduler.step adds variance * randn for t > 0; zero noise leaves its mean.
    monkeypatch.setattr(
        ddpm_module, "randn_tensor", lambda shape, **kw: torch.zeros(shape, dtype=kw["dtype"])
    )
    gen = torch.Generator().manual_seed(1)
    t = torch.tensor([0, 1, 2, 10, 250, 500, 998, 999])
    x_t = torch.randn(len(t), 4, 5, 5, generator=gen) * 1.5
    eps = torch.randn(len(t), 4, 5, 5, generator=gen) * 2
    assert (diffusion.predict_x0(x_t, eps, t, clip=False).abs() > 1).any(dim=(1, 2, 3)).all()

    mean = diffusion.posterior_mean(x_t, eps, t)
    for i, ti in enumerate(t.tolist()):
        out = scheduler.step(eps[i : i + 1], ti, x_t[i : i + 1])
        torch.testing.assert_close(
            diffusion.predict_x0(x_t[i : i + 1], eps[i : i + 1], t[i : i + 1]),
            out.pred_original_sample,
        )
        torch.testing.assert_close(mean[i : i + 1], out.prev_sample, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mean[0], diffusion.predict_x0(x_t, eps, t)[0])


def test_t_max_grows_by_sigma_every_alpha_epochs_up_to_T():
    assert t_max(0, 10, 5, 10) == 10
    assert t_max(4, 10, 5, 10) == 10
    assert t_max(5, 10, 5, 10) == 20
    assert t_max(495, 10, 5, 10) == 1000
    assert t_max(10**6, 10, 5, 10) == 1000


def test_sample_timesteps_ranges_and_means():
    n, bound = 200_000, 100
    uniform = sample_timesteps(torch.Generator().manual_seed(0), n, bound, priority=False)
    priority = sample_timesteps(torch.Generator().manual_seed(0), n, bound, priority=True)
    for t in (uniform, priority):
        assert t.dtype == torch.long and t.shape == (n,)
        assert t.min().item() >= 0 and t.max().item() < bound
    assert (uniform == 0).any() and (priority == 0).any()
    assert uniform.float().mean().item() == pytest.approx((bound - 1) / 2, abs=0.5)
    assert priority.float().mean().item() == pytest.approx(2 * (bound - 1) / 3, abs=0.5)
    small = sample_timesteps(torch.Generator().manual_seed(0), 1000, 1, priority=True)
    assert (small == 0).all()


def _point_mass_oracle(c: torch.Tensor):
    """The exact ε predictor when every data point equals c."""
    ab_all = Diffusion().alphas_cumprod

    def model(x, t):
        ab = ab_all[t].view(-1, 1, 1, 1)
        return (x - ab.sqrt() * c) / (1 - ab).sqrt()

    return model


@pytest.mark.parametrize(
    ("sampler", "steps", "eta"),
    [
        ("ddpm", 1000, 0.0),
        ("ddim", 50, 0.0),
        ("ddim", 50, 1.0),
        ("dpmsolver++", 20, 0.0),
        ("unipc", 20, 0.0),
    ],
)
def test_samplers_recover_a_point_mass_deterministically(sampler, steps, eta):
    c = torch.tensor([0.5, -0.3, 0.95, -1.0]).view(1, 4, 1, 1)
    model = _point_mass_oracle(c)

    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        return sample(model, (3, 4, 4, 4), sampler, steps, gen, eta=eta)

    x = run(0)
    assert x.shape == (3, 4, 4, 4)
    assert x.min().item() >= -1 and x.max().item() <= 1
    torch.testing.assert_close(x, c.expand_as(x), rtol=0, atol=1e-3)
    assert torch.equal(x, run(0))


def test_ddim_eta_is_applied_and_output_is_clamped():
    def wild(x, t):
        return torch.randn(x.shape, generator=torch.Generator().manual_seed(int(t[0]))) * 10

    def run(eta):
        gen = torch.Generator().manual_seed(0)
        return sample(wild, (2, 4, 4, 4), "ddim", 20, gen, eta=eta)

    deterministic, stochastic = run(0.0), run(1.0)
    assert not torch.equal(deterministic, stochastic)
    assert torch.equal(stochastic, run(1.0))
    for x in (deterministic, stochastic):
        assert x.min().item() >= -1 and x.max().item() <= 1


def test_ddim_eta_one_full_steps_agrees_with_ddpm_on_gaussian_data():
    m, s = 0.3, 0.2
    ab_all = Diffusion().alphas_cumprod

    def model(x, t):
        # x0 ~ N(m, s²): E[ε | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab s² + 1 - ab).
        ab = ab_all[t].view(-1, 1, 1, 1)
        return (1 - ab).sqrt() * (x - ab.sqrt() * m) / (ab * s**2 + 1 - ab)

    stats = {}
    for name, eta in (("ddpm", 0.0), ("ddim", 1.0)):
        x = sample(model, (2000, 4, 2, 2), name, 1000, torch.Generator().manual_seed(3), eta=eta)
        stats[name] = (x.mean().item(), x.std().item())
    for mean, std in stats.values():
        assert mean == pytest.approx(m, abs=0.01)
        assert std == pytest.approx(s, abs=0.01)
    assert stats["ddim"][0] == pytest.approx(stats["ddpm"][0], abs=0.01)
    assert stats["ddim"][1] == pytest.approx(stats["ddpm"][1], abs=0.01)


def test_model_space_round_trip():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(2, 8, 6, 4), dtype=np.uint8)
    batch[..., 3] = np.where(rng.random((2, 8, 6)) > 0.5, 255, 0)
    x = to_model_space(batch)
    assert x.shape == (2, 4, 8, 6) and x.dtype == torch.float32
    assert x.min().item() >= -1 and x.max().item() <= 1
    assert set(x[:, 3].unique().tolist()) == {-1.0, 1.0}
    images, masks = to_uint8(x)
    assert images.dtype == np.uint8 and images.shape == (2, 8, 6, 3)
    assert masks.dtype == bool and masks.shape == (2, 8, 6)
    assert np.abs(images.astype(int) - batch[..., :3].astype(int)).max() <= 1
    np.testing.assert_array_equal(masks, batch[..., 3] == 255)
    with pytest.raises(ValueError, match="uint8"):
        to_model_space(batch.astype(np.float32))


def test_to_uint8_clips_without_stretching():
    x = torch.full((1, 4, 2, 2), 0.0)
    x[0, 0, 0, 0], x[0, 1, 0, 0], x[0, 3, 1, 1] = 3.0, -3.0, 0.1
    images, masks = to_uint8(x)
    assert images[0, 0, 0, 0] == 255 and images[0, 0, 0, 1] == 0
    assert images[0, 1, 1, 0] == 128  # a mid-grey value is not stretched
    assert masks.sum() == 1 and masks[0, 1, 1]


def test_v_output_is_read_as_the_true_noise_and_scored_on_v():
    diffusion = Diffusion()
    gen = torch.Generator().manual_seed(1)
    x0 = torch.rand(4, 4, 3, 3, generator=gen) * 2 - 1
    noise = torch.randn(4, 4, 3, 3, generator=gen)
    t = torch.tensor([0, 250, 700, 999])
    x_t = diffusion.q_sample(x0, noise, t)
    ab = diffusion.alphas_cumprod[t].view(-1, 1, 1, 1)
    v = ab.sqrt() * noise - (1 - ab).sqrt() * x0
    torch.testing.assert_close(epsilon(v, x_t, t, "v"), noise, rtol=0, atol=1e-5)
    torch.testing.assert_close(epsilon(v, x_t, t, "epsilon"), v)
    # a v-network's error is scored on v: its noise error is √ᾱ_t times smaller
    v_hat = v + 0.1 * torch.randn(v.shape, generator=gen)
    eps_hat = epsilon(v_hat, x_t, t, "v")
    expected = ((v_hat - v) ** 2).mean()
    got = diffusion.loss(eps_hat, noise, t, prediction="v")
    assert got.item() == pytest.approx(expected.item(), rel=1e-3)
    with pytest.raises(ValueError, match="timesteps"):
        diffusion.loss(eps_hat, noise, prediction="v")
    with pytest.raises(ValueError, match="prediction"):
        epsilon(v, x_t, t, "x0")
