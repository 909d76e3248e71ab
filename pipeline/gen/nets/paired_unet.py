"""The paired generator: diffusion U-Nets that denoise a wheat-field image and its wheat-head mask
together (paper Fig. 2).

Every architecture takes the noisy pair as one (B, 4, H, W) tensor (RGB in channels 0-2, mask in 3)
and a (B,) integer timestep, and returns its raw output in the same layout (ε or v, as its config's
`prediction` says; `pipeline.gen.diffusion.epsilon` reads it as ε).

- `concat`: one U-Net on the 4-channel pair (SatSynth's approach), `ConcatUNet`.
- `shared_encoder`: one encoder run on the image and on the mask (own stems), two decoders.
- `two_encoder`: an encoder per branch; after every Downsample each branch joins its own features
  with the other's through the `skip` block and a 1×1 conv back to its width (`Exchange`).

Both two-branch architectures (`DualBranchUNet`) exchange at the bottleneck (self-attention in each
branch, then cross-attention both ways: the image queries the mask and the mask queries the image)
and in the decoders, which run in lockstep: at every level each branch joins its own features with
its encoder skip and the other branch's features of that level through the `skip` block: `scaleu`
(learned backbone and low-frequency skip scales, plain concatenation at start), `zeroconv` (the
skips enter only through zero-initialised 1×1 convs, so they add nothing at start) or `concat`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pipeline.gen.nets.blocks import (
    SKIP_KINDS,
    Attention,
    Downsample,
    ResBlock,
    TimeMLP,
    UNetShape,
    Upsample,
    make_skip,
)

IMAGE_CHANNELS = 3
MASK_CHANNELS = 1
ARCHS = ("concat", "shared_encoder", "two_encoder")


@dataclass(frozen=True)
class PairedUNetConfig(UNetShape):
    """Architecture of a paired generator: `arch` and `skip` on top of the U-Net sizes."""

    arch: str = "concat"
    skip: str = "scaleu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {', '.join(ARCHS)}")
        if self.skip not in SKIP_KINDS:
            raise ValueError(f"unknown skip {self.skip!r}; expected one of {', '.join(SKIP_KINDS)}")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class EncoderLevel(nn.Module):
    """`layers_per_level` ResBlocks at one width, then a Downsample unless it is the last level."""

    def __init__(self, in_ch: int, out_ch: int, config: PairedUNetConfig, downsample: bool):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBlock(in_ch if i == 0 else out_ch, out_ch, config.time_dim, config.groups)
            for i in range(config.layers_per_level)
        )
        self.down = Downsample(out_ch) if downsample else nn.Identity()

    def forward(self, h: Tensor, temb: Tensor) -> tuple[Tensor, Tensor]:
        """(skip feature of this level, input of the next level)."""
        for block in self.blocks:
            h = block(h, temb)
        return h, self.down(h)


class Encoder(nn.Module):
    """The encoder levels from the stem's width down to the bottleneck's."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        widths = config.widths
        self.levels = nn.ModuleList(
            EncoderLevel(widths[max(j - 1, 0)], w, config, downsample=j < len(widths) - 1)
            for j, w in enumerate(widths)
        )

    def forward(self, h: Tensor, temb: Tensor) -> tuple[Tensor, list[Tensor]]:
        skips = []
        for level in self.levels:
            skip, h = level(h, temb)
            skips.append(skip)
        return h, skips


class DecoderLevel(nn.Module):
    """Join the level's input with its skip features, `layers_per_level` ResBlocks at the level's
    width, then a transposed-conv Upsample to `up_ch` channels unless it is the top level."""

    def __init__(
        self, channels: int, num_skips: int, up_ch: int | None, config: PairedUNetConfig
    ) -> None:
        super().__init__()
        self.join = make_skip(config.skip, channels, [channels] * num_skips)
        joined = channels * (1 + num_skips)
        self.blocks = nn.ModuleList(
            ResBlock(joined if i == 0 else channels, channels, config.time_dim, config.groups)
            for i in range(config.layers_per_level)
        )
        self.up = nn.Identity() if up_ch is None else Upsample(channels, up_ch)

    def forward(self, h: Tensor, skips: list[Tensor], temb: Tensor) -> Tensor:
        h = self.join(h, skips)
        for block in self.blocks:
            h = block(h, temb)
        return self.up(h)


