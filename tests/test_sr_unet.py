"""The super-resolver beyond the network contract: degradation and condition resizing, the
condition read at every block, its input checks, its parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pipeline.gen.nets.blocks import ResBlock
from pipeline.gen.nets.paired_unet import PairedUNetConfig, build_generator, count_parameters
from pipeline.gen.nets.sr_unet import CondResBlock, SRUNetConfig, build_sr
from pipeline.gen.super_resolver import degrade, upsample_condition

TINY = {"widths": (8, 16), "layers_per_level": 1, "heads": 2, "time_dim": 16}


def tiny(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_sr(SRUNetConfig(**{**TINY, **overrides})).eval()


def hr_pair(b: int = 2, h: int = 16, w: int = 16) -> torch.Tensor:
    """A (B, 4, H, W) pair in [-1, 1] with a ±1 mask."""
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(b, 3, h, w, generator=gen) * 2 - 1
    mask = torch.where(torch.rand(b, 1, h, w, generator=gen) > 0.7, 1.0, -1.0)
    return torch.cat([image, mask], dim=1)


def sr_batch(b: int = 2, h: int = 16, w: int = 16):
    """(noisy pair, timesteps, condition): the condition from a degraded high-resolution pair."""
    gen = torch.Generator().manual_seed(2)
    cond = upsample_condition(degrade(hr_pair(b, h, w)), (h, w))
    return torch.randn(b, 4, h, w, generator=gen), torch.tensor([3, 700])[:b], cond


def test_three_levels_and_two_layers():
    model = tiny(widths=(8, 16, 16), layers_per_level=2)
    x, t, cond = sr_batch(h=16, w=32)
    with torch.no_grad():
        assert model(x, t, cond).shape == x.shape


def test_condition_changes_the_output_where_it_changes():
    model = tiny()
    x, t, cond = sr_batch()
    other = cond.clone()
    other[:, :, 2:4, 3:5] = -other[:, :, 2:4, 3:5]
    with torch.no_grad():
        change = (model(x, t, cond) - model(x, t, other)).abs().amax(dim=(0, 1))
    near, far = change[1:5, 2:6], change[10:, 10:]
    assert near.max() > 1e-3
    assert near.max() > 2 * far.max()
    with torch.no_grad():
        assert not torch.allclose(model(x, t, cond), model(x, t, torch.zeros_like(cond)))


@pytest.mark.parametrize("widths", [(8, 16), (8, 16, 16)])
def test_every_encoder_and_decoder_block_reads_the_condition(widths):
    model = tiny(widths=widths, layers_per_level=2)
    x, t, cond = sr_batch(h=16, w=24)
    seen, stem_input = [], []
    model.stem.register_forward_pre_hook(lambda _m, args: stem_input.append(args[0]))
    for module in model.modules():
        if isinstance(module, CondResBlock):
            module.conv1.register_forward_pre_hook(
                lambda conv, args: seen.append((conv.in_channels, args[0]))
            )
    with torch.no_grad():
        model(x, t, cond)

    levels = len(widths)
    assert len(seen) == 2 * levels * 2
    for in_channels, conv_input in seen:
        assert conv_input.shape[1] == in_channels
        factor = x.shape[2] // conv_input.shape[2]
        assert factor in [2**j for j in range(levels)]
        torch.testing.assert_close(conv_input[:, -4:], F.avg_pool2d(cond, factor))
    resolutions = [conv_input.shape[2] for _, conv_input in seen]
    assert sorted(set(resolutions)) == [16 // 2**j for j in reversed(range(levels))]

    plain = [m for m in model.modules() if type(m) is ResBlock]
    assert plain == [model.enter, model.exit]
    torch.testing.assert_close(stem_input[0], torch.cat([x, cond], dim=1))


def test_degrade_and_upsample_condition():
    hr = hr_pair(h=16, w=24)
    lr = degrade(hr)
    assert lr.shape == (2, 4, 8, 12)
    assert degrade(hr, factor=4).shape == (2, 4, 4, 6)
    up = upsample_condition(lr, (16, 24))
    assert up.shape == hr.shape
    for pair in (lr, up):
        assert set(pair[:, 3].unique().tolist()) == {-1.0, 1.0}
        assert pair[:, :3].abs().max() <= 1

    constant = torch.full((1, 4, 8, 8), -1.0)
    constant[:, :3] = torch.tensor([0.3, -0.2, 0.9])[:, None, None]
    torch.testing.assert_close(degrade(constant), constant[:, :, :4, :4])


def test_upsample_condition_interpolates_the_image_linearly():
    ramp = torch.arange(6.0).expand(1, 4, 3, 6).clone()
    ramp[:, 3] = torch.tensor([-1.0, 1.0]).repeat(3)
    up = upsample_condition(ramp, (6, 12))
    centres = (torch.arange(12.0) + 0.5) / 2 - 0.5
    torch.testing.assert_close(up[0, :3, :, 1:-1], centres[1:-1].expand(3, 6, 10))
    assert torch.equal(up[0, 3], ramp[0, 3].repeat_interleave(2, 0).repeat_interleave(2, 1))


def test_upsampled_degraded_blocks_come_back():
    gen = torch.Generator().manual_seed(3)
    y, x = torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 10), indexing="ij")
    smooth = torch.stack([0.8 * x * y, 0.5 * x, 0.6 * y]) + 0.02 * torch.randn(
        3, 8, 10, generator=gen
    )
    mask = torch.where(torch.rand(1, 8, 10, generator=gen) > 0.5, 1.0, -1.0)
    blocks = torch.cat([smooth, mask])[None].repeat_interleave(2, 2).repeat_interleave(2, 3)
    back = upsample_condition(degrade(blocks), (16, 20))
    assert torch.equal(back[:, 3], blocks[:, 3])
    assert (back[:, :3] - blocks[:, :3]).abs().mean() < 0.05
    assert (back[:, :3] - blocks[:, :3]).abs().max() < 0.2


def test_input_checks_beyond_the_network_contract():
    model = tiny()
    x, t, cond = sr_batch()
    with pytest.raises(ValueError, match="condition"):
        model(x, t, cond[:, :, :8, :8])
    with pytest.raises(ValueError, match="divide by factor"):
        degrade(x[:, :, :15])
    with pytest.raises(ValueError, match="multiples of 8"):
        SRUNetConfig(widths=(8, 12))
    with pytest.raises(ValueError, match="heads"):
        SRUNetConfig(widths=(8, 24), heads=16)
    with pytest.raises(ValueError, match="channels"):
        SRUNetConfig(channels=1)
    assert SRUNetConfig(widths=[8, 16]).widths == (8, 16)


def test_parameters_are_the_concat_unet_plus_the_condition_inputs():
    config = SRUNetConfig()
    sr = count_parameters(build_sr(config))
    unet = count_parameters(build_generator(PairedUNetConfig(arch="concat", skip="concat")))
    blocks_out = 2 * config.layers_per_level * sum(config.widths)
    condition_weights = 4 * 3 * 3 * (config.widths[0] + blocks_out)
    print(f"SRUNet at widths {config.widths}: {sr / 1e6:.3f} M parameters")
    assert sr == unet + condition_weights
