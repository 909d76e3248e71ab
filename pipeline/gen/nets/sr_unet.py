"""The super-resolver: a diffusion U-Net that denoises the high-resolution image and mask from
noise, conditioned on the low-resolution pair (paper Fig. 3).

The noisy pair `x` and the condition `cond` (the low-resolution pair brought to the size of `x` by
`upsample_condition`) are (B, 4, H, W) tensors with RGB in channels 0-2 and the mask in 3. The
network is `ConcatUNet`'s layout with the condition fed everywhere: the stem reads `x` and `cond`,
and the first conv of every encoder and decoder ResBlock also reads `cond` area-averaged to that
level's resolution. The condition joins after the block's GroupNorm → SiLU, un-normalised, so the
GroupNorm groups stay whole and the raw pixel values reach the conv.

The condition is made by `pipeline.gen.super_resolver` (`degrade`, `upsample_condition`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipeline.gen.nets.blocks import (
    Attention,
    Downsample,
    ResBlock,
    TimeMLP,
    UNetShape,
    Upsample,
    make_skip,
)
from pipeline.gen.nets.paired_unet import make_head


@dataclass(frozen=True)
class SRUNetConfig(UNetShape):
    """Architecture of the super-resolver: the U-Net sizes, the pair's `channels` (image
    channels, then one mask channel) and `factor`, the enlargement it was trained for (its input
    pairs are `sample_size / factor` pixels wide)."""

    channels: int = 4
    factor: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.channels < 2:
            raise ValueError(
                f"channels must be ≥ 2 (image channels and a mask), got {self.channels}"
            )
        if self.factor < 1 or (self.sample_size is not None and self.sample_size % self.factor):
            raise ValueError(f"factor {self.factor} must be ≥ 1 and divide {self.sample_size}")

    @property
    def input_size(self) -> int | None:
        """The side of the low-resolution pairs it enlarges."""
        return None if self.sample_size is None else self.sample_size // self.factor


class CondResBlock(ResBlock):
    """A ResBlock whose first conv reads the normalised features and the condition:
    conv3×3(concat(SiLU(GroupNorm(x)), cond)), so it takes `in_ch + cond_ch` channels."""

    def __init__(self, in_ch: int, out_ch: int, cond_ch: int, time_dim: int, groups: int):
        super().__init__(in_ch, out_ch, time_dim, groups)
        self.conv1 = nn.Conv2d(in_ch + cond_ch, out_ch, 3, padding=1)

    def forward(self, x: Tensor, temb: Tensor, cond: Tensor) -> Tensor:
        h = F.silu(self.norm1(x))
        h = self.conv1(torch.cat([h, cond.to(h.dtype)], dim=1))
        h = h + self.time_proj(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.shortcut(x) + h


def cond_blocks(in_ch: int, out_ch: int, config: SRUNetConfig) -> nn.ModuleList:
    """`layers_per_level` CondResBlocks, the first from `in_ch` channels, all to `out_ch`."""
    return nn.ModuleList(
        CondResBlock(
            in_ch if i == 0 else out_ch, out_ch, config.channels, config.time_dim, config.groups
        )
        for i in range(config.layers_per_level)
    )


class CondEncoderLevel(nn.Module):
    """CondResBlocks at one width, then a Downsample unless it is the last level."""

    def __init__(self, in_ch: int, out_ch: int, config: SRUNetConfig, downsample: bool):
        super().__init__()
        self.blocks = cond_blocks(in_ch, out_ch, config)
        self.down = Downsample(out_ch) if downsample else nn.Identity()

    def forward(self, h: Tensor, cond: Tensor, temb: Tensor) -> tuple[Tensor, Tensor]:
        """(skip feature of this level, input of the next level)."""
        for block in self.blocks:
            h = block(h, temb, cond)
        return h, self.down(h)


class CondDecoderLevel(nn.Module):
    """Concatenate the level's input with its encoder skip, CondResBlocks at the level's width, then
    a transposed-conv Upsample to `up_ch` channels unless it is the top level."""

    def __init__(self, channels: int, up_ch: int | None, config: SRUNetConfig):
        super().__init__()
        self.join = make_skip("concat", channels, [channels])
        self.blocks = cond_blocks(2 * channels, channels, config)
        self.up = nn.Identity() if up_ch is None else Upsample(channels, up_ch)

    def forward(self, h: Tensor, skip: Tensor, cond: Tensor, temb: Tensor) -> Tensor:
        h = self.join(h, [skip])
        for block in self.blocks:
            h = block(h, temb, cond)
        return self.up(h)


class SRUNet(nn.Module):
    """Concat-style U-Net predicting the noise of a high-resolution pair from the noisy pair, the
    timestep and the upsampled low-resolution pair, which is fed to the stem and to every encoder
    and decoder ResBlock; ResBlock, self-attention, ResBlock at the bottleneck."""

    def __init__(self, config: SRUNetConfig):
        super().__init__()
        self.config = config
        widths, bottom = config.widths, config.widths[-1]
        self.time = TimeMLP(config.time_dim)
        self.stem = nn.Conv2d(2 * config.channels, widths[0], 3, padding=1)
        self.encoder = nn.ModuleList(
            CondEncoderLevel(widths[max(j - 1, 0)], w, config, downsample=j < len(widths) - 1)
            for j, w in enumerate(widths)
        )
        self.enter = ResBlock(bottom, bottom, config.time_dim, config.groups)
        self.attention = Attention(bottom, config.heads, config.groups)
        self.exit = ResBlock(bottom, bottom, config.time_dim, config.groups)
        self.decoder = nn.ModuleList(
            CondDecoderLevel(widths[j], widths[j - 1] if j else None, config)
            for j in reversed(range(len(widths)))
        )
        self.head = make_head(widths[0], config.channels, config.groups)

    def check_input(self, x: Tensor, t: Tensor, cond: Tensor) -> None:
        """Raise a clear error for a batch the network cannot take."""
        channels, factor = self.config.channels, self.config.downsampling
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(
                f"expected a (B, {channels}, H, W) image+mask batch, got {tuple(x.shape)}"
            )
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(
                f"height and width must be multiples of {factor}, got {tuple(x.shape[2:])}"
            )
        if cond.shape != x.shape:
            raise ValueError(
                f"the condition must be upsampled to the batch's shape {tuple(x.shape)}, "
                f"got {tuple(cond.shape)}"
            )
        if t.shape != x.shape[:1]:
            raise ValueError(f"expected timesteps of shape ({x.shape[0]},), got {tuple(t.shape)}")

    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        """The raw output (ε or v, see `UNetShape`) for the noisy high-resolution pair `x` at steps
        `t`, given `cond`, the low-resolution pair upsampled to the size of `x`."""
        self.check_input(x, t, cond)
        temb = self.time(t)
        conds = [cond]
        for _ in self.config.widths[1:]:
            conds.append(F.avg_pool2d(conds[-1], 2))
        h = self.stem(torch.cat([x, cond], dim=1))
        skips = []
        for level, level_cond in zip(self.encoder, conds, strict=True):
            skip, h = level(h, level_cond, temb)
            skips.append(skip)
        h = self.exit(self.attention(self.enter(h, temb)), temb)
        for level, skip, level_cond in zip(
            self.decoder, reversed(skips), reversed(conds), strict=True
        ):
            h = level(h, skip, level_cond, temb)
        return self.head(h)


def build_sr(config: SRUNetConfig) -> SRUNet:
    """The super-resolution network of `config`."""
    return SRUNet(config)