def make_decoder(config: PairedUNetConfig, num_skips: int) -> nn.ModuleList:
    """Decoder levels from the bottleneck's width up to the first width."""
    widths = config.widths
    return nn.ModuleList(
        DecoderLevel(widths[j], num_skips, widths[j - 1] if j else None, config)
        for j in reversed(range(len(widths)))
    )


def make_head(channels: int, out_ch: int, groups: int) -> nn.Sequential:
    """GroupNorm → SiLU → conv3×3 to the predicted noise."""
    return nn.Sequential(
        nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, out_ch, 3, padding=1)
    )


def check_input(x: Tensor, t: Tensor, config: PairedUNetConfig) -> None:
    """Raise a clear error for a batch the network cannot take."""
    channels = IMAGE_CHANNELS + MASK_CHANNELS
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"expected a (B, {channels}, H, W) image+mask batch, got {tuple(x.shape)}")
    if x.shape[2] % config.downsampling or x.shape[3] % config.downsampling:
        raise ValueError(
            f"height and width must be multiples of {config.downsampling}, got {tuple(x.shape[2:])}"
        )
    if t.shape != x.shape[:1]:
        raise ValueError(f"expected timesteps of shape ({x.shape[0]},), got {tuple(t.shape)}")


class ConcatUNet(nn.Module):
    """One U-Net on the concatenated image and mask: ResBlock, self-attention, ResBlock at the
    bottleneck; each decoder level joins its input with the encoder skip of that level."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        self.config = config
        width, bottom = config.widths[0], config.widths[-1]
        self.time = TimeMLP(config.time_dim)
        self.stem = nn.Conv2d(IMAGE_CHANNELS + MASK_CHANNELS, width, 3, padding=1)
        self.encoder = Encoder(config)
        self.enter = ResBlock(bottom, bottom, config.time_dim, config.groups)
        self.attention = Attention(bottom, config.heads, config.groups)
        self.exit = ResBlock(bottom, bottom, config.time_dim, config.groups)
        self.decoder = make_decoder(config, num_skips=1)
        self.head = make_head(width, IMAGE_CHANNELS + MASK_CHANNELS, config.groups)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        check_input(x, t, self.config)
        temb = self.time(t)
        h, skips = self.encoder(self.stem(x), temb)
        h = self.exit(self.attention(self.enter(h, temb)), temb)
        for level, skip in zip(self.decoder, reversed(skips), strict=True):
            h = level(h, [skip], temb)
        return self.head(h)


class SharedEncoder(nn.Module):
    """One encoder (shared weights) run on the image and the mask features, stacked on the batch."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        self.encoder = Encoder(config)

    def forward(
        self, image: Tensor, mask: Tensor, temb: Tensor
    ) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor]]:
        """(image bottom, mask bottom, image skips, mask skips)."""
        b = image.shape[0]
        h, skips = self.encoder(torch.cat([image, mask]), temb.repeat(2, 1))
        return h[:b], h[b:], [s[:b] for s in skips], [s[b:] for s in skips]


class BranchJoin(nn.Module):
    """A branch's features joined with the other branch's by the `skip` block (the other as its
    skip), then a 1×1 conv back to the branch's width."""

    def __init__(self, channels: int, skip: str):
        super().__init__()
        self.join = make_skip(skip, channels, [channels])
        self.project = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, own: Tensor, other: Tensor) -> Tensor:
        return self.project(self.join(own, [other]))


