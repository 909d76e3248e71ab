"""The contract every diffusion network keeps, run over each generator architecture × skip
block and the super-resolver (in the style of smp's model tests and diffusers' common tests):
the output has the noisy pair's shape, time changes it, every parameter learns, bf16 autocast on
the CPU stays finite and close to float32, and a batch it cannot take is refused by name."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from pipeline import generator, super_resolver
from pipeline.nets.blocks import SKIP_KINDS
from pipeline.nets.paired_unet import ARCHS, PairedUNetConfig
from pipeline.nets.sr_unet import SRUNetConfig
from tests.conftest import TINY_NET


@dataclass(frozen=True)
class Case:
    """A network and how to call it: `inputs(b, h, w)` gives its arguments (x, t, ...)."""

    build: Callable[[], torch.nn.Module]
    conditioned: bool

    def inputs(self, b: int = 2, h: int = 16, w: int = 16) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(b, 4, h, w, generator=gen)
        t = torch.tensor([3, 700, 250, 999])[:b]
        if not self.conditioned:
            return x, t
        hr = torch.rand(b, 4, h, w, generator=gen) * 2 - 1
        cond = super_resolver.training_condition(torch.where(hr > 0.4, 1.0, hr), 2)
        return x, t, cond


def _generator(arch: str, skip: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return generator.build(PairedUNetConfig(arch=arch, skip=skip, **TINY_NET)).eval()


def _sr() -> torch.nn.Module:
    torch.manual_seed(0)
    return super_resolver.build(SRUNetConfig(**TINY_NET)).eval()


CASES = {
    f"{arch}-{skip}": Case(lambda a=arch, s=skip: _generator(a, s), conditioned=False)
    for arch, skip in itertools.product(ARCHS, SKIP_KINDS)
} | {"super_resolver": Case(_sr, conditioned=True)}


@pytest.fixture(params=sorted(CASES))
def case(request) -> Case:
    return CASES[request.param]


@pytest.mark.parametrize(("h", "w"), [(16, 16), (16, 32), (32, 8)])
def test_the_output_has_the_shape_of_the_noisy_pair(case, h, w):
    model = case.build()
    args = case.inputs(h=h, w=w)
    with torch.no_grad():
        out = model(*args)
    assert out.shape == (2, 4, h, w) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_time_changes_the_output(case):
    model = case.build()
    x, t, *cond = case.inputs()
    with torch.no_grad():
        assert not torch.allclose(model(x, t, *cond), model(x, t + 100, *cond))


def test_every_parameter_gets_a_gradient(case):
    model = case.build().train()
    x, *rest = case.inputs()
    F.mse_loss(model(x, *rest), torch.zeros_like(x)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_bf16_autocast_on_the_cpu_is_finite_and_within_a_few_percent(case):
    model = case.build()
    args = case.inputs()
    with torch.no_grad():
        exact = model(*args)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(*args).float()
    assert torch.isfinite(half).all()
    assert 0 < (half - exact).abs().mean() < 0.05 * exact.abs().mean()  # bf16 ran, stayed close


def test_a_batch_it_cannot_take_is_refused_by_name(case):
    model = case.build()
    x, t, *cond = case.inputs()
    cropped = [c[:, :, :15] for c in cond]
    with pytest.raises(ValueError, match="multiples of 2"):
        model(x[:, :, :15], t, *cropped)
    with pytest.raises(ValueError, match=r"image\+mask"):
        model(x[:, :3], t, *[c[:, :3] for c in cond])
    with pytest.raises(ValueError, match="timesteps"):
        model(x, t[:1], *cond)
