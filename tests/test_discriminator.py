"""The time-conditioned discriminator and the separation of its gradients from the generator's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pipeline.gen.nets.discriminator import (
    DiscriminatorConfig,
    TimeDiscriminator,
    discriminator_losses,
)

SMALL = DiscriminatorConfig(widths=(8, 16, 32), time_dim=16)


class _ToyGenerator(nn.Module):
    """A generator with its own time MLP, producing a 4-channel "fake" pair."""

    def __init__(self):
        super().__init__()
        self.time_mlp = nn.Sequential(nn.Linear(1, 8), nn.SiLU(), nn.Linear(8, 4))
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x, t):
        return self.conv(x) + self.time_mlp(t.float()[:, None])[:, :, None, None]


def _setup(seed=0):
    torch.manual_seed(seed)
    disc, gen = TimeDiscriminator(SMALL), _ToyGenerator()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 16, 16, generator=g)
    real = torch.randn(3, 4, 16, 16, generator=g)
    t = torch.tensor([0, 400, 999])
    return disc, gen, real, gen(x, t), t


def _grads(module):
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize(("h", "w"), [(16, 16), (8, 24)])
def test_the_discriminator_gives_one_logit_per_pair_at_any_size(h, w):
    disc = TimeDiscriminator(SMALL)
    logits = disc(torch.randn(5, 4, h, w), torch.arange(5))
    assert logits.shape == (5,)


def test_the_default_discriminator_gives_one_logit_per_pair():
    disc = TimeDiscriminator()
    assert disc(torch.randn(2, 4, 16, 16), torch.tensor([1, 2])).shape == (2,)


def test_time_conditioning_changes_logits():
    disc = TimeDiscriminator(SMALL)
    x = torch.randn(1, 4, 16, 16).expand(2, -1, -1, -1)
    logits = disc(x, torch.tensor([3, 700]))
    assert not torch.allclose(logits[0], logits[1])


def test_d_loss_reaches_only_the_discriminator():
    disc, gen, real, fake, t = _setup()
    d_loss, _ = discriminator_losses(disc, real, fake, t)
    d_loss.backward()
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(disc.head))
    assert all(g is not None for g in _grads(disc))
    assert all(g is None for g in _grads(gen))


def test_g_adv_loss_reaches_only_the_generator():
    disc, gen, real, fake, t = _setup()
    _, g_adv = discriminator_losses(disc, real, fake, t)
    g_adv.backward()
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(gen))
    assert all(g is None for g in _grads(disc))
    assert all(p.requires_grad for p in disc.parameters())


def test_joint_backward_equals_separate_backwards():
    disc, gen, real, fake, t = _setup()
    d_loss, g_adv = discriminator_losses(disc, real, fake, t)
    (d_loss + g_adv).backward()
    joint_d, joint_g = _grads(disc), _grads(gen)

    disc2, gen2, real2, fake2, t2 = _setup()
    d_loss2, g_adv2 = discriminator_losses(disc2, real2, fake2, t2)
    d_loss2.backward(retain_graph=True)
    for a, b in zip(joint_d, _grads(disc2), strict=True):
        torch.testing.assert_close(a, b)
    assert all(g is None for g in _grads(gen2))
    disc2.zero_grad(set_to_none=True)
    g_adv2.backward()
    for a, b in zip(joint_g, _grads(gen2), strict=True):
        torch.testing.assert_close(a, b)
    assert all(g is None for g in _grads(disc2))


def test_losses_are_bce_with_logits():
    disc, _, real, fake, t = _setup()
    d_loss, g_adv = discriminator_losses(disc, real, fake, t)
    with torch.no_grad():
        lr, lf = disc(real, t), disc(fake, t)
    expected_d = 0.5 * (nn.functional.softplus(-lr).mean() + nn.functional.softplus(lf).mean())
    torch.testing.assert_close(d_loss, expected_d, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_adv, nn.functional.softplus(-lf).mean(), rtol=1e-5, atol=1e-6)


def test_owns_its_time_embedding():
    disc, gen, *_ = _setup()
    disc_ids = {id(p) for p in disc.parameters()}
    assert disc_ids.isdisjoint(id(p) for p in gen.parameters())
    assert {id(p) for p in disc.time_mlp.parameters()} <= disc_ids


def test_a_time_dim_or_widths_it_cannot_use_are_refused_by_name():
    with pytest.raises(ValueError, match="time_dim"):
        DiscriminatorConfig(time_dim=7)
    with pytest.raises(ValueError, match="widths"):
        DiscriminatorConfig(widths=())
