"""The paired generator's front door: its network config from the gen params, building, loading
the weights train_gen saved, and sampling pairs from noise. Its training is in gen_training."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from pipeline.checkpoints import load_model
from pipeline.gen import diffusion
from pipeline.gen.nets.paired_unet import PairedUNetConfig, build_generator
from pipeline.params import GenParams
from pipeline.training import autocast

CHANNELS = 4  # RGB + mask


def config(p: GenParams, sample_size: int | None = None) -> PairedUNetConfig:
    """The generator network's config from the gen params, for pairs of `sample_size` pixels."""
    return PairedUNetConfig(
        arch=p.arch, skip=p.skip, sample_size=sample_size, **PairedUNetConfig.sizes_of(p)
    )


def build(net_config: PairedUNetConfig) -> torch.nn.Module:
    """The generator network of `net_config` (its output read as `net_config.prediction`)."""
    diffusion.check_prediction(net_config.prediction)
    return build_generator(net_config)


def load(folder: Path) -> torch.nn.Module:
    """A generator saved by train_gen, in eval mode on the CPU."""
    return load_model(folder, lambda c: build(PairedUNetConfig(**c)), "generator")


def sample(
    model: torch.nn.Module,
    count: int,
    size: int,
    sampler: str,
    steps: int,
    generator: torch.Generator | list[torch.Generator],
    eta: float = 0.0,
    device: torch.device | None = None,
) -> Tensor:
    """`count` pairs of size×size in model space (float32, [-1, 1]) from noise, with `steps`
    steps of `sampler`, in bf16 autocast where the device computes in bf16."""
    device = device or next(model.parameters()).device
    with autocast(device):
        x = diffusion.sample(
            model,
            (count, CHANNELS, size, size),
            sampler,
            steps,
            generator,
            eta,
            device=device,
            prediction=model.config.prediction,
        )
    return x.float()
