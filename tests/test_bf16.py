"""The CUDA path's bf16 autocast and channels_last layout, exercised on the CPU
(SYNTHSET_CPU_BF16=1): one step of every trainer and the samplers give finite results close to
float32."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from pipeline.gen.generation import GenerationSpec, make_pairs
from pipeline.gen.generator_training import GeneratorTraining
from pipeline.gen.sr_training import SRTraining
from pipeline.params import SegTrainParams
from pipeline.seg.segmentation import FitRun, SegModelConfig, build_unet, fit, seg_loss, to_input
from pipeline.training import CPU_BF16, autocast, main_live, precision
from tests.conftest import CPU, TINY_GEN, TINY_SR, crops


@pytest.fixture
def bf16(monkeypatch):
    """A function that runs a callable in float32, then with CPU bf16 autocast switched on."""

    def both(run):
        monkeypatch.delenv(CPU_BF16, raising=False)
        assert precision(torch.device("cpu")) == "float32"
        exact = run()
        monkeypatch.setenv(CPU_BF16, "1")
        assert precision(torch.device("cpu")) == "bf16"
        return exact, run()

    return both


def _channels_last(model: torch.nn.Module) -> bool:
    """Whether every 4-D weight of `model` is stored channels_last, some of them in a layout
    that plain contiguous memory is not (a 1-channel or 1×1 kernel can be both)."""
    weights = [w for w in model.parameters() if w.dim() == 4]
    return all(w.is_contiguous(memory_format=torch.channels_last) for w in weights) and any(
        not w.is_contiguous() for w in weights
    )


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize(
    ("arch", "discriminator"), [("concat", False), ("shared_encoder", False), ("two_encoder", True)]
)
def test_a_generator_step_in_bf16_is_finite_and_close_to_float32(bf16, arch, discriminator):
    p = replace(TINY_GEN, arch=arch, discriminator=discriminator)

    def step():
        training = GeneratorTraining(p, 0, crops(8), crops(4, 1), CPU)
        nets = [training.net] + ([training.disc] if discriminator else [])
        assert all(_channels_last(net) == (precision(CPU.device) == "bf16") for net in nets)
        return training.train_step(0, 0)

    exact, half = bf16(step)
    assert np.isfinite(half) and 0 < _relative(half, exact) < 0.05  # bf16 ran, and stayed close


def test_a_super_resolver_step_in_bf16_is_finite_and_close_to_float32(bf16):
    def step():
        training = SRTraining(TINY_SR, 0, crops(8), crops(4, 1), CPU, 2)
        assert _channels_last(training.net) == (precision(CPU.device) == "bf16")
        return training.train_step(0, 0)

    exact, half = bf16(step)
    assert np.isfinite(half) and 0 < _relative(half, exact) < 0.05  # bf16 ran, and stayed close


def test_a_segmentation_step_in_bf16_is_finite_and_close_to_float32(bf16, tmp_path):
    config = SegModelConfig("mobilenet_v2", 2, [8, 8], size=16)
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    masks = images[..., 0] > 128

    def loss():
        torch.manual_seed(0)
        model = build_unet(config)
        with autocast(torch.device("cpu")):
            logits = model(to_input(images))
        value = seg_loss(logits.float(), torch.from_numpy(masks[:, None].astype(np.float32)))
        value.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        return value.item()

    exact, half = bf16(loss)
    assert 0 < _relative(half, exact) < 0.05

    def one_epoch():
        torch.manual_seed(0)
        model = build_unet(config)
        params = SegTrainParams(
            encoder="mobilenet_v2", encoder_depth=2, decoder_channels=[8, 8], size=16, epochs=1,
            batch_size=4,
        )  # fmt: skip
        with main_live(tmp_path / "live", CPU) as live:
            fit(model, (images, masks), (images, masks), params, FitRun(0, live, CPU))
        assert _channels_last(model) == (precision(CPU.device) == "bf16")
        return torch.cat([v.float().flatten() for v in model.state_dict().values()])

    exact, half = bf16(one_epoch)
    assert torch.isfinite(half).all() and 0 < (half - exact).abs().max() < 0.05


def test_generated_pairs_in_bf16_stay_close_to_float32(bf16, nets):
    spec = GenerationSpec(
        seed=0, n=2, batch_size=2, gen_size=8, factor=2, sampler="ddpm", steps=20, eta=0.0,
        sr_sampler="ddpm", sr_steps=4, sr_eta=0.0,
    )  # fmt: skip

    def pairs():
        return make_pairs([0, 1], nets["generator"], nets["sr"], spec, torch.device("cpu"))

    exact, half = bf16(pairs)
    for field in ("lowres_images", "images"):
        diff = np.abs(getattr(half, field).astype(int) - getattr(exact, field).astype(int))
        assert diff.mean() < 1.5, field  # grey levels of 255: bf16 really ran, and stayed close
    assert (half.masks != exact.masks).mean() < 0.01
    assert not np.array_equal(half.images, exact.images)
