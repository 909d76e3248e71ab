"""The generator networks beyond the network contract: skip blocks, attention direction, branch
exchange, the image depending on the mask, parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pipeline.gen import generator
from pipeline.gen.nets.blocks import (
    Attention,
    ConcatSkip,
    ScaleU,
    ZeroConvSkip,
    low_frequencies,
    make_skip,
)
from pipeline.gen.nets.paired_unet import (
    ARCHS,
    Exchange,
    PairedUNetConfig,
    build_generator,
    count_parameters,
)

SKIPS = ("scaleu", "zeroconv", "concat")
SKIP_BLOCKS = {"scaleu": ScaleU, "zeroconv": ZeroConvSkip, "concat": ConcatSkip}
TINY = {"widths": (8, 16), "layers_per_level": 1, "heads": 2, "time_dim": 16}


def tiny(arch: str, skip: str = "scaleu") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_generator(PairedUNetConfig(arch=arch, skip=skip, **TINY)).eval()


def pair_batch(b: int = 2, h: int = 16, w: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    image, mask = torch.randn(b, 3, h, w, generator=gen), torch.randn(b, 1, h, w, generator=gen)
    return torch.cat([image, mask], dim=1), torch.tensor([3, 700])[:b]


@pytest.mark.parametrize("size", [(8, 8), (7, 5), (1, 3)])
@pytest.mark.parametrize("num_skips", [1, 2])
def test_scaleu_is_exact_concatenation_at_init(size, num_skips):
    h = torch.randn(2, 4, *size)
    skips = [torch.randn(2, 3 + i, *size) for i in range(num_skips)]
    out = ScaleU(4, num_skips)(h, skips)
    assert torch.equal(out, torch.cat([h, *skips], dim=1))


def test_scaleu_parameters_get_gradients():
    block = ScaleU(4, 2)
    h, skips = torch.randn(2, 4, 8, 6), [torch.randn(2, 3, 8, 6), torch.randn(2, 5, 8, 6)]
    weights = torch.randn(2, 12, 8, 6)
    (block(h, skips) * weights).sum().backward()
    assert (block.beta.grad != 0).all()
    assert (block.sigma.grad != 0).all()


def test_scaleu_scales_low_frequencies_only():
    block = ScaleU(2, 1)
    with torch.no_grad():
        block.sigma.fill_(0.7)
    gain = 1 + torch.tanh(torch.tensor(0.7))
    constant = torch.full((1, 3, 5, 7), 2.5)
    out = block(torch.zeros(1, 2, 5, 7), [constant])[:, 2:]
    torch.testing.assert_close(out, constant * gain)

    height, width = 12, 10
    y, x = torch.meshgrid(torch.arange(height) / height, torch.arange(width) / width, indexing="ij")

    def wave(ky: int, kx: int) -> torch.Tensor:
        return torch.cos(2 * torch.pi * (ky * y + kx * x))

    low = 0.5 + wave(1, 0) + wave(0, 1) + wave(1, -1)
    high = wave(2, 0) + wave(0, 3) + wave(1, 2)
    out = block(torch.zeros(1, 2, height, width), [(low + high).expand(1, 3, -1, -1)])[:, 2:]
    torch.testing.assert_close(out, (gain * low + high).expand(1, 3, -1, -1))
    torch.testing.assert_close(low_frequencies(low + high, 1), low)


def test_scaleu_keeps_bf16_under_autocast():
    block = ScaleU(4, 1)
    with torch.no_grad():
        block.sigma.fill_(0.3)
    h, skip = torch.randn(1, 4, 6, 6).bfloat16(), torch.randn(1, 2, 6, 6).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(h, [skip])
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out.float()).all()


def test_zeroconv_skips_enter_only_through_zero_convs():
    h, skips = torch.randn(2, 4, 5, 3), [torch.randn(2, 3, 5, 3), torch.randn(2, 6, 5, 3)]
    block = ZeroConvSkip([3, 6])
    out = block(h, skips)
    assert torch.equal(out[:, :4], h)
    assert torch.equal(out[:, 4:], torch.zeros(2, 9, 5, 3))
    assert torch.equal(block(h, [torch.randn_like(s) for s in skips]), out)
    (out * torch.randn_like(out)).sum().backward()
    assert all((conv.weight.grad != 0).all() for conv in block.convs)

    with torch.no_grad():
        for conv in block.convs:
            torch.nn.init.normal_(conv.weight)
            torch.nn.init.normal_(conv.bias)
    convolved = [
        F.conv2d(s, conv.weight, conv.bias) for s, conv in zip(skips, block.convs, strict=True)
    ]
    torch.testing.assert_close(block(h, skips), torch.cat([h, *convolved], dim=1))


def test_skip_kinds_compute_different_joins():
    h, skips = torch.randn(2, 4, 6, 6), [torch.randn(2, 3, 6, 6) + 1, torch.randn(2, 5, 6, 6)]
    blocks = {kind: make_skip(kind, 4, [3, 5]) for kind in SKIPS}
    assert {kind: type(block) for kind, block in blocks.items()} == SKIP_BLOCKS
    concat = blocks["concat"](h, skips)
    assert torch.equal(concat, torch.cat([h, *skips], dim=1))
    assert torch.equal(blocks["scaleu"](h, skips), concat)
    assert not torch.allclose(blocks["zeroconv"](h, skips), concat)
    scaleu = blocks["scaleu"]
    with torch.no_grad():
        scaleu.beta.fill_(0.5)
    assert not torch.allclose(scaleu(h, skips)[:, :4], concat[:, :4])
    with torch.no_grad():
        scaleu.beta.zero_()
        scaleu.sigma.fill_(0.5)
    assert not torch.allclose(scaleu(h, skips)[:, 4:7], concat[:, 4:7])
    with pytest.raises(ValueError, match="unknown skip"):
        make_skip("freeu", 4, [3])


def test_cross_attention_takes_queries_from_x():
    torch.manual_seed(0)
    attn = Attention(8, heads=2, groups=2, cross=True)
    x, context = torch.randn(2, 8, 4, 6), torch.randn(2, 8, 3, 3)
    out = attn(x, context=context)
    assert out.shape == x.shape

    q = attn.to_q(attn.norm(x).flatten(2).transpose(1, 2))
    k, v = attn.to_kv(attn.context_norm(context).flatten(2).transpose(1, 2)).chunk(2, dim=-1)
    q, k, v = (y.unflatten(-1, (2, 4)).transpose(1, 2) for y in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
    reference = attn.to_out((weights @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(out, x + reference.transpose(1, 2).reshape(x.shape))
    assert not torch.allclose(attn(x, context=torch.randn_like(context)), out)
    with pytest.raises(ValueError):
        attn(x)


@pytest.mark.parametrize("arch", ["shared_encoder", "two_encoder"])
def test_bottleneck_image_queries_mask(arch):
    model = tiny(arch)
    seen = {}
    bottleneck = model.bottleneck
    for name in ("self_image", "self_mask"):
        getattr(bottleneck, name).register_forward_hook(
            lambda _m, _a, out, name=name: seen.__setitem__(name, out)
        )
    for name in ("cross_image", "cross_mask"):
        getattr(bottleneck, name).register_forward_hook(
            lambda _m, args, kwargs, _out, name=name: seen.__setitem__(name, (args[0], kwargs)),
            with_kwargs=True,
        )
    model(*pair_batch())
    query, kwargs = seen["cross_image"]
    assert query is seen["self_image"] and kwargs["context"] is seen["self_mask"]
    query, kwargs = seen["cross_mask"]
    assert query is seen["self_mask"] and kwargs["context"] is seen["self_image"]


@pytest.mark.parametrize("arch", ["shared_encoder", "two_encoder"])
def test_decoders_join_the_other_branch(arch):
    model = tiny(arch)
    inputs, joins = {}, {}
    for branch in ("image", "mask"):
        for j, level in enumerate(getattr(model, f"decoder_{branch}")):
            level.register_forward_pre_hook(
                lambda _m, args, key=(branch, j): inputs.__setitem__(key, args[0])
            )
            level.join.register_forward_pre_hook(
                lambda _m, args, key=(branch, j): joins.__setitem__(key, args[1])
            )
    model(*pair_batch())
    for j in range(len(TINY["widths"])):
        assert joins["image", j][1] is inputs["mask", j]
        assert joins["mask", j][1] is inputs["image", j]


@pytest.mark.parametrize("arch", ARCHS)
def test_image_prediction_depends_on_mask(arch):
    model = tiny(arch)
    x, t = pair_batch()
    other = x.clone()
    other[:, 3:] = -other[:, 3:]
    with torch.no_grad():
        changed = (model(x, t)[:, :3] - model(other, t)[:, :3]).abs().max()
    assert changed > 1e-4


@pytest.mark.parametrize("skip", SKIPS)
def test_two_encoder_exchange_follows_the_skip_kind(skip):
    exchanges = tiny("two_encoder", skip).encoder.exchanges
    for exchange, width in zip(exchanges, TINY["widths"][:-1], strict=True):
        for branch in (exchange.image, exchange.mask):
            assert type(branch.join) is SKIP_BLOCKS[skip]
            assert branch.project.weight.shape == (width, 2 * width, 1, 1)


@pytest.mark.parametrize("skip", SKIPS)
def test_exchange_projects_the_joined_branches(skip):
    torch.manual_seed(0)
    exchange = Exchange(8, skip)
    image, mask = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    new_image, new_mask = exchange(image, mask)
    closed = skip == "zeroconv"  # the other branch enters only through a zero conv at start
    assert torch.equal(exchange(image, torch.randn_like(mask))[0], new_image) == closed
    assert torch.equal(exchange(torch.randn_like(image), mask)[1], new_mask) == closed
    for branch, own, other, out in [
        (exchange.image, image, mask, new_image),
        (exchange.mask, mask, image, new_mask),
    ]:
        joined = torch.cat([own, torch.zeros_like(other) if closed else other], dim=1)
        torch.testing.assert_close(
            out, F.conv2d(joined, branch.project.weight, branch.project.bias)
        )


@pytest.mark.parametrize("arch", ARCHS)
def test_the_network_returns_its_raw_output_whatever_it_predicts(arch):
    eps_model = tiny(arch)
    v_model = build_generator(PairedUNetConfig(arch=arch, prediction="v", **TINY)).eval()
    v_model.load_state_dict(eps_model.state_dict())  # the output type adds no parameters
    x, t = pair_batch()
    with torch.no_grad():
        torch.testing.assert_close(v_model(x, t), eps_model(x, t), rtol=0, atol=0)
    with pytest.raises(ValueError, match="prediction"):  # the front door reads it, and checks it
        generator.build(PairedUNetConfig(prediction="x0", **TINY))


def test_an_unknown_arch_is_refused_and_widths_become_a_tuple():
    with pytest.raises(ValueError, match="unknown arch"):
        PairedUNetConfig(arch="unet")
    assert PairedUNetConfig(widths=[8, 16]).widths == (8, 16)


def test_parameter_counts_at_paper_widths():
    counts = {a: count_parameters(build_generator(PairedUNetConfig(arch=a))) for a in ARCHS}
    print({arch: f"{n / 1e6:.2f} M" for arch, n in counts.items()})
    assert counts["two_encoder"] > counts["shared_encoder"] > counts["concat"]
    assert 7e6 < counts["concat"] < 13e6