class Exchange(nn.Module):
    """The encoders' exchange: each branch's new features are a `BranchJoin` of its own and the
    other's (with `zeroconv` the other contributes nothing at start)."""

    def __init__(self, channels: int, skip: str):
        super().__init__()
        self.image = BranchJoin(channels, skip)
        self.mask = BranchJoin(channels, skip)

    def forward(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.image(image, mask), self.mask(mask, image)


class TwoEncoders(nn.Module):
    """An encoder per branch, exchanging features (`Exchange`) after every Downsample."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        self.image = Encoder(config)
        self.mask = Encoder(config)
        self.exchanges = nn.ModuleList(Exchange(w, config.skip) for w in config.widths[:-1])

    def forward(
        self, image: Tensor, mask: Tensor, temb: Tensor
    ) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor]]:
        """(image bottom, mask bottom, image skips, mask skips)."""
        image_skips, mask_skips = [], []
        for j, (image_level, mask_level) in enumerate(
            zip(self.image.levels, self.mask.levels, strict=True)
        ):
            image_skip, image = image_level(image, temb)
            mask_skip, mask = mask_level(mask, temb)
            image_skips.append(image_skip)
            mask_skips.append(mask_skip)
            if j < len(self.exchanges):
                image, mask = self.exchanges[j](image, mask)
        return image, mask, image_skips, mask_skips


class PairedBottleneck(nn.Module):
    """Per branch a ResBlock and self-attention, then cross-attention both ways (the image queries
    the mask, the mask queries the image), then a ResBlock per branch."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        c, heads, groups, time_dim = config.widths[-1], config.heads, config.groups, config.time_dim
        self.enter_image = ResBlock(c, c, time_dim, groups)
        self.enter_mask = ResBlock(c, c, time_dim, groups)
        self.self_image = Attention(c, heads, groups)
        self.self_mask = Attention(c, heads, groups)
        self.cross_image = Attention(c, heads, groups, cross=True)
        self.cross_mask = Attention(c, heads, groups, cross=True)
        self.exit_image = ResBlock(c, c, time_dim, groups)
        self.exit_mask = ResBlock(c, c, time_dim, groups)

    def forward(self, image: Tensor, mask: Tensor, temb: Tensor) -> tuple[Tensor, Tensor]:
        image = self.self_image(self.enter_image(image, temb))
        mask = self.self_mask(self.enter_mask(mask, temb))
        image, mask = self.cross_image(image, context=mask), self.cross_mask(mask, context=image)
        return self.exit_image(image, temb), self.exit_mask(mask, temb)


class DualBranchUNet(nn.Module):
    """Image and mask branches (`shared_encoder` or `two_encoder`) exchanging at the bottleneck and
    in lockstep decoders: each decoder level joins a branch's own features with its encoder skip and
    the other branch's features of the same level."""

    def __init__(self, config: PairedUNetConfig):
        super().__init__()
        self.config = config
        width = config.widths[0]
        self.time = TimeMLP(config.time_dim)
        self.stem_image = nn.Conv2d(IMAGE_CHANNELS, width, 3, padding=1)
        self.stem_mask = nn.Conv2d(MASK_CHANNELS, width, 3, padding=1)
        encoders = {"shared_encoder": SharedEncoder, "two_encoder": TwoEncoders}
        self.encoder = encoders[config.arch](config)
        self.bottleneck = PairedBottleneck(config)
        self.decoder_image = make_decoder(config, num_skips=2)
        self.decoder_mask = make_decoder(config, num_skips=2)
        self.head_image = make_head(width, IMAGE_CHANNELS, config.groups)
        self.head_mask = make_head(width, MASK_CHANNELS, config.groups)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        check_input(x, t, self.config)
        temb = self.time(t)
        image, mask = self.stem_image(x[:, :IMAGE_CHANNELS]), self.stem_mask(x[:, IMAGE_CHANNELS:])
        image, mask, image_skips, mask_skips = self.encoder(image, mask, temb)
        image, mask = self.bottleneck(image, mask, temb)
        decoders = (self.decoder_image, self.decoder_mask)
        levels = zip(*decoders, reversed(image_skips), reversed(mask_skips), strict=True)
        for image_level, mask_level, image_skip, mask_skip in levels:
            image, mask = (
                image_level(image, [image_skip, mask], temb),
                mask_level(mask, [mask_skip, image], temb),
            )
        return torch.cat([self.head_image(image), self.head_mask(mask)], dim=1)


def build_generator(config: PairedUNetConfig) -> nn.Module:
    """The generator network of `config.arch`."""
    if config.arch == "concat":
        return ConcatUNet(config)
    return DualBranchUNet(config)
